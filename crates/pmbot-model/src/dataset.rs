//! Training samples from recorded market data: features at the times of a
//! fixed market-time grid, each with the label of the next mid change.
//!
//! Invariants:
//! - **Same code as live.** Frames become events through the live feed's
//!   parser, books through [`OrderBook`], features through [`FeatureState`];
//!   a grid snapshot at `t` is taken after every event up to `t` and before
//!   any later one, so features never see the future (labels do, by design,
//!   and only labels).
//! - **Nothing lost silently.** Every grid time of every market ends up as a
//!   sample or in a count saying why not (not ready, no change, censored);
//!   every input that could not be used is a typed error naming the file and
//!   line, or, where the format expects it (a recording cut by a killed
//!   writer, a frame the live parser would also refuse), a counted skip.
//! - **One token per market.** The two tokens of a binary market mirror each
//!   other (UP bid at p = DOWN ask at 1 - p), so the second would only repeat
//!   the first with the opposite label. Resolvedkit data: the UP token.
//!   Recordings: the market's token listed first in `recording.json`, or seen
//!   first without one.
//!
//! The fingerprint is SHA-256 over every input file (name, length, bytes), so
//! a model file can say exactly which data it was trained on.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use pmbot_core::{
    ConditionId, DeltaOutcome, FeatureSpec, FeatureSpecError, FeatureState, FeatureVector, Grid, Label, LabelCounts,
    LabelError, LabelOutcome, LabelSpec, Labeller, MarketEvent, MidPoint, OrderBook, TickSize, TimestampMs, TokenId,
};
use pmbot_feed::{FrameKind, FrameParser, classify_frame};
use pmbot_record::record::META_FILE;
use pmbot_record::replay::{BOOKS_FILE, MARKETS_FILE, RecordingReader, ReplayError, ResolvedkitFrames};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How samples are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatasetSpec {
    pub features: FeatureSpec,
    pub grid: Grid,
    pub labels: LabelSpec,
}

/// One labelled sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub market: ConditionId,
    pub token: TokenId,
    /// The grid time the features describe.
    pub t: TimestampMs,
    pub features: FeatureVector,
    pub label: Label,
}

/// A data set: samples in time order, and what went into it.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub samples: Vec<Sample>,
    pub summary: DatasetSummary,
}

/// What a data set holds and what was left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    pub spec: DatasetSpec,
    pub sources: Vec<SourceSummary>,
    pub samples: u64,
    pub up: u64,
    pub down: u64,
    /// Grid times whose mid did not change within the horizon.
    pub dropped_no_change: u64,
    /// Grid times whose horizon runs past the end of the data with no change yet.
    pub dropped_censored: u64,
    /// Grid times without features: warm-up, or a book not two-sided.
    pub dropped_not_ready: u64,
    /// Inputs left out, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Per market, in order of first sample time.
    pub markets: Vec<MarketSummary>,
    /// First and last sample time.
    pub first_t: Option<TimestampMs>,
    pub last_t: Option<TimestampMs>,
    /// SHA-256 (hex) over every input file: name, length, bytes.
    pub fingerprint: String,
}

/// One input directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSummary {
    pub dir: PathBuf,
    pub kind: SourceKind,
    /// Every file read, in reading order (the fingerprint's order).
    pub files: Vec<PathBuf>,
    pub frames: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// `books.jsonl.gz` + `markets.jsonl` (resolvedkit sample data).
    Resolvedkit,
    /// A pmbot recording (`market-*.jsonl.zst`, `recording.json`).
    Recording,
}

/// One market's share of the data set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketSummary {
    pub market: ConditionId,
    pub token: TokenId,
    pub end: Option<TimestampMs>,
    /// First and last event time of the token.
    pub first_event: TimestampMs,
    pub last_event: TimestampMs,
    pub samples: u64,
    pub labels: LabelCounts,
    pub not_ready: u64,
}

