//! `pmbot balance`: the funder's money as the chain holds it (pUSD balance,
//! the allowances each exchange contract needs, outcome-token holdings and
//! approvals), beside what the journal's fills add up to.
//!
//! It never contacts the exchange and changes nothing on chain. The one
//! thing it writes is a `balance_check` note in the journal (the go-live
//! gate asks for a good one): `{"ok": bool, "detail": "<the figures>"}`. A
//! journal held by a running engine is not waited for: the check is then
//! shown, with a warning that it was not journaled.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use alloy_primitives::U256;
use anyhow::{Context, Result};
use clap::Args;
use pmbot_core::{Clock, TimestampMs, TokenId};
use pmbot_engine::gate::BALANCE_CHECK;
use pmbot_engine::journal::{Journal, JournalError, Position, Unredeemed};
use pmbot_venue::SystemClock;
use pmbot_venue::balance::{BalanceReader, CollateralView, MarketKind, SharesView, format_units6};

use crate::config::FileConfig;
use pmbot_run::account;

#[derive(Debug, Args)]
pub struct BalanceArgs {
    /// Also show the on-chain holding of this outcome token (repeatable).
    /// Tokens with fills in the journal are always shown.
    #[arg(long = "token", value_name = "TOKEN_ID")]
    pub tokens: Vec<String>,
}

