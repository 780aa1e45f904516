//! Replays recorded order books onto the exchange.
//!
//! Invariant: after each step, the book of every listed market, less other
//! traders' orders, is the latest recorded UP snapshot that is due (in the
//! market's tick: levels finer than the exchange's current tick are merged
//! outward, bids down and asks up, and levels below the minimum size are
//! raised to it). A single house account, the replay maker, holds that book:
//! a bid at `p` is its BUY of Up at `p`, an ask at `p` its BUY of Down at
//! `1 - p`. Levels that match the snapshot are left alone (keeping their
//! queue place); changed levels are cancelled and placed anew, so fills by
//! other traders are restored at the next snapshot, as they would be by the
//! real market's makers.
//!
//! Recorded time maps to exchange time linearly: the first recorded
//! snapshot happens at `start_ms`, and `speed` recorded seconds pass per
//! second (or, with [`ReplayPace::AsFastAsCalled`], one recorded instant per
//! call). Each market is listed at its first snapshot (or its recorded start,
//! if earlier) and resolves to the recorded winner at its recorded end;
//! snapshots after the end are ignored.
//!
//! The recording is read lazily, one snapshot ahead. Rows that do not parse
//! are counted and skipped (the first few are kept as [`RowError`]s), as are
//! crossed snapshots (a real recording has a few).

mod rows;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use pmbot_core::{ConditionId, OrderId, Price, Size, TickSize, Usdc};
use serde::Serialize;

pub use rows::{BOOKS_FILE, MARKETS_FILE, RowError, RowProblem};
use rows::{BookSide, MarketRow, Selection, Skipped, Snapshot, SnapshotStream};

use super::ids::{HouseAccount, derive_hash, derive_token_id};
use super::{ExchangeView, MarketSource, ModelAction};
use crate::engine::{ExchangeKind, FeeSchedule, MarketSpec, OrderStatus, OrderType, TokenSpec};

/// Malformed rows whose details are kept (all are counted).
pub const KEPT_ROW_ERRORS: usize = 5;

/// How recorded time passes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReplayPace {
    /// `speed` recorded seconds per exchange second (1.0 = real time).
    RealTime { speed: f64 },
    /// Each call advances to the next recorded instant, whatever the time.
    AsFastAsCalled,
}

impl ReplayPace {
    /// A pace from a speed factor: 0 means as fast as called.
    pub fn from_speed(speed: f64) -> Result<ReplayPace, ReplayError> {
        if speed == 0.0 {
            Ok(ReplayPace::AsFastAsCalled)
        } else if speed.is_finite() && speed > 0.0 {
            Ok(ReplayPace::RealTime { speed })
        } else {
            Err(ReplayError::BadSpeed(speed))
        }
    }
}

/// How to replay a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayOptions {
    pub pace: ReplayPace,
    /// Exchange time (unix ms) of the first recorded snapshot.
    pub start_ms: i64,
    /// Only these markets (condition ids); `None` = all.
    pub markets: Option<Vec<ConditionId>>,
    /// Collateral the replay maker is funded with at the start.
    pub house_collateral: Usdc,
}

impl ReplayOptions {
    /// Real time from `start_ms`, every market, 10 million pUSD for the maker.
    pub fn new(start_ms: i64) -> ReplayOptions {
        ReplayOptions {
            pace: ReplayPace::RealTime { speed: 1.0 },
            start_ms,
            markets: None,
            house_collateral: Usdc::from_whole(10_000_000),
        }
    }
}

/// Why a recording cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("replay directory {path}: {source}")]
    Directory { path: PathBuf, source: std::io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} has no usable market ({malformed} malformed rows)")]
    NoMarkets { path: PathBuf, malformed: usize },
    #[error("market {0} is not in the recording")]
    UnknownMarket(ConditionId),
    #[error("replay speed {0} must be a positive finite number (0 = as fast as called)")]
    BadSpeed(f64),
    #[error("house collateral must be positive")]
    NoCollateral,
}

