//! The trait between the order gateway and the journal lives in the
//! journal's vocabulary (`pmbot_rows`); the journal implements it.

pub use pmbot_rows::{LoggedOrder, OrderLog, OrderLogError, PreparedOrder};
