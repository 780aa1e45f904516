//! Resolution learnt over REST when the market channel missed it.
//!
//! Invariant: a market the engine still waits on after its end is asked
//! about over REST until it is known resolved, at a slowing pace; an answer
//! is believed only when it is final (`closed` and exactly one token marked
//! `winner`), and each market is asked at most once at a time.
//!
//! Why. The market channel sends `market_resolved` once and does not replay
//! it after a reconnect, so a run that was disconnected at that moment never
//! learns the winner from the feed; its position would stay open for ever.
//! The CLOB's `GET /markets/{condition_id}` carries `closed` and
//! `tokens[].winner` (protocol notes, corrections item 8, and §8 "Resolution
//! labelling" (2); the official SDK reads it as `MarketResponse` with
//! `Token::winner`, `polymarket_client_sdk_v2` 0.9.0
//! `src/clob/types/response.rs`). `closed` alone is not a resolution:
//! trading halts before the oracle settles, and disputes delay it.
//!
//! Parts: [`read_resolution`] (pure: the REST answer to an outcome),
//! [`ResolutionSchedule`] (pure: which markets to ask now), and
//! [`ResolutionFallback`] (the two with the official SDK's unauthenticated
//! client, for the real-time drivers).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use pmbot_core::events::{EventTime, MarketResolved};
use pmbot_core::{ConditionId, TimestampMs, TokenId};
use polymarket_client_sdk_v2::clob::{Client, Config};
use tokio::sync::mpsc;

/// One outcome token as `GET /markets/{condition_id}` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestToken {
    pub token: TokenId,
    pub outcome: String,
    pub winner: bool,
}

/// What the REST answer says of a market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestResolution {
    /// Not final yet (open, or closed and awaiting the oracle).
    Unresolved,
    /// Final: one winner, the market closed.
    Resolved(MarketResolved),
}

/// Why a REST answer could not be read as a resolution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolutionError {
    #[error("GET /markets/{market} timed out after {after:?}")]
    Timeout { market: ConditionId, after: Duration },
    #[error("GET /markets/{market} failed: {reason}")]
    Request { market: ConditionId, reason: String },
    #[error("GET /markets/{asked} answered for market {got}")]
    WrongMarket { asked: ConditionId, got: String },
    #[error("market {market} lists {count} outcome tokens; pmbot trades binary markets")]
    NotBinary { market: ConditionId, count: usize },
    #[error("market {market} marks {count} tokens as winner (a split payout pmbot does not model)")]
    SplitWinners { market: ConditionId, count: usize },
    #[error("market {market}: token id {token:?} is not a decimal uint256")]
    BadToken { market: ConditionId, token: String },
}

/// The REST answer for `market` as an outcome, stamped `at` (REST carries no
/// resolution time of its own).
pub fn read_resolution(
    market: ConditionId,
    closed: bool,
    tokens: &[RestToken],
    at: TimestampMs,
) -> Result<RestResolution, ResolutionError> {
    if tokens.len() != 2 {
        return Err(ResolutionError::NotBinary { market, count: tokens.len() });
    }
    let winners: Vec<&RestToken> = tokens.iter().filter(|t| t.winner).collect();
    match (closed, winners.as_slice()) {
        (_, []) | (false, [_]) => Ok(RestResolution::Unresolved),
        (true, [w]) => Ok(RestResolution::Resolved(MarketResolved {
            market,
            tokens: tokens.iter().map(|t| t.token.clone()).collect(),
            winning_token: w.token.clone(),
            winning_outcome: w.outcome.clone(),
            time: EventTime { received: at, exchange: at },
        })),
        (_, many) => Err(ResolutionError::SplitWinners { market, count: many.len() }),
    }
}

/// How long after a market's end it is first asked about: the feed's own
/// `market_resolved` usually comes first, and is free.
pub const FIRST_ASK_AFTER_END: Duration = Duration::from_secs(30);

/// The wait before ask number `asked + 1`: 30 s, doubling, at most 5 min.
/// An oracle dispute can take days; a market is never given up on, only
/// asked about less often.
pub fn ask_delay(asked: u32) -> Duration {
    const CAP: Duration = Duration::from_secs(300);
    FIRST_ASK_AFTER_END.saturating_mul(1u32 << asked.min(5)).min(CAP)
}

/// At most this many markets asked about in one call to
/// [`ResolutionSchedule::due`]: a run following many markets that ended
/// together spreads its requests over ticks.
pub const MAX_ASKS_PER_CALL: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    next: TimestampMs,
    asked: u32,
}

/// Which markets to ask about, and when. Pure: time comes in as arguments.
#[derive(Debug, Clone, Default)]
pub struct ResolutionSchedule {
    pending: BTreeMap<ConditionId, Pending>,
}

