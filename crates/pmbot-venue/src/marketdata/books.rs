//! Books that are right or known to be wrong.
//!
//! Invariant: Polymarket's market channel carries no sequence numbers, so a
//! `price_change` delta is only ever applied to a book that was built from a
//! snapshot on the current connection and has not been doubted since. Every
//! book is either [`Trust::Trusted`] (since a given time) or
//! [`Trust::Unknown`] (since a given time, with the reason). Deltas that
//! arrive for an unknown book are held, never applied to the old book; when a
//! snapshot comes (a WebSocket `book` or a REST `/book` fetched on request),
//! it replaces the book and the held deltas stamped at or after the
//! snapshot's exchange time are re-applied in arrival order. Polymarket's
//! deltas carry the new absolute size of a level, so re-applying one the
//! snapshot already contains is harmless, and applying them in order leaves
//! each level at its latest size.
//!
//! A book is doubted when the connection drops, when a frame is lost
//! (malformed or refused by the parser: any of its deltas may be missing),
//! when it crosses, when a delta is older than one already applied (frames
//! out of order), when the exchange's hash disagrees with ours (by policy),
//! or when its held deltas overflow. Doubting a book asks the caller for a
//! REST snapshot ([`BookAction::Resync`]) unless a fresh WebSocket snapshot is
//! already on its way (after a reconnect).
//!
//! The store is pure and synchronous: no I/O, no clock (time comes with the
//! calls), so the engine can own one and replays give the same result.

use std::collections::HashMap;

use pmbot_core::book_hash::{BookHashInput, HashCheck, verify_book_hash};
use pmbot_core::events::{BookSnapshot, MarketEvent, PriceChange, PriceChangeBatch};
use pmbot_core::level::RawLevel;
use pmbot_core::{ConditionId, Level, OrderBook, Price, Side, TickSize, TimestampMs, TokenId};
use serde::{Deserialize, Serialize};

use super::parse::TokenIdBuildHasher;

/// Whether a book can be traded on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "trust", rename_all = "snake_case")]
pub enum Trust {
    /// Built from a snapshot and kept up to date since `since`.
    Trusted { since: TimestampMs },
    /// Not to be used since `since`, because of `reason`.
    Unknown { since: TimestampMs, reason: DistrustReason },
}

impl Trust {
    pub fn is_trusted(&self) -> bool {
        matches!(self, Trust::Trusted { .. })
    }
}

/// Why a book is not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistrustReason {
    /// No snapshot yet.
    NeverSynced,
    /// The connection dropped; a new one resends every book.
    ConnectionLost,
    /// A frame was malformed or refused: it may have carried a delta.
    FrameLost,
    /// The book crossed (best bid at or above best ask).
    Crossed,
    /// A delta older than one already applied arrived (frames out of order).
    OutOfOrder,
    /// The exchange's hash of the book differs from ours.
    HashMismatch,
    /// A snapshot or delta the book could not take (off tick, duplicate level).
    Rejected,
    /// More deltas arrived for an unknown book than it holds.
    Overflow,
    /// The feed had gone quiet while the book moved on the exchange.
    StaleFeed,
}

/// What to do about the exchange's book hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HashPolicy {
    /// Do not compute them.
    Off,
    /// Compute and count mismatches (diagnostics), trust the book anyway.
    Count,
    /// A mismatch doubts the book and asks for a REST snapshot.
    Resync,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BookStoreConfig {
    /// WebSocket `book` snapshots' hashes. The simulator's are reproducible;
    /// production's have been reported to depend on a `last_trade_price`
    /// sent later, so production defaults to counting.
    pub snapshot_hashes: HashPolicy,
    /// `price_change` entries' hashes of the book after the change.
    pub delta_hashes: HashPolicy,
    /// Most deltas held for one unknown book.
    pub max_held: usize,
}

impl Default for BookStoreConfig {
    /// Production: snapshot hashes counted (snapshots are rare), delta hashes
    /// off (recomputing one per `price_change` costs more than the rest of
    /// the path, and production's are not known to be reproducible).
    fn default() -> Self {
        BookStoreConfig { snapshot_hashes: HashPolicy::Count, delta_hashes: HashPolicy::Off, max_held: 10_000 }
    }
}

impl BookStoreConfig {
    /// Every hash checked and acted on: what the simulator supports.
    pub fn strict() -> Self {
        BookStoreConfig { snapshot_hashes: HashPolicy::Resync, delta_hashes: HashPolicy::Resync, ..Self::default() }
    }
}

