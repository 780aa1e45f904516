//! The resolvedkit sample data (`../shared/data/resolvedkit-btc15m`) as
//! market-channel `book` frames.
//!
//! Invariant: one row of `books.jsonl.gz` gives one frame, in file order,
//! stamped with the row's `ts`, whose text is what the real feed sends for a
//! full snapshot: `{"event_type":"book","asset_id","market","timestamp",
//! "hash","bids","asks","tick_size"}` with prices and sizes as decimal
//! strings and both sides listed best *last* (as the exchange lists them).
//! The data has no token ids, so each outcome side gets a deterministic one
//! from [`synthetic_token_id`], the same the simulator's replay source uses,
//! so a recording, a replay and the simulator agree on ids.
//!
//! Not in the frames, because the data does not have them: `last_trade_price`
//! (there are no trades) and a server hash (see [`book_frame`]).

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use pmbot_core::{BookHashInput, ConditionId, Level, Price, RawLevel, Size, TickSize, TimestampMs, TokenId, book_hash};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{Frame, ReplayError};

/// Book snapshots, one JSON row per line, sorted by `ts`.
pub const BOOKS_FILE: &str = "books.jsonl.gz";
/// One market per line.
pub const MARKETS_FILE: &str = "markets.jsonl";

/// The outcome side of an up-or-down market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Up,
    Down,
}

impl Outcome {
    /// The data's spelling, which is also the token-id derivation's input.
    pub const fn label(self) -> &'static str {
        match self {
            Outcome::Up => "UP",
            Outcome::Down => "DOWN",
        }
    }

    fn parse(s: &str) -> Option<Outcome> {
        match s {
            "UP" => Some(Outcome::Up),
            "DOWN" => Some(Outcome::Down),
            _ => None,
        }
    }
}

/// The token id a replay gives `outcome` of `market`:
///
/// ```text
/// d = SHA-256( "pmbot-sim/replay/token"
///              || u64_be(32) || condition id (32 bytes)
///              || u64_be(len(label)) || label )      label = "UP" or "DOWN"
/// token id = decimal of the big-endian uint256 d with its top bit set
/// ```
///
/// The top bit gives 77 or 78 digits like real ids. This is byte for byte the
/// derivation of the simulator's replay source (`pmbot-sim` `model::ids`), so
/// both give a market's tokens the same ids.
pub fn synthetic_token_id(market: &ConditionId, outcome: Outcome) -> TokenId {
    let mut h = Sha256::new();
    h.update(b"pmbot-sim/replay/token");
    for part in [&market.0[..], outcome.label().as_bytes()] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    let mut digest: [u8; 32] = h.finalize().into();
    digest[0] |= 0x80;
    TokenId::parse(&u256_decimal(digest)).expect("a uint256 in decimal is a token id")
}

/// A big-endian uint256 in decimal (long division by 10^19 on 64-bit limbs).
fn u256_decimal(bytes: [u8; 32]) -> String {
    let mut limbs: [u64; 4] = std::array::from_fn(|i| u64::from_be_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap()));
    const CHUNK: u64 = 10_000_000_000_000_000_000;
    let mut chunks = Vec::with_capacity(4);
    while limbs.iter().any(|&l| l != 0) {
        let mut rem: u128 = 0;
        for limb in &mut limbs {
            let cur = (rem << 64) | u128::from(*limb);
            *limb = (cur / u128::from(CHUNK)) as u64;
            rem = cur % u128::from(CHUNK);
        }
        chunks.push(rem as u64);
    }
    let Some((most, rest)) = chunks.split_last() else { return "0".to_owned() };
    let mut out = most.to_string();
    for c in rest.iter().rev() {
        out.push_str(&format!("{c:019}"));
    }
    out
}

/// A market of the data set, with the token ids its frames carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedkitMarket {
    pub condition_id: ConditionId,
    pub slug: String,
    pub question: String,
    /// The market's window (unix ms).
    pub start_ms: TimestampMs,
    pub end_ms: TimestampMs,
    /// Outcome names, up first ("Up", "Down").
    pub outcomes: [String; 2],
    /// Token ids, up first, from [`synthetic_token_id`].
    pub tokens: [TokenId; 2],
    /// The side that won, if the data says.
    pub winner: Option<Outcome>,
}

