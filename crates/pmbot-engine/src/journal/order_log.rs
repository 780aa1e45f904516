//! The trait between the order gateway and the journal lives with the gateway
//! (`pmbot_venue::gateway::log`); the journal implements it.

pub use pmbot_venue::gateway::log::{LoggedOrder, OrderLog, OrderLogError, PreparedOrder};
