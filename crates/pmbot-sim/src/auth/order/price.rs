//! An order's limit price and size, read from its signed amounts.
//!
//! Invariant: the price is what the amounts imply, never a recomputation of
//! what some client would have sent (clients round differently: py-clob-client-v2
//! turns a market BUY at 0.57 into 0.56 through a float bug). A BUY pays
//! `makerAmount` collateral for `takerAmount` shares, so its price is
//! `maker / taker`; a SELL gives `makerAmount` shares for `takerAmount`
//! collateral, so its price is `taker / maker`.
//!
//! Limit orders from the SDKs imply their price exactly. Market orders (the
//! SDKs' FOK/FAK builders) fix one amount and truncate the other: a BUY spends
//! an exact collateral amount and truncates the shares, so it implies a price
//! slightly *above* its tick price; a SELL sells exact shares and truncates
//! the collateral, so it implies a price slightly *below*. Hence a BUY's limit
//! is the implied price rounded down to the tick, a SELL's rounded up: never
//! a better price for the order than it signed for.
//!
//! Tolerance: rounding explains the gap only if the truncated amount is within
//! one *rounding quantum* of the exact amount at the tick price:
//! BUY `maker / p - taker < q` shares, SELL `maker * p - taker < q` collateral,
//! with `q` = 10^-min(d + 2, 4) units for a tick of `d` decimals
//! ([`rounding_quantum`]): 0.001 on a 0.1 tick, 0.0001 on every finer tick.
//! The SDKs truncate the derived amount to `d + 2` decimals (TS, Python and Rust
//! alike) and the real exchange caps market-order amounts at 4 decimals, so
//! every client's gap is below `q`; an order priced half a tick off (0.565 on
//! a 0.01 market) misses by `size * 0.9%`, more than `q` for any order of 0.012
//! shares or more. Only dust (fewer shares than that) can pass with an
//! off-grid ratio, and then at the order's own conservative tick price.

use std::fmt;

use alloy::primitives::U256;
use pmbot_core::{Price, Side, Size, TickSize};
use rust_decimal::Decimal;

/// Pips (0.0001) per unit of price.
const PIPS: u128 = 10_000;

/// How the price was read from the amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PriceFit {
    /// `collateral == shares * price` exactly (every SDK limit order).
    Exact,
    /// One amount was truncated, within the rounding quantum (market orders).
    Truncated,
}

/// The limit price and size an order's amounts stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderTerms {
    /// On the market's tick; BUY rounded down, SELL rounded up.
    pub price: Price,
    /// Shares: what a BUY receives (`takerAmount`) or a SELL gives (`makerAmount`).
    pub size: Size,
    pub fit: PriceFit,
}

/// Why an order's amounts do not describe a valid price.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountsError {
    #[error("makerAmount and takerAmount must both be positive")]
    ZeroAmount,
    #[error("an amount exceeds 2^64 - 1 units")]
    TooLarge,
    #[error("price {implied} is outside [{tick}, {}]", .tick.max_price())]
    OutOfRange { implied: ImpliedPrice, tick: TickSize },
    #[error("price {implied} is off the {tick} tick by more than rounding explains")]
    OffTick { implied: ImpliedPrice, tick: TickSize },
}

impl AmountsError {
    /// The HTTP status the real API answers with.
    pub const fn http_status(&self) -> u16 {
        400
    }

    /// The `{"error": ...}` text, in the real API's wording where known
    /// ("invalid price (0.001), min: 0.01 - max: 0.99" and
    /// "Price (0.98039…) breaks minimum tick size rule: 0.001" are quoted in
    /// public issue threads; the real server prefixes the latter with
    /// "order <id> is invalid. ").
    pub fn message(&self) -> String {
        match self {
            AmountsError::ZeroAmount | AmountsError::TooLarge => "invalid amounts".to_owned(),
            AmountsError::OutOfRange { implied, tick } => {
                format!("invalid price ({implied}), min: {tick} - max: {}", tick.max_price())
            }
            AmountsError::OffTick { implied, tick } => {
                format!("Price ({implied}) breaks minimum tick size rule: {tick}")
            }
        }
    }
}

/// `collateral / shares`, kept as the two integers; printed to 16 decimals
/// for messages only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImpliedPrice {
    pub collateral: u64,
    pub shares: u64,
}

impl fmt::Display for ImpliedPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ratio = Decimal::from(self.collateral) / Decimal::from(self.shares);
        write!(f, "{}", ratio.round_dp(16).normalize())
    }
}

/// The largest truncation, in 6-decimal units, that rounding can explain on a
/// market with this tick: 10^-min(d + 2, 4) of a share or a pUSD.
pub const fn rounding_quantum(tick: TickSize) -> u64 {
    match tick.decimals() {
        0 | 1 => 1_000,
        _ => 100,
    }
}

/// Reads an order's limit price and size from its amounts (see the module docs).
pub fn terms_from_amounts(
    side: Side,
    maker_amount: U256,
    taker_amount: U256,
    tick: TickSize,
) -> Result<OrderTerms, AmountsError> {
    let maker = u64::try_from(maker_amount).map_err(|_| AmountsError::TooLarge)?;
    let taker = u64::try_from(taker_amount).map_err(|_| AmountsError::TooLarge)?;
    if maker == 0 || taker == 0 {
        return Err(AmountsError::ZeroAmount);
    }
    let (collateral, shares) = match side {
        Side::Buy => (maker, taker),
        Side::Sell => (taker, maker),
    };
    let implied = ImpliedPrice { collateral, shares };
    let c = u128::from(collateral);
    let s = u128::from(shares);
    let q = u128::from(rounding_quantum(tick));
    let tick_pips = u128::from(tick.pips());
    let (min, max) = (tick_pips, PIPS - tick_pips);

    // Price in pips, rounded against the order: down for a BUY, up for a SELL.
    let pips = match side {
        Side::Buy => {
            let raw = c * PIPS / s;
            raw - raw % tick_pips
        }
        Side::Sell => (c * PIPS).div_ceil(s).div_ceil(tick_pips) * tick_pips,
    };
    if pips < min || pips > max {
        return Err(AmountsError::OutOfRange { implied, tick });
    }
    // Scaled by PIPS: collateral * PIPS vs shares * pips.
    let explained = match side {
        // maker / p - taker < q  <=>  c < (s + q) * p
        Side::Buy => c * PIPS < (s + q) * pips,
        // maker * p - taker < q  <=>  s * p < (c + q) * PIPS
        Side::Sell => s * pips < (c + q) * PIPS,
    };
    if !explained {
        // A ratio beyond the extreme ticks is out of range, not merely off-grid.
        let beyond = match side {
            Side::Buy => c * PIPS > s * max,
            Side::Sell => c * PIPS < s * min,
        };
        return Err(if beyond {
            AmountsError::OutOfRange { implied, tick }
        } else {
            AmountsError::OffTick { implied, tick }
        });
    }
    let price =
        Price::from_pips(u16::try_from(pips).expect("checked against 1 - tick")).expect("checked inside (0, 1)");
    let fit = if c * PIPS == s * pips { PriceFit::Exact } else { PriceFit::Truncated };
    Ok(OrderTerms { price, size: Size::from_micros(shares), fit })
}