impl ResolvedkitMarket {
    pub fn token(&self, outcome: Outcome) -> &TokenId {
        match outcome {
            Outcome::Up => &self.tokens[0],
            Outcome::Down => &self.tokens[1],
        }
    }
}

#[derive(Deserialize)]
struct MarketRow {
    market_id: ConditionId,
    slug: String,
    question: String,
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

#[derive(Deserialize)]
struct BookRow {
    market_id: ConditionId,
    ts: i64,
    side: String,
    bids: Vec<(f64, f64)>,
    asks: Vec<(f64, f64)>,
}

/// The `book` frames of a resolvedkit directory, row by row.
#[derive(Debug)]
pub struct ResolvedkitFrames {
    path: PathBuf,
    markets: Vec<ResolvedkitMarket>,
    lines: Option<BufReader<MultiGzDecoder<File>>>,
    buf: String,
    line: u64,
}

impl ResolvedkitFrames {
    /// Opens `dir/markets.jsonl` (read at once) and `dir/books.jsonl.gz`
    /// (read lazily).
    pub fn open(dir: impl AsRef<Path>) -> Result<ResolvedkitFrames, ReplayError> {
        let dir = dir.as_ref();
        let markets = read_markets(&dir.join(MARKETS_FILE))?;
        let path = dir.join(BOOKS_FILE);
        let file = File::open(&path).map_err(|source| ReplayError::Io { path: path.clone(), source })?;
        Ok(ResolvedkitFrames {
            path,
            markets,
            lines: Some(BufReader::with_capacity(64 * 1024, MultiGzDecoder::new(file))),
            buf: String::with_capacity(4096),
            line: 0,
        })
    }

    /// The markets of `markets.jsonl`, in file order.
    pub fn markets(&self) -> &[ResolvedkitMarket] {
        &self.markets
    }

    fn frame(&self, row: BookRow) -> Result<Frame, String> {
        let outcome = Outcome::parse(&row.side).ok_or_else(|| format!("side {:?} is neither UP nor DOWN", row.side))?;
        let bids = levels(&row.bids).map_err(|e| format!("bids: {e}"))?;
        let asks = levels(&row.asks).map_err(|e| format!("asks: {e}"))?;
        let token = match self.markets.iter().find(|m| m.condition_id == row.market_id) {
            Some(m) => m.token(outcome).clone(),
            None => synthetic_token_id(&row.market_id, outcome),
        };
        let at = TimestampMs(row.ts);
        Ok(Frame { received: at, text: book_frame(&row.market_id, &token, at, &bids, &asks) })
    }
}

impl Iterator for ResolvedkitFrames {
    type Item = Result<Frame, ReplayError>;

    fn next(&mut self) -> Option<Self::Item> {
        let lines = self.lines.as_mut()?;
        self.buf.clear();
        loop {
            match lines.read_line(&mut self.buf) {
                Ok(0) => {
                    self.lines = None;
                    return None;
                }
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    self.lines = None;
                    return Some(Err(ReplayError::Corrupt { path: self.path.clone(), frames: self.line, source }));
                }
            }
        }
        self.line += 1;
        let bad = |reason: String| ReplayError::BadLine { path: self.path.clone(), line: self.line, reason };
        let row: BookRow = match serde_json::from_str(self.buf.trim_end()) {
            Ok(row) => row,
            Err(e) => return Some(Err(bad(e.to_string()))),
        };
        Some(self.frame(row).map_err(bad))
    }
}

/// Levels from the data's `[price, size]` numbers. They are JSON floats, and
/// the published file has float noise in it (`5.5600000000000005` for 5.56),
/// so a value within a rounding error (1e-9, relative) of a whole pip or
/// micro-share is that pip or micro-share; anything further off is refused.
fn levels(rows: &[(f64, f64)]) -> Result<Vec<Level>, String> {
    rows.iter().map(|&(p, s)| Ok(Level::new(price_of(p)?, size_of(s)?))).collect()
}

fn price_of(v: f64) -> Result<Price, String> {
    let pips = v * 10_000.0;
    let whole = pips.round();
    let exact = v.is_finite() && (whole / 10_000.0 - v).abs() <= 1e-9;
    let price = (exact && (1.0..10_000.0).contains(&whole)).then(|| Price::from_pips(whole as u16)).flatten();
    price.ok_or_else(|| format!("price {v} is not a whole number of 0.0001 inside (0, 1)"))
}

