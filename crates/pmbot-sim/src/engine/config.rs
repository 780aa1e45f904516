//! Engine settings, with the real exchange's values as defaults.
//!
//! Every default is a documented or observed property of Polymarket's CLOB;
//! the comment on each field says where it comes from. The struct is plain
//! serde with `deny_unknown_fields`, so a typo in a config file is an error.

use alloy_primitives::Address;
use pmbot_core::{Price, TickSize, Usdc};
use serde::{Deserialize, Serialize};

/// What happens when a taker order would fill against a resting order of the
/// same funder (`maker` address).
///
/// Evidence for the default: a third-party scan of 712 million on-chain
/// Polymarket fills found maker == taker in 905 of them (1.3e-6 by count),
/// described as "the CLOB does not permit a single wallet to match its own
/// resting order under normal operation" (jdellavedova.com wash-trading
/// index). The exchange documents no self-trade rule and no error text for
/// it, so the *action* is not known; we take the common "expire maker" rule,
/// which keeps the book uncrossed and lets the taker continue behind its own
/// quote, and never produces a fill between one funder's orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelfTradePolicy {
    /// Fill against one's own orders like anyone else's.
    Allow,
    /// Cancel the resting own order (CANCELLATION event) and keep matching.
    #[default]
    CancelResting,
    /// Stop matching at the first own order: the taker's remainder is
    /// cancelled (GTC/GTD) or killed (FAK); a FOK that cannot fill fully
    /// before it is refused.
    CancelTaker,
}

/// When the tick becomes finer near 0 and 1, and when it returns.
///
/// Docs (market channel, `tick_size_change`): "This happens when the book's
/// price reaches the limits: price > 0.96 or price < 0.04"; the notes say the
/// new tick is typically 0.001. The engine reads "the book's price" as the
/// primary token's best bid and best ask (its mirror is the other token's
/// best ask and bid, so both tokens agree): the fine tick starts when the best
/// bid rises above `enter_above` or the best ask falls below `enter_below`,
/// and the listed tick returns only once the best bid is at or below
/// `exit_at_or_below` and the best ask at or above `exit_at_or_above` (an
/// empty side counts as inside). The gap between the two pairs is hysteresis,
/// so a book hovering at 0.96 does not flap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TickRule {
    pub fine: TickSize,
    pub enter_above: Price,
    pub enter_below: Price,
    pub exit_at_or_below: Price,
    pub exit_at_or_above: Price,
}

impl Default for TickRule {
    fn default() -> Self {
        let p = |pips| Price::from_pips(pips).expect("constant inside (0, 1)");
        TickRule {
            fine: TickSize::Thousandth,
            enter_above: p(9600),
            enter_below: p(400),
            exit_at_or_below: p(9500),
            exit_at_or_above: p(500),
        }
    }
}

/// Everything about the engine that is policy rather than protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    pub tick_rule: TickRule,
    /// Smallest `price x size` of a marketable order: "invalid amount for a
    /// marketable BUY order ($0.5), min size: $1" (observed error text).
    pub min_marketable_notional: Usdc,
    /// GTD orders stop `gtd_threshold_ms` before their `expiration`: the docs
    /// describe a one-minute security threshold ("now + 1 minute + 30
    /// seconds" for a 90-second life).
    pub gtd_threshold_ms: i64,
    /// A trade turns MINED this long after it matched.
    pub mined_after_ms: i64,
    /// A trade turns CONFIRMED this long after it matched.
    pub confirmed_after_ms: i64,
    /// Account that receives taker fees (pUSD from buyers and sellers).
    pub fee_collector: Address,
    /// Trade records kept per account for `/data/trades`; older ones are
    /// dropped so a long run does not grow without bound.
    pub max_trades_per_account: usize,
    pub self_trade: SelfTradePolicy,
    /// The first funding of an account (API-key creation's starting balance,
    /// `[sim] fund`, `--fund`, `/_sim/fund`, a market source's house
    /// accounts) also gives it the maximum pUSD allowance and the token
    /// approval of every exchange contract, as a wallet set up through
    /// Polymarket's UI or the SDKs' approval helpers has. Off, accounts start
    /// with nothing approved and must be approved (`/_sim/approve`) before
    /// they can trade. Approvals set explicitly are never overwritten.
    pub approve_on_fund: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            tick_rule: TickRule::default(),
            min_marketable_notional: Usdc::from_whole(1),
            gtd_threshold_ms: 60_000,
            mined_after_ms: 1_000,
            confirmed_after_ms: 3_000,
            fee_collector: Address::repeat_byte(0xfe),
            max_trades_per_account: 1_000,
            self_trade: SelfTradePolicy::default(),
            approve_on_fund: true,
        }
    }
}