/// Something the caller must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookAction {
    /// Fetch a REST snapshot of `token`.
    Resync { token: TokenId, reason: DistrustReason },
    /// `token`'s book became trustworthy.
    Trusted { token: TokenId },
    /// `token`'s book stopped being trustworthy.
    Distrusted { token: TokenId, reason: DistrustReason },
}

/// Market parameters the hash covers that the WebSocket `book` frame lacks;
/// learnt from REST `/book`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookParams {
    pub market: Option<ConditionId>,
    /// `min_order_size` exactly as the exchange writes it.
    pub min_order_size: Option<String>,
    pub neg_risk: Option<bool>,
    pub last_trade: Option<Price>,
}

/// A REST `/book` snapshot whose hash was already checked on its raw text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestBook {
    pub snapshot: BookSnapshot,
    pub min_order_size: String,
    pub neg_risk: bool,
}

/// Counters for health and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BookStats {
    pub snapshots: u64,
    pub deltas_applied: u64,
    /// Deltas that arrived while their book was unknown.
    pub deltas_held: u64,
    /// Held deltas re-applied after a snapshot.
    pub deltas_replayed: u64,
    /// Held deltas older than the snapshot, discarded.
    pub deltas_discarded: u64,
    pub snapshot_hash_mismatches: u64,
    pub delta_hash_mismatches: u64,
    pub hashes_checked: u64,
    pub distrusted: u64,
    /// REST snapshots older than a trusted book, ignored.
    pub stale_snapshots_ignored: u64,
}

struct TokenState {
    book: OrderBook,
    trust: Trust,
    params: BookParams,
    held: Vec<(TimestampMs, PriceChange)>,
    /// Exchange time of the latest snapshot or delta applied.
    last_exchange: Option<TimestampMs>,
}

/// One book per subscribed token, with its trust.
pub struct BookStore {
    cfg: BookStoreConfig,
    tokens: HashMap<TokenId, TokenState, TokenIdBuildHasher>,
    stats: BookStats,
}

