//! The balance reader: cached on-chain reads behind the pre-check.
//!
//! Invariant: a verdict is decided on values that are each younger than the
//! TTL on the reader's clock and were read after the last [`BalanceReader::invalidate`]
//! before the check began; when no endpoint gives such values the verdict is
//! a refusal (fail closed) and an alert is queued. Nothing here panics on
//! anything an endpoint sends.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use alloy::primitives::{Address, U256};
use pmbot_core::backoff::{self, Jitter};
use pmbot_core::{Clock, TimestampMs, TokenId};
use serde::Serialize;

use super::check::{BuyRequest, MarketKind, Refusal, SellRequest, Spender, Verdict, decide_buy, decide_sell, spenders};
use super::config::{BalanceConfig, ConfigError};
use super::endpoint::{Contracts, Endpoint, EndpointError, FailedAttempt, Query, ReadFailure, Reading};

/// Alerts kept until drained; older ones are dropped (and counted) beyond this.
const ALERT_QUEUE: usize = 256;

/// How often a read is repeated when an invalidate lands while it is in flight.
const MAX_STRADDLED_READS: usize = 3;

/// Something an operator should hear about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BalanceAlert {
    /// One endpoint failed; the read went on to the next one (or the next round).
    EndpointFailed { at: TimestampMs, attempt: FailedAttempt },
    /// No endpoint answered usably: orders are refused until one does.
    Unavailable { at: TimestampMs, failure: ReadFailure },
}

/// Counters, for health output and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ReaderStats {
    /// JSON-RPC batches sent (one HTTP request each; failed ones included).
    pub rpc_batches: u64,
    /// Checks or views answered entirely from the cache.
    pub cache_hits: u64,
    /// Reads that failed on every endpoint.
    pub unavailable: u64,
    /// Alerts dropped because nobody drained the queue.
    pub alerts_dropped: u64,
}

/// The funder's collateral, as read (for `pmbot balance`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollateralView {
    pub funder: Address,
    /// pUSD base units (6 decimals).
    pub balance: U256,
    pub allowances: Vec<(Spender, U256)>,
    /// When the oldest of these values was read.
    pub read_at: TimestampMs,
}

/// The funder's outcome tokens of one id, as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharesView {
    pub funder: Address,
    pub token: TokenId,
    /// Share base units (6 decimals).
    pub shares: U256,
    pub approvals: Vec<(Spender, bool)>,
    pub read_at: TimestampMs,
}

/// A 6-decimals base-unit amount as text: "12.5", or "unlimited" for the
/// `2^256 - 1` of a max approval.
pub fn format_units6(amount: U256) -> String {
    if amount == U256::MAX {
        return "unlimited".to_owned();
    }
    let scale = U256::from(1_000_000u64);
    let whole = amount / scale;
    let frac = (amount % scale).to::<u64>();
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

impl fmt::Display for CollateralView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pUSD balance of {}: {}", self.funder, format_units6(self.balance))?;
        for (spender, allowance) in &self.allowances {
            write!(f, "\n  allowance to {spender}: {}", format_units6(*allowance))?;
        }
        Ok(())
    }
}

