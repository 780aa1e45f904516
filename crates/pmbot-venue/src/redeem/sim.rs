//! Redemption on a simulated exchange that has no chain: its test-control
//! endpoint `POST /_sim/redeem`.
//!
//! The request is `{"address": "0x<holder, lowercase hex>", "condition_id":
//! "0x<64 hex>"}`; the simulator pays 1 pUSD per winning share, burns the
//! holder's winning and losing shares and answers `{"payout": "<pUSD>",
//! "winning_burned": "<shares>", "losing_burned": "<shares>", ...}` (amounts
//! as decimal text), 400 with `{"error": ...}` before resolution. Redeeming
//! what one does not hold pays nothing and succeeds, as on chain.
//!
//! Invariant: only loopback simulators are asked (the caller's rule,
//! `pmbot::offline`); an answer that does not read as above is an error,
//! never a zero payout. Without a transaction there is no hash to journal
//! first: a lost answer is retried, and the second answer (nothing burned)
//! reads as nothing held, so the payout is still never counted twice.

use std::time::Duration;

use alloy::primitives::{Address, B256};
use futures::future::BoxFuture;
use pmbot_core::{ConditionId, Size, Usdc};
use serde::Deserialize;
use serde_json::json;

use super::log::Via;
use super::plan::RedeemPlan;
use super::procedure::{Inspection, RedeemError, Redeemer, Settlement, Signed, TxStatus};

/// The simulator's answer.
#[derive(Debug, Deserialize)]
struct Answer {
    payout: String,
    winning_burned: String,
    losing_burned: String,
}

#[derive(Debug, Clone)]
pub struct SimRedeemer {
    url: String,
    holder: Address,
    http: reqwest::Client,
}

impl SimRedeemer {
    /// A redeemer for `holder` at the simulator whose REST base is `clob_url`.
    pub fn new(clob_url: &str, holder: Address, timeout: Duration) -> Result<SimRedeemer, RedeemError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| RedeemError::Simulator(format!("cannot build the HTTP client: {e}")))?;
        Ok(SimRedeemer { url: format!("{}/_sim/redeem", clob_url.trim_end_matches('/')), holder, http })
    }

    /// The request body this redeemer sends for `market`.
    pub fn body(&self, market: &ConditionId) -> serde_json::Value {
        json!({"address": format!("{:#x}", self.holder), "condition_id": market.to_string()})
    }

    async fn redeem(&self, market: &ConditionId) -> Result<Settlement, RedeemError> {
        let sent = self.http.post(&self.url).json(&self.body(market)).send().await;
        let resp = sent.map_err(|e| RedeemError::Rpc(format!("simulator unreachable: {}", kind_of(&e))))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| RedeemError::Rpc(format!("simulator answer: {}", kind_of(&e))))?;
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(RedeemError::Rpc(format!("simulator answered HTTP {status}")));
        }
        if !status.is_success() {
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
                .unwrap_or_else(|| format!("HTTP {status}"));
            return Err(RedeemError::Simulator(message));
        }
        parse(&text)
    }
}

/// The settlement in a simulator's answer.
fn parse(text: &str) -> Result<Settlement, RedeemError> {
    let garbage = |why: String| RedeemError::Simulator(format!("unreadable answer ({why})"));
    let a: Answer = serde_json::from_str(text).map_err(|e| garbage(e.to_string()))?;
    let payout = Usdc::parse_non_negative(&a.payout).map_err(|e| garbage(format!("payout: {e}")))?;
    let winning_burned = Size::parse(&a.winning_burned).map_err(|e| garbage(format!("winning_burned: {e}")))?;
    let losing_burned = Size::parse(&a.losing_burned).map_err(|e| garbage(format!("losing_burned: {e}")))?;
    Ok(Settlement::Simulated { payout, winning_burned, losing_burned })
}

/// A reqwest error without its URL.
fn kind_of(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    }
}

impl Redeemer for SimRedeemer {
    fn via(&self) -> Via {
        Via::Simulator
    }

    fn holder(&self) -> Address {
        self.holder
    }

    fn inspect<'a>(&'a self, _market: &'a ConditionId) -> BoxFuture<'a, Result<Inspection, RedeemError>> {
        Box::pin(async { Ok(Inspection::Blind) })
    }

    fn sign<'a>(
        &'a self,
        _market: &'a ConditionId,
        _plan: Option<&'a RedeemPlan>,
    ) -> BoxFuture<'a, Result<Signed, RedeemError>> {
        Box::pin(async { Ok(Signed { tx_hash: None, raw: Vec::new() }) })
    }

    fn submit<'a>(
        &'a self,
        market: &'a ConditionId,
        _signed: &'a Signed,
    ) -> BoxFuture<'a, Result<Settlement, RedeemError>> {
        Box::pin(self.redeem(market))
    }

    fn status(&self, _tx_hash: B256) -> BoxFuture<'_, Result<TxStatus, RedeemError>> {
        // No transaction is ever journaled for the simulator.
        Box::pin(async { Ok(TxStatus::Unknown) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_exactly_or_refused() {
        let ok = parse(
            r#"{"address":"0xab","condition_id":"0x01","payout":"12.5","winning_burned":"12.5","losing_burned":"3","balance":"100"}"#,
        );
        assert_eq!(
            ok.unwrap(),
            Settlement::Simulated {
                payout: Usdc::from_micros(12_500_000),
                winning_burned: Size::from_micros(12_500_000),
                losing_burned: Size::from_shares(3),
            }
        );
        for bad in [r#"{"payout":"1"}"#, r#"{"payout":"-1","winning_burned":"0","losing_burned":"0"}"#, "not json"] {
            assert!(matches!(parse(bad), Err(RedeemError::Simulator(_))), "{bad}");
        }
    }
}
