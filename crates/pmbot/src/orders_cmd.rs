//! `pmbot orders`: the account's open orders as the exchange holds them,
//! each marked with the journal's client order id (or as unknown to the
//! journal), and `--cancel-all` to cancel every one of them.
//!
//! It works even when start-up reconciliation would refuse to trade (orders
//! the journal does not know): that is when an operator needs it most. It
//! never places an order and never writes the journal; the next start-up
//! reconciles the journal with what was cancelled here.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use clap::Args;
use pmbot_engine::journal::Journal;
use pmbot_venue::gateway::wire::VenueOrder;

use crate::config::FileConfig;
use pmbot_run::account;

#[derive(Debug, Args)]
pub struct OrdersArgs {
    /// Cancel every open order of the account, then list what is left.
    #[arg(long)]
    pub cancel_all: bool,
}

pub async fn run(file: FileConfig, args: OrdersArgs) -> Result<()> {
    let gateway = account::inspect_gateway(&file).await?;
    let journal = if file.journal.path.exists() {
        Some(
            Journal::open_read_only(&file.journal.path)
                .with_context(|| format!("cannot read the journal {}", file.journal.path.display()))?,
        )
    } else {
        None
    };
    if args.cancel_all {
        let report = gateway.cancel_all().await.context("cancel-all failed")?;
        println!("cancelled {} order(s)", report.cancelled.len());
        for (id, reason) in &report.not_cancelled {
            println!("not cancelled {id}: {reason}");
        }
    }
    let open = gateway.open_on_exchange().await?;
    print!("{}", render(&open, journal.as_ref())?);
    gateway.shutdown();
    Ok(())
}

fn render(open: &[VenueOrder], journal: Option<&Journal>) -> Result<String> {
    let mut out = String::new();
    let _ = writeln!(out, "{} open order(s) on the exchange", open.len());
    for o in open {
        let known = match journal {
            Some(j) => match j.order_by_hash(&o.id).context("cannot read the journal")? {
                Some(row) => format!("journal {}", row.prepared.client_order_id),
                None => "UNKNOWN to the journal".to_owned(),
            },
            None => "no journal".to_owned(),
        };
        let side = o.side.map(|s| format!("{s:?}").to_uppercase()).unwrap_or_else(|| "?".into());
        let price = o.price.map(|p| p.to_string()).unwrap_or_else(|| "?".into());
        let token = o.token.as_ref().map(|t| t.to_string()).unwrap_or_else(|| "?".into());
        let _ = writeln!(
            out,
            "  {}  {side} {} @ {price} (matched {})  token {token}  {known}",
            o.id, o.original_size, o.size_matched
        );
    }
    Ok(out)
}
