//! `pmbot record`: writes every market-channel frame received, raw, with its
//! receive time, into hourly zstd JSON-lines files (see `pmbot_engine::record`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use pmbot_core::{Clock, TimestampMs};
use pmbot_engine::engine::feed_input::FeedInput;
use pmbot_engine::record::{MarketRef, OnExisting, Recorder, RecorderConfig, RecordingInfo, RecordingSummary};
use pmbot_venue::SystemClock;
use pmbot_venue::marketdata::service::RawFrame;
use pmbot_venue::marketdata::{MarketData, MarketDataConfig};
use tokio::sync::mpsc;

use crate::config::FileConfig;
use crate::error::{Context, Result, RunError};
use crate::shutdown::Shutdown;
use crate::source::SourceArgs;

#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Directory to write the recording into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Stop after this long (e.g. 90s, 15m, 2h); default: until SIGTERM or SIGINT (Ctrl-C).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
}

/// Frames buffered between the stream and the recorder thread; a full buffer
/// slows the stream rather than dropping frames.
const BUFFER: usize = 1 << 16;

pub async fn run(file: FileConfig, args: RecordArgs, stop: Shutdown) -> Result<()> {
    let source = args.source.resolve(file.market_data.stream.clone(), file.sim.clone()).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let info = recording_info(&source, clock.now_ms());
    // Create the recording before connecting, so a bad directory fails fast.
    let (tx, writer) = start_writer(&args.out, info, clock.clone())?;
    let cfg = MarketDataConfig { stream: source.stream.clone(), books: file.market_data.books };
    let md = MarketData::start(cfg, source.tokens.clone(), clock.clone(), Some(tx))
        .context("cannot start the market stream")?;
    eprintln!("recording {} tokens from {} into {}", source.tokens.len(), source.description, args.out.display());

    let why = tokio::select! {
        _ = crate::shutdown::sleep_or_forever(args.duration) => "duration",
        s = stop.wait() => s.name(),
    };
    let health = md.health();
    md.stop().await;
    // The stream is gone, so the frame channel closes and the writer finishes.
    let summary = writer.await.context("the recorder thread failed")??;
    if let Some(sim) = source.sim {
        sim.shutdown().await;
    }
    println!(
        "stopped ({why}): recorded {} frames ({} bytes, {} compressed) in {} file(s) into {}; {} reconnects",
        summary.frames,
        summary.frame_bytes,
        summary.compressed_bytes,
        summary.files.len(),
        summary.dir.display(),
        health.reconnects
    );
    Ok(())
}

/// What a recording of `source` says about itself.
pub fn recording_info(source: &crate::source::Source, started_ms: i64) -> RecordingInfo {
    RecordingInfo {
        source_url: source.stream.ws_url.clone(),
        tokens: source.tokens.clone(),
        markets: source
            .recorded_markets()
            .iter()
            .map(|m| MarketRef {
                condition_id: m.condition_id,
                slug: Some(m.slug.clone()),
                // Up first, as the backtest reads a recording's tokens; a
                // market that is not Up/Down keeps Gamma's order.
                tokens: m.up_down().map_or_else(|_| m.tokens.clone(), |(up, down)| vec![up, down]),
                end_ms: crate::paper_live::market_info(m).ok().and_then(|i| i.end).map(|t| t.millis()),
            })
            .collect(),
        started_ms,
    }
}

/// A real-time run's feed, recorded as the driver takes it (see
/// [`FeedInput`]): each input written before the driver acts on it, by a
/// thread of its own (a full buffer slows the run rather than losing one).
#[derive(Debug)]
pub struct FeedRecorder {
    tx: mpsc::Sender<RawFrame>,
    writer: tokio::task::JoinHandle<Result<RecordingSummary>>,
    /// Frames are stamped in order (the files are hourly by stamp); the
    /// driver's own time is inside each input.
    last: TimestampMs,
}

impl FeedRecorder {
    /// Starts a recording in `dir` (a new session beside earlier ones).
    pub fn create(dir: &Path, info: RecordingInfo, clock: Arc<dyn Clock>) -> Result<FeedRecorder> {
        let started = TimestampMs::from_millis(info.started_ms);
        let (tx, writer) = start_writer(dir, info, clock)?;
        Ok(FeedRecorder { tx, writer, last: started })
    }

    /// Records `input`, given to the driver at `at`.
    pub async fn input(&mut self, input: &FeedInput, at: TimestampMs) -> Result<()> {
        self.last = self.last.max(at);
        let frame: Arc<str> = input.to_frame(at).into();
        self.tx
            .send((self.last, frame))
            .await
            .map_err(|_| RunError::Refused("the feed recording stopped (see above)".to_owned()))
    }

    /// Writes what is buffered and closes the recording.
    pub async fn close(self) -> Result<RecordingSummary> {
        drop(self.tx);
        self.writer.await.context("the recorder thread failed")?
    }
}

/// The thread that writes frames sent to the returned channel into a new
/// recording session in `dir`. Recording again into a folder (a restart, a
/// second day) adds a session beside the earlier ones; their files are
/// never touched. It ends, with the summary, when the channel closes.
fn start_writer(
    dir: &Path,
    info: RecordingInfo,
    clock: Arc<dyn Clock>,
) -> Result<(mpsc::Sender<RawFrame>, tokio::task::JoinHandle<Result<RecordingSummary>>)> {
    let config = RecorderConfig { on_existing: OnExisting::NewName, ..RecorderConfig::default() };
    let recorder =
        Recorder::create(dir, config, info).with_context(|| format!("cannot record into {}", dir.display()))?;
    let (tx, rx) = mpsc::channel::<RawFrame>(BUFFER);
    let writer = tokio::task::spawn_blocking(move || write_frames(recorder, rx, clock));
    Ok((tx, writer))
}

/// The recorder thread: writes frames as they come and flushes at least every
/// second, so a crash loses at most the last second.
fn write_frames(
    mut rec: Recorder,
    mut rx: mpsc::Receiver<RawFrame>,
    clock: Arc<dyn Clock>,
) -> Result<RecordingSummary> {
    loop {
        // Wait at most a quarter second for a frame, then check the flush timer.
        let next = tokio::runtime::Handle::current()
            .block_on(async { tokio::time::timeout(Duration::from_millis(250), rx.recv()).await });
        match next {
            Ok(Some((received, text))) => rec.record(received.millis(), &text).context("recording a frame")?,
            Ok(None) => break,
            Err(_) => {}
        }
        rec.flush_if_due(clock.now_ms()).context("flushing the recording")?;
    }
    rec.close().context("closing the recording")
}
