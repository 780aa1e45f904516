//! `pmbot summary`: one UTC day's figures from the journal (trades, win
//! rate, P&L after fees, fees, exposure, refusals, uptime, reconnects,
//! alerts, orders), printed as Markdown and written beside the journal as
//! `pmbot-summary-YYYY-MM-DD.md` (or to --out). The journal is opened
//! read-only, so this works while the engine writes it. Nothing from the
//! configuration is printed.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::Args;
use pmbot_engine::journal::Journal;
use pmbot_engine::summary;

use crate::config::FileConfig;

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// The UTC day, as YYYY-MM-DD (default: today, so far).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
    /// The journal (default: `journal.path` from the config).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Write the Markdown here instead of beside the journal.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(file: FileConfig, args: SummaryArgs) -> Result<()> {
    // Parsed here, not by clap, so a bad date is one line like every other error.
    let date = args.date.as_deref().map(parse_date).transpose()?;
    let path = args.journal.unwrap_or(file.journal.path);
    if !path.exists() {
        bail!("journal {} does not exist", path.display());
    }
    let now = pmbot_core::Clock::now(&pmbot_venue::SystemClock).millis();
    let date = match date {
        Some(d) => d,
        None => summary::utc_date(now).context("the system clock is outside the calendar")?,
    };
    let journal = Journal::open_read_only(&path).context("cannot read the journal")?;
    let s = summary::compute(&journal, date, now)?;
    drop(journal);
    let written = match &args.out {
        Some(out) => summary::write_to(out, &s).map(|()| out.clone()),
        None => summary::write_beside(&path, &s),
    }?;
    print!("{}", s.markdown());
    eprintln!("wrote {}", written.display());
    Ok(())
}

/// `YYYY-MM-DD`, a real date.
fn parse_date(s: &str) -> Result<NaiveDate> {
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) if s.len() == 10 => Ok(d),
        _ => bail!("invalid --date {s:?}: expected a UTC date as YYYY-MM-DD"),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_date;

    #[test]
    fn dates_are_strict() {
        assert_eq!(parse_date("2026-01-01").unwrap().to_string(), "2026-01-01");
        for bad in ["2026-13-01", "2026-02-30", "2026-1-1", "01/01/2026", "", "2026-01-01T00:00"] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }
}