/// Why a data set could not be built. Every variant about an input names it.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("feature spec: {0}")]
    Features(#[from] FeatureSpecError),
    #[error("grid or labels: {0}")]
    Labels(#[from] LabelError),
    /// A bad line, a corrupt or unreadable file (names the file, and the line where there is one).
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error("{path}: neither resolvedkit data ({BOOKS_FILE}) nor a pmbot recording ({META_FILE}, market-*.jsonl.zst)")]
    NotADataDir { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("no data directories given")]
    NoInput,
    #[error("no usable samples in {dirs:?}: {detail}")]
    NoSamples { dirs: Vec<PathBuf>, detail: String },
}

/// Builds the data set of `dirs` (each resolvedkit data or a pmbot
/// recording): samples of all of them, in time order.
pub fn build_dataset<P: AsRef<Path>>(dirs: &[P], spec: &DatasetSpec) -> Result<Dataset, DatasetError> {
    spec.features.validate()?;
    spec.grid.validate()?;
    if spec.labels.horizon_ms <= 0 {
        return Err(LabelError::Horizon(spec.labels.horizon_ms).into());
    }
    if dirs.is_empty() {
        return Err(DatasetError::NoInput);
    }
    let mut fingerprint = Sha256::new();
    let mut builder = Builder::new(*spec);
    let mut sources = Vec::new();
    for dir in dirs {
        let dir = dir.as_ref();
        let source = if dir.join(BOOKS_FILE).is_file() {
            builder.read_resolvedkit(dir)?
        } else if dir.join(META_FILE).is_file() || has_recording_files(dir) {
            builder.read_recording(dir)?
        } else {
            return Err(DatasetError::NotADataDir { path: dir.to_owned() });
        };
        for file in &source.files {
            hash_file(&mut fingerprint, file)?;
        }
        sources.push(source);
    }
    let fingerprint = hex::encode(fingerprint.finalize());
    let dataset = builder.finish(sources, fingerprint)?;
    if dataset.samples.is_empty() {
        let s = &dataset.summary;
        return Err(DatasetError::NoSamples {
            dirs: dirs.iter().map(|d| d.as_ref().to_owned()).collect(),
            detail: format!(
                "{} markets; grid times not ready {}, no change {}, censored {}; skipped {:?}",
                s.markets.len(),
                s.dropped_not_ready,
                s.dropped_no_change,
                s.dropped_censored,
                s.skipped
            ),
        });
    }
    Ok(dataset)
}

fn has_recording_files(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_str().is_some_and(|n| n.starts_with("market-") && n.ends_with(".jsonl.zst")))
}

fn hash_file(h: &mut Sha256, path: &Path) -> Result<(), DatasetError> {
    let io_err = |source| DatasetError::Io { path: path.to_owned(), source };
    let mut file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    h.update((name.len() as u64).to_be_bytes());
    h.update(name.as_bytes());
    h.update(len.to_be_bytes());
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io_err)?;
        if n == 0 {
            return Ok(());
        }
        h.update(&buf[..n]);
    }
}

/// One token followed through the data.
struct Track {
    market: ConditionId,
    token: TokenId,
    end: Option<TimestampMs>,
    book: OrderBook,
    features: FeatureState,
    /// The next grid time to take a snapshot at.
    next_grid: TimestampMs,
    snapshots: Vec<(TimestampMs, FeatureVector)>,
    not_ready: u64,
    mids: Vec<MidPoint>,
    first_event: TimestampMs,
    last_event: TimestampMs,
    /// Position in the source's token list (recordings: which token of a market to keep).
    rank: (usize, u64),
}

impl Track {
    fn touch(&mut self, at: TimestampMs) {
        self.last_event = self.last_event.max(at);
    }