/// What the replay has seen and done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplayStats {
    /// Markets selected for the replay.
    pub markets: usize,
    /// Valid snapshot rows of selected markets read so far.
    pub rows_read: u64,
    /// Rows (of either file) that did not parse, or came out of time order.
    pub malformed_rows: u64,
    /// UP snapshots turned into orders.
    pub snapshots_applied: u64,
    /// UP snapshots whose best bid was at or above the best ask (skipped).
    pub crossed_snapshots: u64,
    /// Rows of a market after its end (ignored).
    pub rows_after_end: u64,
    /// UP/DOWN pairs with the same timestamp compared, and how many did not
    /// mirror each other exactly.
    pub mirror_checked: u64,
    pub mirror_mismatches: u64,
    /// Levels finer than the exchange's tick, merged into a coarser level
    /// (or dropped when no coarser price was left), and levels below the
    /// minimum size raised to it.
    pub levels_coarsened: u64,
    pub levels_raised_to_min: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Pending,
    Listed,
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum QuoteSide {
    Bid,
    Ask,
}

/// A book as the replay maker holds it: size by side and primary price.
type Levels = BTreeMap<(QuoteSide, Price), Size>;

struct ReplayMarket {
    row: MarketRow,
    spec: MarketSpec,
    phase: Phase,
    /// The latest row of each side, for the mirror check.
    last_rows: [Option<Snapshot>; 2],
    /// The latest UP snapshot not yet applied.
    due: Option<Snapshot>,
    /// The replay maker's orders believed live, with their placed size.
    orders: BTreeMap<(QuoteSide, Price), (OrderId, Size)>,
    /// The book it last aimed for.
    applied: Levels,
}

/// The replay market source (see the module docs).
pub struct ReplaySource {
    dir: PathBuf,
    opts: ReplayOptions,
    maker: HouseAccount,
    markets: Vec<ReplayMarket>,
    index: HashMap<ConditionId, usize>,
    /// Every market of the recording, selected or not.
    known: HashSet<ConditionId>,
    stream: SnapshotStream,
    /// Time of the stream's next snapshot (`None` at the end of the file).
    next_row_ts: Option<i64>,
    /// Recorded time that maps to `opts.start_ms`.
    origin_ts: i64,
    clock_ms: i64,
    started: bool,
    orders_placed: u64,
    stats: ReplayStats,
    errors: Vec<RowError>,
}

impl ReplaySource {
    /// Opens a recording directory (`markets.jsonl`, `books.jsonl.gz`).
    pub fn open(dir: &Path, opts: ReplayOptions) -> Result<ReplaySource, ReplayError> {
        if let ReplayPace::RealTime { speed } = opts.pace {
            ReplayPace::from_speed(speed)?;
        }
        if opts.house_collateral <= Usdc::ZERO {
            return Err(ReplayError::NoCollateral);
        }
        let meta = std::fs::metadata(dir).map_err(|source| ReplayError::Directory { path: dir.to_owned(), source })?;
        if !meta.is_dir() {
            let source = std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory");
            return Err(ReplayError::Directory { path: dir.to_owned(), source });
        }
        let markets_path = dir.join(MARKETS_FILE);
        let (rows, market_errors) = rows::read_markets(&markets_path)
            .map_err(|source| ReplayError::Read { path: markets_path.clone(), source })?;
        let mut stats = ReplayStats { malformed_rows: market_errors.len() as u64, ..ReplayStats::default() };
        let mut errors: Vec<RowError> = market_errors.into_iter().take(KEPT_ROW_ERRORS).collect();
        if let Some(wanted) = &opts.markets
            && let Some(missing) = wanted.iter().find(|id| !rows.iter().any(|r| r.market_id == **id))
        {
            return Err(ReplayError::UnknownMarket(*missing));
        }
        let known: HashSet<ConditionId> = rows.iter().map(|r| r.market_id).collect();
        let selected: Vec<MarketRow> =
            rows.into_iter().filter(|r| opts.markets.as_ref().is_none_or(|w| w.contains(&r.market_id))).collect();
        if selected.is_empty() {
            return Err(ReplayError::NoMarkets { path: markets_path, malformed: stats.malformed_rows as usize });
        }
        let books_path = dir.join(BOOKS_FILE);
        let mut stream = SnapshotStream::open(&books_path)
            .map_err(|source| ReplayError::Read { path: books_path.clone(), source })?;
        let index: HashMap<ConditionId, usize> = selected.iter().enumerate().map(|(i, r)| (r.market_id, i)).collect();
        let first_row_ts = {
            let mut skipped = |s: Skipped| note_skip(&mut stats, &mut errors, s);
            stream.peek(&|id| selection(&index, &known, id), &mut skipped).map(|s| s.ts)
        };
        let origin_ts = first_row_ts.unwrap_or_else(|| selected.iter().map(|r| r.start_ts).min().unwrap_or_default());
        stats.markets = selected.len();
        let mut source = ReplaySource {
            dir: dir.to_owned(),
            maker: HouseAccount::derive("replay/maker"),
            markets: Vec::new(),
            index,
            known,
            stream,
            next_row_ts: first_row_ts,
            origin_ts,
            clock_ms: opts.start_ms,
            started: false,
            orders_placed: 0,
            stats,
            errors,
            opts,
        };
        source.markets = selected
            .into_iter()
            .map(|row| {
                let spec = source.market_spec(&row);
                ReplayMarket {
                    row,
                    spec,
                    phase: Phase::Pending,
                    last_rows: [None, None],
                    due: None,
                    orders: BTreeMap::new(),
                    applied: Levels::new(),
                }
            })
            .collect();
        Ok(source)
    }

