//! The engine loop's state machine: market events in, order commands out.
//!
//! Invariants:
//! - **Deterministic.** No wall clock, no randomness, no iteration over hash
//!   maps where order shows: time comes with the calls ([`Engine::advance_to`],
//!   the `at` of each event), markets are visited in id order. The same calls
//!   give the same journal rows and the same commands.
//! - **Samples see only the past.** The sample at grid time `g` is taken when
//!   the first event after `g` arrives (or time passes `g`), from the books
//!   and features as they were up to `g`: the same rule the model's data set
//!   was built by, so the model sees in trading what it saw in training.
//! - **Written before sent.** Every decision row is committed before the
//!   command it led to is handed out ([`Engine::take_commands`] flushes first).
//! - **Every look is journaled**: a sample is a decision row (not ready, pass,
//!   entry, exit or refusal with the risk rule's code and numbers).
//!
//! The engine does not place orders itself: the [`driver`] executes its
//! commands on an `ExecutionVenue` (the paper venue in [`paper_venue`], the
//! exchange's gateway in live mode) and feeds back order updates and fills.
//! The venue journals orders and fills; the engine journals decisions,
//! trades, payouts and P&L marks.
//!
//! Resolution pays out on paper at once (a simulated redemption: the run's
//! `payouts` rows); in live trading the payout is owed
//! until the driver redeems the market on chain and reports it confirmed
//! ([`Engine::take_redemptions`], [`Engine::on_redeemed`]).

pub mod driver;
pub mod feed_input;
mod ledger;
pub mod market;
pub mod paper_venue;
pub mod run_log;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use pmbot_core::{
    BalanceCheck, BookStatus, ClientOrderId, Command, ConditionId, ConfidenceTaker, FeatureSpec, FeatureState, Fill,
    MarketEvent, MarketResolved, OrderBook, OrderStatus, OrderUpdate, PassReason, Predictor, RiskConfig, RiskContext,
    RiskGate, Strategy, StrategyAction, StrategyConfig, StrategyInput, TimestampMs, TokenId, Usdc,
};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde_json::json;

use crate::journal::{Decision, DecisionAction, EngineRow, Journal, JournalError, Mark, RunStart};
pub use ledger::{EntryContext, Ledger, OpenPosition, Redemption};
pub use market::MarketInfo;

/// The journal, shared by the engine and its venue driver (and, live, the
/// gateway): one writer connection behind a lock.
pub type SharedJournal = Arc<Mutex<Journal>>;

/// Locks the shared journal; a writer that panicked mid-write left SQLite's
/// transaction rolled back, so the journal itself is still whole.
pub fn lock(journal: &SharedJournal) -> MutexGuard<'_, Journal> {
    journal.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether new orders are forbidden (the kill-switch file). Asked before
/// every intent passes the risk gate, never per sample.
pub trait KillSwitch: Send {
    fn is_set(&self) -> bool;
}

/// The kill switch as a file: present means stop.
#[derive(Debug, Clone)]
pub struct KillSwitchFile(pub PathBuf);