impl fmt::Display for SharesView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token {} held by {}: {}", self.token, self.funder, format_units6(self.shares))?;
        for (operator, approved) in &self.approvals {
            write!(f, "\n  {operator}: {}", if *approved { "approved" } else { "NOT approved" })?;
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Cache {
    entries: HashMap<Query, (Reading, TimestampMs)>,
    /// Bumped by every invalidate; a read stores its values only if this did
    /// not move while it was in flight.
    generation: u64,
}

/// Reads the funder's balances and approvals on chain and answers the
/// pre-check. Share it behind an `Arc`; every method takes `&self`.
pub struct BalanceReader {
    config: BalanceConfig,
    funder: Address,
    contracts: Contracts,
    endpoints: Vec<Endpoint>,
    clock: Arc<dyn Clock>,
    cache: Mutex<Cache>,
    alerts: Mutex<VecDeque<BalanceAlert>>,
    rpc_batches: AtomicU64,
    cache_hits: AtomicU64,
    unavailable: AtomicU64,
    alerts_dropped: AtomicU64,
}

impl fmt::Debug for BalanceReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BalanceReader")
            .field("funder", &self.funder)
            .field("endpoints", &self.endpoints)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind; the
    // cache stays usable (at worst it re-reads).
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl BalanceReader {
    /// A reader for `funder` (the address that holds the money: the EOA, or
    /// the proxy/Safe wallet), timing its cache on `clock`.
    pub fn new(config: BalanceConfig, funder: Address, clock: Arc<dyn Clock>) -> Result<BalanceReader, ConfigError> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.call_timeout)
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        let endpoints = config
            .rpc_urls
            .iter()
            .enumerate()
            .map(|(index, url)| {
                Endpoint::new(url, http.clone()).map_err(|reason| ConfigError::BadRpcUrl { index, reason })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let contracts = Contracts { collateral: config.collateral, conditional_tokens: config.conditional_tokens };
        Ok(BalanceReader {
            config,
            funder,
            contracts,
            endpoints,
            clock,
            cache: Mutex::new(Cache::default()),
            alerts: Mutex::new(VecDeque::new()),
            rpc_batches: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            unavailable: AtomicU64::new(0),
            alerts_dropped: AtomicU64::new(0),
        })
    }

    pub fn funder(&self) -> Address {
        self.funder
    }

    pub fn config(&self) -> &BalanceConfig {
        &self.config
    }

    /// The pre-check for a buy: every contract the order touches may spend
    /// `required` pUSD, and the funder holds it.
    pub async fn check_buy(&self, req: &BuyRequest) -> Verdict {
        let spenders = spenders(&self.config, req.market());
        let mut queries = vec![Query::CollateralBalance];
        queries.extend(spenders.iter().map(|s| Query::Allowance(s.address)));
        let values = match self.values(&queries).await {
            Ok(v) => v,
            Err(failure) => return Verdict::Refused(Refusal::Unavailable { failure }),
        };
        let (balance, _) = values[0];
        let allowances: Vec<(Spender, U256)> =
            spenders.iter().zip(&values[1..]).map(|(s, (v, _))| (*s, amount(*v))).collect();
        let verdict = decide_buy(req, amount(balance), &allowances);
        self.log_verdict(&verdict);
        verdict
    }

    /// The pre-check for a sell: every contract the order touches is an
    /// approved operator, and the funder holds `required` shares.
    pub async fn check_sell(&self, req: &SellRequest) -> Verdict {
        let operators = spenders(&self.config, req.market());
        let mut queries = vec![Query::Shares(req.token_word())];
        queries.extend(operators.iter().map(|s| Query::Approval(s.address)));
        let values = match self.values(&queries).await {
            Ok(v) => v,
            Err(failure) => return Verdict::Refused(Refusal::Unavailable { failure }),
        };
        let (shares, _) = values[0];
        let approvals: Vec<(Spender, bool)> =
            operators.iter().zip(&values[1..]).map(|(s, (v, _))| (*s, approved(*v))).collect();
        let verdict = decide_sell(req, amount(shares), &approvals);
        self.log_verdict(&verdict);
        verdict
    }

    /// Balance and allowances (cached like a check).
    pub async fn collateral(&self, market: MarketKind) -> Result<CollateralView, ReadFailure> {
        let spenders = spenders(&self.config, market);
        let mut queries = vec![Query::CollateralBalance];
        queries.extend(spenders.iter().map(|s| Query::Allowance(s.address)));
        let values = self.values(&queries).await?;
        Ok(CollateralView {
            funder: self.funder,
            balance: amount(values[0].0),
            allowances: spenders.iter().zip(&values[1..]).map(|(s, (v, _))| (*s, amount(*v))).collect(),
            read_at: oldest(&values),
        })
    }

    /// Shares of `token` and operator approvals (cached like a check).
    pub async fn shares(&self, token: &TokenId, market: MarketKind) -> Result<SharesView, ReadFailure> {
        let operators = spenders(&self.config, market);
        let id = U256::from_str_radix(token.as_str(), 10).unwrap_or(U256::MAX);
        let mut queries = vec![Query::Shares(id)];
        queries.extend(operators.iter().map(|s| Query::Approval(s.address)));
        let values = self.values(&queries).await?;
        Ok(SharesView {
            funder: self.funder,
            token: token.clone(),
            shares: amount(values[0].0),
            approvals: operators.iter().zip(&values[1..]).map(|(s, (v, _))| (*s, approved(*v))).collect(),
            read_at: oldest(&values),
        })
    }

    /// Forgets every cached value: call it after every own fill, and whenever
    /// the venue refuses an order for balance or allowance. The next check
    /// reads the chain again, and a read already in flight is not stored.
    pub fn invalidate(&self) {
        let mut cache = lock(&self.cache);
        cache.entries.clear();
        cache.generation = cache.generation.wrapping_add(1);
    }

    /// On demand: forgets the cache and reads collateral now.
    pub async fn refresh(&self, market: MarketKind) -> Result<CollateralView, ReadFailure> {
        self.invalidate();
        self.collateral(market).await
    }

    /// Takes the queued alerts, oldest first.
    pub fn drain_alerts(&self) -> Vec<BalanceAlert> {
        lock(&self.alerts).drain(..).collect()
    }

    pub fn stats(&self) -> ReaderStats {
        ReaderStats {
            rpc_batches: self.rpc_batches.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            unavailable: self.unavailable.load(Ordering::Relaxed),
            alerts_dropped: self.alerts_dropped.load(Ordering::Relaxed),
        }
    }

    /// The values of `queries`, with when each was read: all from the cache
    /// if all are fresh, else all read again in one batch (so the values a
    /// verdict compares are from the same block or close to it).
    async fn values(&self, queries: &[Query]) -> Result<Vec<(Reading, TimestampMs)>, ReadFailure> {
        let ttl = self.config.ttl_ms();
        let generation = {
            let cache = lock(&self.cache);
            let now = self.clock.now();
            let fresh: Option<Vec<_>> = queries
                .iter()
                .map(|q| {
                    cache.entries.get(q).copied().filter(|(_, at)| {
                        let age = now.millis_since(*at);
                        // A reading from the "future" (clock set back) is not trusted.
                        (0..ttl).contains(&age)
                    })
                })
                .collect();
            if let Some(values) = fresh {
                self.cache_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(values);
            }
            cache.generation
        };

        let mut generation = generation;
        let mut reads = 0;
        loop {
            let readings = self.read_with_retries(queries).await?;
            reads += 1;
            let at = self.clock.now();
            let mut cache = lock(&self.cache);
            if cache.generation == generation {
                for (q, r) in queries.iter().zip(&readings) {
                    cache.entries.insert(*q, (*r, at));
                }
                return Ok(readings.into_iter().map(|r| (r, at)).collect());
            }
            // An invalidate (an own fill) landed while this read was in
            // flight: the values may predate it. Read again.
            generation = cache.generation;
            if reads >= MAX_STRADDLED_READS {
                // Fills keep landing; these values are still newer than the
                // last invalidate before the check began, so use them without
                // caching them.
                return Ok(readings.into_iter().map(|r| (r, at)).collect());
            }
        }
    }

    /// Rounds over the endpoints (primary first, then fallbacks), with
    /// exponential backoff and jitter between rounds. An endpoint on the wrong
    /// chain is not asked again in the same read.
    async fn read_with_retries(&self, queries: &[Query]) -> Result<Vec<Reading>, ReadFailure> {
        let mut attempts = Vec::new();
        let mut wrong_chain = vec![false; self.endpoints.len()];
        for round in 0..self.config.attempts {
            if round > 0 {
                if wrong_chain.iter().all(|w| *w) {
                    break;
                }
                tokio::time::sleep(self.backoff(round - 1)).await;
            }
            for (i, endpoint) in self.endpoints.iter().enumerate() {
                if wrong_chain[i] {
                    continue;
                }
                self.rpc_batches.fetch_add(1, Ordering::Relaxed);
                let result = endpoint
                    .read(self.config.chain_id, self.contracts, self.funder, queries, self.config.call_timeout)
                    .await;
                match result {
                    Ok(readings) => return Ok(readings),
                    Err(error) => {
                        wrong_chain[i] = matches!(error, EndpointError::WrongChain { .. });
                        let attempt = FailedAttempt { endpoint: endpoint.label().to_owned(), round, error };
                        tracing::warn!(endpoint = %attempt.endpoint, round, error = %attempt.error, "balance RPC failed");
                        self.alert(BalanceAlert::EndpointFailed { at: self.clock.now(), attempt: attempt.clone() });
                        attempts.push(attempt);
                    }
                }
            }
        }
        let failure = ReadFailure { attempts };
        self.unavailable.fetch_add(1, Ordering::Relaxed);
        tracing::error!(%failure, "balances unavailable; refusing orders");
        self.alert(BalanceAlert::Unavailable { at: self.clock.now(), failure: failure.clone() });
        Err(failure)
    }

    /// `backoff_initial * 2^k`, capped at `backoff_max`, times a random
    /// factor in [0.5, 1] so that several bots do not retry in step.
    fn backoff(&self, k: u32) -> Duration {
        let ceiling = backoff::ceiling(self.config.backoff_initial, self.config.backoff_max, k);
        backoff::delay(ceiling, Jitter::Equal, rand::random())
    }

    fn alert(&self, alert: BalanceAlert) {
        let mut queue = lock(&self.alerts);
        if queue.len() >= ALERT_QUEUE {
            queue.pop_front();
            self.alerts_dropped.fetch_add(1, Ordering::Relaxed);
        }
        queue.push_back(alert);
    }

    fn log_verdict(&self, verdict: &Verdict) {
        if let Verdict::Refused(refusal) = verdict {
            if refusal.needs_alert() {
                tracing::warn!(kind = refusal.kind(), reason = %refusal, "pre-check refused an order");
            } else {
                tracing::info!(kind = refusal.kind(), reason = %refusal, "pre-check refused an order");
            }
        }
    }
}

/// The readings of a query list come back in query order and kind; these two
/// read them. A mismatch cannot happen (decode follows the query), and maps to
/// the refusing value rather than a panic.
fn amount(r: Reading) -> U256 {
    match r {
        Reading::Amount(v) => v,
        Reading::Approved(_) => U256::ZERO,
    }
}

fn approved(r: Reading) -> bool {
    match r {
        Reading::Approved(b) => b,
        Reading::Amount(_) => false,
    }
}

fn oldest(values: &[(Reading, TimestampMs)]) -> TimestampMs {
    values.iter().map(|(_, at)| *at).min().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_format_exactly() {
        assert_eq!(format_units6(U256::from(12_500_000u64)), "12.5");
        assert_eq!(format_units6(U256::from(1u64)), "0.000001");
        assert_eq!(format_units6(U256::ZERO), "0");
        assert_eq!(format_units6(U256::MAX), "unlimited");
        assert_eq!(format_units6(U256::MAX - U256::from(1u64)).len(), 78 - 6 + 1 + 6);
    }

    #[test]
    fn invalid_config_is_refused_before_any_io() {
        let clock: Arc<dyn Clock> = Arc::new(pmbot_core::ManualClock::new(0));
        let mut c = BalanceConfig::default();
        c.rpc_urls.clear();
        assert_eq!(BalanceReader::new(c, Address::ZERO, clock).unwrap_err(), ConfigError::NoRpcUrl);
    }
}