    pub fn stats(&self) -> &ReplayStats {
        &self.stats
    }

    /// The first few malformed rows (all are counted in [`ReplayStats`]).
    pub fn row_errors(&self) -> &[RowError] {
        &self.errors
    }

    /// Every selected market, as it is (or will be) listed.
    pub fn markets(&self) -> Vec<&MarketSpec> {
        self.markets.iter().map(|m| &m.spec).collect()
    }

    /// The account that holds the replayed books.
    pub fn house_account(&self) -> &HouseAccount {
        &self.maker
    }

    /// Whether every snapshot has been read and every market has ended.
    pub fn is_finished(&self) -> bool {
        self.next_event().is_none()
    }

    /// Exchange time of a recorded time.
    fn to_exchange_ms(&self, ts: i64) -> i64 {
        let recorded = (ts - self.origin_ts) as f64;
        let scaled = match self.opts.pace {
            ReplayPace::RealTime { speed } => (recorded / speed).ceil(),
            ReplayPace::AsFastAsCalled => recorded,
        };
        self.opts.start_ms.saturating_add(scaled as i64)
    }

    fn market_spec(&self, row: &MarketRow) -> MarketSpec {
        let token = |side: &[u8]| derive_token_id("replay/token", &[&row.market_id.0, side]);
        let fee = match row.category.as_str() {
            "crypto" => FeeSchedule::crypto(),
            "sports" => FeeSchedule::sports(),
            _ => FeeSchedule::FREE,
        };
        MarketSpec {
            condition_id: row.market_id,
            question_id: derive_hash("replay/question", &[&row.market_id.0]),
            question: row.question.clone(),
            slug: row.slug.clone(),
            description: format!("Replay of recorded order books of {} (from {}).", row.slug, self.dir.display()),
            tokens: [
                TokenSpec { token_id: token(b"UP"), outcome: row.outcomes[0].clone() },
                TokenSpec { token_id: token(b"DOWN"), outcome: row.outcomes[1].clone() },
            ],
            tick: TickSize::Hundredth,
            min_order_size: Size::from_shares(5),
            fee,
            neg_risk: false,
            exchange: ExchangeKind::CtfV2,
            end_ms: Some(self.to_exchange_ms(row.end_ts)),
            category: row.category.clone(),
        }
    }
}

fn selection(index: &HashMap<ConditionId, usize>, known: &HashSet<ConditionId>, id: &ConditionId) -> Selection {
    if index.contains_key(id) {
        Selection::Selected
    } else if known.contains(id) {
        Selection::Unselected
    } else {
        Selection::Unknown
    }
}

fn note_skip(stats: &mut ReplayStats, errors: &mut Vec<RowError>, skipped: Skipped) {
    if let Skipped::Malformed(error) = skipped {
        stats.malformed_rows += 1;
        if errors.len() < KEPT_ROW_ERRORS {
            errors.push(error);
        }
    }
}

/// Something due at a recorded time; at equal times a listing comes first,
/// then a market's end, then a snapshot (so a snapshot at the end is late).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    List(usize),
    End(usize),
    Row,
}

