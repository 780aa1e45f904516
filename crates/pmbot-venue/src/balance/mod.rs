//! The funder's money on chain, read directly: pUSD balance and allowances,
//! outcome-token balances and operator approvals, over JSON-RPC `eth_call`.
//!
//! Invariant: no order passes the pre-check unless fresh on-chain values (at
//! most the TTL old, default 30 s on a replaceable [`pmbot_core::Clock`], and
//! read after the last own fill) show it is covered; when the chain cannot be
//! read, is the wrong chain, or answers garbage, the answer is a refusal that
//! says why (fail closed) and an alert is queued. Never a panic.
//!
//! Why not the CLOB's `/balance-allowance`: it is the exchange's cached view,
//! known to be zero, stale or doubled at times (protocol notes §7); the chain
//! is the truth.
//!
//! - [`BalanceConfig`]: RPC URLs (primary, then fallbacks), chain id,
//!   contract addresses, TTL, timeout, retries.
//! - [`BalanceReader`]: `check_buy` / `check_sell` give a [`Verdict`];
//!   `invalidate` after every own fill; `collateral` / `shares` / `refresh`
//!   for views; `drain_alerts` for the alerting path.
//! - [`check`]: the rules themselves, pure.

pub mod check;
pub mod config;
mod endpoint;
mod reader;

pub use check::{
    BuyRequest, CheckInputError, ContractRole, Headroom, MarketKind, Refusal, SellRequest, Spender, Verdict,
};
pub use config::{
    BalanceConfig, ConfigError, POLYGON_CHAIN_ID, POLYGON_COLLATERAL, POLYGON_CONDITIONAL_TOKENS, POLYGON_EXCHANGE,
    POLYGON_NEG_RISK_ADAPTER, POLYGON_NEG_RISK_EXCHANGE, redact_url as redact_rpc_url,
};
pub(crate) use endpoint::Endpoint;
pub use endpoint::{EndpointError, FailedAttempt, IERC20, IERC1155, ReadFailure};
pub use reader::{BalanceAlert, BalanceReader, CollateralView, ReaderStats, SharesView, format_units6};