pub async fn run(file: FileConfig, args: BalanceArgs) -> Result<()> {
    // The chain is the only source this command has: no RPC, no reading.
    account::require_rpc(&file)?;
    let mut tokens = Vec::new();
    for t in &args.tokens {
        tokens.push(TokenId::parse(t).with_context(|| format!("--token {t:?} is not a token id"))?);
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let funder = account::funder_address(&file.gateway)?;
    let reader = account::balance_reader(&file, funder, clock.clone())?;
    let (positions, unredeemed) = journal_holdings(&file)?;
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
    print!("{}", render_unredeemed(&unredeemed));
    let (ok, detail) = check(&collateral);
    let verdict = if ok { "ok" } else { "NOT ok (no pUSD, or an allowance is 0)" };
    let path = &file.journal.path;
    match journal_check(path, ok, &detail, TimestampMs::from_millis(clock.now_ms()))? {
        Journaled::Yes => println!("check       {verdict}; journaled in {}", path.display()),
        Journaled::Locked(why) => {
            println!("check       {verdict}");
            eprintln!("pmbot: warning: the balance check was not journaled: {why}");
        }
    }
    Ok(())
}

/// The balance check the journal records: ok when the funder holds pUSD and
/// every exchange contract may spend it. The allowances are the neg-risk
/// set (CTF Exchange, Neg Risk CTF Exchange, Neg Risk Adapter), which
/// covers every market pmbot may trade. The detail is the figures only.
pub fn check(c: &CollateralView) -> (bool, String) {
    let ok = c.balance > U256::ZERO && c.allowances.iter().all(|(_, amount)| *amount > U256::ZERO);
    let allowances: Vec<String> =
        c.allowances.iter().map(|(s, amount)| format!("{} {}", s.role.name(), format_units6(*amount))).collect();
    (ok, format!("pUSD {}; allowances: {}", format_units6(c.balance), allowances.join(", ")))
}

/// Whether the note reached the journal.
#[derive(Debug)]
enum Journaled {
    Yes,
    /// A running engine holds the journal; the reason says whose lock.
    Locked(String),
}

/// Records the check as a `balance_check` note, opening the journal for
/// writing only for that (a running engine is not kept from starting
/// while the chain is read).
fn journal_check(path: &Path, ok: bool, detail: &str, at: TimestampMs) -> Result<Journaled> {
    let mut journal = match Journal::open(path) {
        Ok(j) => j,
        Err(e @ JournalError::InUse { .. }) => return Ok(Journaled::Locked(e.to_string())),
        Err(e) => return Err(e).context("cannot journal the balance check"),
    };
    let note = serde_json::json!({"ok": ok, "detail": detail});
    journal.record_note(BALANCE_CHECK, &note, at).context("cannot journal the balance check")?;
    Ok(Journaled::Yes)
}

/// The journal's positions and its live payouts not yet redeemed, or none
/// when there is no journal yet.
fn journal_holdings(file: &FileConfig) -> Result<(Vec<Position>, Vec<Unredeemed>)> {
    let path = &file.journal.path;
    if !path.exists() {
        return Ok((Vec::new(), Vec::new()));
    }
    let journal =
        Journal::open_read_only(path).with_context(|| format!("cannot read the journal {}", path.display()))?;
    let positions = journal.positions().with_context(|| format!("cannot read positions from {}", path.display()))?;
    let owed = journal.unredeemed().with_context(|| format!("cannot read redemptions from {}", path.display()))?;
    Ok((positions, owed))
}

/// Resolved markets the chain has not paid yet: their payout is not in the
/// pUSD line above until `pmbot redeem` (or a live run) redeems them.
fn render_unredeemed(owed: &[Unredeemed]) -> String {
    if owed.is_empty() {
        return String::new();
    }
    let total: pmbot_core::Usdc = owed.iter().map(|u| u.amount).sum();
    let mut out = format!(
        "resolved, not yet redeemed: {total} pUSD at the payout over {} market(s); not in pUSD above until \
         redeemed (`pmbot redeem`)\n",
        owed.len()
    );
    for u in owed {
        let _ = writeln!(out, "  {}  {} pUSD", u.market, u.amount);
    }
    out
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

#[cfg(test)]
mod tests {
    use alloy_primitives::Address;
    use pmbot_engine::gate::{GateCheck, GateConfig, evaluate};
    use pmbot_venue::balance::{ContractRole, Spender};

    use super::*;

    fn view(balance: u64, allowances: [U256; 3]) -> CollateralView {
        let roles = [ContractRole::Exchange, ContractRole::NegRiskExchange, ContractRole::NegRiskAdapter];
        CollateralView {
            funder: Address::repeat_byte(7),
            balance: U256::from(balance),
            allowances: roles
                .into_iter()
                .zip(allowances)
                .enumerate()
                .map(|(i, (role, a))| (Spender { role, address: Address::repeat_byte(i as u8 + 1) }, a))
                .collect(),
            read_at: TimestampMs::from_millis(1),
        }
    }

    #[test]
    fn payouts_not_yet_redeemed_are_listed_apart_from_the_pusd() {
        assert_eq!(render_unredeemed(&[]), "");
        let owed = [
            Unredeemed {
                market: pmbot_core::Hash32([1; 32]),
                amount: pmbot_core::Usdc::from_micros(10_500_000),
                resolved: TimestampMs::from_millis(5),
            },
            Unredeemed {
                market: pmbot_core::Hash32([2; 32]),
                amount: pmbot_core::Usdc::ZERO,
                resolved: TimestampMs::from_millis(6),
            },
        ];
        let text = render_unredeemed(&owed);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("resolved, not yet redeemed: 10.5 pUSD at the payout over 2 market(s)"), "{text}");
        assert_eq!(lines[1], format!("  {}  10.5 pUSD", owed[0].market));
        assert_eq!(lines.len(), 3, "a market of losing shares only is listed too: they wait to be burned");
    }

    #[test]
    fn ok_needs_pusd_and_every_allowance() {
        let all = [U256::MAX, U256::from(5_000_000u64), U256::from(1u64)];
        let (ok, detail) = check(&view(250_500_000, all));
        assert!(ok);
        assert_eq!(
            detail,
            "pUSD 250.5; allowances: CTF Exchange unlimited, Neg Risk CTF Exchange 5, Neg Risk Adapter 0.000001"
        );
        assert!(!check(&view(0, all)).0, "no pUSD");
        let (ok, detail) = check(&view(250_500_000, [U256::MAX, U256::MAX, U256::ZERO]));
        assert!(!ok && detail.ends_with("Neg Risk Adapter 0"), "{detail}");
    }

    #[test]
    fn the_note_reaches_the_journal_unless_an_engine_holds_it() {
        let dir = std::env::temp_dir().join(format!("pmbot-balance-note-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("journal.sqlite");
        let at = TimestampMs::from_millis(1_735_689_600_000);
        assert!(matches!(journal_check(&path, true, "pUSD 1", at).unwrap(), Journaled::Yes), "created");
        {
            let engine = Journal::open(&path).unwrap();
            match journal_check(&path, false, "pUSD 0", at).unwrap() {
                Journaled::Locked(why) => assert!(why.contains("another process is writing it"), "{why}"),
                Journaled::Yes => panic!("journaled beside a writer"),
            }
            drop(engine);
        }
        let j = Journal::open_read_only(&path).unwrap();
        let notes = j.notes(BALANCE_CHECK).unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].detail, serde_json::json!({"ok": true, "detail": "pUSD 1"}));
        assert_eq!(notes[0].at, at);
        // The gate reads it as a good check.
        let report = evaluate(&j, &GateConfig::default()).unwrap();
        assert!(report.item(GateCheck::BalanceCheck).unwrap().passed);
        let err = journal_check(&dir.join("no/such/dir/j.sqlite"), true, "x", at).unwrap_err();
        assert!(format!("{err:#}").contains("cannot journal the balance check"), "{err:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
