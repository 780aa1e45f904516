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
pub mod fees;
pub mod ids;
pub mod price;
pub mod side;

pub use amount::{AmountError, Size, Usdc};
pub use fees::{FeeModel, break_even_probability};
pub use ids::{ConditionId, Hash32, IdError, OrderId, TokenId};
pub use price::{Price, PriceError, TickSize};
pub use side::Side;
