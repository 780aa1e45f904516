//! The pre-check rules, as pure functions of what the chain said.
//!
//! Invariant: an order is allowed only if, for every contract the order
//! touches, the funder's allowance (buys) or operator approval (sells) covers
//! it, and the funder holds enough collateral (buys: cost + fees + open buy
//! commitments) or shares (sells: size + open sell commitments). Anything
//! else, including not knowing, is a [`Refusal`] that carries the numbers.

use std::fmt;

use alloy::primitives::{Address, U256};
use pmbot_core::{Price, Size, TokenId, Usdc};
use serde::Serialize;

use super::config::BalanceConfig;
use super::endpoint::ReadFailure;

/// Which exchange contracts an order goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketKind {
    /// A plain binary market: the CTF Exchange only.
    Standard,
    /// A neg-risk market: the CLOB checks the CTF Exchange, the Neg Risk CTF
    /// Exchange and the Neg Risk Adapter (protocol notes §7), so all three.
    NegRisk,
}

impl MarketKind {
    /// From the market's `neg_risk` flag.
    pub const fn from_neg_risk(neg_risk: bool) -> MarketKind {
        if neg_risk { MarketKind::NegRisk } else { MarketKind::Standard }
    }
}

/// A contract the funder must have approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractRole {
    Exchange,
    NegRiskExchange,
    NegRiskAdapter,
}

impl ContractRole {
    pub const fn name(self) -> &'static str {
        match self {
            ContractRole::Exchange => "CTF Exchange",
            ContractRole::NegRiskExchange => "Neg Risk CTF Exchange",
            ContractRole::NegRiskAdapter => "Neg Risk Adapter",
        }
    }
}

/// A contract and its address from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Spender {
    pub role: ContractRole,
    pub address: Address,
}

impl fmt::Display for Spender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.role.name(), self.address)
    }
}

/// The contracts an order in `market` touches: collateral spenders for buys,
/// outcome-token operators for sells (the same list).
pub fn spenders(config: &BalanceConfig, market: MarketKind) -> Vec<Spender> {
    let exchange = Spender { role: ContractRole::Exchange, address: config.exchange };
    match market {
        MarketKind::Standard => vec![exchange],
        MarketKind::NegRisk => vec![
            exchange,
            Spender { role: ContractRole::NegRiskExchange, address: config.neg_risk_exchange },
            Spender { role: ContractRole::NegRiskAdapter, address: config.neg_risk_adapter },
        ],
    }
}

/// A request the pre-check cannot even evaluate: a caller bug, not a market fact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckInputError {
    #[error("{what} is negative ({amount})")]
    Negative { what: &'static str, amount: Usdc },
    #[error("a buy must cost something (cost {0})")]
    ZeroCost(Usdc),
    #[error("a sell must sell something (size 0)")]
    ZeroSize,
    #[error("cost + fees + open buys overflows")]
    Overflow,
}

/// A buy to check: what it may cost and what is already promised elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuyRequest {
    market: MarketKind,
    cost: Usdc,
    fees: Usdc,
    open_buys: Usdc,
    required: Usdc,
}

impl BuyRequest {
    /// `cost` is the most the order can pay (price x size rounded up), `fees`
    /// the most it can owe in fees, `open_buys` what resting buy orders can
    /// still pay; all exact micro-pUSD.
    pub fn new(market: MarketKind, cost: Usdc, fees: Usdc, open_buys: Usdc) -> Result<BuyRequest, CheckInputError> {
        for (what, amount) in [("cost", cost), ("fees", fees), ("open buy commitments", open_buys)] {
            if amount.is_negative() {
                return Err(CheckInputError::Negative { what, amount });
            }
        }
        if cost == Usdc::ZERO {
            return Err(CheckInputError::ZeroCost(cost));
        }
        let required =
            cost.checked_add(fees).and_then(|s| s.checked_add(open_buys)).ok_or(CheckInputError::Overflow)?;
        Ok(BuyRequest { market, cost, fees, open_buys, required })
    }

    /// A limit buy of `size` at `price`: cost is price x size rounded up to a
    /// micro-pUSD (what the buyer may have to pay).
    pub fn for_order(
        market: MarketKind,
        price: Price,
        size: Size,
        fees: Usdc,
        open_buys: Usdc,
    ) -> Result<BuyRequest, CheckInputError> {
        BuyRequest::new(market, Usdc::from_price_size_ceil(price, size), fees, open_buys)
    }

