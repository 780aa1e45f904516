//! pmbot's pure core: the types every other crate speaks.
//!
//! Nothing here performs I/O, spawns tasks or reads the wall clock: time comes in
//! with the data, so replaying the same input always gives the same output.
//!
//! Money is exact. A [`Price`] is an integer count of the finest Polymarket tick
//! (0.0001) and is checked against the market's own tick size; [`Size`] and
//! [`Usdc`] are 6-decimal fixed point, the unit the chain uses for pUSD and
//! outcome tokens. No `f64` ever carries what is ordered or owed.

pub mod amount;
pub mod backoff;
pub mod book;
pub mod book_hash;
pub mod clock;
pub mod events;
pub mod features;
pub mod fees;
pub mod ids;
pub mod labels;
pub mod level;
pub mod order_amounts;
pub mod order_state;
pub mod paper;
pub mod price;
pub mod quantile;
pub mod redact;
pub mod risk;
pub mod side;
pub mod strategy;
pub mod wilson;

pub use amount::{AmountError, Size, Usdc};
pub use book::{
    AveragePrice, BookError, BookHealth, DeltaOutcome, Depth, FillExtent, OrderBook, SnapshotSummary, Sweep,
    TickChangeOutcome, TouchCheck,
};
pub use book_hash::{BookHashInput, HashCheck, RawBookSummary, book_hash, verify_book_hash};
pub use clock::{Clock, ManualClock, TimestampError, TimestampMs};
pub use events::{
    BestBidAsk, BookSnapshot, CancelScope, ClientOrderId, ClientOrderIdError, Command, DecisionContext, Event,
    EventTime, Fill, IntentError, LastTrade, Liquidity, MarketEvent, MarketResolved, NewMarket, OrderIntent,
    OrderStatus, OrderType, OrderUpdate, PriceChange, PriceChangeBatch, TickSizeChange,
};
pub use features::{
    FEATURE_COUNT, FEATURE_NAMES, Feature, FeatureSpec, FeatureSpecError, FeatureState, FeatureUpdate, FeatureVector,
    Predictor,
};
pub use fees::{FeeModel, break_even_probability};
pub use ids::{ConditionId, Hash32, IdError, OrderId, TokenId};
pub use labels::{Grid, Label, LabelCounts, LabelError, LabelOutcome, LabelSpec, Labeller, MidPoint};
pub use level::{Level, LevelError, LevelErrorKind, RawLevel, parse_levels, parse_levels_json, parse_touch_price};
pub use order_amounts::{OrderAmounts, OrderKind, Sizing};
pub use paper::{Funds, PaperConfig, PaperError, PaperEvent, PaperVenue, QueueModel};
pub use price::{Price, PriceError, TickSize};
pub use risk::{
    BalanceCheck, BookStatus, CloseOutcome, Position, PositionChange, RiskConfig, RiskConfigError, RiskContext,
    RiskGate, RiskRefusal, RiskState, RiskStateError,
};
pub use side::Side;
pub use strategy::{
    ConfidenceTaker, ExitReason, PassReason, PositionView, Strategy, StrategyAction, StrategyConfig,
    StrategyConfigError, StrategyInput, TakerOrderType,
};
pub use wilson::wilson_95;