    /// Takes the snapshots of every grid time before `t` (all of whose events
    /// have been fed), up to the market's end if known.
    fn snapshots_before(&mut self, t: TimestampMs, grid: Grid) {
        while self.next_grid < t && self.end.is_none_or(|end| self.next_grid <= end) {
            match self.features.snapshot(self.next_grid) {
                Some(v) => self.snapshots.push((self.next_grid, v)),
                None => self.not_ready += 1,
            }
            self.next_grid = self.next_grid.plus_millis(grid.step_ms);
        }
    }

    /// Feeds the book as it is now to the features and the mid series.
    fn book_changed(&mut self, at: TimestampMs) {
        self.features.on_book(&self.book, at);
        self.touch(at);
        // Times never run backwards (a receive clock stepping back counts at the latest time).
        let at = self.last_event;
        if let (Some(bid), Some(ask)) = (self.book.best_bid(), self.book.best_ask())
            && bid.price < ask.price
        {
            let mid2_pips = u32::from(bid.price.pips()) + u32::from(ask.price.pips());
            if self.mids.last().is_none_or(|m| m.mid2_pips != mid2_pips) {
                self.mids.push(MidPoint { t: at, mid2_pips });
            }
        }
    }
}

struct Builder {
    spec: DatasetSpec,
    parser: FrameParser,
    events: Vec<MarketEvent>,
    /// Tracks of every source so far; a source's are moved to `done` at its end.
    tracks: HashMap<TokenId, Track>,
    done: Vec<Track>,
    skipped: BTreeMap<String, u64>,
}

impl Builder {
    fn new(spec: DatasetSpec) -> Builder {
        Builder {
            spec,
            parser: FrameParser::new(),
            events: Vec::new(),
            tracks: HashMap::new(),
            done: Vec::new(),
            skipped: BTreeMap::new(),
        }
    }

    fn skip(&mut self, reason: impl Into<String>) {
        *self.skipped.entry(reason.into()).or_default() += 1;
    }

    fn read_resolvedkit(&mut self, dir: &Path) -> Result<SourceSummary, DatasetError> {
        let frames = ResolvedkitFrames::open(dir)?;
        // UP tokens only: DOWN mirrors UP.
        let wanted: HashMap<TokenId, (ConditionId, TimestampMs, usize)> = frames
            .markets()
            .iter()
            .enumerate()
            .map(|(i, m)| (m.tokens[0].clone(), (m.condition_id, m.end_ms, i)))
            .collect();
        let known_markets: Vec<ConditionId> = frames.markets().iter().map(|m| m.condition_id).collect();
        let grid = self.spec.grid;
        let mut count = 0u64;
        for frame in frames {
            let frame = frame?;
            count += 1;
            self.parse_frame(&frame.text, frame.received);
            let events = std::mem::take(&mut self.events);
            for event in &events {
                let MarketEvent::Book(book) = event else { continue };
                if !known_markets.contains(&book.market) {
                    self.skip("book of a market missing from markets.jsonl");
                    continue;
                }
                let Some((market, end, rank)) = wanted.get(&book.token) else { continue };
                let track = self.track(&book.token, *market, Some(*end), (*rank, 0), frame.received)?;
                track.snapshots_before(frame.received, grid);
                let at = frame.received;
                let outcome = track.book.apply_book(book);
                if outcome.is_ok() {
                    track.book_changed(at);
                } else {
                    self.skip("book refused by the order book (off tick or duplicate level)");
                }
            }
            self.events = events;
            self.events.clear();
        }
        let files = vec![dir.join(MARKETS_FILE), dir.join(BOOKS_FILE)];
        self.done.extend(self.tracks.drain().map(|(_, t)| t));
        Ok(SourceSummary { dir: dir.to_owned(), kind: SourceKind::Resolvedkit, files, frames: count })
    }