    pub fn market(&self) -> MarketKind {
        self.market
    }
    pub fn cost(&self) -> Usdc {
        self.cost
    }
    pub fn fees(&self) -> Usdc {
        self.fees
    }
    pub fn open_buys(&self) -> Usdc {
        self.open_buys
    }
    /// cost + fees + open buys: what balance and every allowance must cover.
    pub fn required(&self) -> Usdc {
        self.required
    }
}

/// A sell to check: the shares it needs and those already offered elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SellRequest {
    market: MarketKind,
    token: TokenId,
    #[serde(skip)]
    token_word: U256,
    size: Size,
    open_sells: Size,
    required: Size,
}

impl SellRequest {
    pub fn new(
        market: MarketKind,
        token: TokenId,
        size: Size,
        open_sells: Size,
    ) -> Result<SellRequest, CheckInputError> {
        if size.is_zero() {
            return Err(CheckInputError::ZeroSize);
        }
        let required = size.checked_add(open_sells).ok_or(CheckInputError::Overflow)?;
        // TokenId is a validated decimal uint256, so this cannot fail.
        let token_word = U256::from_str_radix(token.as_str(), 10).unwrap_or(U256::MAX);
        Ok(SellRequest { market, token, token_word, size, open_sells, required })
    }

    pub fn market(&self) -> MarketKind {
        self.market
    }
    pub fn token(&self) -> &TokenId {
        &self.token
    }
    pub(crate) fn token_word(&self) -> U256 {
        self.token_word
    }
    pub fn size(&self) -> Size {
        self.size
    }
    pub fn open_sells(&self) -> Size {
        self.open_sells
    }
    /// size + open sells: the shares the funder must hold.
    pub fn required(&self) -> Size {
        self.required
    }
}

/// The pre-check's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Allowed(Headroom),
    Refused(Refusal),
}

impl Verdict {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Verdict::Allowed(_))
    }

    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Verdict::Refused(r) => Some(r),
            Verdict::Allowed(_) => None,
        }
    }
}

/// What an allowed order leaves, for logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "asset", rename_all = "snake_case")]
pub enum Headroom {
    /// `balance` saturates at `Usdc`'s maximum (9.2 trillion pUSD).
    Collateral { balance: Usdc, required: Usdc },
    /// `shares` saturates at `Size`'s maximum.
    Shares { shares: Size, required: Size },
}

/// Why an order must not be sent, with the numbers, ready to be journaled
/// (`Display` for the reason text, `Serialize` for the detail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    /// The funder's pUSD does not cover cost + fees + open buys.
    InsufficientBalance { balance: Usdc, required: Usdc, cost: Usdc, fees: Usdc, open_buys: Usdc },
    /// A contract the order goes through may not spend enough of the funder's pUSD.
    InsufficientAllowance { spender: Spender, allowance: Usdc, required: Usdc },
    /// The funder holds fewer shares than size + open sells.
    InsufficientShares { token: TokenId, shares: Size, required: Size, size: Size, open_sells: Size },
    /// A contract the order goes through may not move the funder's outcome tokens.
    NotApproved { operator: Spender },
    /// The chain could not be read (unreachable, wrong chain, garbage): fail closed.
    Unavailable { failure: ReadFailure },
}

impl Refusal {
    /// Short machine tag, as in the serialized `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::InsufficientBalance { .. } => "insufficient_balance",
            Refusal::InsufficientAllowance { .. } => "insufficient_allowance",
            Refusal::InsufficientShares { .. } => "insufficient_shares",
            Refusal::NotApproved { .. } => "not_approved",
            Refusal::Unavailable { .. } => "unavailable",
        }
    }

    /// Whether an operator must act: the chain is unreadable, or an approval
    /// is missing (no amount of waiting fixes either). Too little money or
    /// shares is an ordinary trading fact and is only journaled.
    pub fn needs_alert(&self) -> bool {
        matches!(
            self,
            Refusal::Unavailable { .. } | Refusal::InsufficientAllowance { .. } | Refusal::NotApproved { .. }
        )
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::InsufficientBalance { balance, required, cost, fees, open_buys } => write!(
                f,
                "pUSD balance {balance} < required {required} (cost {cost} + fees {fees} + open buys {open_buys})"
            ),
            Refusal::InsufficientAllowance { spender, allowance, required } => {
                write!(f, "pUSD allowance to {spender} is {allowance} < required {required}")
            }
            Refusal::InsufficientShares { token, shares, required, size, open_sells } => write!(
                f,
                "token {token}: {shares} shares < required {required} (size {size} + open sells {open_sells})"
            ),
            Refusal::NotApproved { operator } => {
                write!(f, "outcome tokens not approved for {operator} (setApprovalForAll)")
            }
            Refusal::Unavailable { failure } => write!(f, "balances unavailable, failing closed: {failure}"),
        }
    }
}

