//! The recorded data format: `markets.jsonl` (one market per line) and
//! `books.jsonl.gz` (one book snapshot per line, sorted by `ts`), read
//! lazily. A malformed row is skipped and reported as a [`RowError`]; it
//! never stops the replay.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use pmbot_core::{ConditionId, Price, Size};
use serde::Deserialize;

/// Where a row came from and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file} line {line}: {problem}")]
pub struct RowError {
    pub file: &'static str,
    pub line: u64,
    pub problem: RowProblem,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RowProblem {
    #[error("not a valid row: {0}")]
    Json(String),
    #[error("bad {field}: {value}")]
    BadValue { field: &'static str, value: String },
    #[error("side {0:?} is neither UP nor DOWN")]
    BadSide(String),
    #[error("{0} levels are not strictly ordered best first")]
    Unsorted(&'static str),
    #[error("timestamp {ts} is before the previous row's {previous}")]
    OutOfOrder { ts: i64, previous: i64 },
    #[error("market {0} is not in markets.jsonl")]
    UnknownMarket(ConditionId),
    #[error("market {0} appears twice")]
    DuplicateMarket(ConditionId),
    #[error("file unreadable from here on: {0}")]
    Unreadable(String),
}

pub const MARKETS_FILE: &str = "markets.jsonl";
pub const BOOKS_FILE: &str = "books.jsonl.gz";

/// A market row as recorded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MarketRow {
    pub market_id: ConditionId,
    pub slug: String,
    pub question: String,
    pub category: String,
    pub start_ts: i64,
    pub end_ts: i64,
    pub outcomes: [String; 2],
    /// Index of the winning outcome (0 = up), if the recording has one.
    pub winner: Option<usize>,
}

#[derive(Deserialize)]
struct RawMarket {
    market_id: String,
    slug: String,
    question: String,
    #[serde(default)]
    category: Option<String>,
    start_ts: i64,
    end_ts: i64,
    #[serde(default)]
    outcome_up: Option<String>,
    #[serde(default)]
    outcome_down: Option<String>,
    #[serde(default)]
    payout_up: Option<f64>,
    #[serde(default)]
    payout_down: Option<f64>,
}

fn parse_market(line: &str) -> Result<MarketRow, RowProblem> {
    let raw: RawMarket = serde_json::from_str(line).map_err(|e| RowProblem::Json(e.to_string()))?;
    let market_id = ConditionId::parse(&raw.market_id)
        .map_err(|_| RowProblem::BadValue { field: "market_id", value: raw.market_id.clone() })?;
    if raw.end_ts <= raw.start_ts {
        return Err(RowProblem::BadValue {
            field: "end_ts",
            value: format!("{} <= start_ts {}", raw.end_ts, raw.start_ts),
        });
    }
    let winner = match (raw.payout_up, raw.payout_down) {
        (None, None) => None,
        (Some(u), Some(d)) if u == 1.0 && d == 0.0 => Some(0),
        (Some(u), Some(d)) if u == 0.0 && d == 1.0 => Some(1),
        (u, d) => {
            return Err(RowProblem::BadValue { field: "payout", value: format!("up {u:?}, down {d:?}") });
        }
    };
    Ok(MarketRow {
        market_id,
        slug: raw.slug,
        question: raw.question,
        category: raw.category.unwrap_or_else(|| "crypto".to_owned()),
        start_ts: raw.start_ts,
        end_ts: raw.end_ts,
        outcomes: [
            raw.outcome_up.unwrap_or_else(|| "Up".to_owned()),
            raw.outcome_down.unwrap_or_else(|| "Down".to_owned()),
        ],
        winner,
    })
}

/// Reads every market row; malformed and duplicate rows are returned as errors.
pub(crate) fn read_markets(path: &Path) -> std::io::Result<(Vec<MarketRow>, Vec<RowError>)> {
    let reader = BufReader::new(File::open(path)?);
    let mut rows: Vec<MarketRow> = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for (i, bytes) in reader.split(b'\n').enumerate() {
        let bytes = bytes?;
        let number = i as u64 + 1;
        let parsed = match std::str::from_utf8(&bytes) {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => parse_market(line),
            Err(_) => Err(RowProblem::Json("not UTF-8 text".to_owned())),
        };
        match parsed {
            Ok(row) if !seen.insert(row.market_id) => errors.push(RowError {
                file: MARKETS_FILE,
                line: number,
                problem: RowProblem::DuplicateMarket(row.market_id),
            }),
            Ok(row) => rows.push(row),
            Err(problem) => errors.push(RowError { file: MARKETS_FILE, line: number, problem }),
        }
    }
    Ok((rows, errors))
}

/// Which outcome's book a snapshot shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BookSide {
    Up,
    Down,
}

/// One side's book at one instant, validated: prices in (0, 1) to 0.0001,
/// sizes to a micro-share, zero-size levels dropped, best level first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Snapshot {
    pub market: ConditionId,
    pub ts: i64,
    pub side: BookSide,
    pub bids: Vec<(Price, Size)>,
    pub asks: Vec<(Price, Size)>,
}