impl ResolutionSchedule {
    /// `market` ends at `end`; ask about it from [`FIRST_ASK_AFTER_END`]
    /// after that unless it is resolved first. Listing it again changes
    /// nothing.
    pub fn expect(&mut self, market: ConditionId, end: TimestampMs) {
        let first = end.plus_millis(millis(FIRST_ASK_AFTER_END));
        self.pending.entry(market).or_insert(Pending { next: first, asked: 0 });
    }

    /// `market` is known resolved (or no longer followed): never ask again.
    pub fn settled(&mut self, market: &ConditionId) {
        self.pending.remove(market);
    }

    /// The markets to ask about at `now`, oldest due first, at most
    /// [`MAX_ASKS_PER_CALL`]; each is scheduled again as if its ask fails.
    /// Markets `wanted` says no to are dropped.
    pub fn due(&mut self, now: TimestampMs, wanted: impl Fn(&ConditionId) -> bool) -> Vec<ConditionId> {
        self.pending.retain(|m, _| wanted(m));
        let mut ready: Vec<(TimestampMs, ConditionId)> =
            self.pending.iter().filter(|(_, p)| p.next <= now).map(|(m, p)| (p.next, *m)).collect();
        ready.sort();
        ready.truncate(MAX_ASKS_PER_CALL);
        for (_, m) in &ready {
            if let Some(p) = self.pending.get_mut(m) {
                p.next = now.plus_millis(millis(ask_delay(p.asked)));
                p.asked += 1;
            }
        }
        ready.into_iter().map(|(_, m)| m).collect()
    }

    /// How many markets are waited on.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Reads `GET /markets/{condition_id}` through the official SDK (public, no
/// credentials), with a timeout on every call.
#[derive(Clone, Debug)]
pub struct ResolutionClient {
    sdk: Client,
    timeout: Duration,
}

impl ResolutionClient {
    /// A client for the CLOB at `base` (e.g. `https://clob.polymarket.com`).
    pub fn new(base: &str, timeout: Duration) -> Result<ResolutionClient, String> {
        let sdk = Client::new(base, Config::default()).map_err(|e| format!("CLOB url {base:?}: {e}"))?;
        Ok(ResolutionClient { sdk, timeout })
    }

    /// What the exchange says of `market` now.
    pub async fn ask(&self, market: ConditionId, at: TimestampMs) -> Result<RestResolution, ResolutionError> {
        let answer = tokio::time::timeout(self.timeout, self.sdk.market(&market.to_string()))
            .await
            .map_err(|_| ResolutionError::Timeout { market, after: self.timeout })?
            .map_err(|e| ResolutionError::Request { market, reason: e.to_string() })?;
        if let Some(got) = answer.condition_id
            && got.to_string().to_ascii_lowercase() != market.to_string()
        {
            return Err(ResolutionError::WrongMarket { asked: market, got: got.to_string() });
        }
        let tokens = answer
            .tokens
            .iter()
            .map(|t| {
                let id = t.token_id.to_string();
                TokenId::parse(&id)
                    .map(|token| RestToken { token, outcome: t.outcome.clone(), winner: t.winner })
                    .map_err(|_| ResolutionError::BadToken { market, token: id })
            })
            .collect::<Result<Vec<_>, _>>()?;
        read_resolution(market, answer.closed, &tokens, at)
    }
}

type Answer = (ConditionId, Result<RestResolution, ResolutionError>);

/// The schedule and the client together, for a real-time driver: call
/// [`ResolutionFallback::ask_due`] on its tick and await
/// [`ResolutionFallback::next`] in its select loop.
#[derive(Debug)]
pub struct ResolutionFallback {
    schedule: ResolutionSchedule,
    client: Arc<ResolutionClient>,
    asking: BTreeSet<ConditionId>,
    tx: mpsc::UnboundedSender<Answer>,
    rx: mpsc::UnboundedReceiver<Answer>,
}

impl ResolutionFallback {
    pub fn new(client: ResolutionClient) -> ResolutionFallback {
        let (tx, rx) = mpsc::unbounded_channel();
        ResolutionFallback {
            schedule: ResolutionSchedule::default(),
            client: Arc::new(client),
            asking: BTreeSet::new(),
            tx,
            rx,
        }
    }

    /// See [`ResolutionSchedule::expect`].
    pub fn expect(&mut self, market: ConditionId, end: TimestampMs) {
        self.schedule.expect(market, end);
    }

    /// Asks about every market due at `now` that `wanted` (the engine still
    /// waits on it) and that is not being asked about already.
    pub fn ask_due(&mut self, now: TimestampMs, wanted: impl Fn(&ConditionId) -> bool) {
        for market in self.schedule.due(now, wanted) {
            if !self.asking.insert(market) {
                continue;
            }
            let (client, tx) = (self.client.clone(), self.tx.clone());
            tokio::spawn(async move {
                let _ = tx.send((market, client.ask(market, now).await));
            });
        }
    }

