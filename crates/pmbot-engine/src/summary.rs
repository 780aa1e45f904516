//! The daily summary: what one UTC day of the journal adds up to, as
//! Markdown beside the journal and as a short text for a chat message.
//!
//! Invariants:
//! - **Only the journal.** Every figure is read from the journal's rows; the
//!   one outside input is `now_ms`, which says whether the day is over and how
//!   much of it has elapsed. The same journal and `now_ms` give the same
//!   summary, byte for byte.
//! - **One day rule** ([`compute`]): an event counts on the UTC day
//!   `[00:00, 24:00)` its time falls in. A trade counts on the day it
//!   *closed* (as the performance report dates it); fills, their fees,
//!   orders, refusals, marks and notes on the day they happened. So the fees
//!   paid on a day's fills ([`DailySummary::fees`]) and the fees inside the
//!   P&L of the trades closed that day ([`DailySummary::trade_fees`]) differ
//!   when a position spans midnight or is still open.
//! - **Money is exact** ([`Usdc`] sums of integer micros); only shares
//!   (win rate, uptime) are `f64`.
//! - **No settings, no secrets.** A run is named by its id, mode and data
//!   source; its stored config JSON is never read into the summary.
//! - **No half-written file.** [`write_beside`] writes a temporary file and
//!   renames it into place.

mod render;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate};
use pmbot_core::{TimestampMs, Usdc};

use crate::journal::{DataSource, Journal, JournalError, Run, RunMode};
use crate::performance::{self, Proportion};

/// Milliseconds in a UTC day (UTC has no daylight saving).
pub const DAY_MS: i64 = 86_400_000;

/// Note kinds the summary reads. The engine journals a market-data reconnect
/// once its books are resynced; every alert is a note of kind `alert` whose
/// detail carries `{"kind", "severity", "title"}` (older gateway alerts carry
/// only `{"run", "alert": "<Debug text>"}`).
pub const RECONNECT_NOTE: &str = crate::gate::RECONNECT;
pub const ALERT_NOTE: &str = "alert";
/// The alert kind given to `alert` notes that name none (the gateway's, before alerts had kinds).
pub const UNNAMED_ALERT_KIND: &str = "gateway";
/// The alert kind of a user-channel reconnect, and how the gateway's
/// older notes spell it.
pub const USER_CHANNEL_RECONNECT_KIND: &str = "user_channel_reconnected";
const USER_CHANNEL_RECONNECT_DEBUG: &str = "UserChannelReconnected";

/// The figures of one UTC day.
#[derive(Debug, Clone, PartialEq)]
pub struct DailySummary {
    pub date: NaiveDate,
    /// The day was over when the summary was computed; otherwise it covers
    /// the day so far (until [`DailySummary::until`]).
    pub complete: bool,
    /// The end of the period covered: the day's end, or `now_ms` for today.
    pub until: TimestampMs,
    /// The runs that were up at some time in the day, oldest first.
    pub runs: Vec<RunOnDay>,
    /// Trades closed in the day.
    pub trades: u64,
    /// Of them, those with P&L > 0 after fees.
    pub wins: u64,
    /// wins / trades with its 95% Wilson interval; `None` without trades.
    pub win_rate: Option<Proportion>,
    /// The P&L of the trades closed in the day, after every fee.
    pub pnl_after_fees: Usdc,
    /// The fees inside `pnl_after_fees`.
    pub trade_fees: Usdc,
    /// Fees paid on the day's fills, in pUSD (fills journaled before fees
    /// were pUSD on both sides count their fee shares at their fill price,
    /// rounded up: see `Journal::fills`).
    pub fees: Usdc,
    /// Fills received in the day.
    pub fills: u64,
    pub orders: OrderCounts,
    /// The account at the day's marks; `None` when the day has no mark.
    pub exposure: Option<Exposure>,
    /// Decisions the risk gate refused in the day, by refusal code (the
    /// `decisions` rows; intents the gateway refused before sending, in the
    /// `refusals` table, are not among them).
    pub refusals_by_reason: BTreeMap<String, u64>,
    pub uptime: Uptime,
    pub reconnects: Reconnects,
    /// Alert notes in the day, by alert kind.
    pub alerts: BTreeMap<String, u64>,
}

impl DailySummary {
    /// Every refusal in the day.
    pub fn refusals(&self) -> u64 {
        self.refusals_by_reason.values().sum()
    }

