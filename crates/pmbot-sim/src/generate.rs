//! Simulated market data at the speed of the CPU: the exchange and a market
//! source stepped in-process on a market clock that only the caller moves,
//! producing the market-channel frames the server would publish, and written
//! as a pmbot recording that the recording reader (and so the model's data-set
//! builder) reads like one taken from the live feed.
//!
//! Invariants:
//! - **No wall clock, no network, no async.** Time is what the caller passes
//!   or the source asks for, so the same source config gives the same frames,
//!   byte for byte, on any machine at any speed.
//! - **The server's own frames.** Actions go through the driver's
//!   `apply_actions` and events through the server's frame renderer, so a
//!   frame here is the text a subscriber would receive, stamped with its step
//!   time. The feed is what a client subscribed to every token without custom
//!   features receives: when a market is listed, the `book` snapshot a
//!   subscription returns (empty at that moment), then `price_change`,
//!   `last_trade_price`, `book` after trades and `tick_size_change`.
//! - **Time never goes back.** A step asked for before the current time runs
//!   at the current time, as the server's clock would have it.
//!
//! One difference from the server: its driver also wakes at least every
//! 100 ms for the engine's timers and steps the source then; here the source
//! is stepped exactly when it asks (a source is defined for any call times).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pmbot_record::record::{MarketRef, RecordError, Recorder, RecorderConfig, RecordingInfo};

use crate::engine::{BookView, EngineConfig, EngineEvent, Exchange, MarketSpec};
use crate::model::MarketSource;
use crate::model::synthetic::{SyntheticConfig, SyntheticConfigError, SyntheticMarkets};
use crate::server::{apply_actions, render_frames, wire};

/// Where generated recordings start by default: 2026-01-01T00:00:00Z (a whole
/// hour, so hourly files line up with the market time simulated).
pub const GENERATED_START_MS: i64 = 1_767_225_600_000;

/// Resolved markets are forgotten this long after resolution (the server's
/// default `keep_resolved`), so long runs do not grow without bound.
const KEEP_RESOLVED_MS: i64 = 600_000;

/// Longest market time one generation may cover (a year): a typo in a
/// duration must not fill a disk.
const MAX_MARKET_TIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// One market-channel frame and the market time it was published at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedFrame {
    pub at_ms: i64,
    pub text: Arc<str>,
}

/// The exchange and a market source, stepped on a manual market clock.
pub struct FeedStepper {
    exchange: Exchange,
    source: Box<dyn MarketSource>,
    now_ms: i64,
    steps: u64,
    markets_listed: u64,
    source_rejects: u64,
    /// Markets listed since the last [`FeedStepper::take_listed`].
    listed: Vec<MarketSpec>,
    /// Also publish the frames a `custom_feature_enabled` subscriber gets
    /// (`new_market`, `market_resolved`).
    custom_frames: bool,
}

impl FeedStepper {
    /// A stepper whose clock starts at `start_ms`; nothing has happened yet
    /// (the first step lists the source's markets).
    pub fn new(source: Box<dyn MarketSource>, engine: EngineConfig, start_ms: i64) -> FeedStepper {
        FeedStepper {
            exchange: Exchange::new(engine),
            source,
            now_ms: start_ms,
            steps: 0,
            markets_listed: 0,
            source_rejects: 0,
            listed: Vec::new(),
            custom_frames: false,
        }
    }

    /// The same stepper publishing custom-feature frames too (`new_market`,
    /// `market_resolved`), as a subscriber that enabled them receives.
    pub fn with_custom_frames(mut self) -> FeedStepper {
        self.custom_frames = true;
        self
    }

