//! What the engine must know of a market before it can trade it.

use pmbot_core::{ConditionId, FeeModel, Size, TickSize, TimestampMs, TokenId};
use serde::{Deserialize, Serialize};

use crate::replay::ResolvedkitMarket;

/// A binary market: its two tokens (UP/YES first: the model predicts the
/// first token's mid), when it ends, its fees and order minimum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketInfo {
    pub market: ConditionId,
    pub up: TokenId,
    pub down: TokenId,
    /// When trading stops (unix ms), if known. Without it the risk gate
    /// refuses entries (`market_end_unknown`).
    pub end: Option<TimestampMs>,
    pub fee: FeeModel,
    pub min_order_size: Size,
    pub tick: TickSize,
}

/// Polymarket's usual minimum order size when a market does not say.
pub const DEFAULT_MIN_ORDER: Size = Size::from_micros(5_000_000);
/// Polymarket's usual tick when a market does not say.
pub const DEFAULT_TICK: TickSize = TickSize::Hundredth;

impl MarketInfo {
    /// A market of the resolvedkit data set: BTC 15-minute markets (crypto
    /// fees, tick 0.01, Polymarket's 5-share minimum).
    pub fn from_resolvedkit(m: &ResolvedkitMarket) -> MarketInfo {
        MarketInfo {
            market: m.condition_id,
            up: m.tokens[0].clone(),
            down: m.tokens[1].clone(),
            end: Some(m.end_ms),
            fee: FeeModel::crypto(),
            min_order_size: DEFAULT_MIN_ORDER,
            tick: DEFAULT_TICK,
        }
    }
}