    fn read_recording(&mut self, dir: &Path) -> Result<SourceSummary, DatasetError> {
        let mut reader = RecordingReader::open(dir)?;
        let listed: Vec<TokenId> =
            reader.meta().map(|m| m.sessions.iter().flat_map(|s| s.tokens.clone()).collect()).unwrap_or_default();
        let mut files: Vec<PathBuf> = Vec::new();
        if reader.meta().is_some() {
            files.push(dir.join(META_FILE));
        }
        files.extend(reader.files().iter().cloned());
        let mut count = 0u64;
        let mut seen = 0u64;
        for frame in reader.by_ref() {
            let frame = frame?;
            count += 1;
            if classify_frame(&frame.text) != FrameKind::Data {
                self.skip("control frame (PONG, INVALID ...)");
                continue;
            }
            let at = frame.received;
            let refused = self.parse_frame(&frame.text, at);
            for named in refused {
                // As live: what a refused message may have touched is unknown until the next snapshot.
                let affected: Vec<TokenId> =
                    if named.is_empty() { self.tracks.keys().cloned().collect() } else { named };
                for token in affected {
                    if let Some(t) = self.tracks.get_mut(&token) {
                        t.snapshots_before(at, self.spec.grid);
                        t.book.reset();
                        t.book_changed(at);
                    }
                }
            }
            let events = std::mem::take(&mut self.events);
            for event in &events {
                self.apply_recorded(event, at, &listed, &mut seen)?;
            }
            self.events = events;
            self.events.clear();
        }
        for cut in reader.truncations() {
            *self
                .skipped
                .entry(format!("truncated tail of {} ({} bytes)", cut.path.display(), cut.dropped_bytes))
                .or_default() += 1;
        }
        // Keep one token per market: the first listed, else the first seen.
        let mut by_market: BTreeMap<ConditionId, Track> = BTreeMap::new();
        for (_, track) in self.tracks.drain() {
            match by_market.get(&track.market) {
                Some(kept) if kept.rank <= track.rank => {}
                _ => {
                    by_market.insert(track.market, track);
                }
            }
        }
        self.done.extend(by_market.into_values());
        Ok(SourceSummary { dir: dir.to_owned(), kind: SourceKind::Recording, files, frames: count })
    }

    /// Parses a frame into `self.events`; returns, per refused message, the
    /// tokens it named (empty: unknown, so every book).
    fn parse_frame(&mut self, text: &str, at: TimestampMs) -> Vec<Vec<TokenId>> {
        self.events.clear();
        let outcome = self.parser.parse(text, at, &mut self.events);
        let mut affected = Vec::new();
        for reject in outcome.rejects {
            self.skip(format!("message refused by the parser: {}", reject.reason.as_str()));
            affected.push(reject.tokens);
        }
        affected
    }

    fn apply_recorded(
        &mut self,
        event: &MarketEvent,
        at: TimestampMs,
        listed: &[TokenId],
        seen: &mut u64,
    ) -> Result<(), DatasetError> {
        let grid = self.spec.grid;
        let mut rank_of = |token: &TokenId| {
            *seen += 1;
            (listed.iter().position(|t| t == token).unwrap_or(usize::MAX), *seen)
        };
        match event {
            MarketEvent::Book(book) => {
                let rank = rank_of(&book.token);
                let track = self.track(&book.token, book.market, None, rank, at)?;
                track.snapshots_before(at, grid);
                if track.book.apply_book(book).is_ok() {
                    track.book_changed(at);
                } else {
                    track.book.reset();
                    track.book_changed(at);
                    self.skip("book refused by the order book (off tick or duplicate level)");
                }
            }
            MarketEvent::PriceChanges(batch) => {
                for change in &batch.changes {
                    let rank = rank_of(&change.token);
                    let track = self.track(&change.token, batch.market, None, rank, at)?;
                    track.snapshots_before(at, grid);
                    track.touch(at);
                    match track.book.apply_price_change(change, at) {
                        Ok(DeltaOutcome::NoSnapshot) => self.skip("price change before the token's first book"),
                        Ok(_) => track.book_changed(at),
                        Err(_) => {
                            track.book.reset();
                            track.book_changed(at);
                            self.skip("price change refused by the order book (off tick)");
                        }
                    }
                }
            }
            MarketEvent::LastTrade(trade) => {
                let rank = rank_of(&trade.token);
                let track = self.track(&trade.token, trade.market, None, rank, at)?;
                track.snapshots_before(at, grid);
                track.features.on_trade(trade);
                track.touch(at);
            }
            MarketEvent::TickSizeChange(change) => {
                if let Some(track) = self.tracks.get_mut(&change.token) {
                    track.snapshots_before(at, grid);
                    track.book.set_tick_size(change.new);
                    track.book_changed(at);
                }
            }
            MarketEvent::BestBidAsk(_) | MarketEvent::NewMarket(_) | MarketEvent::MarketResolved(_) => {}
        }
        Ok(())
    }