    /// A `book` frame for every token of every open market, as they stand:
    /// what a new subscriber receives first. Also the markets themselves.
    pub fn open_books(&self) -> (Vec<MarketSpec>, Vec<FeedFrame>) {
        let mut specs = Vec::new();
        let mut frames = Vec::new();
        for info in self.exchange.markets() {
            if info.closed {
                continue;
            }
            for token in &info.spec.tokens {
                if let Some(book) = self.exchange.book(&token.token_id) {
                    let text = wire::ws_book(&book).to_string();
                    frames.push(FeedFrame { at_ms: self.now_ms, text: Arc::from(text) });
                }
            }
            specs.push(info.spec);
        }
        (specs, frames)
    }

    /// The markets listed since the last call, in listing order (what a
    /// trader learns from the exchange's market list).
    pub fn take_listed(&mut self) -> Vec<MarketSpec> {
        std::mem::take(&mut self.listed)
    }

    /// The synthetic model on the default engine, starting at `start_ms`.
    pub fn synthetic(cfg: SyntheticConfig, start_ms: i64) -> Result<FeedStepper, SyntheticConfigError> {
        let source = SyntheticMarkets::new(cfg, start_ms)?;
        Ok(FeedStepper::new(Box::new(source), EngineConfig::default(), start_ms))
    }

    /// The market clock: the time of the last step (or the start).
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// When the source wants its next step (`i64::MAX`: never).
    pub fn next_step_ms(&self) -> i64 {
        self.source.next_step_ms()
    }

    /// The exchange as the last step left it.
    pub fn exchange(&self) -> &Exchange {
        &self.exchange
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Markets listed so far (the initial ones and every successor).
    pub fn markets_listed(&self) -> u64 {
        self.markets_listed
    }

    /// Source actions the exchange refused so far (normal in small numbers:
    /// a taker's order may find nothing to match).
    pub fn source_rejects(&self) -> u64 {
        self.source_rejects
    }

    /// One step at `at_ms` (or the current time, if that is later): the
    /// source acts, the engine's timers run, and the market-channel frames of
    /// what changed are appended to `out`, in publishing order.
    pub fn step_at(&mut self, at_ms: i64, out: &mut Vec<FeedFrame>) {
        let now = at_ms.max(self.now_ms);
        self.now_ms = now;
        self.steps += 1;
        let actions = self.source.step(now, &self.exchange);
        self.source_rejects += apply_actions(&mut self.exchange, actions, now);
        self.exchange.tick(now);
        self.exchange.prune_resolved(now.saturating_sub(KEEP_RESOLVED_MS));
        let events = self.exchange.drain_events();
        let mut push = |text: Arc<str>| out.push(FeedFrame { at_ms: now, text });
        // A subscriber to a new market's tokens gets their books first.
        for ev in &events {
            if let EngineEvent::MarketListed { market, timestamp_ms } = ev {
                self.markets_listed += 1;
                self.listed.push(market.clone());
                for token in &market.tokens {
                    let snapshot = listing_book(market, &token.token_id, *timestamp_ms);
                    push(Arc::from(wire::ws_book(&snapshot).to_string()));
                }
            }
        }
        for frame in render_frames(events, &self.exchange, now).market {
            if !frame.custom || self.custom_frames {
                push(frame.text);
            }
        }
    }

    /// Steps at the times the source asks for while they are at or before
    /// `until_ms`, handing every frame to `sink`; stops at the sink's first
    /// error. Returns the number of steps taken.
    pub fn run_until<E>(&mut self, until_ms: i64, mut sink: impl FnMut(&FeedFrame) -> Result<(), E>) -> Result<u64, E> {
        let mut frames = Vec::new();
        let mut steps = 0;
        // The first step runs at the start, whatever the source asks.
        let mut at = if self.steps == 0 { self.now_ms } else { self.next_step_ms() };
        while at <= until_ms {
            frames.clear();
            self.step_at(at, &mut frames);
            steps += 1;
            for frame in &frames {
                sink(frame)?;
            }
            at = self.next_step_ms().max(self.now_ms + 1);
        }
        Ok(steps)
    }
}

/// The book of a token as it is at listing: empty, on the market's tick.
fn listing_book(market: &MarketSpec, token: &pmbot_core::TokenId, timestamp_ms: i64) -> BookView {
    BookView {
        market: market.condition_id,
        token: token.clone(),
        bids: Vec::new(),
        asks: Vec::new(),
        tick: market.tick,
        min_order_size: market.min_order_size,
        neg_risk: market.neg_risk,
        last_trade_price: None,
        timestamp_ms,
    }
}

/// What [`generate_recording`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSummary {
    pub dir: PathBuf,
    /// Market time covered: the first and last step (unix ms).
    pub start_ms: i64,
    pub end_ms: i64,
    pub steps: u64,
    pub frames: u64,
    /// Total length of the frame texts.
    pub frame_bytes: u64,
    /// Total size of the data files.
    pub compressed_bytes: u64,
    /// Data files written, in order.
    pub files: Vec<PathBuf>,
    pub markets_listed: u64,
    pub source_rejects: u64,
}

