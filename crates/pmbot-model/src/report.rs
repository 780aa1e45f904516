//! The validation report a trader reads: `report.md`, the same document as
//! a self-contained `report.html`, and three PNG plots (rendered by
//! `pmbot_report`, as the trading report is).
//!
//! Invariants:
//! - **Every figure comes from the structs it is given.** Nothing here fits,
//!   scores or rounds a decision: the headline, the claim verdict and every
//!   table are read off the [`ValidationReport`] and the [`DatasetSummary`].
//! - **No half-written files.** Every file is rendered in memory, written to
//!   a temporary name in the report directory and renamed into place; the
//!   plots go first, then `report.html`, and `report.md` last, so a
//!   `report.md` that exists was written whole and the plots it embeds were
//!   written by the same run.
//! - **Only paths the user gave.** The report prints the data directories and
//!   the command line as passed, and links the plots by file name; it never
//!   resolves a path to its absolute form.
//!
//! The claim under test is "accuracy >= 90% at confidence >= 0.4"; the
//! verdict is read from the Wilson 95% interval of walk-forward pooled
//! accuracy at that threshold ([`ClaimVerdict`]).

mod plots;
mod sections;
#[cfg(test)]
mod tests;

use std::io;
use std::path::{Path, PathBuf};

use pmbot_report::files::{WriteError, create_dir, write_atomic};
use pmbot_report::{html, markdown};

use crate::dataset::DatasetSummary;
use crate::metrics::Scorecard;
use crate::validate::ValidationReport;

/// The confidence threshold of the claim under test.
pub const CLAIM_CONFIDENCE: f64 = 0.4;
/// The accuracy the claim promises at [`CLAIM_CONFIDENCE`].
pub const CLAIM_ACCURACY: f64 = 0.9;

/// File names written into the report directory.
pub const REPORT_FILE: &str = "report.md";
pub const HTML_FILE: &str = "report.html";
pub const ACCURACY_COVERAGE_PLOT: &str = "accuracy_coverage.png";
pub const RELIABILITY_PLOT: &str = "reliability.png";
pub const FOLDS_PLOT: &str = "folds.png";

/// A model's coefficients on standardised features (log-odds per standard deviation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coefficients<'a> {
    /// Where the model came from, as the reader should see it
    /// (e.g. "loaded from model.json", "trained on all samples").
    pub origin: &'a str,
    /// Feature names, in the order of `weights`.
    pub names: &'a [String],
    pub weights: &'a [f64],
    pub intercept: f64,
}

/// Everything the report shows.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    pub validation: &'a ValidationReport,
    pub dataset: &'a DatasetSummary,
    /// The feature columns the validation used, in order.
    pub feature_names: &'a [String],
    /// Present when a model was given or trained.
    pub coefficients: Option<Coefficients<'a>>,
    /// The data directories as the user passed them.
    pub data_dirs: &'a [PathBuf],
    /// The command line as the user typed it (program name first).
    pub command_line: &'a [String],
    pub pmbot_version: &'a str,
}

/// The files a report consists of (each `dir` joined with its file name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFiles {
    pub report: PathBuf,
    pub html: PathBuf,
    pub accuracy_coverage: PathBuf,
    pub reliability: PathBuf,
    pub folds: PathBuf,
}

impl ReportFiles {
    fn in_dir(dir: &Path) -> ReportFiles {
        ReportFiles {
            report: dir.join(REPORT_FILE),
            html: dir.join(HTML_FILE),
            accuracy_coverage: dir.join(ACCURACY_COVERAGE_PLOT),
            reliability: dir.join(RELIABILITY_PLOT),
            folds: dir.join(FOLDS_PLOT),
        }
    }

    /// The plots, in writing order.
    pub fn plots(&self) -> [&Path; 3] {
        [&self.accuracy_coverage, &self.reliability, &self.folds]
    }
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Creating the directory or writing a file failed (unwritable, full disk, ...).
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// Rendering or encoding a plot failed.
    #[error("cannot draw {plot}: {message}")]
    Plot { plot: &'static str, message: String },
    /// The input contradicts itself (e.g. coefficient names and weights of different lengths).
    #[error("inconsistent report input: {0}")]
    Inconsistent(String),
}

impl From<WriteError> for ReportError {
    fn from(e: WriteError) -> ReportError {
        ReportError::Io { path: e.path, source: e.source }
    }
}

/// The PNG bytes of the three plots.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pngs {
    accuracy_coverage: Vec<u8>,
    reliability: Vec<u8>,
    folds: Vec<u8>,
}

/// What the walk-forward interval says about "accuracy >= 90% at confidence >= 0.4".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimVerdict {
    /// The whole 95% interval lies at or above the claimed accuracy.
    Supported,
    /// The whole 95% interval lies below the claimed accuracy.
    Refuted,
    /// The interval straddles the claimed accuracy.
    Inconclusive,
    /// No test sample reached the claimed confidence.
    NoSamples,
}

impl ClaimVerdict {
    /// The verdict for one scorecard (walk-forward pooled, in the headline).
    pub fn of(card: &Scorecard) -> ClaimVerdict {
        match card.at(CLAIM_CONFIDENCE).and_then(|row| row.interval) {
            None => ClaimVerdict::NoSamples,
            Some(i) if i.low >= CLAIM_ACCURACY => ClaimVerdict::Supported,
            Some(i) if i.high < CLAIM_ACCURACY => ClaimVerdict::Refuted,
            Some(_) => ClaimVerdict::Inconclusive,
        }
    }

    /// The plain answer a reader looks for.
    pub fn answer(self) -> &'static str {
        match self {
            ClaimVerdict::Supported => "yes",
            ClaimVerdict::Refuted => "no",
            ClaimVerdict::Inconclusive | ClaimVerdict::NoSamples => "inconclusive",
        }
    }
}

/// Writes `report.md`, `report.html` and the three plots into `dir`
/// (created if missing).
/// On error, `report.md` is either absent or the previous run's, whole.
pub fn write_report(dir: &Path, input: &ReportInput<'_>) -> Result<ReportFiles, ReportError> {
    check(input)?;
    // Render everything before touching the disk: a drawing error writes nothing.
    let pngs = Pngs {
        accuracy_coverage: plots::accuracy_coverage(input.validation)?,
        reliability: plots::reliability(&input.validation.walk_forward.pooled)?,
        folds: plots::folds(&input.validation.walk_forward)?,
    };
    let doc = sections::document(input, &pngs);
    let markdown = markdown::render(&doc);
    let html = html::render(&doc);

    create_dir(dir)?;
    let files = ReportFiles::in_dir(dir);
    write_atomic(&files.accuracy_coverage, &pngs.accuracy_coverage)?;
    write_atomic(&files.reliability, &pngs.reliability)?;
    write_atomic(&files.folds, &pngs.folds)?;
    write_atomic(&files.html, html.as_bytes())?;
    write_atomic(&files.report, markdown.as_bytes())?;
    Ok(files)
}

fn check(input: &ReportInput<'_>) -> Result<(), ReportError> {
    if let Some(c) = &input.coefficients
        && c.names.len() != c.weights.len()
    {
        return Err(ReportError::Inconsistent(format!(
            "{} coefficient names for {} weights",
            c.names.len(),
            c.weights.len()
        )));
    }
    Ok(())
}
