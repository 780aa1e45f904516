//! `pmbot drill` (hidden): a deterministic stream of order intents through the
//! real gateway, journal and on-chain pre-check, for crash-recovery drills.
//!
//! Invariant: it only ever talks to loopback. It refuses to start unless the
//! exchange URLs and every RPC URL name 127.0.0.1, ::1 or localhost, so a
//! drill can never place an order on a real exchange.
//!
//! Intent `i` of seed `s` is always the same order (client order id
//! `drill-s-i`, token, price, size), so a drill killed at any point and run
//! again continues where it stopped: an intent the journal already holds is
//! skipped (the engine's own idempotency), and the gateway and journal refuse
//! a second order for one client id (the safety net). The gateway reconciles
//! the journal with the exchange when it starts, as in any other run.
//!
//! Every outcome is one line on stdout, flushed as it happens, so the process
//! that kills the drill knows how far it got:
//! `skipped|placed|refused|failed <cid> ...`, then `drill done: ...`.

use std::io::Write as _;
use std::time::Duration;

use clap::Args;
use pmbot_core::events::{DecisionContext, OrderIntent, OrderType};
use pmbot_core::{ClientOrderId, Price, Side, Size, TokenId};
use pmbot_engine::journal::Journal;
use pmbot_venue::gateway::{GatewayError, Refusal};

use crate::account;
use crate::config::FileConfig;
use crate::error::refuse;
use crate::error::{Context, Result};
use crate::offline::{is_loopback_url, url_host};

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// How many intents (0..N) to place.
    #[arg(long, default_value_t = 100)]
    pub intents: u32,
    /// Seed of the intents: the same seed gives the same orders.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Pause between intents, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub pause_ms: u64,
    /// A token to bid on; repeatable (at least one).
    #[arg(long = "token", value_name = "TOKEN_ID", required = true)]
    pub tokens: Vec<String>,
    /// Resting bids are priced from 0.05 up to this (below the market's ask).
    #[arg(long, default_value = "0.45")]
    pub rest_max: String,
    /// Crossing bids are priced from this up to 0.05 above it (at or above
    /// the market's ask, so they fill).
    #[arg(long, default_value = "0.60")]
    pub cross_min: String,
    /// Percentage of intents that cross.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub cross_percent: u8,
}

/// Refuses any configuration that could reach a real exchange or chain.
pub fn require_loopback(file: &FileConfig) -> Result<()> {
    let mut urls: Vec<(&str, &str)> =
        vec![("gateway.clob_url", file.gateway.clob_url.as_str()), ("gateway.ws_url", file.gateway.ws_url.as_str())];
    urls.extend(file.balance.rpc_urls.iter().map(|u| ("balance.rpc_urls", u.as_str())));
    let far: Vec<String> = urls
        .iter()
        .filter(|(_, u)| !is_loopback_url(u))
        .map(|(k, u)| format!("{k} = {}", url_host(u).unwrap_or(u)))
        .collect();
    if !far.is_empty() {
        refuse!("pmbot drill only runs against loopback (127.0.0.1, ::1, localhost); not loopback: {}", far.join(", "));
    }
    Ok(())
}

/// The intents of one seed.
#[derive(Debug, Clone)]
pub struct Plan {
    seed: u64,
    tokens: Vec<TokenId>,
    rest_max_cents: u32,
    cross_min_cents: u32,
    cross_percent: u64,
}

/// splitmix64: a fixed, portable generator, so intent `i` of a seed is the
/// same order in every build.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn cents(what: &str, s: &str) -> Result<u32> {
    let p = Price::parse(s).with_context(|| format!("--{what} {s:?} is not a price"))?;
    if !p.pips().is_multiple_of(100) {
        refuse!("--{what} {s} is not on the 0.01 grid");
    }
    Ok(u32::from(p.pips() / 100))
}

impl Plan {
    pub fn new(args: &DrillArgs) -> Result<Plan> {
        let tokens = args
            .tokens
            .iter()
            .map(|t| TokenId::parse(t).with_context(|| format!("--token {t:?} is not a token id")))
            .collect::<Result<Vec<_>>>()?;
        let rest_max_cents = cents("rest-max", &args.rest_max)?;
        let cross_min_cents = cents("cross-min", &args.cross_min)?;
        if !(5..=99).contains(&rest_max_cents) || !(1..=94).contains(&cross_min_cents) {
            refuse!("--rest-max must be within 0.05..0.99 and --cross-min within 0.01..0.94");
        }
        Ok(Plan { seed: args.seed, tokens, rest_max_cents, cross_min_cents, cross_percent: args.cross_percent.into() })
    }

    pub fn client_order_id(&self, i: u32) -> ClientOrderId {
        ClientOrderId::new(format!("drill-{}-{i}", self.seed)).expect("ascii, short")
    }

