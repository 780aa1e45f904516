//! Redemptions in the background of a `live` run.
//!
//! Invariant: one task redeems one market at a time (two transactions from
//! one key at once would race for the same nonce), each market asked for at
//! most once while it is pending, and every attempt's result is reported, in
//! order, on the channel the run reads. Retries follow [`super::retry::next`];
//! a market given up on, or still pending when the run stops, stays as the
//! journal left it: `pmbot redeem` or the next run picks it up by the same
//! rules (a transaction in flight is looked up by its hash first).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pmbot_core::{Clock, ConditionId};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::log::SharedRedemptionLog;
use super::procedure::{RedeemError, RedeemOutcome, Redeemer, redeem_market};
use super::retry::{Next, RedeemConfig, next};

/// One attempt's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedemptionReport {
    pub market: ConditionId,
    pub result: Result<RedeemOutcome, RedeemError>,
    /// The attempt's number for this market, from 1.
    pub attempt: u32,
    /// When the next attempt comes, if one does.
    pub retry_in: Option<Duration>,
}

/// The background redeemer: ask with [`RedemptionScheduler::request`], read
/// the reports from the receiver [`RedemptionScheduler::start`] returned.
#[derive(Debug)]
pub struct RedemptionScheduler {
    requests: mpsc::UnboundedSender<ConditionId>,
    task: JoinHandle<()>,
}

/// A market waiting for its next attempt.
struct Waiting {
    at: Instant,
    attempt: u32,
    failures: u32,
}

impl RedemptionScheduler {
    pub fn start(
        redeemer: Arc<dyn Redeemer>,
        log: SharedRedemptionLog,
        clock: Arc<dyn Clock>,
        cfg: RedeemConfig,
    ) -> (RedemptionScheduler, mpsc::UnboundedReceiver<RedemptionReport>) {
        let (requests, mut asked) = mpsc::unbounded_channel::<ConditionId>();
        let (reports, out) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut waiting: BTreeMap<ConditionId, Waiting> = BTreeMap::new();
            loop {
                let due = waiting.iter().min_by_key(|(m, w)| (w.at, **m)).map(|(m, w)| (*m, w.at));
                tokio::select! {
                    asked = asked.recv() => match asked {
                        Some(market) => {
                            waiting.entry(market).or_insert(Waiting { at: Instant::now(), attempt: 0, failures: 0 });
                        }
                        // The run dropped its handle: nothing more will be asked.
                        None if waiting.is_empty() => break,
                        None => {}
                    },
                    _ = sleep_until(due.map(|(_, at)| at)) => {
                        let Some((market, _)) = due else { continue };
                        let mut w = waiting.remove(&market).expect("due markets are waiting");
                        w.attempt += 1;
                        let result = redeem_market(redeemer.as_ref(), &log, clock.as_ref(), &market).await;
                        w.failures = if result.is_err() { w.failures + 1 } else { 0 };
                        let retry_in = match next(&result, w.failures, &cfg) {
                            Next::After(d) => Some(d),
                            Next::Done | Next::GiveUp => None,
                        };
                        let report = RedemptionReport { market, result, attempt: w.attempt, retry_in };
                        if reports.send(report).is_err() {
                            break;
                        }
                        if let Some(d) = retry_in {
                            w.at = Instant::now() + d;
                            waiting.insert(market, w);
                        }
                    }
                }
            }
        });
        (RedemptionScheduler { requests, task }, out)
    }

    /// Redeem `market` (again ignored while it is pending).
    pub fn request(&self, market: ConditionId) {
        let _ = self.requests.send(market);
    }

    /// Stops at once. An attempt in progress ends at its next await: its
    /// journal rows are whole (each is one write), and a transaction it
    /// sent is found by hash next time.
    pub fn stop(self) {
        self.task.abort();
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