    /// Every alert in the day.
    pub fn alert_count(&self) -> u64 {
        self.alerts.values().sum()
    }

    /// The day's first millisecond.
    pub fn day_start(&self) -> TimestampMs {
        day_start(self.date)
    }

    /// Whether every run in the day traded on live market data.
    pub fn all_live_data(&self) -> bool {
        self.runs.iter().all(|r| r.data_source == DataSource::LiveData)
    }
}

/// A run that was up in the day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOnDay {
    pub id: i64,
    pub mode: RunMode,
    pub data_source: DataSource,
    pub started: TimestampMs,
    pub end: RunEnd,
    /// Its time up within the day (clipped to the day and to `now`).
    pub in_day_ms: i64,
}

/// How a run's time up ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// The run recorded its end.
    Ended { at: TimestampMs, reason: String },
    /// No end recorded: still running, or stopped without one (a crash). Its
    /// time up is taken to end at its last decision or mark (no later than
    /// the next run's start or `now`), which for a running engine is
    /// moments ago and for a crashed one is when it last did something.
    Open { last_row: TimestampMs },
}

impl RunEnd {
    /// When the run's time up ends.
    pub fn at(&self) -> TimestampMs {
        match self {
            RunEnd::Ended { at, .. } => *at,
            RunEnd::Open { last_row } => *last_row,
        }
    }
}

/// Orders in the day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderCounts {
    /// Orders written to the journal (before sending) in the day.
    pub placed: u64,
    /// Orders with at least one fill in the day.
    pub filled: u64,
    /// Orders that turned rejected in the day.
    pub rejected: u64,
}

/// The open positions, marked to the best bid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exposure {
    /// The day's last mark.
    pub at: TimestampMs,
    pub open_positions: u32,
    /// Their value at that mark.
    pub value: Usdc,
    /// The largest value at any mark of the day.
    pub max_value: Usdc,
    /// The most positions open at any mark of the day.
    pub max_open_positions: u32,
}

/// The time covered by runs within the period (the day, or the elapsed
/// part of today). Overlapping runs count once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uptime {
    pub covered_ms: i64,
    /// The day's length, or the elapsed part of today.
    pub period_ms: i64,
}

impl Uptime {
    /// `covered / period`, in [0, 1]; `None` for an empty period.
    pub fn share(&self) -> Option<f64> {
        (self.period_ms > 0).then(|| self.covered_ms as f64 / self.period_ms as f64)
    }
}

/// Reconnects in the day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconnects {
    /// Market-data streams reconnected and resynced (`market_data_reconnect` notes).
    pub market_data: u64,
    /// The gateway's user channel reconnected (its `alert` notes).
    pub user_channel: u64,
}

/// Why no summary could be computed or written.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    /// The journal could not be read (the error names its path).
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A sum beyond what `Usdc` holds.
    #[error("journal {}: {what} is out of range", path.display())]
    OutOfRange { path: PathBuf, what: String },
    /// The date is after today (UTC): nothing of it has happened.
    #[error("{date} has not begun yet (now is {now})")]
    NotBegun { date: NaiveDate, now: String },
    /// The disk (or quota) is full.
    #[error("cannot write {}: the disk is full", path.display())]
    DiskFull { path: PathBuf },
    /// The file could not be written (unwritable or missing folder, ...).
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// The day's first millisecond (UTC).
pub fn day_start(date: NaiveDate) -> TimestampMs {
    TimestampMs::from_millis(date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_millis())
}

/// The UTC date of a unix-millisecond time; `None` outside the calendar.
pub fn utc_date(ms: i64) -> Option<NaiveDate> {
    DateTime::from_timestamp_millis(ms).map(|t| t.date_naive())
}