    /// The track of `token`, created at its first event.
    fn track(
        &mut self,
        token: &TokenId,
        market: ConditionId,
        end: Option<TimestampMs>,
        rank: (usize, u64),
        at: TimestampMs,
    ) -> Result<&mut Track, DatasetError> {
        if !self.tracks.contains_key(token) {
            let features = FeatureState::new(self.spec.features, token.clone(), end)?;
            self.tracks.insert(
                token.clone(),
                Track {
                    market,
                    token: token.clone(),
                    end,
                    book: OrderBook::new(token.clone(), TickSize::Hundredth),
                    features,
                    next_grid: self.spec.grid.first_at_or_after(at),
                    snapshots: Vec::new(),
                    not_ready: 0,
                    mids: Vec::new(),
                    first_event: at,
                    last_event: at,
                    rank,
                },
            );
        }
        Ok(self.tracks.get_mut(token).expect("inserted above"))
    }

    fn finish(mut self, sources: Vec<SourceSummary>, fingerprint: String) -> Result<Dataset, DatasetError> {
        let grid = self.spec.grid;
        let mut samples = Vec::new();
        let mut markets = Vec::new();
        let (mut no_change, mut censored, mut not_ready) = (0, 0, 0);
        for mut track in std::mem::take(&mut self.done) {
            // Grid times up to the last event: all of their events are in.
            track.snapshots_before(track.last_event.plus_millis(1), grid);
            let labeller = Labeller::new(&track.mids, track.last_event, self.spec.labels)?;
            let mut counts = LabelCounts::default();
            let before = samples.len();
            for (t, features) in &track.snapshots {
                let outcome = labeller.label_at(*t);
                counts.add(outcome);
                match outcome {
                    LabelOutcome::Labelled(label) => samples.push(Sample {
                        market: track.market,
                        token: track.token.clone(),
                        t: *t,
                        features: *features,
                        label,
                    }),
                    LabelOutcome::NoChange => no_change += 1,
                    LabelOutcome::Censored => censored += 1,
                    LabelOutcome::NoMid => not_ready += 1,
                }
            }
            not_ready += track.not_ready;
            markets.push(MarketSummary {
                market: track.market,
                token: track.token.clone(),
                end: track.end,
                first_event: track.first_event,
                last_event: track.last_event,
                samples: (samples.len() - before) as u64,
                labels: counts,
                not_ready: track.not_ready,
            });
        }
        samples.sort_by(|a, b| (a.t, a.market, &a.token).cmp(&(b.t, b.market, &b.token)));
        markets.sort_by_key(|m| (m.first_event, m.market));
        let up = samples.iter().filter(|s| s.label.is_up()).count() as u64;
        let summary = DatasetSummary {
            spec: self.spec,
            sources,
            samples: samples.len() as u64,
            up,
            down: samples.len() as u64 - up,
            dropped_no_change: no_change,
            dropped_censored: censored,
            dropped_not_ready: not_ready,
            skipped: self.skipped,
            markets,
            first_t: samples.first().map(|s| s.t),
            last_t: samples.last().map(|s| s.t),
            fingerprint,
        };
        Ok(Dataset { samples, summary })
    }
}

#[cfg(test)]
mod tests;
