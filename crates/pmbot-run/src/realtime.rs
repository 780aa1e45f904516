//! The real-time loop of `paper` on live data and of `live`: one
//! [`Driver`] fed by the market-data service's [`FeedEvent`]s (its books'
//! events, REST resyncs, distrust), the REST resolution fallback, a tick
//! (samples due, journal flush, ops figures) and the venue's own answers;
//! until the deadline or a stop signal. Only the venue and a [`Side`] (what
//! `live` adds: gateway alerts, redemptions, the balance) differ.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use pmbot_core::{Clock, TimestampMs, TokenId};
use pmbot_engine::engine::driver::ExecutionVenue;
use pmbot_engine::engine::driver::{Driver, RunError};
use pmbot_engine::engine::feed_input::FeedInput;
use pmbot_engine::engine::lock;
use pmbot_engine::engine::paper_venue::PaperExecution;
use pmbot_venue::gateway::LiveExecution;
use pmbot_venue::marketdata::ConnectionState;
use pmbot_venue::marketdata::resolution::ResolutionFallback;
use pmbot_venue::marketdata::service::{FeedEvent, MarketData, MarketDataConfig, Outputs};
use serde_json::json;
use tokio::sync::mpsc;

use crate::error::{Context, Result};
use crate::monitor::{GatewayFigures, Monitor};
use crate::record::FeedRecorder;
use crate::shutdown::Shutdown;

/// A venue that may answer on its own time.
pub trait Answering: ExecutionVenue {
    /// Resolves once the venue has learnt something for the driver.
    fn answered(&mut self) -> impl Future<Output = ()> + Send;
}

impl Answering for PaperExecution {
    /// The paper venue answers every command at once: never.
    fn answered(&mut self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }
}

impl Answering for LiveExecution {
    fn answered(&mut self) -> impl Future<Output = ()> + Send {
        self.learnt()
    }
}

/// What a mode adds to the loop.
pub trait Side<V> {
    /// Something for the loop besides the feed and the venue (an alert, a
    /// redemption's result); never resolves when there is nothing.
    fn next(&mut self) -> impl Future<Output = Aside> + Send;
    /// Acts on what [`Side::next`] gave.
    fn on_aside(&mut self, aside: Aside, driver: &mut Driver<V>, monitor: &mut Monitor, now: TimestampMs)
    -> Result<()>;
    /// Once a tick, after the driver's: the ops figures the mode owns.
    fn on_tick(&mut self, monitor: &mut Monitor, now: TimestampMs) -> Option<GatewayFigures>;
    /// After every step of the loop (the engine's redemption requests).
    fn after_step(&mut self, driver: &mut Driver<V>);
}

/// What a [`Side`] hands the loop.
#[derive(Debug)]
pub enum Aside {
    Alert(pmbot_venue::gateway::GatewayAlert),
    Redemption(pmbot_venue::redeem::RedemptionReport),
}

/// `paper`: nothing besides the feed.
#[derive(Debug)]
pub struct PaperSide;

impl<V> Side<V> for PaperSide {
    fn next(&mut self) -> impl Future<Output = Aside> + Send {
        std::future::pending()
    }

    fn on_aside(&mut self, _: Aside, _: &mut Driver<V>, _: &mut Monitor, _: TimestampMs) -> Result<()> {
        Ok(())
    }

    fn on_tick(&mut self, _: &mut Monitor, _: TimestampMs) -> Option<GatewayFigures> {
        None
    }

    fn after_step(&mut self, _: &mut Driver<V>) {}
}

/// The loop's inputs.
pub struct Pump {
    clock: Arc<dyn Clock>,
    md: MarketData,
    feed: mpsc::Receiver<FeedEvent>,
    resolutions: ResolutionFallback,
    tick: Duration,
    deadline: Option<tokio::time::Instant>,
}

impl std::fmt::Debug for Pump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pump").field("md", &self.md).field("tick", &self.tick).finish_non_exhaustive()
    }
}

/// How long a stop waits for placements in flight to be answered.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(10);