impl Snapshot {
    pub fn is_crossed(&self) -> bool {
        matches!((self.bids.first(), self.asks.first()), (Some(b), Some(a)) if b.0 >= a.0)
    }

    /// Whether `down` is this (up) book seen from the other token: its bids
    /// are our asks at `1 - p` and its asks our bids, level for level.
    pub fn mirrors(&self, down: &Snapshot) -> bool {
        let flip = |levels: &[(Price, Size)]| levels.iter().map(|(p, s)| (p.complement(), *s)).collect::<Vec<_>>();
        flip(&down.bids) == self.asks && flip(&down.asks) == self.bids
    }
}

#[derive(Deserialize)]
struct RawSnapshot {
    market_id: String,
    ts: i64,
    side: String,
    bids: Vec<(f64, f64)>,
    asks: Vec<(f64, f64)>,
}

fn price_of(v: f64) -> Option<Price> {
    let pips = v * 10_000.0;
    let rounded = pips.round();
    if (pips - rounded).abs() < 1e-6 && rounded > 0.0 && rounded < 10_000.0 {
        Price::from_pips(rounded as u16)
    } else {
        None
    }
}

fn size_of(v: f64) -> Option<Size> {
    let micros = (v * 1e6).round();
    (v.is_finite() && (0.0..1e18).contains(&micros)).then(|| Size::from_micros(micros as u64))
}

fn levels(raw: &[(f64, f64)], which: &'static str, descending: bool) -> Result<Vec<(Price, Size)>, RowProblem> {
    let mut out: Vec<(Price, Size)> = Vec::with_capacity(raw.len());
    for &(p, s) in raw {
        let price = price_of(p).ok_or_else(|| RowProblem::BadValue { field: "price", value: p.to_string() })?;
        let size = size_of(s).ok_or_else(|| RowProblem::BadValue { field: "size", value: s.to_string() })?;
        if let Some(&(last, _)) = out.last() {
            let ordered = if descending { price < last } else { price > last };
            if !ordered {
                return Err(RowProblem::Unsorted(which));
            }
        }
        out.push((price, size));
    }
    out.retain(|(_, s)| !s.is_zero());
    Ok(out)
}

pub(crate) fn parse_snapshot(line: &str) -> Result<Snapshot, RowProblem> {
    let raw: RawSnapshot = serde_json::from_str(line).map_err(|e| RowProblem::Json(e.to_string()))?;
    let market = ConditionId::parse(&raw.market_id)
        .map_err(|_| RowProblem::BadValue { field: "market_id", value: raw.market_id.clone() })?;
    let side = match raw.side.as_str() {
        "UP" => BookSide::Up,
        "DOWN" => BookSide::Down,
        _ => return Err(RowProblem::BadSide(raw.side)),
    };
    Ok(Snapshot {
        market,
        ts: raw.ts,
        side,
        bids: levels(&raw.bids, "bid", true)?,
        asks: levels(&raw.asks, "ask", false)?,
    })
}

/// The books file as a lazy stream of valid snapshots of the selected
/// markets, in time order, with one snapshot of look-ahead.
pub(crate) struct SnapshotStream {
    lines: Option<std::io::Split<BufReader<MultiGzDecoder<File>>>>,
    line: u64,
    last_ts: Option<i64>,
    peeked: Option<Snapshot>,
}

/// Whether the replay wants a market's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selection {
    Selected,
    /// In the recording but left out by the market filter.
    Unselected,
    /// Not in `markets.jsonl`: the row is malformed.
    Unknown,
}

/// What the stream skipped, for the caller's counters.
pub(crate) enum Skipped {
    Malformed(RowError),
    /// A row of a market the replay does not select (not an error).
    Unselected,
}

impl SnapshotStream {
    pub fn open(path: &Path) -> std::io::Result<SnapshotStream> {
        let file = File::open(path)?;
        Ok(SnapshotStream {
            lines: Some(BufReader::new(MultiGzDecoder::new(file)).split(b'\n')),
            line: 0,
            last_ts: None,
            peeked: None,
        })
    }

    /// The next snapshot without consuming it.
    pub fn peek(
        &mut self,
        selected: &dyn Fn(&ConditionId) -> Selection,
        skipped: &mut dyn FnMut(Skipped),
    ) -> Option<&Snapshot> {
        if self.peeked.is_none() {
            self.peeked = self.read(selected, skipped);
        }
        self.peeked.as_ref()
    }

    pub fn take(&mut self) -> Option<Snapshot> {
        self.peeked.take()
    }

