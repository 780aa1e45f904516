//! `pmbot gate`: the go-live checklist over a journal's paper record on live
//! market data. Prints every item with what was measured and what it needs;
//! exits 0 when all pass, 1 when any fails (with `gate: N of M items failed`
//! on stderr). Reads the journal only, beside a running engine or not.

use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use pmbot_engine::gate::{GateReport, evaluate};
use pmbot_engine::journal::Journal;

use crate::config::FileConfig;

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The journal to judge (default: `journal.path` from the config).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
}

/// The gate's verdict when an item failed. Not a malfunction: `main` prints
/// it as it is and exits 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateFailed {
    pub failed: usize,
    pub total: usize,
}

impl fmt::Display for GateFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gate: {} of {} items failed", self.failed, self.total)
    }
}

impl std::error::Error for GateFailed {}

pub fn run(file: FileConfig, args: GateArgs) -> Result<()> {
    file.gate.validate().context("invalid [gate] settings")?;
    let path = args.journal.unwrap_or(file.journal.path);
    if !path.exists() {
        bail!("journal {} does not exist", path.display());
    }
    let journal = Journal::open_read_only(&path)?;
    let report = evaluate(&journal, &file.gate)?;
    print!("{report}");
    verdict(&report)
}

fn verdict(report: &GateReport) -> Result<()> {
    let failed = report.failed().count();
    if failed == 0 { Ok(()) } else { Err(GateFailed { failed, total: report.items.len() }.into()) }
}
