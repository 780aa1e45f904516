//! The end of every trading command: the headline figures on the terminal
//! and the performance report on disk (the same as `pmbot report`).

use std::path::Path;

use pmbot_engine::journal::Journal;
use pmbot_engine::performance::{self, Scope};
use pmbot_engine::report;

use crate::error::{Context, Result};

/// Prints the journal's headline figures and writes the report into `dir`.
pub fn write(journal: &Path, dir: &Path) -> Result<()> {
    let j =
        Journal::open_read_only(journal).with_context(|| format!("cannot read the journal {}", journal.display()))?;
    let perf = performance::compute(&j, Scope::All).context("cannot compute the figures")?;
    drop(j);
    let win_rate = perf
        .win_rate
        .as_ref()
        .map_or("-".to_owned(), |w| format!("{:.1}% [{:.1}%, {:.1}%]", 100.0 * w.rate, 100.0 * w.low, 100.0 * w.high));
    println!(
        "journal {}: {} closed trades, win rate {win_rate}, P&L after fees {} pUSD, fees {} pUSD, max drawdown {} pUSD",
        journal.display(),
        perf.trades,
        perf.pnl,
        perf.fees,
        perf.max_drawdown
    );
    let files = report::write_report(dir, &perf, journal).context("cannot write the report")?;
    println!("report: {} and {}", files.markdown.display(), files.html.display());
    Ok(())
}