    fn read(
        &mut self,
        selected: &dyn Fn(&ConditionId) -> Selection,
        skipped: &mut dyn FnMut(Skipped),
    ) -> Option<Snapshot> {
        loop {
            let lines = self.lines.as_mut()?;
            let text = match lines.next() {
                None => {
                    self.lines = None;
                    return None;
                }
                Some(Err(e)) => {
                    // A damaged gzip stream cannot be resynchronised: stop here.
                    self.line += 1;
                    self.lines = None;
                    skipped(Skipped::Malformed(RowError {
                        file: BOOKS_FILE,
                        line: self.line,
                        problem: RowProblem::Unreadable(e.to_string()),
                    }));
                    return None;
                }
                Some(Ok(bytes)) => bytes,
            };
            self.line += 1;
            let error = |problem| Skipped::Malformed(RowError { file: BOOKS_FILE, line: self.line, problem });
            let parsed = match std::str::from_utf8(&text) {
                Ok(line) if line.trim().is_empty() => continue,
                Ok(line) => parse_snapshot(line),
                Err(_) => Err(RowProblem::Json("not UTF-8 text".to_owned())),
            };
            let snapshot = match parsed {
                Ok(s) => s,
                Err(problem) => {
                    skipped(error(problem));
                    continue;
                }
            };
            match selected(&snapshot.market) {
                Selection::Selected => {}
                Selection::Unselected => {
                    skipped(Skipped::Unselected);
                    continue;
                }
                Selection::Unknown => {
                    skipped(error(RowProblem::UnknownMarket(snapshot.market)));
                    continue;
                }
            }
            if let Some(previous) = self.last_ts
                && snapshot.ts < previous
            {
                skipped(error(RowProblem::OutOfOrder { ts: snapshot.ts, previous }));
                continue;
            }
            self.last_ts = Some(snapshot.ts);
            return Some(snapshot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = r#"{"market_id":"0xfb85ca82aa27f2ae7ea27513c8e341f029168fb664e78f8d82ab585af9af1028","ts":1790585112649,"side":"UP","bids":[[0.49,514.99],[0.48,1.9300000000000002]],"asks":[[0.5,205.0],[0.959,0.0]]}"#;

    #[test]
    fn snapshots_parse_exactly() {
        let s = parse_snapshot(ROW).unwrap();
        assert_eq!(s.side, BookSide::Up);
        assert_eq!(s.ts, 1_790_585_112_649);
        assert_eq!(s.bids[1], (Price::parse("0.48").unwrap(), Size::parse("1.93").unwrap()));
        // The zero-size level is dropped.
        assert_eq!(s.asks, [(Price::parse("0.5").unwrap(), Size::from_shares(205))]);
        assert!(!s.is_crossed());
    }

    #[test]
    fn bad_rows_say_what_is_wrong() {
        let cases = [
            (ROW.replace("\"UP\"", "\"SIDEWAYS\""), "neither UP nor DOWN"),
            (ROW.replace("0.49,514.99", "1.5,514.99"), "bad price"),
            (ROW.replace("0.49,514.99", "0.00001,514.99"), "bad price"),
            (ROW.replace("0.49,514.99", "0.49,-3"), "bad size"),
            (ROW.replace("[0.48,", "[0.495,"), "bid levels are not strictly ordered"),
            (ROW.replace("0xfb85", "0xzz85"), "bad market_id"),
            (ROW.replace("\"ts\":", "\"time\":"), "not a valid row"),
            ("{".to_owned(), "not a valid row"),
        ];
        for (line, want) in cases {
            let got = parse_snapshot(&line).unwrap_err().to_string();
            assert!(got.contains(want), "{got:?} should contain {want:?}");
        }
    }

    #[test]
    fn market_rows_need_a_clear_winner() {
        let row = r#"{"market_id":"0xfb85ca82aa27f2ae7ea27513c8e341f029168fb664e78f8d82ab585af9af1028","slug":"btc-updown-15m-1790586000","question":"Q","category":"crypto","timeframe":"15m","start_ts":1790586000000,"end_ts":1790586900000,"outcome_up":"Up","outcome_down":"Down","payout_up":0.0,"payout_down":1.0}"#;
        let m = parse_market(row).unwrap();
        assert_eq!((m.winner, m.end_ts - m.start_ts), (Some(1), 900_000));
        let both = row.replace("\"payout_up\":0.0", "\"payout_up\":1.0");
        assert!(matches!(parse_market(&both), Err(RowProblem::BadValue { field: "payout", .. })));
        let backwards = row.replace("\"end_ts\":1790586900000", "\"end_ts\":1790585000000");
        assert!(matches!(parse_market(&backwards), Err(RowProblem::BadValue { field: "end_ts", .. })));
    }

    #[test]
    fn mirror_check_compares_level_for_level() {
        let up = parse_snapshot(ROW).unwrap();
        let mut down = up.clone();
        down.side = BookSide::Down;
        down.bids = up.asks.iter().map(|(p, s)| (p.complement(), *s)).collect();
        down.asks = up.bids.iter().map(|(p, s)| (p.complement(), *s)).collect();
        assert!(up.mirrors(&down));
        down.asks[0].1 = Size::from_shares(1);
        assert!(!up.mirrors(&down));
    }
}