/// An on-chain amount (6 decimals) as core money; saturates at `i64::MAX`
/// micros. Exact for every amount a refusal reports, since those are below a
/// requirement that is itself a `Usdc`.
pub fn usdc_saturating(amount: U256) -> Usdc {
    Usdc::from_micros(i64::try_from(amount).unwrap_or(i64::MAX))
}

/// An on-chain share count as a core `Size`, saturating at `u64::MAX` micros.
pub fn size_saturating(amount: U256) -> Size {
    Size::from_micros(u64::try_from(amount).unwrap_or(u64::MAX))
}

fn covers(have: U256, need: Usdc) -> bool {
    // need >= 0 by construction of the request.
    have >= U256::from(need.micros().unsigned_abs())
}

/// The buy rule. Allowances are checked first: a missing approval needs the
/// operator, while a short balance may be normal, so it is the reason shown.
pub fn decide_buy(req: &BuyRequest, balance: U256, allowances: &[(Spender, U256)]) -> Verdict {
    let required = req.required;
    for &(spender, allowance) in allowances {
        if !covers(allowance, required) {
            return Verdict::Refused(Refusal::InsufficientAllowance {
                spender,
                allowance: usdc_saturating(allowance),
                required,
            });
        }
    }
    if !covers(balance, required) {
        return Verdict::Refused(Refusal::InsufficientBalance {
            balance: usdc_saturating(balance),
            required,
            cost: req.cost,
            fees: req.fees,
            open_buys: req.open_buys,
        });
    }
    Verdict::Allowed(Headroom::Collateral { balance: usdc_saturating(balance), required })
}