    /// The next market learnt resolved. Answers that are not final are
    /// waited past; failed asks are logged (the schedule asks again).
    /// Cancel-safe: its only await is the channel's.
    pub async fn next(&mut self) -> MarketResolved {
        loop {
            let Some((market, answer)) = self.rx.recv().await else {
                // The sender lives in `self`: the channel never closes.
                std::future::pending::<()>().await;
                unreachable!("a pending future never completes");
            };
            self.asking.remove(&market);
            match answer {
                Ok(RestResolution::Resolved(r)) => {
                    self.schedule.settled(&market);
                    return r;
                }
                Ok(RestResolution::Unresolved) => {}
                Err(e) => tracing::warn!(target: "pmbot::resolution", "{e}"),
            }
        }
    }

    /// How many markets are waited on.
    pub fn waiting(&self) -> usize {
        self.schedule.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn market(n: u8) -> ConditionId {
        ConditionId::parse(&format!("0x{}", format!("{n:02x}").repeat(32))).unwrap()
    }

    fn token(s: &str, outcome: &str, winner: bool) -> RestToken {
        RestToken { token: TokenId::parse(s).unwrap(), outcome: outcome.into(), winner }
    }

    fn ms(v: i64) -> TimestampMs {
        TimestampMs::from_millis(v)
    }

    #[test]
    fn a_closed_market_with_one_winner_is_resolved_to_it() {
        let tokens = [token("11", "Up", false), token("22", "Down", true)];
        let RestResolution::Resolved(r) = read_resolution(market(1), true, &tokens, ms(5)).unwrap() else {
            panic!("not resolved")
        };
        assert_eq!(r.winning_token.as_str(), "22");
        assert_eq!(r.winning_outcome, "Down");
        assert_eq!(r.tokens.len(), 2);
        assert_eq!(r.time.received, ms(5));
    }

    #[test]
    fn closed_without_a_winner_or_a_winner_while_open_is_not_final() {
        let none = [token("11", "Up", false), token("22", "Down", false)];
        assert_eq!(read_resolution(market(1), true, &none, ms(0)).unwrap(), RestResolution::Unresolved);
        let open = [token("11", "Up", true), token("22", "Down", false)];
        assert_eq!(read_resolution(market(1), false, &open, ms(0)).unwrap(), RestResolution::Unresolved);
    }

    #[test]
    fn two_winners_or_other_than_two_tokens_are_errors() {
        let both = [token("11", "Up", true), token("22", "Down", true)];
        assert!(matches!(
            read_resolution(market(1), true, &both, ms(0)),
            Err(ResolutionError::SplitWinners { count: 2, .. })
        ));
        let one = [token("11", "Up", true)];
        assert!(matches!(
            read_resolution(market(1), true, &one, ms(0)),
            Err(ResolutionError::NotBinary { count: 1, .. })
        ));
    }

    #[test]
    fn asks_start_after_the_grace_and_slow_down_to_the_cap() {
        let mut s = ResolutionSchedule::default();
        s.expect(market(1), ms(1_000_000));
        assert!(s.due(ms(1_000_000 + 29_999), |_| true).is_empty());
        assert_eq!(s.due(ms(1_030_000), |_| true), vec![market(1)]);
        // Asked: not again until 30 s later, then 60 s, ... capped at 300 s.
        assert!(s.due(ms(1_030_000 + 29_999), |_| true).is_empty());
        assert_eq!(s.due(ms(1_060_000), |_| true), vec![market(1)]);
        assert!(s.due(ms(1_060_000 + 59_999), |_| true).is_empty());
        assert_eq!(ask_delay(0), Duration::from_secs(30));
        assert_eq!(ask_delay(3), Duration::from_secs(240));
        assert_eq!(ask_delay(4), Duration::from_secs(300));
        assert_eq!(ask_delay(40), Duration::from_secs(300));
    }

    #[test]
    fn settled_or_unwanted_markets_are_never_asked_and_listing_twice_keeps_the_first_time() {
        let mut s = ResolutionSchedule::default();
        s.expect(market(1), ms(0));
        s.expect(market(2), ms(0));
        s.expect(market(3), ms(0));
        s.expect(market(3), ms(999_999));
        s.settled(&market(1));
        assert_eq!(s.due(ms(60_000), |m| *m != market(2)), vec![market(3)]);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn at_most_a_handful_of_asks_per_call_oldest_first() {
        let mut s = ResolutionSchedule::default();
        for n in 0..20u8 {
            s.expect(market(n + 1), ms(i64::from(20 - n) * 1_000));
        }
        let first = s.due(ms(100_000), |_| true);
        assert_eq!(first.len(), MAX_ASKS_PER_CALL);
        // Market 20 ended first (at 1 s).
        assert_eq!(first[0], market(20));
        let second = s.due(ms(100_000), |_| true);
        assert_eq!(second.len(), MAX_ASKS_PER_CALL);
        assert!(second.iter().all(|m| !first.contains(m)));
    }
}