/// Why a recording could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Config(#[from] SyntheticConfigError),
    #[error("market time {0:?} is longer than the {MAX_MARKET_TIME:?} one generation may cover")]
    MarketTime(Duration),
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// Runs the synthetic model `cfg` for `market_time` of market time from
/// [`GENERATED_START_MS`] and records the market channel into `out` (a new
/// recording directory: an existing one is refused, nothing is overwritten).
pub fn generate_recording(
    cfg: &SyntheticConfig,
    market_time: Duration,
    out: &Path,
) -> Result<GenerateSummary, GenerateError> {
    generate_recording_from(cfg, GENERATED_START_MS, market_time, out)
}

/// [`generate_recording`] starting at `start_ms` (unix ms).
pub fn generate_recording_from(
    cfg: &SyntheticConfig,
    start_ms: i64,
    market_time: Duration,
    out: &Path,
) -> Result<GenerateSummary, GenerateError> {
    if market_time > MAX_MARKET_TIME {
        return Err(GenerateError::MarketTime(market_time));
    }
    let span_ms = i64::try_from(market_time.as_millis()).expect("bounded by MAX_MARKET_TIME");
    let source = SyntheticMarkets::new(cfg.clone(), start_ms)?;
    // The recording lists the markets open at the start (primary token
    // first, which readers keep); successors show up in the frames.
    let open: Vec<MarketSpec> = source.open_markets().into_iter().cloned().collect();
    let info = RecordingInfo {
        source_url: format!("pmbot-sim://synthetic?seed={}", cfg.seed),
        tokens: open.iter().flat_map(|m| m.tokens.iter().map(|t| t.token_id.clone())).collect(),
        markets: open
            .iter()
            .map(|m| MarketRef {
                condition_id: m.condition_id,
                slug: Some(m.slug.clone()),
                tokens: m.tokens.iter().map(|t| t.token_id.clone()).collect(),
                end_ms: m.end_ms,
            })
            .collect(),
        started_ms: start_ms,
    };
    let mut recorder = Recorder::create(out, RecorderConfig::default(), info)?;
    let mut stepper = FeedStepper::new(Box::new(source), EngineConfig::default(), start_ms);
    let steps = stepper.run_until(start_ms + span_ms, |f| recorder.record(f.at_ms, &f.text))?;
    let recorded = recorder.close()?;
    Ok(GenerateSummary {
        dir: recorded.dir,
        start_ms,
        end_ms: stepper.now_ms(),
        steps,
        frames: recorded.frames,
        frame_bytes: recorded.frame_bytes,
        compressed_bytes: recorded.compressed_bytes,
        files: recorded.files,
        markets_listed: stepper.markets_listed(),
        source_rejects: stepper.source_rejects(),
    })
}

// Its parts are handles, channels and callbacks: the type name is what a
// log line or a failed assertion needs.
impl std::fmt::Debug for FeedStepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedStepper").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
