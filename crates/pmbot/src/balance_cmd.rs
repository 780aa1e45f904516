//! `pmbot balance`: the funder's money as the chain holds it (pUSD balance,
//! the allowances each exchange contract needs, outcome-token holdings and
//! approvals), beside what the journal's fills add up to.
//!
//! Read-only: it never writes the journal and never contacts the exchange.

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use pmbot_core::{Clock, TokenId};
use pmbot_engine::journal::{Journal, Position};
use pmbot_venue::SystemClock;
use pmbot_venue::balance::{BalanceReader, CollateralView, MarketKind, SharesView, format_units6};

use crate::account;
use crate::config::FileConfig;

#[derive(Debug, Args)]
pub struct BalanceArgs {
    /// Also show the on-chain holding of this outcome token (repeatable).
    /// Tokens with fills in the journal are always shown.
    #[arg(long = "token", value_name = "TOKEN_ID")]
    pub tokens: Vec<String>,
}

pub async fn run(file: FileConfig, args: BalanceArgs) -> Result<()> {
    let mut tokens = Vec::new();
    for t in &args.tokens {
        tokens.push(TokenId::parse(t).with_context(|| format!("--token {t:?} is not a token id"))?);
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let funder = account::funder_address(&file.gateway)?;
    let reader = account::balance_reader(&file, funder, clock)?;
    let positions = journal_positions(&file)?;
    for p in &positions {
        if !tokens.contains(&p.token) {
            tokens.push(p.token.clone());
        }
    }
    let collateral = reader.collateral(MarketKind::NegRisk).await.context("cannot read the pUSD balance")?;
    let mut shares = Vec::new();
    for token in &tokens {
        let view = reader
            .shares(token, MarketKind::NegRisk)
            .await
            .with_context(|| format!("cannot read the holding of token {token}"))?;
        shares.push(view);
    }
    print!("{}", render(&reader, &collateral, &shares, &positions));
    Ok(())
}

/// The journal's positions, or none when there is no journal yet.
fn journal_positions(file: &FileConfig) -> Result<Vec<Position>> {
    let path = &file.journal.path;
    if !path.exists() {
        return Ok(Vec::new());
    }
    let journal =
        Journal::open_read_only(path).with_context(|| format!("cannot read the journal {}", path.display()))?;
    journal.positions().with_context(|| format!("cannot read positions from {}", path.display()))
}

fn render(reader: &BalanceReader, c: &CollateralView, shares: &[SharesView], positions: &[Position]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "funder      {:#x}", c.funder);
    let _ = writeln!(out, "chain id    {}", reader.config().chain_id);
    let _ = writeln!(out, "pUSD        {}", format_units6(c.balance));
    let _ = writeln!(out, "allowances");
    for (spender, amount) in &c.allowances {
        let _ = writeln!(out, "  {:<24} {}", spender.role.name(), format_units6(*amount));
    }
    if shares.is_empty() {
        let _ = writeln!(out, "positions   none (no fills in the journal; --token shows any token)");
        return out;
    }
    let _ = writeln!(out, "positions");
    for s in shares {
        let journal = positions
            .iter()
            .find(|p| p.token == s.token)
            .map(|p| format!("journal {} shares over {} fills", p.net_shares.normalize(), p.fills))
            .unwrap_or_else(|| "journal: no fills".to_owned());
        let missing: Vec<&str> = s.approvals.iter().filter(|(_, ok)| !ok).map(|(sp, _)| sp.role.name()).collect();
        let approvals =
            if missing.is_empty() { "approved".to_owned() } else { format!("NOT approved for {}", missing.join(", ")) };
        let _ = writeln!(out, "  {}  on chain {} shares; {journal}; {approvals}", s.token, format_units6(s.shares));
    }
    out
}