/// The summary of the UTC day `date`, as of `now_ms` (unix ms). See the
/// module docs for which day an event counts on.
pub fn compute(journal: &Journal, date: NaiveDate, now_ms: i64) -> Result<DailySummary, SummaryError> {
    let path = journal.path();
    let out_of_range = |what: &str| SummaryError::OutOfRange { path: path.to_path_buf(), what: what.into() };
    let start = day_start(date).millis();
    let end = start + DAY_MS;
    if now_ms < start {
        let now = DateTime::from_timestamp_millis(now_ms)
            .map_or_else(|| format!("unix ms {now_ms}"), |t| t.format("%Y-%m-%d %H:%M UTC").to_string());
        return Err(SummaryError::NotBegun { date, now });
    }
    let until = now_ms.min(end);
    let in_day = |t: TimestampMs| (start..end).contains(&t.millis());

    // Trades, by the day they closed; counted as the performance report counts them.
    let closed: Vec<_> = journal.trades()?.into_iter().filter(|t| in_day(t.closed)).collect();
    let totals = performance::trade_totals(&closed).map_err(out_of_range)?;

    // Fills and their fees, by the day they arrived.
    let (mut fees, mut fills) = (Usdc::ZERO, 0u64);
    let mut filled_orders = BTreeSet::new();
    for fill in journal.fills()?.into_iter().filter(|f| in_day(f.time.received)) {
        fills += 1;
        fees = fees.checked_add(fill.fee).ok_or_else(|| out_of_range("the fees paid"))?;
        filled_orders.insert(fill.order_id);
    }
    let orders = OrderCounts {
        placed: count(journal, "SELECT count(*) FROM orders WHERE created_ms >= ?1 AND created_ms < ?2", start, end)?,
        filled: filled_orders.len() as u64,
        rejected: count(
            journal,
            "SELECT count(DISTINCT client_order_id) FROM order_events
             WHERE status = 'rejected' AND at_ms >= ?1 AND at_ms < ?2",
            start,
            end,
        )?,
    };

    // Queried by time rather than read whole: decisions and marks are the
    // journal's largest tables.
    let refusals_by_reason: BTreeMap<String, u64> = journal
        .select(
            "SELECT reason, count(*) FROM decisions WHERE action = 'refused' AND at_ms >= ?1 AND at_ms < ?2
             GROUP BY reason ORDER BY reason",
            [start, end],
            |path, r| Ok((get::<String>(path, r, 0)?, get::<i64>(path, r, 1)? as u64)),
        )?
        .into_iter()
        .collect();
    let exposure = exposure(journal, start, end)?;

    let runs = runs_on_day(journal, start, until)?;
    let uptime = Uptime { covered_ms: covered(&runs, start, until), period_ms: until - start };

    let day_notes = |kind: &str| -> Result<Vec<_>, JournalError> {
        Ok(journal.notes(kind)?.into_iter().filter(|n| in_day(n.at)).collect())
    };
    let mut reconnects = Reconnects { market_data: day_notes(RECONNECT_NOTE)?.len() as u64, user_channel: 0 };
    let mut alerts = BTreeMap::new();
    for note in day_notes(ALERT_NOTE)? {
        let kind = alert_kind(&note.detail);
        if kind == USER_CHANNEL_RECONNECT_KIND {
            reconnects.user_channel += 1;
        }
        *alerts.entry(kind).or_insert(0) += 1;
    }

    Ok(DailySummary {
        date,
        complete: now_ms >= end,
        until: TimestampMs::from_millis(until),
        runs,
        trades: totals.trades,
        wins: totals.wins,
        win_rate: totals.win_rate,
        pnl_after_fees: totals.pnl,
        trade_fees: totals.fees,
        fees,
        fills,
        orders,
        exposure,
        refusals_by_reason,
        uptime,
        reconnects,
        alerts,
    })
}

/// An alert note's kind: `detail.kind`; for the gateway's older notes,
/// `user_channel_reconnected` when their text names it, else `gateway`.
fn alert_kind(detail: &serde_json::Value) -> String {
    if let Some(kind) = detail.get("kind").and_then(serde_json::Value::as_str).filter(|k| !k.is_empty()) {
        return kind.to_owned();
    }
    let old_text = detail.get("alert").and_then(serde_json::Value::as_str).unwrap_or("");
    if old_text.starts_with(USER_CHANNEL_RECONNECT_DEBUG) {
        USER_CHANNEL_RECONNECT_KIND.to_owned()
    } else {
        UNNAMED_ALERT_KIND.to_owned()
    }
}

fn get<T: rusqlite::types::FromSql>(path: &Path, r: &rusqlite::Row<'_>, i: usize) -> Result<T, JournalError> {
    r.get(i).map_err(|e| JournalError::Corrupt { path: path.to_path_buf(), reason: format!("column {i}: {e}") })
}

/// A `count(*)` query over `[start, end)`.
fn count(journal: &Journal, sql: &str, start: i64, end: i64) -> Result<u64, JournalError> {
    let n = journal.select(sql, [start, end], |path, r| get::<i64>(path, r, 0))?;
    Ok(n.first().copied().unwrap_or(0).max(0) as u64)
}