fn size_of(v: f64) -> Result<Size, String> {
    let micros = (v * 1e6).round();
    let exact = v.is_finite() && (micros / 1e6 - v).abs() <= 1e-9 * v.abs().max(1.0);
    if exact && (0.0..1e18).contains(&micros) {
        Ok(Size::from_micros(micros as u64))
    } else {
        Err(format!("size {v} is not a whole number of 0.000001 shares"))
    }
}

/// A market-channel `book` frame for `token` of `market` at `at`, from levels
/// listed best first (bids high to low, asks low to high); the frame lists
/// them best last, as the exchange does. `tick_size` is the coarsest of 0.01,
/// 0.001 and 0.0001 that every price is on. `hash` follows the exchange's book
/// hash recipe over the fields this frame carries (`min_order_size` and
/// `neg_risk` absent): the exchange hashes fields WS frames do not carry, so a
/// real WS hash cannot be recomputed anyway, and this one at least checks out
/// with `pmbot_core::RawBookSummary::verify`.
pub fn book_frame(market: &ConditionId, token: &TokenId, at: TimestampMs, bids: &[Level], asks: &[Level]) -> String {
    let tick = [TickSize::Hundredth, TickSize::Thousandth]
        .into_iter()
        .find(|t| bids.iter().chain(asks).all(|l| l.price.is_on_tick(*t)))
        .unwrap_or(TickSize::TenThousandth);
    let text = |levels: &[Level]| -> Vec<(String, String)> {
        levels.iter().rev().map(|l| (l.price.to_string(), l.size.to_string())).collect()
    };
    let (bid_text, ask_text) = (text(bids), text(asks));
    let (raw_bids, raw_asks) = (raw_levels(&bid_text), raw_levels(&ask_text));
    let market = market.to_string();
    let timestamp = at.millis().to_string();
    let hash = book_hash(&BookHashInput {
        market: &market,
        asset_id: token.as_str(),
        timestamp: &timestamp,
        bids: &raw_bids,
        asks: &raw_asks,
        min_order_size: None,
        tick_size: Some(tick.as_str()),
        neg_risk: None,
        last_trade_price: None,
    });
    let mut out = String::with_capacity(200 + 40 * (bids.len() + asks.len()));
    out.push_str("{\"event_type\":\"book\",\"asset_id\":\"");
    out.push_str(token.as_str());
    out.push_str("\",\"market\":\"");
    out.push_str(&market);
    out.push_str("\",\"timestamp\":\"");
    out.push_str(&timestamp);
    out.push_str("\",\"hash\":\"");
    out.push_str(&hash);
    out.push_str("\",\"bids\":");
    push_levels(&mut out, &bid_text);
    out.push_str(",\"asks\":");
    push_levels(&mut out, &ask_text);
    out.push_str(",\"tick_size\":\"");
    out.push_str(tick.as_str());
    out.push_str("\"}");
    out
}

fn raw_levels(levels: &[(String, String)]) -> Vec<RawLevel<'_>> {
    levels.iter().map(|(p, s)| RawLevel::new(p, s)).collect()
}

/// Levels as JSON; every text is digits and a dot, so nothing needs escaping.
fn push_levels(out: &mut String, levels: &[(String, String)]) {
    out.push('[');
    for (i, (price, size)) in levels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"price\":\"");
        out.push_str(price);
        out.push_str("\",\"size\":\"");
        out.push_str(size);
        out.push_str("\"}");
    }
    out.push(']');
}