impl KillSwitch for KillSwitchFile {
    fn is_set(&self) -> bool {
        // A file we cannot even stat is treated as present: fail closed.
        !matches!(std::fs::symlink_metadata(&self.0), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The engine's settings (validated by [`Engine::start`]).
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub strategy: StrategyConfig,
    pub risk: RiskConfig,
    /// The model's features (from the model file).
    pub features: FeatureSpec,
    /// How often each market is sampled (the model's grid step).
    pub sample_step_ms: i64,
    /// Engine time between P&L marks.
    pub mark_interval_ms: i64,
    /// Decision rows kept in memory before a write (they are always written
    /// before an order goes out, whatever this says; a real-time driver also
    /// calls [`Engine::flush`] on its tick).
    pub batch_rows: usize,
}

/// Why the engine could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("strategy: {0}")]
    Strategy(#[from] pmbot_core::StrategyConfigError),
    #[error("risk: {0}")]
    Risk(#[from] pmbot_core::RiskConfigError),
    #[error("features: {0}")]
    Features(#[from] pmbot_core::FeatureSpecError),
    #[error("{0}")]
    Settings(String),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// A token the engine follows.
struct TokenTrack {
    market: ConditionId,
    book: OrderBook,
    /// Trusted: a snapshot applied since the last refused update.
    trusted: bool,
    last_update: Option<TimestampMs>,
    /// The UP token's features (the model predicts the UP mid); `None` for
    /// the DOWN token. Kept with the book so an update touches one entry.
    features: Option<FeatureState>,
}

impl TokenTrack {
    /// Feeds the book as it now is to the features (UP token only).
    fn book_changed(&mut self, at: TimestampMs) {
        if let Some(f) = self.features.as_mut() {
            f.on_book(&self.book, at);
        }
    }
}

/// A market the engine follows.
struct MarketTrack {
    info: MarketInfo,
    next_sample: TimestampMs,
    resolved: bool,
    /// Both books have had a snapshot: before that the market has not
    /// opened for the engine, and samples are not taken (nor journaled).
    opened: bool,
}

/// What the engine remembers of an intent it sent.
struct SentIntent {
    market: ConditionId,
    reason: String,
    entry: EntryContext,
}

/// Counters for the driver's progress line and the health figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub events: u64,
    pub samples: u64,
    pub intents: u64,
    pub refusals: u64,
    pub fills: u64,
    pub trades: u64,
    /// Market updates the engine's books refused (the book is then
    /// untrusted until its next snapshot).
    pub refused_updates: u64,
    /// Trusted books the market-data venue stopped trusting
    /// ([`Engine::on_book_distrusted`]).
    pub books_distrusted: u64,
}

/// The engine. See the module docs.
pub struct Engine {
    run: i64,
    journal: SharedJournal,
    predictor: Box<dyn Predictor + Send>,
    strategy: ConfidenceTaker,
    risk: RiskGate,
    settings: EngineSettings,
    kill_switch: Box<dyn KillSwitch>,
    kill_seen: bool,
    balance: BalanceCheck,
    markets: BTreeMap<ConditionId, MarketTrack>,
    tokens: HashMap<TokenId, TokenTrack>,
    sent: HashMap<ClientOrderId, SentIntent>,
    ledger: Ledger,
    rows: Vec<EngineRow>,
    commands: Vec<Command>,
    now: TimestampMs,
    /// When the last market event arrived (the feed's liveness).
    last_event: TimestampMs,
    /// No market samples before this grid time (see `advance_to`).
    next_grid: TimestampMs,
    next_mark: TimestampMs,
    stats: EngineStats,
    /// Resolved markets with holdings, for the driver to redeem
    /// ([`Redemption::OnConfirmation`] only).
    due_redemptions: Vec<ConditionId>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("run", &self.run)
            .field("now", &self.now)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Validates the settings, records the run, and writes its first mark.
    pub fn start(
        journal: SharedJournal,
        run: &RunStart,
        settings: EngineSettings,
        predictor: Box<dyn Predictor + Send>,
        kill_switch: Box<dyn KillSwitch>,
        starting_cash: Usdc,
    ) -> Result<Engine, EngineError> {
        let strategy = ConfidenceTaker::new(settings.strategy.clone())?;
        let risk = RiskGate::new(settings.risk.clone())?;
        settings.features.validate()?;
        if settings.sample_step_ms <= 0 || settings.mark_interval_ms <= 0 {
            return Err(EngineError::Settings(format!(
                "sample step {} ms and mark interval {} ms must be positive",
                settings.sample_step_ms, settings.mark_interval_ms
            )));
        }
        let id = lock(&journal).start_run(run)?;
        let mut engine = Engine {
            run: id,
            journal,
            predictor,
            // Client order ids carry the run: a rerun into the same journal
            // never reuses one.
            strategy: strategy.for_run(id),
            risk,
            kill_switch,
            kill_seen: false,
            balance: BalanceCheck::NotRequired,
            markets: BTreeMap::new(),
            tokens: HashMap::default(),
            sent: HashMap::default(),
            ledger: Ledger::new(id, starting_cash),
            rows: Vec::with_capacity(settings.batch_rows.max(1)),
            commands: Vec::new(),
            now: run.started,
            last_event: run.started,
            next_grid: run.started,
            next_mark: run.started,
            stats: EngineStats::default(),
            due_redemptions: Vec::new(),
            settings,
        };
        engine.mark(run.started);
        engine.flush()?;
        Ok(engine)
    }

    pub fn run_id(&self) -> i64 {
        self.run
    }

    pub fn now(&self) -> TimestampMs {
        self.now
    }

    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Markets followed now.
    pub fn market_count(&self) -> usize {
        self.markets.len()
    }

    /// The open positions, valued at their best bids (oldest first).
    pub fn positions(&self) -> Vec<ledger::OpenPosition> {
        let tokens = &self.tokens;
        self.ledger.open_view(|t| tokens.get(t).map(|t| &t.book))
    }

    pub fn risk(&self) -> &RiskGate {
        &self.risk
    }

    pub fn journal(&self) -> &SharedJournal {
        &self.journal
    }

    /// When resolved payouts become cash: at resolution (paper, the default)
    /// or once their redemption is confirmed (live). Set before trading.
    pub fn set_redemption(&mut self, redemption: Redemption) {
        self.ledger.set_redemption(redemption);
    }

    /// Resolved markets this run held shares of, since the last call, for
    /// the driver to redeem (live only; empty on paper).
    pub fn take_redemptions(&mut self) -> Vec<ConditionId> {
        std::mem::take(&mut self.due_redemptions)
    }

    /// `market`'s redemption was confirmed (by the chain or a simulated
    /// exchange): its payout becomes cash, once. Returns the amount moved
    /// into cash; `None` when this run owed nothing for the market (another
    /// run's holding, or a repeated report).
    pub fn on_redeemed(&mut self, market: &ConditionId, at: TimestampMs) -> Result<Option<Usdc>, EngineError> {
        let credited = self.ledger.redeemed(market);
        if credited.is_some() {
            self.mark(at.max(self.now));
        }
        self.flush_if_full()?;
        Ok(credited)
    }

    /// The balance pre-check result to apply to new entries (live mode).
    pub fn set_balance_check(&mut self, check: BalanceCheck) {
        self.balance = check;
    }

    /// The book the engine keeps for `token`.
    pub fn book(&self, token: &TokenId) -> Option<&OrderBook> {
        self.tokens.get(token).map(|t| &t.book)
    }

    /// The market of a token the engine follows.
    pub fn market_of(&self, token: &TokenId) -> Option<ConditionId> {
        self.tokens.get(token).map(|t| t.market)
    }

    /// Starts following a market (again: ignored).
    pub fn list_market(&mut self, info: MarketInfo) -> Result<(), EngineError> {
        if self.markets.contains_key(&info.market) {
            return Ok(());
        }
        let mut features = Some(FeatureState::new(self.settings.features, info.up.clone(), info.end)?);
        for token in [&info.up, &info.down] {
            self.tokens.insert(
                token.clone(),
                TokenTrack {
                    market: info.market,
                    book: OrderBook::new(token.clone(), info.tick),
                    trusted: false,
                    last_update: None,
                    features: features.take(),
                },
            );
        }
        let step = self.settings.sample_step_ms;
        let first = self.now.millis().div_euclid(step) * step + step;
        self.markets.insert(
            info.market,
            MarketTrack { info, next_sample: TimestampMs::from_millis(first), resolved: false, opened: false },
        );
        Ok(())
    }

    /// Moves the engine clock to `now`: takes every sample due before it
    /// and the P&L marks due at or before it.
    pub fn advance_to(&mut self, now: TimestampMs) -> Result<(), EngineError> {
        if now <= self.now {
            return Ok(());
        }
        self.advance(now, false)
    }

    /// Like [`Engine::advance_to`], but also takes the samples due at `now`
    /// itself. For a driver that acts between samples (the paper runner):
    /// every event up to `now` must have been applied.
    pub fn advance_through(&mut self, now: TimestampMs) -> Result<(), EngineError> {
        if now < self.now {
            return Ok(());
        }
        self.advance(now, true)
    }

    /// When the next sample is due (the earliest across markets), if any.
    pub fn next_sample_at(&self) -> Option<TimestampMs> {
        self.markets.values().filter(|m| samples_left(m)).map(|m| m.next_sample).min()
    }

    /// The next sample if it is due before `at`. Cheap when none can be (no
    /// sample is due before `next_grid`), which is most calls.
    pub fn sample_due_before(&self, at: TimestampMs) -> Option<TimestampMs> {
        if at <= self.next_grid {
            return None;
        }
        self.next_sample_at().filter(|t| *t < at)
    }

    fn advance(&mut self, now: TimestampMs, through: bool) -> Result<(), EngineError> {
        let step = self.settings.sample_step_ms;
        // Every market samples on the same grid, none before `next_grid`:
        // most events fall between grid times and need no scan of the markets.
        while now > self.next_grid || (through && now == self.next_grid) {
            // The earliest due sample across markets, ties in market order.
            let due = self
                .markets
                .iter()
                .filter(|(_, m)| samples_left(m) && (m.next_sample < now || through && m.next_sample == now))
                .min_by_key(|(id, m)| (m.next_sample, **id))
                .map(|(id, m)| (*id, m.next_sample));
            let Some((market, at)) = due else { break };
            if at >= self.next_mark {
                self.mark(at);
            }
            self.now = self.now.max(at);
            self.sample(&market, at)?;
            let m = self.markets.get_mut(&market).expect("found above");
            m.next_sample = at.plus_millis(step);
        }
        // The first grid time at or after `now`: samples there wait for an
        // event after it.
        self.next_grid = TimestampMs::from_millis((now.millis() + step - 1).div_euclid(step) * step);
        if now >= self.next_mark {
            self.mark(now);
        }
        self.now = now;
        self.flush_if_full()
    }

    /// Applies one market event received at `at` (after the samples due
    /// before it).
    pub fn on_market_event(&mut self, event: &MarketEvent, at: TimestampMs) -> Result<(), EngineError> {
        self.advance_to(at)?;
        self.stats.events += 1;
        let at = self.now;
        self.last_event = at;
        match event {
            // A refused update leaves the book as it was (the book refuses
            // without changing) but untrusted until a snapshot applies: samples
            // go on, and the risk gate refuses orders on it (`book_untrusted`).
            // Emptying the book instead made every sample "no_book", so that
            // rule never fired and `require_trusted_book` changed nothing.
            MarketEvent::Book(book) => {
                if let Some(t) = self.tokens.get_mut(&book.token) {
                    t.last_update = Some(at);
                    t.trusted = t.book.apply_book(book).is_ok();
                    if !t.trusted {
                        self.stats.refused_updates += 1;
                    }
                    t.book_changed(at);
                }
            }
            MarketEvent::PriceChanges(batch) => {
                for change in &batch.changes {
                    let Some(t) = self.tokens.get_mut(&change.token) else { continue };
                    t.last_update = Some(at);
                    if t.book.apply_price_change(change, at).is_err() {
                        t.trusted = false;
                        self.stats.refused_updates += 1;
                    }
                    t.book_changed(at);
                }
            }
            MarketEvent::LastTrade(trade) => {
                if let Some(f) = self.tokens.get_mut(&trade.token).and_then(|t| t.features.as_mut()) {
                    f.on_trade(trade);
                }
            }
            MarketEvent::TickSizeChange(change) => {
                if let Some(t) = self.tokens.get_mut(&change.token) {
                    t.book.set_tick_size(change.new);
                    t.book_changed(at);
                }
                if let Some(m) = self.tokens.get(&change.token).and_then(|t| self.markets.get_mut(&t.market)) {
                    m.info.tick = change.new;
                }
            }
            MarketEvent::MarketResolved(resolved) => self.resolve(resolved, at),
            MarketEvent::BestBidAsk(_) | MarketEvent::NewMarket(_) => {}
        }
        self.flush_if_full()
    }

    /// The market-data venue stopped trusting `token`'s book (a lost or
    /// malformed frame, a disconnect, a crossed book, a hash mismatch, a
    /// stale feed): the engine's copy is untrusted from `at` until its next
    /// snapshot, so the risk gate refuses orders on it (`book_untrusted`).
    pub fn on_book_distrusted(&mut self, token: &TokenId, at: TimestampMs) -> Result<(), EngineError> {
        self.advance_to(at)?;
        if let Some(t) = self.tokens.get_mut(token) {
            if t.trusted {
                self.stats.books_distrusted += 1;
            }
            t.trusted = false;
        }
        self.flush_if_full()
    }

    /// An order update from the venue.
    pub fn on_order_update(&mut self, update: &OrderUpdate) -> Result<(), EngineError> {
        self.risk.record_order_update(update);
        self.strategy.on_order_update(update);
        if update.status.is_terminal() {
            // Keep what a late fill needs; a finished order with no fill is done.
            if update.filled.is_zero() {
                self.sent.remove(&update.client_order_id);
            }
        }
        self.flush_if_full()
    }

    /// A fill of one of our orders.
    pub fn on_fill(&mut self, fill: &Fill) -> Result<(), EngineError> {
        self.stats.fills += 1;
        let sent = fill.client_order_id.as_ref().and_then(|id| self.sent.get(id));
        let Some(market) = sent.map(|s| s.market).or_else(|| self.market_of(&fill.token)) else {
            return Err(EngineError::Settings(format!("a fill for token {} the engine does not follow", fill.token)));
        };
        let (entry, reason) =
            sent.map_or((EntryContext::default(), "exit".to_owned()), |s| (s.entry.clone(), s.reason.clone()));
        if let Err(e) = self.risk.record_fill(fill, market) {
            return Err(EngineError::Settings(format!("risk state refused a fill: {e}")));
        }
        self.strategy.on_fill(fill);
        let at = fill.time.received.max(self.now);
        if let Some(trade) = self.ledger.apply_fill(fill, market, &entry, &reason) {
            self.stats.trades += 1;
            self.rows.push(EngineRow::Trade(trade));
        }
        self.mark(at);
        self.flush_if_full()
    }

    fn resolve(&mut self, resolved: &MarketResolved, at: TimestampMs) {
        if let Some(m) = self.markets.get_mut(&resolved.market) {
            // Learnt twice (the feed, then REST, or after a reconnect): the
            // first settled it.
            if m.resolved {
                return;
            }
            m.resolved = true;
        }
        self.risk.record_resolution(resolved);
        self.strategy.on_market_resolved(&resolved.market);
        let (payouts, trades) = self.ledger.resolve(resolved, at);
        let changed = !payouts.is_empty();
        self.rows.extend(payouts.into_iter().map(EngineRow::Payout));
        self.stats.trades += trades.len() as u64;
        self.rows.extend(trades.into_iter().map(EngineRow::Trade));
        if changed {
            // Paper pays at resolution (its payout rows are the simulated
            // redemption); live asks the driver to redeem on chain.
            if self.ledger.redemption() == Redemption::OnConfirmation {
                self.due_redemptions.push(resolved.market);
            }
            self.mark(at);
        }
    }

    /// Whether `market` is followed and not yet known resolved: a real-time
    /// driver asks the exchange about such markets once they have ended.
    pub fn awaits_resolution(&self, market: &ConditionId) -> bool {
        self.markets.get(market).is_some_and(|m| !m.resolved)
    }

    /// Stops following resolved markets whose books nothing refers to any
    /// more (long runs must not grow without bound).
    pub fn forget_resolved(&mut self) {
        let gone: Vec<ConditionId> = self
            .markets
            .iter()
            .filter(|(_, m)| {
                m.resolved && self.ledger.held(&m.info.up).is_zero() && self.ledger.held(&m.info.down).is_zero()
            })
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(m) = self.markets.remove(&id) {
                self.tokens.remove(&m.info.up);
                self.tokens.remove(&m.info.down);
            }
        }
    }

    /// The commands decided so far, after their decision rows are written.
    pub fn take_commands(&mut self) -> Result<Vec<Command>, EngineError> {
        if !self.commands.is_empty() {
            self.flush()?;
        }
        Ok(std::mem::take(&mut self.commands))
    }

    /// Writes a last mark and the run's end.
    pub fn finish(mut self, at: TimestampMs, reason: &str) -> Result<EngineStats, EngineError> {
        let at = at.max(self.now);
        self.mark(at);
        self.flush()?;
        lock(&self.journal).end_run(self.run, at, reason)?;
        Ok(self.stats)
    }

    /// Writes the rows held in memory.
    pub fn flush(&mut self) -> Result<(), EngineError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        lock(&self.journal).record_rows(&self.rows)?;
        self.rows.clear();
        Ok(())
    }

    fn flush_if_full(&mut self) -> Result<(), EngineError> {
        if self.rows.len() >= self.settings.batch_rows { self.flush() } else { Ok(()) }
    }

    fn mark(&mut self, at: TimestampMs) {
        let tokens = &self.tokens;
        let positions = self.ledger.positions_value(|t| tokens.get(t).map(|t| &t.book));
        self.rows.push(EngineRow::Mark(Mark {
            run: self.run,
            at,
            cash: self.ledger.cash(),
            positions,
            unredeemed: self.ledger.unredeemed(),
            realised: self.ledger.realised(),
            fees: self.ledger.fees(),
            open_positions: u32::try_from(self.ledger.open_positions()).unwrap_or(u32::MAX),
        }));
        let step = self.settings.mark_interval_ms;
        self.next_mark = TimestampMs::from_millis(at.millis().div_euclid(step) * step + step);
    }

    fn decision(&mut self, market: &MarketTrack, at: TimestampMs, action: DecisionAction, reason: &str) -> Decision {
        let up = self.tokens.get(&market.info.up).map(|t| &t.book);
        let mid2 = up.and_then(|b| match (b.best_bid(), b.best_ask()) {
            (Some(bid), Some(ask)) if bid.price < ask.price => {
                Some(u32::from(bid.price.pips()) + u32::from(ask.price.pips()))
            }
            _ => None,
        });
        Decision {
            run: self.run,
            at,
            market: market.info.market,
            up_token: market.info.up.clone(),
            up_mid2_pips: mid2,
            p_up: None,
            confidence: None,
            action,
            reason: reason.to_owned(),
            client_order_id: None,
            detail: json!({}),
        }
    }

    fn sample(&mut self, market_id: &ConditionId, at: TimestampMs) -> Result<(), EngineError> {
        let mut market = self.markets.remove(market_id).expect("sampled markets exist");
        if !market.opened {
            let has = |t: &TokenId| self.tokens.get(t).is_some_and(|t| t.book.has_snapshot());
            market.opened = has(&market.info.up) && has(&market.info.down);
        }
        if !market.opened {
            self.markets.insert(*market_id, market);
            return Ok(());
        }
        self.stats.samples += 1;
        let result = self.sample_market(&market, at);
        self.markets.insert(*market_id, market);
        result
    }

    fn sample_market(&mut self, market: &MarketTrack, at: TimestampMs) -> Result<(), EngineError> {
        let info = &market.info;
        let books = (self.tokens.get(&info.up), self.tokens.get(&info.down));
        let (Some(up), Some(down)) = books else { unreachable!("a market's tokens are tracked with it") };
        if !up.book.has_snapshot() || !down.book.has_snapshot() {
            let d = self.decision(market, at, DecisionAction::NotReady, "no_book");
            self.rows.push(EngineRow::Decision(d));
            return Ok(());
        }
        let Some(features) = up.features.as_ref().and_then(|f| f.snapshot(at)) else {
            let d = self.decision(market, at, DecisionAction::NotReady, "warm_up");
            self.rows.push(EngineRow::Decision(d));
            return Ok(());
        };
        let prediction = self.predictor.p_up(&features);
        let p_up = match &prediction {
            Ok(p) => *p,
            Err(_) => f64::NAN,
        };
        let p_dec = Decimal::from_f64(p_up).map(|p| p.round_dp(6));
        let confidence = p_dec.map(|p| (p * Decimal::TWO - Decimal::ONE).abs());
        let cap = self.risk.config().capital_cap;
        let room = cap - self.risk.state().committed();
        let available = room.min(self.ledger.cash()).max(Usdc::ZERO);
        let input = StrategyInput {
            now: at,
            market: &info.market,
            up: &up.book,
            down: &down.book,
            p_up,
            market_end: info.end.unwrap_or(TimestampMs::from_millis(i64::MAX / 4)),
            available_capital: available,
            fee: &info.fee,
            min_order_size: info.min_order_size,
        };
        let actions = self.strategy.on_sample(&input);
        for action in actions {
            let mut d = self.decision(market, at, DecisionAction::Pass, "pass");
            d.p_up = p_dec;
            d.confidence = confidence;
            match action {
                StrategyAction::Pass { reason } => {
                    d.reason = pass_rule(&reason);
                    // The commonest pass by far; its numbers are the row's
                    // confidence and the run's configured threshold.
                    if !matches!(reason, PassReason::LowConfidence { .. }) {
                        d.detail = serde_json::to_value(&reason).unwrap_or_default();
                    }
                    if let (PassReason::InvalidPrediction { .. }, Err(e)) = (&reason, &prediction) {
                        d.detail = json!({"rule": "invalid_prediction", "error": e});
                    }
                    self.rows.push(EngineRow::Decision(d));
                }
                StrategyAction::Enter { intent } => {
                    let entry = EntryContext { confidence, probability: intent.decision.probability };
                    self.intent(d, info, intent, DecisionAction::Enter, "entry".into(), entry, at);
                }
                StrategyAction::Exit { intent, reason } => {
                    let text = serde_json::to_value(reason)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_else(|| "exit".into());
                    self.intent(d, info, intent, DecisionAction::Exit, text, EntryContext::default(), at);
                }
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn intent(
        &mut self,
        mut d: Decision,
        info: &MarketInfo,
        intent: pmbot_core::OrderIntent,
        action: DecisionAction,
        reason: String,
        entry: EntryContext,
        at: TimestampMs,
    ) {
        self.stats.intents += 1;
        let token = self.tokens.get(&intent.token);
        // Staleness is the feed's: a quiet book on a live feed is current.
        // The feed's last message is the engine's latest event time.
        let book = BookStatus {
            trusted: token.is_some_and(|t| t.trusted),
            last_update: token.and_then(|t| t.last_update).map(|t| t.max(self.last_event)),
        };
        let kill_switch = self.kill_switch.is_set();
        if kill_switch != self.kill_seen {
            self.kill_seen = kill_switch;
            let note = json!({"run": self.run, "present": kill_switch});
            // A note that cannot be written must not stop the refusal below.
            let _ = lock(&self.journal).record_note("kill_switch", &note, at);
        }
        let ctx = RiskContext {
            now: at,
            market: info.market,
            book,
            market_end: info.end,
            kill_switch,
            balance: self.balance.clone(),
            fee: info.fee,
        };
        d.client_order_id = Some(intent.client_order_id.clone());
        match self.risk.check(&intent, &ctx) {
            Err(refusal) => {
                self.stats.refusals += 1;
                d.action = DecisionAction::Refused;
                d.reason = refusal.code().to_owned();
                d.detail = json!({"refusal": refusal.to_string(), "wanted": action, "why": reason, "intent": intent});
                self.rows.push(EngineRow::Decision(d));
                // The strategy saw its intent go out; tell it it never will.
                self.strategy.on_order_update(&OrderUpdate {
                    client_order_id: intent.client_order_id.clone(),
                    order_id: None,
                    status: OrderStatus::Rejected,
                    filled: pmbot_core::Size::ZERO,
                    reason: Some(refusal.to_string()),
                    at,
                });
            }
            Ok(()) => {
                d.action = action;
                d.reason = reason.clone();
                d.detail = json!({"intent": intent});
                self.rows.push(EngineRow::Decision(d));
                // Checked just above: the state accepts it.
                let _ = self.risk.record_placed(&intent, info.market, info.fee);
                self.sent.insert(intent.client_order_id.clone(), SentIntent { market: info.market, reason, entry });
                self.commands.push(Command::Place(intent));
            }
        }
    }
}

/// Whether a market still has samples to take: not resolved, and its next
/// one not past its end.
fn samples_left(m: &MarketTrack) -> bool {
    !m.resolved && m.info.end.is_none_or(|e| m.next_sample <= e)
}

/// The stable name of a pass rule (its serde tag, which a test holds it to).
fn pass_rule(reason: &PassReason) -> String {
    match reason {
        PassReason::InvalidPrediction { .. } => "invalid_prediction",
        PassReason::LowConfidence { .. } => "low_confidence",
        PassReason::TooCloseToEnd { .. } => "too_close_to_end",
        PassReason::NoAsk { .. } => "no_ask",
        PassReason::NoEdge { .. } => "no_edge",
        PassReason::BelowMinimumSize { .. } => "below_minimum_size",
        PassReason::OrderPending => "order_pending",
        PassReason::Holding => "holding",
        PassReason::NoBid { .. } => "no_bid",
        PassReason::BelowFloor { .. } => "below_floor",
        PassReason::ExitBelowMinimum { .. } => "exit_below_minimum",
        PassReason::NoBookForPosition { .. } => "no_book_for_position",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use pmbot_core::{ExitReason, Price, Size, TokenId};
    use rust_decimal::Decimal;

    use super::*;

    #[test]
    fn pass_rule_names_are_the_serde_tags() {
        let token = TokenId::parse("1").unwrap();
        let reasons = [
            PassReason::InvalidPrediction { p_up: "NaN".into() },
            PassReason::LowConfidence { confidence: Decimal::ONE, threshold: Decimal::ONE },
            PassReason::TooCloseToEnd { ms_to_end: 1 },
            PassReason::NoAsk { token: token.clone() },
            PassReason::NoEdge {
                probability: Decimal::ONE,
                break_even: Decimal::ONE,
                min_edge: Decimal::ONE,
                best_ask: Price::parse("0.5").unwrap(),
            },
            PassReason::BelowMinimumSize { size: Size::ZERO, minimum: Size::ZERO },
            PassReason::OrderPending,
            PassReason::Holding,
            PassReason::NoBid { reason: ExitReason::StopLoss },
            PassReason::BelowFloor {
                reason: ExitReason::StopLoss,
                best_bid: Price::parse("0.5").unwrap(),
                floor: Price::parse("0.5").unwrap(),
            },
            PassReason::ExitBelowMinimum { reason: ExitReason::StopLoss, held: Size::ZERO, minimum: Size::ZERO },
            PassReason::NoBookForPosition { token },
        ];
        for r in reasons {
            let tag = serde_json::to_value(&r).unwrap()["rule"].as_str().unwrap().to_owned();
            assert_eq!(pass_rule(&r), tag);
        }
    }
}
