//! The performance report: `report.md`, `report.html` and PNG plots, from
//! the [`Performance`] of a journal.
//!
//! Invariants:
//! - **Every figure comes from the journal.** The text reads the
//!   [`Performance`] it is given; the one series it lacks (fees over time) is
//!   read from the same journal's trades, for the same runs, and ends at the
//!   struct's fee total.
//! - **Deterministic.** No wall clock, no random, no system font: the same
//!   journal gives the same bytes in every file.
//! - **One page, no request.** `report.html` carries its style and its plots
//!   (as `data:` URIs); it loads nothing from anywhere.
//! - **No half-written files.** Everything is rendered in memory first, then
//!   each file is written to a temporary name and renamed into place; plots
//!   first, `report.md` last, so a `report.md` that exists was written whole
//!   with the plots beside it.
//! - **Replays never pass for live.** The report names each run's data
//!   source and says that only live market data counts for the gate.

mod plots;
pub(crate) mod sections;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use pmbot_core::{TimestampMs, Usdc};
use pmbot_report::files::{WriteError, create_dir, write_atomic};
pub(crate) use pmbot_report::{document, html, markdown};

use crate::journal::{Journal, JournalError};
use crate::performance::{Performance, RunSummary};

/// File names written into the report directory.
pub const MARKDOWN_FILE: &str = "report.md";
pub const HTML_FILE: &str = "report.html";
pub const EQUITY_PLOT: &str = "equity.png";
pub const DRAWDOWN_PLOT: &str = "drawdown.png";
pub const PNL_HISTOGRAM_PLOT: &str = "pnl_histogram.png";
pub const FEES_PLOT: &str = "fees.png";
pub const DAILY_PNL_PLOT: &str = "daily_pnl.png";

/// The files a report consists of (each the report directory joined with
/// its file name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFiles {
    pub markdown: PathBuf,
    pub html: PathBuf,
    pub equity: PathBuf,
    pub drawdown: PathBuf,
    pub pnl_histogram: PathBuf,
    pub fees: PathBuf,
    pub daily_pnl: PathBuf,
}

impl ReportFiles {
    fn in_dir(dir: &Path) -> ReportFiles {
        ReportFiles {
            markdown: dir.join(MARKDOWN_FILE),
            html: dir.join(HTML_FILE),
            equity: dir.join(EQUITY_PLOT),
            drawdown: dir.join(DRAWDOWN_PLOT),
            pnl_histogram: dir.join(PNL_HISTOGRAM_PLOT),
            fees: dir.join(FEES_PLOT),
            daily_pnl: dir.join(DAILY_PNL_PLOT),
        }
    }

    /// The plots, in writing order.
    pub fn plots(&self) -> [&Path; 5] {
        [&self.equity, &self.drawdown, &self.pnl_histogram, &self.fees, &self.daily_pnl]
    }

    /// Every file, in writing order (`report.md` last).
    pub fn all(&self) -> Vec<&Path> {
        let mut all: Vec<&Path> = self.plots().to_vec();
        all.extend([self.html.as_path(), self.markdown.as_path()]);
        all
    }
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Creating the directory or writing a file failed (unwritable, full disk, ...).
    #[error("cannot write {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// Rendering or encoding a plot failed.
    #[error("cannot draw {plot}: {message}")]
    Plot { plot: &'static str, message: String },
    /// The journal could not be read for the fee series.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl From<WriteError> for ReportError {
    fn from(e: WriteError) -> ReportError {
        ReportError::Io { path: e.path, source: e.source }
    }
}

/// The PNG bytes of every plot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plots {
    pub equity: Vec<u8>,
    pub drawdown: Vec<u8>,
    pub pnl_histogram: Vec<u8>,
    pub fees: Vec<u8>,
    pub daily_pnl: Vec<u8>,
}

/// Writes `report.md`, `report.html` and the plots into `dir` (created if
/// missing) for `perf`, computed from the journal at `journal_path` (opened
/// read-only here for the fee series, and named in the report as given).
/// On error, `report.md` is either absent or the previous report's, whole.
pub fn write_report(dir: &Path, perf: &Performance, journal_path: &Path) -> Result<ReportFiles, ReportError> {
    let fee_series =
        if perf.runs.is_empty() { Vec::new() } else { fee_curve(&Journal::open_read_only(journal_path)?, &perf.runs)? };
    // Render everything before touching the disk: a drawing error writes nothing.
    let daily: Vec<(String, Usdc)> = perf.daily.iter().map(|d| (d.day.clone(), d.pnl)).collect();
    let plots = Plots {
        equity: plots::equity(EQUITY_PLOT, &perf.equity)?,
        drawdown: plots::drawdown(DRAWDOWN_PLOT, &perf.drawdown)?,
        pnl_histogram: plots::pnl_histogram(PNL_HISTOGRAM_PLOT, &perf.pnl_per_trade)?,
        fees: plots::fees(FEES_PLOT, &fee_series)?,
        daily_pnl: plots::daily_pnl(DAILY_PNL_PLOT, &daily)?,
    };
    let doc = sections::document(perf, journal_path, &plots);
    let markdown = markdown::render(&doc);
    let html = html::render(&doc);

    create_dir(dir)?;
    let files = ReportFiles::in_dir(dir);
    write_atomic(&files.equity, &plots.equity)?;
    write_atomic(&files.drawdown, &plots.drawdown)?;
    write_atomic(&files.pnl_histogram, &plots.pnl_histogram)?;
    write_atomic(&files.fees, &plots.fees)?;
    write_atomic(&files.daily_pnl, &plots.daily_pnl)?;
    write_atomic(&files.html, html.as_bytes())?;
    write_atomic(&files.markdown, markdown.as_bytes())?;
    Ok(files)
}

/// Fees paid so far, at each trade's close, over the trades of `runs` in the
/// order closed: the curve ends at the sum of their fees (`Performance::fees`).
pub(crate) fn fee_curve(journal: &Journal, runs: &[RunSummary]) -> Result<Vec<(TimestampMs, Usdc)>, JournalError> {
    let in_scope: BTreeSet<i64> = runs.iter().map(|r| r.id).collect();
    let mut paid = Usdc::ZERO;
    let mut curve = Vec::new();
    for trade in journal.trades()?.into_iter().filter(|t| in_scope.contains(&t.run)) {
        paid = paid.checked_add(trade.fees).ok_or_else(|| JournalError::Invalid {
            path: journal.path().to_path_buf(),
            reason: "the fees of the trades are too large to add up".into(),
        })?;
        curve.push((trade.closed, paid));
    }
    Ok(curve)
}