impl Pump {
    /// Starts the market-data service on `tokens` (`cfg`: the stream and
    /// book settings), feeding the loop: the engine's books follow the
    /// venue's, its events, its resyncs and its distrust (see
    /// `pmbot_venue::marketdata::service`). The loop ticks every `tick` and
    /// ends at `deadline`, if any.
    pub fn start(
        cfg: MarketDataConfig,
        tokens: Vec<TokenId>,
        clock: Arc<dyn Clock>,
        resolutions: ResolutionFallback,
        tick: Duration,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Pump> {
        let (tx, feed) = mpsc::channel::<FeedEvent>(8192);
        let outputs = Outputs { frames: None, feed: Some(tx) };
        let md = MarketData::start_with(cfg, tokens, clock.clone(), outputs)
            .context("cannot start the market-data stream")?;
        Ok(Pump { clock, md, feed, resolutions, tick, deadline })
    }

    /// Runs `driver` until the deadline, a stop signal or the feed's end;
    /// then waits (bounded) for placements in flight, and stops the feed.
    /// Returns why it stopped.
    /// Each input is recorded (`record`) before the driver takes it.
    pub async fn run<V, S>(
        mut self,
        driver: &mut Driver<V>,
        side: &mut S,
        monitor: &mut Monitor,
        stop: &Shutdown,
        mut record: Option<&mut FeedRecorder>,
    ) -> Result<&'static str>
    where
        V: Answering,
        RunError: From<V::Error>,
        S: Side<V>,
    {
        let mut tick = tokio::time::interval(self.tick);
        let mut reconnects_noted = 0u64;
        let reason = loop {
            tokio::select! {
                fed = self.feed.recv() => match fed {
                    Some(FeedEvent::Market { at, event }) => {
                        if let Some(r) = record.as_deref_mut() {
                            r.input(&FeedInput::Event { event: event.clone() }, at).await?;
                        }
                        driver.on_event(&event, at).context("trading run")?;
                    }
                    Some(FeedEvent::Distrusted { at, token, .. }) => {
                        if let Some(r) = record.as_deref_mut() {
                            r.input(&FeedInput::Distrusted { token: token.clone() }, at).await?;
                        }
                        driver.on_book_distrusted(&token, at).context("trading run")?;
                    }
                    None => break "market data stream ended",
                },
                () = driver.venue_mut().answered() => driver.poll_venue().context("trading run")?,
                resolved = self.resolutions.next() => {
                    let now = self.clock.now();
                    crate::settings::note_rest_resolution(driver.engine().journal(), driver.engine().run_id(), &resolved, now)?;
                    let event = pmbot_core::MarketEvent::MarketResolved(resolved);
                    if let Some(r) = record.as_deref_mut() {
                        r.input(&FeedInput::Event { event: event.clone() }, now).await?;
                    }
                    driver.on_event(&event, now).context("trading run")?;
                }
                aside = side.next() => {
                    side.on_aside(aside, driver, monitor, self.clock.now())?;
                    driver.poll_venue().context("trading run")?;
                }
                _ = tick.tick() => {
                    let now = self.clock.now();
                    if let Some(r) = record.as_deref_mut() {
                        r.input(&FeedInput::Tick, now).await?;
                    }
                    // Decisions reach the journal (and /metrics, /health,
                    // the dashboard) within a tick; a crash loses at most one.
                    driver.tick(now).context("trading run")?;
                    self.resolutions.ask_due(now, |m| driver.engine().awaits_resolution(m));
                    monitor.after_step(now);
                    let gateway = side.on_tick(monitor, now);
                    let health = self.md.health();
                    monitor.report(driver.engine(), crate::monitor::stream_figures(&health), gateway);
                    // A reconnect counts as recovered once the stream is
                    // back and its books were resynced from fresh snapshots.
                    if health.reconnects > reconnects_noted && matches!(health.state, ConnectionState::Live { .. }) && !health.resyncing {
                        reconnects_noted = health.reconnects;
                        let note = json!({"run": driver.engine().run_id(), "recovered": true, "reconnects": health.reconnects});
                        lock(driver.engine().journal()).record_note("market_data_reconnect", &note, now)
                            .context("cannot journal the reconnect")?;
                    }
                }
                _ = async { match self.deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break "duration",
                s = stop.wait() => break s.name(),
            }
            side.after_step(driver);
        };
        // No new decisions from here on. Placements in flight are answered
        // first (bounded by the gateway's own timeouts and this wait).
        let answered_by = tokio::time::Instant::now() + IN_FLIGHT_WAIT;
        while driver.in_flight() > 0 {
            tokio::select! {
                () = driver.venue_mut().answered() => driver.take_answers().context("trading run")?,
                _ = tokio::time::sleep_until(answered_by) => break,
            }
        }
        self.md.stop().await;
        Ok(reason)
    }
}