    /// Intent `i`: a GTC bid on one of the tokens, resting below the market
    /// or (`cross_percent` of the time) crossing it.
    pub fn intent(&self, i: u32) -> OrderIntent {
        let mut state = self.seed ^ u64::from(i).wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let mut next = || splitmix(&mut state);
        let token = self.tokens[(next() % self.tokens.len() as u64) as usize].clone();
        let crossing = next() % 100 < self.cross_percent;
        let price_cents = if crossing {
            self.cross_min_cents + (next() % 6) as u32
        } else {
            5 + (next() % u64::from(self.rest_max_cents - 4)) as u32
        };
        let shares = 5 + next() % 16;
        OrderIntent {
            client_order_id: self.client_order_id(i),
            token,
            side: Side::Buy,
            limit_price: Price::from_pips((price_cents * 100) as u16).expect("1..99 cents is a price"),
            size: Size::from_shares(shares),
            order_type: OrderType::Gtc,
            post_only: false,
            expires_at: None,
            decision: DecisionContext::default(),
        }
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (the reader went away) must not stop the drill.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[derive(Debug, Default)]
struct Tally {
    placed: u32,
    skipped: u32,
    refused: u32,
    failed: u32,
}

pub async fn run(file: FileConfig, args: DrillArgs) -> Result<()> {
    require_loopback(&file)?;
    let plan = Plan::new(&args)?;
    let (started, _balance) = account::start_gateway(&file).await?;
    let gw = started.gateway;
    let r = &started.report;
    say(&format!(
        "started: reconciled checked={} changed={} open={} closed={} not_on_exchange={} new_fills={}",
        r.checked, r.changed, r.open, r.closed, r.not_on_exchange, r.new_fills
    ));
    let mut alerts = started.alerts;
    tokio::spawn(async move {
        while let Some(a) = alerts.recv().await {
            eprintln!("alert: {a:?}");
        }
    });
    // The gateway holds the journal for writing; this reader sees every
    // committed row.
    let journal = Journal::open_read_only(&file.journal.path)
        .with_context(|| format!("cannot read the journal {}", file.journal.path.display()))?;
    let mut tally = Tally::default();
    for i in 0..args.intents {
        let intent = plan.intent(i);
        let cid = intent.client_order_id.clone();
        if let Some(o) = journal.order(&cid).context("reading the journal")? {
            tally.skipped += 1;
            say(&format!("skipped {cid} {} {:?}", o.prepared.order_hash, o.status));
            continue;
        }
        match gw.place(intent).await {
            Ok(p) => {
                tally.placed += 1;
                say(&format!("placed {cid} {} {:?} filled={} posts={}", p.order_id, p.status, p.filled, p.posts));
            }
            Err(GatewayError::Refused(r @ Refusal::DuplicateIntent(_))) => {
                tally.refused += 1;
                say(&format!("refused {cid} duplicate: {r}"));
            }
            Err(GatewayError::Refused(r)) => {
                tally.refused += 1;
                say(&format!("refused {cid} {r}"));
            }
            Err(e) => {
                tally.failed += 1;
                say(&format!("failed {cid} {e}"));
            }
        }
        if args.pause_ms > 0 {
            tokio::time::sleep(Duration::from_millis(args.pause_ms)).await;
        }
    }
    let report = gw.reconcile().await.context("the final reconciliation failed")?;
    let open = gw.orders().iter().filter(|o| !o.status.is_terminal()).count();
    say(&format!(
        "drill done: intents={} placed={} skipped={} refused={} failed={} open={open} final_reconcile_new_fills={}",
        args.intents, tally.placed, tally.skipped, tally.refused, tally.failed, report.new_fills
    ));
    gw.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(tokens: &[&str]) -> DrillArgs {
        DrillArgs {
            intents: 10,
            seed: 7,
            pause_ms: 0,
            tokens: tokens.iter().map(|t| (*t).to_owned()).collect(),
            rest_max: "0.45".into(),
            cross_min: "0.60".into(),
            cross_percent: 20,
        }
    }

    #[test]
    fn loopback_only() {
        let mut file = FileConfig::default();
        // There is no default RPC (issue 13): name a far one.
        file.balance.rpc_urls = vec!["https://polygon-rpc.com".into()];
        let err = require_loopback(&file).unwrap_err().to_string();
        assert!(err.contains("gateway.clob_url = clob.polymarket.com") && err.contains("balance.rpc_urls"), "{err}");
        file.gateway.clob_url = "http://127.0.0.1:1/".into();
        file.gateway.ws_url = "ws://127.0.0.1:1".into();
        file.balance.rpc_urls = vec!["http://localhost:8545".into(), "https://polygon-rpc.com".into()];
        let err = require_loopback(&file).unwrap_err().to_string();
        assert!(err.contains("balance.rpc_urls = polygon-rpc.com") && !err.contains("gateway"), "{err}");
        file.balance.rpc_urls.pop();
        require_loopback(&file).unwrap();
    }

    #[test]
    fn intents_are_deterministic_and_mostly_rest() {
        let plan = Plan::new(&args(&["11", "22"])).unwrap();
        let again = Plan::new(&args(&["11", "22"])).unwrap();
        let mut crossing = 0;
        let mut tokens = std::collections::BTreeSet::new();
        for i in 0..500 {
            let a = plan.intent(i);
            assert_eq!(a, again.intent(i));
            assert_eq!(a.client_order_id.as_str(), format!("drill-7-{i}"));
            let cents = a.limit_price.pips() / 100;
            assert!((5..=45).contains(&cents) || (60..=65).contains(&cents), "{cents}");
            crossing += usize::from(cents >= 60);
            assert!((5..=20).contains(&(a.size.micros() / 1_000_000)));
            tokens.insert(a.token.as_str().to_owned());
        }
        assert!((50..=150).contains(&crossing), "about 20% cross: {crossing}");
        assert_eq!(tokens.len(), 2);
        assert_ne!(plan.intent(0), plan.intent(1));
        assert!(Plan::new(&DrillArgs { rest_max: "0.455".into(), ..args(&["1"]) }).is_err());
        assert!(Plan::new(&args(&["not-a-token"])).is_err());
    }
}