/// The day's marks (in time order) as exposure; `None` without one.
fn exposure(journal: &Journal, start: i64, end: i64) -> Result<Option<Exposure>, JournalError> {
    let marks = journal.select(
        "SELECT at_ms, positions_micros, open_positions FROM marks WHERE at_ms >= ?1 AND at_ms < ?2
         ORDER BY at_ms, id",
        [start, end],
        |path, r| Ok((get::<i64>(path, r, 0)?, get::<i64>(path, r, 1)?, get::<u32>(path, r, 2)?)),
    )?;
    let Some(&(at, value, open)) = marks.last() else { return Ok(None) };
    Ok(Some(Exposure {
        at: TimestampMs::from_millis(at),
        open_positions: open,
        value: Usdc::from_micros(value),
        max_value: Usdc::from_micros(marks.iter().map(|m| m.1).max().unwrap_or(0)),
        max_open_positions: marks.iter().map(|m| m.2).max().unwrap_or(0),
    }))
}

/// The runs up at some time in `[start, until)` (or started in it), with
/// their time up clipped to it.
fn runs_on_day(journal: &Journal, start: i64, until: i64) -> Result<Vec<RunOnDay>, JournalError> {
    let runs: Vec<Run> = journal.runs()?;
    let mut out = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let started = run.start.started.millis();
        if started >= until {
            continue;
        }
        let end = match &run.end {
            Some((at, reason)) => RunEnd::Ended { at: *at, reason: reason.clone() },
            None => {
                let last = last_row(journal, run.id)?.unwrap_or(started).max(started);
                // With one writer per journal, a later run began after this one stopped.
                let next = runs.get(i + 1).map_or(i64::MAX, |r| r.start.started.millis().max(started));
                RunEnd::Open { last_row: TimestampMs::from_millis(last.min(next)) }
            }
        };
        let up_to = end.at().millis();
        // Started in the day, or up over part of it.
        if started < start && up_to <= start {
            continue;
        }
        let in_day_ms = (up_to.min(until) - started.max(start)).max(0);
        out.push(RunOnDay {
            id: run.id,
            mode: run.start.mode,
            data_source: run.start.data_source,
            started: run.start.started,
            end,
            in_day_ms,
        });
    }
    Ok(out)
}

/// The time of a run's last decision or mark.
fn last_row(journal: &Journal, run: i64) -> Result<Option<i64>, JournalError> {
    let last = journal.select(
        "SELECT max(m) FROM (SELECT max(at_ms) AS m FROM decisions WHERE run_id = ?1
                             UNION ALL SELECT max(at_ms) FROM marks WHERE run_id = ?1)",
        [run],
        |path, r| get::<Option<i64>>(path, r, 0),
    )?;
    Ok(last.into_iter().flatten().next())
}

/// The union of the runs' time up within `[start, until)`.
fn covered(runs: &[RunOnDay], start: i64, until: i64) -> i64 {
    let mut spans: Vec<(i64, i64)> = runs
        .iter()
        .map(|r| (r.started.millis().max(start), r.end.at().millis().min(until)))
        .filter(|(a, b)| b > a)
        .collect();
    spans.sort_unstable();
    let mut total = 0;
    let mut current: Option<(i64, i64)> = None;
    for (a, b) in spans {
        current = match current {
            Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                total += cb - ca;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    total + current.map_or(0, |(a, b)| b - a)
}

/// `pmbot-summary-YYYY-MM-DD.md`.
pub fn file_name(date: NaiveDate) -> String {
    format!("pmbot-summary-{}.md", date.format("%Y-%m-%d"))
}

/// Writes the summary's Markdown beside the journal, as
/// `<journal dir>/pmbot-summary-YYYY-MM-DD.md` (replacing an earlier one
/// for that day whole); returns its path.
pub fn write_beside(journal_path: &Path, s: &DailySummary) -> Result<PathBuf, SummaryError> {
    let dir = match journal_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let path = dir.join(file_name(s.date));
    write_to(&path, s)?;
    Ok(path)
}

/// Writes the summary's Markdown to `path` atomically (temporary file, then rename).
pub fn write_to(path: &Path, s: &DailySummary) -> Result<(), SummaryError> {
    pmbot_report::files::write_atomic(path, s.markdown().as_bytes()).map_err(|e| {
        if e.source.kind() == io::ErrorKind::StorageFull {
            SummaryError::DiskFull { path: e.path }
        } else {
            SummaryError::Write { path: e.path, source: e.source }
        }
    })
}
