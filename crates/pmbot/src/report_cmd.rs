//! `pmbot report`: the performance report of a journal (report.md, one
//! self-contained report.html, PNG plots). The journal is opened read-only,
//! so a report can be written while the engine runs.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use pmbot_engine::journal::Journal;
use pmbot_engine::performance::{self, Scope};
use pmbot_engine::report;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The journal to report on (opened read-only).
    #[arg(long, value_name = "FILE")]
    pub journal: PathBuf,
    /// Folder for report.md, report.html and the plots (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Writes the report; returns the files written, report.md last.
pub fn run(args: &ReportArgs) -> Result<Vec<PathBuf>> {
    let journal = Journal::open_read_only(&args.journal).context("cannot read the journal")?;
    let perf = performance::compute(&journal, Scope::All).context("cannot compute the figures")?;
    drop(journal);
    let files = report::write_report(&args.out, &perf, &args.journal).context("cannot write the report")?;
    Ok(files.all().into_iter().map(PathBuf::from).collect())
}