impl ReplaySource {
    fn next_event(&self) -> Option<(i64, Event)> {
        let markets = self.markets.iter().enumerate().filter_map(|(i, m)| match m.phase {
            Phase::Pending => Some((m.row.start_ts, Event::List(i))),
            Phase::Listed => Some((m.row.end_ts, Event::End(i))),
            Phase::Ended => None,
        });
        let row = self.next_row_ts.map(|ts| (ts, Event::Row));
        markets.chain(row).min_by_key(|(ts, event)| {
            let rank = match event {
                Event::List(_) => 0,
                Event::End(_) => 1,
                Event::Row => 2,
            };
            (*ts, rank)
        })
    }

    fn refresh_peek(&mut self) {
        let ReplaySource { stream, index, known, stats, errors, .. } = self;
        let mut skipped = |s: Skipped| note_skip(stats, errors, s);
        let next = stream.peek(&|id| selection(index, known, id), &mut skipped).map(|s| s.ts);
        self.next_row_ts = next;
    }

    /// Processes everything due by recorded time `target`; returns the
    /// markets listed and ended, in order.
    fn advance(&mut self, target: i64) -> (Vec<usize>, Vec<usize>) {
        let (mut listed, mut ended) = (Vec::new(), Vec::new());
        while let Some((ts, event)) = self.next_event() {
            if ts > target {
                break;
            }
            match event {
                Event::List(i) => {
                    self.markets[i].phase = Phase::Listed;
                    listed.push(i);
                }
                Event::End(i) => {
                    let m = &mut self.markets[i];
                    m.phase = Phase::Ended;
                    m.due = None;
                    ended.push(i);
                }
                Event::Row => {
                    let snap = self.stream.take().expect("a peeked row is there to take");
                    self.refresh_peek();
                    self.stats.rows_read += 1;
                    let i = self.index[&snap.market];
                    match self.markets[i].phase {
                        Phase::Pending => {
                            self.markets[i].phase = Phase::Listed;
                            listed.push(i);
                            self.record(i, snap);
                        }
                        Phase::Listed => self.record(i, snap),
                        Phase::Ended => self.stats.rows_after_end += 1,
                    }
                }
            }
        }
        (listed, ended)
    }

    /// Keeps a snapshot: checks an UP/DOWN pair for mirroring and makes a
    /// sane UP snapshot the one to apply.
    fn record(&mut self, i: usize, snap: Snapshot) {
        let m = &mut self.markets[i];
        let (own, other) = match snap.side {
            BookSide::Up => (0, 1),
            BookSide::Down => (1, 0),
        };
        if let Some(o) = &m.last_rows[other]
            && o.ts == snap.ts
        {
            self.stats.mirror_checked += 1;
            let (up, down) = if own == 0 { (&snap, o) } else { (o, &snap) };
            if !up.mirrors(down) {
                self.stats.mirror_mismatches += 1;
            }
        }
        if snap.side == BookSide::Up {
            if snap.is_crossed() {
                self.stats.crossed_snapshots += 1;
            } else {
                m.due = Some(snap.clone());
            }
        }
        m.last_rows[own] = Some(snap);
    }

    /// The snapshot as levels the exchange accepts at `tick`.
    fn target_levels(snap: &Snapshot, tick: TickSize, min: Size, stats: &mut ReplayStats) -> Levels {
        let mut out = Levels::new();
        let sides = [(QuoteSide::Bid, &snap.bids), (QuoteSide::Ask, &snap.asks)];
        for (side, levels) in sides {
            for &(price, size) in levels {
                let on_tick = if price.is_on_tick(tick) {
                    Some(price)
                } else {
                    stats.levels_coarsened += 1;
                    // Outward, so the book stays uncrossed.
                    match side {
                        QuoteSide::Bid => price.floor_to(tick),
                        QuoteSide::Ask => price.ceil_to(tick).filter(|p| *p <= tick.max_price()),
                    }
                };
                if let Some(p) = on_tick {
                    *out.entry((side, p)).or_default() += size;
                }
            }
        }
        for size in out.values_mut() {
            if *size < min {
                *size = min;
                stats.levels_raised_to_min += 1;
            }
        }
        out
    }