fn read_markets(path: &Path) -> Result<Vec<ResolvedkitMarket>, ReplayError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReplayError::Io { path: path.to_owned(), source })?;
    let mut markets = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |reason: String| ReplayError::BadLine { path: path.to_owned(), line: i as u64 + 1, reason };
        let row: MarketRow = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        let winner = match (row.payout_up, row.payout_down) {
            (Some(up), Some(down)) if up == 1.0 && down == 0.0 => Some(Outcome::Up),
            (Some(up), Some(down)) if up == 0.0 && down == 1.0 => Some(Outcome::Down),
            _ => None,
        };
        markets.push(ResolvedkitMarket {
            tokens: [
                synthetic_token_id(&row.market_id, Outcome::Up),
                synthetic_token_id(&row.market_id, Outcome::Down),
            ],
            condition_id: row.market_id,
            slug: row.slug,
            question: row.question,
            start_ms: TimestampMs(row.start_ts),
            end_ms: TimestampMs(row.end_ts),
            outcomes: [
                row.outcome_up.unwrap_or_else(|| "Up".into()),
                row.outcome_down.unwrap_or_else(|| "Down".into()),
            ],
            winner,
        });
    }
    Ok(markets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids_match_the_simulators() {
        // Read from `pmbot sim --replay ../shared/data/resolvedkit-btc15m` (GET /markets).
        let market = ConditionId::parse("0xfb85ca82aa27f2ae7ea27513c8e341f029168fb664e78f8d82ab585af9af1028").unwrap();
        assert_eq!(
            synthetic_token_id(&market, Outcome::Up).as_str(),
            "63536445502096927982500040255948240477464059278064870281312253804213617439453"
        );
        assert_eq!(
            synthetic_token_id(&market, Outcome::Down).as_str(),
            "105715757481942020163077696029943788950197177738404720503078597404247528137219"
        );
    }

    #[test]
    fn uint256_to_decimal() {
        assert_eq!(u256_decimal([0; 32]), "0");
        let mut one = [0; 32];
        one[31] = 1;
        assert_eq!(u256_decimal(one), "1");
        let mut b = [0; 32];
        b[23] = 1; // 2^64
        assert_eq!(u256_decimal(b), "18446744073709551616");
        assert_eq!(
            u256_decimal([0xff; 32]),
            "115792089237316195423570985008687907853269984665640564039457584007913129639935"
        );
        // 10^19 exactly: a chunk boundary, padded with zeros.
        let mut c = [0; 32];
        c[24..].copy_from_slice(&10_000_000_000_000_000_000u64.to_be_bytes());
        assert_eq!(u256_decimal(c), "10000000000000000000");
    }

    #[test]
    fn frames_list_levels_best_last_with_exact_text() {
        let market = ConditionId::parse(&format!("0x{}", "ab".repeat(32))).unwrap();
        let token = synthetic_token_id(&market, Outcome::Up);
        let bids = levels(&[(0.49, 514.99), (0.48, 445.0)]).unwrap();
        let asks = levels(&[(0.5, 205.0), (0.51, 1e-6)]).unwrap();
        let text = book_frame(&market, &token, TimestampMs(1_790_585_112_649), &bids, &asks);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["event_type"], "book");
        assert_eq!(v["timestamp"], "1790585112649");
        assert_eq!(v["bids"], serde_json::json!([{"price":"0.48","size":"445"},{"price":"0.49","size":"514.99"}]));
        assert_eq!(v["asks"], serde_json::json!([{"price":"0.51","size":"0.000001"},{"price":"0.5","size":"205"}]));
        assert_eq!(v["tick_size"], "0.01");
        let raw: pmbot_core::RawBookSummary<'_> = serde_json::from_str(&text).unwrap();
        assert_eq!(raw.verify(), Some(pmbot_core::HashCheck::Match));
        // A finer price gives a finer tick.
        let fine = levels(&[(0.485, 1.0)]).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&book_frame(&market, &token, TimestampMs(1), &fine, &[])).unwrap();
        assert_eq!(v["tick_size"], "0.001");
    }

    #[test]
    fn bad_numbers_are_refused() {
        assert!(levels(&[(1.5, 1.0)]).is_err());
        assert!(levels(&[(0.12345, 1.0)]).is_err());
        assert!(levels(&[(0.5, -1.0)]).is_err());
        assert!(levels(&[(0.5, 1e-7)]).is_err());
        assert!(levels(&[(0.0, 1.0)]).is_err());
        assert!(levels(&[(1.0, 1.0)]).is_err());
        // Float noise of the published file is read as the number meant.
        let l = levels(&[(0.959, 5.5600000000000005), (0.1 + 0.2, 1.5899999999999999)]).unwrap();
        assert_eq!((l[0].price.to_string(), l[0].size.to_string()), ("0.959".into(), "5.56".into()));
        assert_eq!((l[1].price.to_string(), l[1].size.to_string()), ("0.3".into(), "1.59".into()));
    }
}