impl std::fmt::Debug for BookStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BookStore")
            .field("tokens", &self.tokens.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl BookStore {
    pub fn new(cfg: BookStoreConfig) -> BookStore {
        BookStore { cfg, tokens: HashMap::default(), stats: BookStats::default() }
    }

    /// Starts keeping a book for `token` (unknown until its first snapshot).
    pub fn track(&mut self, token: &TokenId, tick: TickSize, now: TimestampMs) {
        self.tokens.entry(token.clone()).or_insert_with(|| TokenState {
            book: OrderBook::new(token.clone(), tick),
            trust: Trust::Unknown { since: now, reason: DistrustReason::NeverSynced },
            params: BookParams::default(),
            held: Vec::new(),
            last_exchange: None,
        });
    }

    /// Stops keeping `token`'s book and frees it.
    pub fn untrack(&mut self, token: &TokenId) {
        self.tokens.remove(token);
        if self.tokens.is_empty() {
            self.tokens.shrink_to_fit();
        }
    }

    pub fn tracked(&self) -> impl Iterator<Item = &TokenId> {
        self.tokens.keys()
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn book(&self, token: &TokenId) -> Option<&OrderBook> {
        self.tokens.get(token).map(|s| &s.book)
    }

    /// Is this book trustworthy, and since when?
    pub fn trust(&self, token: &TokenId) -> Option<Trust> {
        self.tokens.get(token).map(|s| s.trust)
    }

    pub fn params(&self, token: &TokenId) -> Option<&BookParams> {
        self.tokens.get(token).map(|s| &s.params)
    }

    pub fn stats(&self) -> &BookStats {
        &self.stats
    }

    /// Exchange time of the latest change applied to `token`'s book.
    pub fn last_exchange_time(&self, token: &TokenId) -> Option<TimestampMs> {
        self.tokens.get(token).and_then(|s| s.last_exchange)
    }

    /// The connection dropped: every book is unknown until the new
    /// connection's snapshots arrive (no REST needed: they are on their way).
    pub fn connection_lost(&mut self, now: TimestampMs, out: &mut Vec<BookAction>) {
        for (token, s) in &mut self.tokens {
            s.held.clear();
            if let Some(a) = distrust(s, token, now, DistrustReason::ConnectionLost, &mut self.stats) {
                out.push(a);
            }
        }
    }

    /// A frame was lost (malformed, refused): the books of `tokens` (all
    /// books when `None`: the frame did not say whose it was) may have missed
    /// a delta, so those trusted are doubted and resynced over REST.
    pub fn frame_lost(&mut self, tokens: Option<&[TokenId]>, now: TimestampMs, out: &mut Vec<BookAction>) {
        for (token, s) in &mut self.tokens {
            if s.trust.is_trusted() && tokens.is_none_or(|ts| ts.contains(token)) {
                if let Some(a) = distrust(s, token, now, DistrustReason::FrameLost, &mut self.stats) {
                    out.push(a);
                }
                out.push(BookAction::Resync { token: token.clone(), reason: DistrustReason::FrameLost });
            }
        }
    }

    /// Doubts one book and asks for a REST snapshot (staleness checks).
    pub fn doubt(&mut self, token: &TokenId, now: TimestampMs, reason: DistrustReason, out: &mut Vec<BookAction>) {
        if let Some(s) = self.tokens.get_mut(token) {
            if let Some(a) = distrust(s, token, now, reason, &mut self.stats) {
                out.push(a);
            }
            out.push(BookAction::Resync { token: token.clone(), reason });
        }
    }

    /// Applies one market event received at `now`.
    pub fn apply(&mut self, event: &MarketEvent, now: TimestampMs, out: &mut Vec<BookAction>) {
        match event {
            MarketEvent::Book(snap) => {
                let policy = self.cfg.snapshot_hashes;
                self.apply_snapshot(snap, policy, now, out);
            }
            MarketEvent::PriceChanges(batch) => self.apply_batch(batch, now, out),
            MarketEvent::LastTrade(t) => {
                if let Some(s) = self.tokens.get_mut(&t.token) {
                    s.params.last_trade = Some(t.price);
                }
            }
            MarketEvent::TickSizeChange(t) => {
                if let Some(s) = self.tokens.get_mut(&t.token) {
                    s.book.set_tick_size(t.new);
                }
            }
            MarketEvent::BestBidAsk(_) | MarketEvent::NewMarket(_) | MarketEvent::MarketResolved(_) => {}
        }
    }

    /// Applies a REST snapshot (hash already checked on its raw text), and
    /// learns the market parameters it carries.
    /// A snapshot older than what a trusted book already shows is ignored
    /// (it was fetched before changes the feed has since delivered).
    /// Applies a REST snapshot; `false` when it was not taken (an untracked
    /// token, or older than what a trusted book already shows).
    pub fn apply_rest(&mut self, rest: &RestBook, now: TimestampMs, out: &mut Vec<BookAction>) -> bool {
        let Some(s) = self.tokens.get_mut(&rest.snapshot.token) else { return false };
        s.params.min_order_size = Some(rest.min_order_size.clone());
        s.params.neg_risk = Some(rest.neg_risk);
        s.params.market = Some(rest.snapshot.market);
        if s.trust.is_trusted() && s.last_exchange.is_some_and(|last| rest.snapshot.time.exchange < last) {
            self.stats.stale_snapshots_ignored += 1;
            return false;
        }
        self.apply_snapshot(&rest.snapshot, HashPolicy::Off, now, out);
        true
    }

    /// Whether a REST snapshot shows the exchange's book moved on past what
    /// the feed told us: it holds a change newer than the last one we
    /// applied, made more than `margin_ms` before `now` (long enough that the
    /// feed should have delivered it), and its levels differ from ours.
    pub fn is_behind(&self, rest: &RestBook, now: TimestampMs, margin_ms: i64) -> bool {
        let Some(s) = self.tokens.get(&rest.snapshot.token) else { return false };
        let changed_at = rest.snapshot.time.exchange;
        let newer = s.last_exchange.is_none_or(|ours| changed_at > ours);
        newer && now.millis_since(changed_at) > margin_ms && !same_levels(&s.book, &rest.snapshot)
    }

    fn apply_snapshot(&mut self, snap: &BookSnapshot, policy: HashPolicy, now: TimestampMs, out: &mut Vec<BookAction>) {
        let Some(s) = self.tokens.get_mut(&snap.token) else { return };
        self.stats.snapshots += 1;
        if let Some(ltp) = snap.last_trade_price {
            s.params.last_trade = Some(ltp);
        }
        s.params.market.get_or_insert(snap.market);
        if policy != HashPolicy::Off
            && let Some(stated) = &snap.hash
            && let Some(check) = snapshot_hash(snap, &s.params)
        {
            self.stats.hashes_checked += 1;
            if let HashCheck::Mismatch { .. } = verify_book_hash(&check.input(), stated) {
                self.stats.snapshot_hash_mismatches += 1;
                if policy == HashPolicy::Resync {
                    if let Some(a) = distrust(s, &snap.token, now, DistrustReason::HashMismatch, &mut self.stats) {
                        out.push(a);
                    }
                    out.push(BookAction::Resync { token: snap.token.clone(), reason: DistrustReason::HashMismatch });
                    return;
                }
            }
        }
        if s.book.apply_book(snap).is_err() {
            if let Some(a) = distrust(s, &snap.token, now, DistrustReason::Rejected, &mut self.stats) {
                out.push(a);
            }
            out.push(BookAction::Resync { token: snap.token.clone(), reason: DistrustReason::Rejected });
            return;
        }
        let at = snap.time.exchange;
        s.last_exchange = Some(at);
        // Deltas held while unknown: those at or after the snapshot replay.
        for (ts, change) in std::mem::take(&mut s.held) {
            if ts < at {
                self.stats.deltas_discarded += 1;
                continue;
            }
            self.stats.deltas_replayed += 1;
            if s.book.apply_price_change(&change, now).is_err() {
                if let Some(a) = distrust(s, &snap.token, now, DistrustReason::Rejected, &mut self.stats) {
                    out.push(a);
                }
                out.push(BookAction::Resync { token: snap.token.clone(), reason: DistrustReason::Rejected });
                return;
            }
            s.last_exchange = Some(ts.max(at));
        }
        if crossed(&s.book) {
            if let Some(a) = distrust(s, &snap.token, now, DistrustReason::Crossed, &mut self.stats) {
                out.push(a);
            }
            out.push(BookAction::Resync { token: snap.token.clone(), reason: DistrustReason::Crossed });
            return;
        }
        if !s.trust.is_trusted() {
            s.trust = Trust::Trusted { since: now };
            out.push(BookAction::Trusted { token: snap.token.clone() });
        }
    }

    fn apply_batch(&mut self, batch: &PriceChangeBatch, now: TimestampMs, out: &mut Vec<BookAction>) {
        let at = batch.time.exchange;
        for change in &batch.changes {
            let Some(s) = self.tokens.get_mut(&change.token) else { continue };
            match s.trust {
                Trust::Unknown { .. } => {
                    self.stats.deltas_held += 1;
                    if s.held.len() >= self.cfg.max_held {
                        // Too much to hold: start over from a REST snapshot.
                        s.held.clear();
                        s.trust = Trust::Unknown { since: now, reason: DistrustReason::Overflow };
                        out.push(BookAction::Resync { token: change.token.clone(), reason: DistrustReason::Overflow });
                    } else {
                        s.held.push((at, change.clone()));
                    }
                }
                Trust::Trusted { .. } => {
                    if s.last_exchange.is_some_and(|last| at < last) {
                        if let Some(a) = distrust(s, &change.token, now, DistrustReason::OutOfOrder, &mut self.stats) {
                            out.push(a);
                        }
                        out.push(BookAction::Resync {
                            token: change.token.clone(),
                            reason: DistrustReason::OutOfOrder,
                        });
                        continue;
                    }
                    if s.book.apply_price_change(change, now).is_err() {
                        if let Some(a) = distrust(s, &change.token, now, DistrustReason::Rejected, &mut self.stats) {
                            out.push(a);
                        }
                        out.push(BookAction::Resync { token: change.token.clone(), reason: DistrustReason::Rejected });
                        continue;
                    }
                    self.stats.deltas_applied += 1;
                    s.last_exchange = Some(at);
                }
            }
        }
        // Check each token once, at its last entry (whose hash describes the
        // book after the whole batch); intermediate states may cross. Batches
        // hold a handful of entries, so the look-ahead costs less than
        // collecting the tokens would.
        for (i, change) in batch.changes.iter().enumerate() {
            let token = &change.token;
            if batch.changes[i + 1..].iter().any(|c| &c.token == token) {
                continue;
            }
            let stated = change.hash.as_deref();
            let Some(s) = self.tokens.get_mut(token) else { continue };
            if !s.trust.is_trusted() {
                continue;
            }
            if crossed(&s.book) {
                if let Some(a) = distrust(s, token, now, DistrustReason::Crossed, &mut self.stats) {
                    out.push(a);
                }
                out.push(BookAction::Resync { token: token.clone(), reason: DistrustReason::Crossed });
                continue;
            }
            if self.cfg.delta_hashes == HashPolicy::Off {
                continue;
            }
            let (Some(stated), Some(check)) = (stated, book_hash_fields(&s.book, &s.params, batch.market, at)) else {
                continue;
            };
            self.stats.hashes_checked += 1;
            if let HashCheck::Mismatch { .. } = verify_book_hash(&check.input(), stated) {
                self.stats.delta_hash_mismatches += 1;
                if self.cfg.delta_hashes == HashPolicy::Resync {
                    if let Some(a) = distrust(s, token, now, DistrustReason::HashMismatch, &mut self.stats) {
                        out.push(a);
                    }
                    out.push(BookAction::Resync { token: token.clone(), reason: DistrustReason::HashMismatch });
                }
            }
        }
    }
}

/// Marks a book unknown; the `Distrusted` action if it was trusted.
fn distrust(
    s: &mut TokenState,
    token: &TokenId,
    now: TimestampMs,
    reason: DistrustReason,
    stats: &mut BookStats,
) -> Option<BookAction> {
    let was = s.trust.is_trusted();
    s.trust = Trust::Unknown { since: now, reason };
    was.then(|| {
        stats.distrusted += 1;
        BookAction::Distrusted { token: token.clone(), reason }
    })
}

/// Best bid at or above best ask.
fn crossed(book: &OrderBook) -> bool {
    matches!((book.best_bid(), book.best_ask()), (Some(b), Some(a)) if b.price >= a.price)
}

fn same_levels(book: &OrderBook, snap: &BookSnapshot) -> bool {
    let sorted = |levels: &[Level], side: Side| {
        let mut v: Vec<Level> = levels.iter().copied().filter(|l| !l.size.is_zero()).collect();
        match side {
            Side::Buy => v.sort_by_key(|l| std::cmp::Reverse(l.price)),
            Side::Sell => v.sort_by_key(|l| l.price),
        }
        v
    };
    book.levels(Side::Buy).eq(sorted(&snap.bids, Side::Buy))
        && book.levels(Side::Sell).eq(sorted(&snap.asks, Side::Sell))
}

/// The strings a book hash covers, rendered from parsed values. The
/// exchange writes decimals in their shortest form, which is how `Price` and
/// `Size` print, so the rendering reproduces what it hashed.
struct HashFields {
    market: String,
    asset: String,
    timestamp: String,
    min_order_size: String,
    tick: &'static str,
    neg_risk: bool,
    last_trade: String,
    raw_bids: Vec<RawLevel<'static>>,
    raw_asks: Vec<RawLevel<'static>>,
}

impl HashFields {
    fn new(
        market: ConditionId,
        asset: &TokenId,
        at: TimestampMs,
        raw_bids: Vec<RawLevel<'static>>,
        raw_asks: Vec<RawLevel<'static>>,
        params: &BookParams,
        tick: TickSize,
    ) -> Option<HashFields> {
        Some(HashFields {
            market: market.to_string(),
            asset: asset.to_string(),
            timestamp: at.millis().to_string(),
            raw_bids,
            raw_asks,
            min_order_size: params.min_order_size.clone()?,
            tick: tick.as_str(),
            neg_risk: params.neg_risk?,
            // No trade yet is an empty string in the exchange's summary.
            last_trade: params.last_trade.map(|p| p.to_string()).unwrap_or_default(),
        })
    }

    fn input(&self) -> BookHashInput<'_> {
        BookHashInput {
            market: &self.market,
            asset_id: &self.asset,
            timestamp: &self.timestamp,
            bids: &self.raw_bids,
            asks: &self.raw_asks,
            min_order_size: Some(&self.min_order_size),
            tick_size: Some(self.tick),
            neg_risk: Some(self.neg_risk),
            last_trade_price: Some(&self.last_trade),
        }
    }
}

fn render(levels: impl Iterator<Item = Level>) -> Vec<RawLevel<'static>> {
    levels.map(|l| RawLevel { price: l.price.to_string().into(), size: l.size.to_string().into() }).collect()
}

/// The hash fields of a book as the exchange lists it: bids ascending, asks
/// descending (best last).
fn book_hash_fields(book: &OrderBook, params: &BookParams, market: ConditionId, at: TimestampMs) -> Option<HashFields> {
    let bids = render(book.levels(Side::Buy).rev());
    let asks = render(book.levels(Side::Sell).rev());
    HashFields::new(market, book.token(), at, bids, asks, params, book.tick_size())
}

/// The hash fields of a snapshot as it arrived (levels in wire order).
fn snapshot_hash(snap: &BookSnapshot, params: &BookParams) -> Option<HashFields> {
    let tick = snap.tick_size?;
    let mut p = params.clone();
    p.last_trade = snap.last_trade_price;
    HashFields::new(
        snap.market,
        &snap.token,
        snap.time.exchange,
        render(snap.bids.iter().copied()),
        render(snap.asks.iter().copied()),
        &p,
        tick,
    )
}

#[cfg(test)]
mod tests;
