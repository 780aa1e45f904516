//! Engine tests: one file per rule family, sharing the fixtures below.

mod events;
mod lifecycle;
mod matching;
mod properties;
mod settlement;
mod ticks;
mod validation;

use alloy_primitives::Address;
use pmbot_core::{Hash32, OrderId, Price, Side, Size, TickSize, TokenId, Usdc};

use super::{
    EngineConfig, EngineEvent, Exchange, ExchangeKind, FeeSchedule, MarketSpec, NewOrder, OrderType, TokenSpec,
};

pub(super) const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

pub(super) fn addr(n: u8) -> Address {
    Address::repeat_byte(n)
}

pub(super) fn alice() -> Address {
    addr(0xa1)
}
pub(super) fn bob() -> Address {
    addr(0xb0)
}
pub(super) fn carol() -> Address {
    addr(0xc0)
}
pub(super) fn collector() -> Address {
    EngineConfig::default().fee_collector
}

pub(super) fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}
pub(super) fn sz(s: &str) -> Size {
    Size::parse(s).unwrap()
}
pub(super) fn usd(s: &str) -> Usdc {
    Usdc::parse(s).unwrap()
}

pub(super) fn oid(n: u64) -> OrderId {
    let mut b = [0u8; 32];
    b[24..].copy_from_slice(&n.to_be_bytes());
    b[0] = 0x0d;
    Hash32(b)
}

/// A binary market numbered `n`: tokens `n*1000+1` (Yes) and `n*1000+2` (No),
/// tick 0.01, min size 5, no fee.
pub(super) fn spec(n: u8) -> MarketSpec {
    MarketSpec {
        condition_id: Hash32([n; 32]),
        question_id: Hash32([n.wrapping_add(100); 32]),
        question: format!("Will market {n} resolve Yes?"),
        slug: format!("market-{n}"),
        description: String::new(),
        tokens: [
            TokenSpec { token_id: token(n, 0), outcome: "Yes".into() },
            TokenSpec { token_id: token(n, 1), outcome: "No".into() },
        ],
        tick: TickSize::Hundredth,
        min_order_size: Size::from_shares(5),
        fee: FeeSchedule::FREE,
        neg_risk: false,
        exchange: ExchangeKind::CtfV2,
        end_ms: None,
        category: "crypto".into(),
    }
}

pub(super) fn token(n: u8, outcome: u8) -> TokenId {
    TokenId::parse(&(u64::from(n) * 1000 + 1 + u64::from(outcome)).to_string()).unwrap()
}

/// An exchange with market 1 listed and every test account holding 1000 pUSD.
pub(super) struct Fx {
    pub(super) ex: Exchange,
    pub(super) yes: TokenId,
    pub(super) no: TokenId,
    next_id: u64,
}

impl Fx {
    pub(super) fn new() -> Fx {
        Fx::with(EngineConfig::default(), spec(1))
    }

    pub(super) fn with(cfg: EngineConfig, market: MarketSpec) -> Fx {
        let mut ex = Exchange::new(cfg);
        let (yes, no) = (market.tokens[0].token_id.clone(), market.tokens[1].token_id.clone());
        ex.list_market(market, T0).unwrap();
        for who in [alice(), bob(), carol()] {
            ex.fund(who, Usdc::from_whole(1000)).unwrap();
        }
        ex.drain_events();
        Fx { ex, yes, no, next_id: 1 }
    }

    pub(super) fn market(&self) -> pmbot_core::ConditionId {
        self.ex.market_of_token(&self.yes).unwrap().spec.condition_id
    }

    /// A GTC order with a fresh id.
    pub(super) fn order(&mut self, who: Address, token: &TokenId, side: Side, price: &str, size: &str) -> NewOrder {
        let id = oid(self.next_id);
        self.next_id += 1;
        NewOrder {
            id,
            maker: who,
            owner: who,
            api_key: format!("key-{who}"),
            token: token.clone(),
            side,
            price: p(price),
            size: sz(size),
            order_type: OrderType::Gtc,
            post_only: false,
            expiration_s: 0,
        }
    }

    pub(super) fn typed(
        &mut self,
        who: Address,
        token: &TokenId,
        side: Side,
        price: &str,
        size: &str,
        ty: OrderType,
    ) -> NewOrder {
        NewOrder { order_type: ty, ..self.order(who, token, side, price, size) }
    }

    /// Submits a GTC order that must be accepted; returns its id.
    pub(super) fn place(&mut self, who: Address, token: &TokenId, side: Side, price: &str, size: &str) -> OrderId {
        let o = self.order(who, token, side, price, size);
        self.ex.submit(o, T0).unwrap().order_id
    }

    /// Gives `who` `amount` shares of both tokens by splitting collateral.
    pub(super) fn split(&mut self, who: Address, amount: &str) {
        let m = self.market();
        self.ex.split(who, &m, sz(amount)).unwrap();
    }

    pub(super) fn cash(&self, who: Address) -> Usdc {
        Usdc::from_micros(self.ex.collateral(who).total.micros() as i64)
    }

    pub(super) fn held(&self, who: Address, token: &TokenId) -> Size {
        self.ex.shares(who, token).total
    }

    /// Asserts the engine's invariants.
    pub(super) fn audit(&self) {
        self.ex.audit().unwrap();
    }
}

/// The whole engine state, for "nothing changed" assertions.
pub(super) fn state(ex: &Exchange) -> String {
    format!("{ex:?}")
}

/// Events as JSON lines, for comparing runs.
pub(super) fn json(events: &[EngineEvent]) -> Vec<String> {
    events.iter().map(|e| serde_json::to_string(e).unwrap()).collect()
}
