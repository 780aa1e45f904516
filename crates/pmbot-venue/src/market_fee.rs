//! A market's fee schedule as the CLOB states it, for runs without an order
//! gateway (`paper` on live data): `fd` in `/clob-markets/{condition_id}`,
//! read through the official SDK without credentials (an L0 endpoint).
//!
//! Invariant: a market that states no `fd` charges nothing, as the SDK reads
//! it (`clob/client.rs` `clob_market_info`: `FeeInfo::default()`), and the
//! gateway does the same ([`crate::gateway::Gateway::market_fee`]).

use std::time::Duration;

use pmbot_core::{ConditionId, FeeModel};

/// Why a market's fee schedule could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketFeeError {
    #[error("GET /clob-markets/{market} failed: {reason}")]
    Request { market: ConditionId, reason: String },
    #[error("GET /clob-markets/{market} timed out after {timeout:?}")]
    Timeout { market: ConditionId, timeout: Duration },
}

/// The fee schedule of `market` at the CLOB `clob_url`.
pub async fn market_fee(clob_url: &str, market: ConditionId, timeout: Duration) -> Result<FeeModel, MarketFeeError> {
    let failed = |reason: String| MarketFeeError::Request { market, reason };
    let sdk = polymarket_client_sdk_v2::clob::Client::new(clob_url, polymarket_client_sdk_v2::clob::Config::default())
        .map_err(|e| failed(e.to_string()))?;
    let info = tokio::time::timeout(timeout, sdk.clob_market_info(&market.to_string()))
        .await
        .map_err(|_| MarketFeeError::Timeout { market, timeout })?
        .map_err(|e| failed(e.to_string()))?;
    Ok(info
        .fee_details
        .map(|fd| FeeModel { rate: fd.rate, exponent: fd.exponent, taker_only: fd.taker_only })
        .unwrap_or(FeeModel::FREE))
}
