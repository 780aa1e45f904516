//! `pmbot redeem [--market SLUG|CONDITION_ID ...]`: turns resolved markets'
//! shares into pUSD on chain (winning shares pay 1 pUSD each; losing ones
//! are burned), and says what it did, one line a market.
//!
//! Polymarket pays nothing at resolution: the holder redeems
//! (`redeemPositions`). A `live` run does it by itself after each
//! resolution; this command is for what is left (a run that stopped first,
//! an RPC outage that outlasted it) and for markets named by hand.
//!
//! Invariants: the same rules as `live` ([`pmbot_venue::redeem`]): a market
//! the journal holds a confirmed redemption of is not sent again, a
//! transaction in flight is looked up by its hash first, and a new one's
//! hash is journaled before it is broadcast. Each market is tried up to
//! `[redeem] attempts` times, with backoff, on network failures. It exits
//! non-zero, with one line, when a market could not be redeemed.

use std::sync::{Arc, Mutex};

use clap::Args;
use pmbot_core::{Clock, ConditionId};
use pmbot_engine::journal::{Journal, JournalError};
use pmbot_venue::SystemClock;
use pmbot_venue::discovery::market_by_slug;
use pmbot_venue::redeem::{Next, RedeemError, RedeemOutcome, RedemptionLog, redeem_market, retry};

use crate::account;
use crate::config::FileConfig;
use crate::error::refuse;
use crate::error::{Context, Result};
use crate::source::GAMMA_URL;

#[derive(Debug, Args)]
pub struct RedeemArgs {
    /// Markets to redeem, by slug (looked up on Gamma) or condition id
    /// (0x and 64 hex digits). Default: every market the journal holds
    /// shares of that has no confirmed redemption.
    #[arg(long = "market", num_args = 1.., value_name = "SLUG|CONDITION_ID")]
    pub markets: Vec<String>,
    /// Gamma API base URL, for slugs (default: Polymarket's, or a simulated
    /// exchange's own).
    #[arg(long, value_name = "URL")]
    pub gamma_url: Option<String>,
}

pub async fn run(file: FileConfig, args: RedeemArgs) -> Result<()> {
    let key = account::private_key(&file.gateway)?;
    let funder = account::funder_of(&file.gateway, &key)?;
    let (redeemer, notice) = account::redeemer(&file, &key, funder)?;
    if let Some(line) = notice {
        println!("{line}");
    }
    let journal = match Journal::open(&file.journal.path) {
        Ok(j) => j,
        Err(e @ JournalError::InUse { .. }) => {
            return Err(e).context("a running `pmbot live` redeems by itself; run this when it has stopped");
        }
        Err(e) => return Err(e).with_context(|| format!("cannot open the journal {}", file.journal.path.display())),
    };
    let markets = if args.markets.is_empty() {
        journal.redemption_candidates().context("cannot read the journal's holdings")?
    } else {
        named_markets(&file, &args).await?
    };
    if markets.is_empty() {
        println!("nothing to redeem: the journal holds shares of no market without a confirmed redemption");
        return Ok(());
    }
    println!("redeeming {} market(s) for {funder:#x} ({})", markets.len(), redeemer_name(redeemer.via()));
    let log: Arc<Mutex<dyn RedemptionLog>> = Arc::new(Mutex::new(journal));
    let clock = SystemClock;
    let mut failed: Vec<(ConditionId, RedeemError)> = Vec::new();
    for market in &markets {
        match redeem_one(redeemer.as_ref(), &log, &clock, market, &file.redeem).await {
            Ok(outcome) => println!("{market}  {}", describe(&outcome)),
            Err(e) => {
                println!("{market}  FAILED: {e}");
                failed.push((*market, e));
            }
        }
    }
    match failed.first() {
        None => Ok(()),
        Some((market, e)) => refuse!(
            "{} of {} market(s) not redeemed; {market}: {e}{}",
            failed.len(),
            markets.len(),
            if e.is_retryable() {
                " (run `pmbot redeem` again later: a transaction sent is found by its hash)"
            } else {
                ""
            }
        ),
    }
}

/// One market, tried up to `[redeem] attempts` times while the failure is
/// one that mends by itself. An oracle that has not reported is not waited
/// for: that is said, and the command goes on.
async fn redeem_one(
    redeemer: &dyn pmbot_venue::redeem::Redeemer,
    log: &Mutex<dyn RedemptionLog>,
    clock: &dyn Clock,
    market: &ConditionId,
    cfg: &retry::RedeemConfig,
) -> std::result::Result<RedeemOutcome, RedeemError> {
    let mut failures = 0u32;
    loop {
        let result = redeem_market(redeemer, log, clock, market).await;
        failures = if result.is_err() { failures + 1 } else { 0 };
        match (retry::next(&result, failures, cfg), &result) {
            (Next::After(delay), Err(e)) if failures < cfg.attempts.max(1) => {
                println!("{market}  attempt {failures} failed ({e}); again in {}", humantime::format_duration(delay));
                tokio::time::sleep(delay).await;
            }
            _ => return result,
        }
    }
}

fn describe(outcome: &RedeemOutcome) -> String {
    let tx = |h: &Option<alloy_primitives::B256>| h.map(|h| format!(" (tx {h:#x})")).unwrap_or_default();
    match outcome {
        RedeemOutcome::Redeemed { tx_hash, payout } => format!("redeemed: {payout} pUSD paid{}", tx(tx_hash)),
        RedeemOutcome::AlreadyRedeemed { tx_hash, payout } => {
            format!("already redeemed: {payout} pUSD{}; nothing sent", tx(tx_hash))
        }
        RedeemOutcome::NotResolved => "not resolved on chain yet: nothing sent".to_owned(),
        RedeemOutcome::NothingHeld => "nothing to redeem: no shares of it on chain".to_owned(),
        RedeemOutcome::NotPrepared => "no such condition on this chain: nothing sent".to_owned(),
    }
}

fn redeemer_name(via: pmbot_venue::redeem::Via) -> &'static str {
    match via {
        pmbot_venue::redeem::Via::Chain => "on chain",
        pmbot_venue::redeem::Via::Simulator => "the simulator's /_sim/redeem",
    }
}

/// `--market` values: condition ids as they are, slugs through Gamma.
async fn named_markets(file: &FileConfig, args: &RedeemArgs) -> Result<Vec<ConditionId>> {
    let gamma = match &args.gamma_url {
        Some(url) => url.clone(),
        None if account::exchange_of(file).is_simulated() => {
            format!("{}/gamma", file.gateway.clob_url.trim_end_matches('/'))
        }
        None => GAMMA_URL.to_owned(),
    };
    let mut out = Vec::new();
    for name in &args.markets {
        let market = if name.starts_with("0x") || name.starts_with("0X") {
            ConditionId::parse(name).with_context(|| format!("--market {name:?} is not a condition id"))?
        } else {
            let timeout = file.gateway.request_timeout;
            market_by_slug(&gamma, name, timeout).await.with_context(|| format!("--market {name}"))?.condition_id
        };
        if !out.contains(&market) {
            out.push(market);
        }
    }
    Ok(out)
}