    /// Makes market `i`'s book match its due snapshot.
    fn apply_due(&mut self, i: usize, view: &dyn ExchangeView, out: &mut Vec<ModelAction>) {
        let Some(snap) = self.markets[i].due.take() else {
            return;
        };
        let spec = &self.markets[i].spec;
        let tick = view.book(&spec.tokens[0].token_id).map_or(spec.tick, |b| b.tick);
        let target = Self::target_levels(&snap, tick, spec.min_order_size, &mut self.stats);
        let m = &mut self.markets[i];
        let mut cancels = Vec::new();
        m.orders.retain(|key, (id, _)| {
            let remaining = match view.order(id) {
                Some(r) if r.status == OrderStatus::Live => r.original_size.saturating_sub(r.size_matched),
                _ => return false,
            };
            let keep = target.get(key) == Some(&remaining);
            if !keep {
                cancels.push(*id);
            }
            keep
        });
        if !cancels.is_empty() {
            out.push(ModelAction::Cancel { owner: self.maker.address, ids: cancels });
        }
        for (&(side, price), &size) in &target {
            if m.orders.contains_key(&(side, price)) {
                continue;
            }
            self.orders_placed += 1;
            let id = derive_hash(
                "replay/order",
                &[&self.opts.start_ms.to_be_bytes(), &m.row.market_id.0, &self.orders_placed.to_be_bytes()],
            );
            let (token, own_price) = match side {
                QuoteSide::Bid => (&m.spec.tokens[0].token_id, price),
                QuoteSide::Ask => (&m.spec.tokens[1].token_id, price.complement()),
            };
            out.push(ModelAction::Place(self.maker.buy(id, token, own_price, size, OrderType::Gtc)));
            m.orders.insert((side, price), (id, size));
        }
        m.applied = target;
        self.stats.snapshots_applied += 1;
    }
}

impl MarketSource for ReplaySource {
    fn step(&mut self, now_ms: i64, view: &dyn ExchangeView) -> Vec<ModelAction> {
        let now = now_ms.max(self.clock_ms);
        self.clock_ms = now;
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            out.push(ModelAction::Fund { account: self.maker.address, amount: self.opts.house_collateral });
        }
        let target = match self.opts.pace {
            ReplayPace::RealTime { speed } => {
                self.origin_ts.saturating_add(((now - self.opts.start_ms) as f64 * speed).floor() as i64)
            }
            ReplayPace::AsFastAsCalled => match self.next_event() {
                Some((ts, _)) => ts,
                None => return out,
            },
        };
        let (listed, ended) = self.advance(target);
        for i in listed {
            out.push(ModelAction::List(self.markets[i].spec.clone()));
        }
        for i in 0..self.markets.len() {
            if self.markets[i].phase == Phase::Listed {
                self.apply_due(i, view, &mut out);
            }
        }
        for i in ended {
            let m = &mut self.markets[i];
            match m.row.winner {
                Some(w) => {
                    out.push(ModelAction::Resolve {
                        market: m.spec.condition_id,
                        winning_token: m.spec.tokens[w].token_id.clone(),
                    });
                    out.push(ModelAction::Redeem { account: self.maker.address, market: m.spec.condition_id });
                }
                // Unresolved in the recording: take the replayed book down.
                None => {
                    let ids: Vec<OrderId> = m.orders.values().map(|(id, _)| *id).collect();
                    if !ids.is_empty() {
                        out.push(ModelAction::Cancel { owner: self.maker.address, ids });
                    }
                }
            }
            m.orders.clear();
            m.applied.clear();
        }
        out
    }

    fn next_step_ms(&self) -> i64 {
        if !self.started {
            return self.opts.start_ms;
        }
        match (self.next_event(), self.opts.pace) {
            (None, _) => i64::MAX,
            (Some(_), ReplayPace::AsFastAsCalled) => self.clock_ms,
            (Some((ts, _)), ReplayPace::RealTime { .. }) => self.to_exchange_ms(ts).max(self.clock_ms + 1),
        }
    }

    fn describe(&self) -> String {
        let pace = match self.opts.pace {
            ReplayPace::RealTime { speed } => format!("speed {speed}x"),
            ReplayPace::AsFastAsCalled => "as fast as called".to_owned(),
        };
        format!("replay: {} markets from {}, {pace}", self.markets.len(), self.dir.display())
    }
}

// Its parts are handles, channels and callbacks: the type name is what a
// log line or a failed assertion needs.
impl std::fmt::Debug for ReplaySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplaySource").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