/// The sell rule, approvals first for the same reason as [`decide_buy`].
pub fn decide_sell(req: &SellRequest, shares: U256, approvals: &[(Spender, bool)]) -> Verdict {
    for &(operator, approved) in approvals {
        if !approved {
            return Verdict::Refused(Refusal::NotApproved { operator });
        }
    }
    let required = req.required;
    if shares < U256::from(required.micros()) {
        return Verdict::Refused(Refusal::InsufficientShares {
            token: req.token.clone(),
            shares: size_saturating(shares),
            required,
            size: req.size,
            open_sells: req.open_sells,
        });
    }
    Verdict::Allowed(Headroom::Shares { shares: size_saturating(shares), required })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usdc(s: &str) -> Usdc {
        Usdc::parse(s).unwrap()
    }
    fn units(s: &str) -> U256 {
        U256::from(usdc(s).micros())
    }
    fn spender(role: ContractRole) -> Spender {
        let c = BalanceConfig::default();
        *spenders(&c, MarketKind::NegRisk).iter().find(|s| s.role == role).unwrap()
    }

    #[test]
    fn neg_risk_touches_three_contracts_standard_one() {
        let c = BalanceConfig::default();
        let roles = |m| spenders(&c, m).into_iter().map(|s| s.role).collect::<Vec<_>>();
        assert_eq!(roles(MarketKind::Standard), [ContractRole::Exchange]);
        assert_eq!(
            roles(MarketKind::NegRisk),
            [ContractRole::Exchange, ContractRole::NegRiskExchange, ContractRole::NegRiskAdapter]
        );
        assert_eq!(MarketKind::from_neg_risk(true), MarketKind::NegRisk);
    }

    #[test]
    fn buy_requires_cost_fees_and_commitments_exactly() {
        let req = BuyRequest::new(MarketKind::Standard, usdc("60"), usdc("0.5"), usdc("39.5")).unwrap();
        assert_eq!(req.required(), usdc("100"));
        let ex = [(spender(ContractRole::Exchange), U256::MAX)];
        // Exactly enough is enough; one micro less is not.
        assert!(decide_buy(&req, units("100"), &ex).is_allowed());
        let v = decide_buy(&req, units("99.999999"), &ex);
        assert_eq!(
            v,
            Verdict::Refused(Refusal::InsufficientBalance {
                balance: usdc("99.999999"),
                required: usdc("100"),
                cost: usdc("60"),
                fees: usdc("0.5"),
                open_buys: usdc("39.5"),
            })
        );
        assert_eq!(
            v.refusal().unwrap().to_string(),
            "pUSD balance 99.999999 < required 100 (cost 60 + fees 0.5 + open buys 39.5)"
        );
        assert!(!v.refusal().unwrap().needs_alert());
    }

    #[test]
    fn allowance_shortfall_is_its_own_refusal_and_comes_first() {
        let req = BuyRequest::new(MarketKind::NegRisk, usdc("10"), Usdc::ZERO, Usdc::ZERO).unwrap();
        let adapter = spender(ContractRole::NegRiskAdapter);
        let allowances = [
            (spender(ContractRole::Exchange), U256::MAX),
            (spender(ContractRole::NegRiskExchange), units("10")),
            (adapter, units("9.99")),
        ];
        // Balance is short too, but the allowance is what needs the operator.
        let v = decide_buy(&req, units("1"), &allowances);
        let r = v.refusal().unwrap();
        assert_eq!(
            r,
            &Refusal::InsufficientAllowance { spender: adapter, allowance: usdc("9.99"), required: usdc("10") }
        );
        assert!(r.needs_alert());
        assert!(r.to_string().contains("Neg Risk Adapter"), "{r}");
        let json = serde_json::to_value(r).unwrap();
        assert_eq!(json["kind"], "insufficient_allowance");
        assert_eq!(json["allowance"], "9.99");
        assert_eq!(json["spender"]["role"], "neg_risk_adapter");
    }

    #[test]
    fn unlimited_allowance_and_huge_balance_saturate_without_panicking() {
        let req = BuyRequest::new(MarketKind::Standard, usdc("1"), Usdc::ZERO, Usdc::ZERO).unwrap();
        let v = decide_buy(&req, U256::MAX, &[(spender(ContractRole::Exchange), U256::MAX)]);
        assert_eq!(
            v,
            Verdict::Allowed(Headroom::Collateral { balance: Usdc::from_micros(i64::MAX), required: usdc("1") })
        );
    }

    #[test]
    fn sells_need_approval_then_shares() {
        let token = TokenId::parse("123456789").unwrap();
        let req =
            SellRequest::new(MarketKind::Standard, token.clone(), Size::from_shares(10), Size::from_shares(5)).unwrap();
        assert_eq!(req.token_word(), U256::from(123_456_789u64));
        let ex = spender(ContractRole::Exchange);
        let v = decide_sell(&req, U256::from(15_000_000u64), &[(ex, false)]);
        assert_eq!(v, Verdict::Refused(Refusal::NotApproved { operator: ex }));
        let v = decide_sell(&req, U256::from(14_999_999u64), &[(ex, true)]);
        assert_eq!(
            v,
            Verdict::Refused(Refusal::InsufficientShares {
                token,
                shares: Size::from_micros(14_999_999),
                required: Size::from_shares(15),
                size: Size::from_shares(10),
                open_sells: Size::from_shares(5),
            })
        );
        assert!(decide_sell(&req, U256::from(15_000_000u64), &[(ex, true)]).is_allowed());
    }

    #[test]
    fn bad_requests_are_typed_errors() {
        let m = MarketKind::Standard;
        assert!(matches!(
            BuyRequest::new(m, usdc("-1"), Usdc::ZERO, Usdc::ZERO),
            Err(CheckInputError::Negative { .. })
        ));
        assert!(matches!(
            BuyRequest::new(m, usdc("1"), Usdc::ZERO, usdc("-0.000001")),
            Err(CheckInputError::Negative { what: "open buy commitments", .. })
        ));
        assert_eq!(BuyRequest::new(m, Usdc::ZERO, Usdc::ZERO, Usdc::ZERO), Err(CheckInputError::ZeroCost(Usdc::ZERO)));
        assert_eq!(
            BuyRequest::new(m, Usdc::from_micros(i64::MAX), usdc("1"), Usdc::ZERO),
            Err(CheckInputError::Overflow)
        );
        let t = TokenId::parse("1").unwrap();
        assert_eq!(SellRequest::new(m, t.clone(), Size::ZERO, Size::ZERO), Err(CheckInputError::ZeroSize));
        assert_eq!(
            SellRequest::new(m, t, Size::from_micros(u64::MAX), Size::from_micros(1)),
            Err(CheckInputError::Overflow)
        );
    }

    #[test]
    fn for_order_rounds_cost_up() {
        let req = BuyRequest::for_order(
            MarketKind::Standard,
            Price::parse("0.0001").unwrap(),
            Size::from_micros(1),
            Usdc::ZERO,
            Usdc::ZERO,
        )
        .unwrap();
        assert_eq!(req.cost(), Usdc::from_micros(1));
    }
}
