//! `pmbot live`: the engine placing real orders through the gateway, after
//! the go-live gate. `--sim` runs the same path against the simulator (which
//! matches the orders itself; no real money, so no gate): the end-to-end
//! test of the live path.
//!
//! Orders, their updates and fills are journaled by the gateway through
//! [`EngineLog`], which also hands each update and new fill to the engine;
//! the engine journals its decisions before the orders they lead to.
//!
//! Resolved markets are redeemed in the background
//! ([`pmbot_venue::redeem::RedemptionScheduler`]): each market the run held
//! shares of when it resolved, and at start-up every market the journal
//! still holds shares of. A payout is cash in the engine's ledger only once
//! its redemption is confirmed; what is still pending when the run stops
//! is left for `pmbot redeem` or the next run.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use pmbot_core::{Clock, TimestampMs};
use pmbot_engine::engine::driver::Driver;
use pmbot_engine::engine::run_log::RunOrderLog;
use pmbot_engine::engine::{Engine, KillSwitchFile, Redemption, SharedJournal, lock};
use pmbot_engine::gate;
use pmbot_engine::journal::{Journal, RunMode};
use pmbot_venue::SystemClock;
use pmbot_venue::gateway::{Gateway, GatewayAlert, GatewayConfig, Learning, LiveExecution};
use pmbot_venue::marketdata::StreamConfig;
use pmbot_venue::redeem::{RedeemOutcome, RedemptionReport, RedemptionScheduler, SharedRedemptionLog};
use serde_json::json;
use tokio::sync::mpsc;

use crate::config::FileConfig;
use crate::error::refuse;
use crate::error::{Context, Result};
use crate::monitor::GatewayFigures;
use crate::paper_live::market_info;
use crate::realtime::{Aside, Pump, Side};
use crate::settings::{self as trade, LoadedModel};
use crate::shutdown::Shutdown;
use crate::source::SourceArgs;

#[derive(Debug, Args)]
pub struct LiveArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The model file (from `pmbot train`).
    #[arg(long, value_name = "FILE", default_value = "model.json")]
    pub model: std::path::PathBuf,
    /// Stop after this much time (default: until SIGTERM or SIGINT, Ctrl-C).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Where the performance report goes when the run ends.
    #[arg(long, value_name = "DIR", default_value = "pmbot-report")]
    pub report: std::path::PathBuf,
    /// Start although the go-live gate fails, for this reason (journaled
    /// with the run and alerted).
    #[arg(long, value_name = "REASON")]
    pub override_gate: Option<String>,
    /// Where the ops server listens (dashboard, /health, /metrics), instead
    /// of [ops] http; "" for none.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// The exchange at --clob-url/--ws-url is a running `pmbot sim`: no real
    /// money, so no gate, and the run is recorded as simulator data.
    #[arg(long, requires = "clob_url")]
    pub simulated_exchange: bool,
}

/// Runs the gate over the journal (when it exists); refuses on a failure
/// unless overridden. Returns the failed items' names.
fn check_gate(file: &FileConfig, journal: &std::path::Path, over: Option<&str>) -> Result<Vec<String>> {
    let report = if journal.exists() {
        let j = Journal::open_read_only(journal)
            .with_context(|| format!("cannot read the journal {}", journal.display()))?;
        gate::evaluate(&j, &file.gate).context("cannot evaluate the go-live gate")?
    } else {
        let j = tempfile_journal()?;
        gate::evaluate(&j, &file.gate).context("cannot evaluate the go-live gate")?
    };
    println!("go-live gate ({}):\n{report}", journal.display());
    let failed: Vec<String> = report.items.iter().filter(|i| !i.passed).map(|i| i.name.clone()).collect();
    if failed.is_empty() {
        return Ok(failed);
    }
    match over {
        Some(reason) if !reason.trim().is_empty() => {
            eprintln!("WARNING: the go-live gate failed ({} items); overridden: {reason}", failed.len());
            tracing::error!(reason, failed = failed.len(), "go-live gate overridden");
            Ok(failed)
        }
        Some(_) => refuse!("--override-gate needs a reason"),
        None => refuse!(
            "live trading refused: {} of {} go-live gate items failed (listed above); paper trade on live data until \
             they pass, or start with --override-gate \"REASON\"",
            failed.len(),
            report.items.len()
        ),
    }
}

/// An empty journal to evaluate the gate on when none exists yet.
fn tempfile_journal() -> Result<Journal> {
    let path = std::env::temp_dir().join(format!("pmbot-empty-gate-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    drop(Journal::open(&path).context("cannot create an empty journal for the gate")?);
    let j = Journal::open_read_only(&path).context("cannot read an empty journal for the gate")?;
    // Open handles keep the file readable; nothing is left behind.
    for suffix in ["", "-lock", "-wal", "-shm"] {
        let mut name = path.clone().into_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
    Ok(j)
}

/// Points the gateway at the exchange the run's data comes from: always for
/// a simulator, and for a real exchange whenever `--clob-url` / `--ws-url`
/// name one. Only the simulated case did this, so `live --clob-url <host>`
/// read its data from `<host>` and sent its orders to the configured
/// `[gateway] clob_url` (issue 13 item 8).
fn exchange_urls(gateway: &mut GatewayConfig, flags: &SourceArgs, stream: &StreamConfig, simulated: bool) {
    if simulated || flags.clob_url.is_some() {
        gateway.clob_url = stream.rest_url.clone();
    }
    if simulated || flags.ws_url.is_some() {
        gateway.ws_url = stream.ws_url.clone();
    }
}

pub async fn run(mut file: FileConfig, args: LiveArgs, stop: Shutdown) -> Result<()> {
    trade::validate_config(&file)?;
    // A simulated exchange is never Polymarket: no gate, never counted as live.
    let exchange = args.source.exchange(&file.market_data.stream, args.simulated_exchange)?;
    let simulated = exchange.is_simulated();
    if !simulated {
        // Real money needs the chain (balance pre-check, redemption): no
        // RPC, no start, before anything is loaded or contacted.
        crate::account::require_rpc(&file)?;
    }
    let model = LoadedModel::load(&args.model)?;
    // First live runs trade with the smaller cap.
    if file.risk.capital_cap > file.live.capital_cap {
        file.risk.capital_cap = file.live.capital_cap;
        file.risk.max_per_trade = file.risk.max_per_trade.min(file.live.capital_cap);
        file.risk.max_exposure_per_market = file.risk.max_exposure_per_market.min(file.live.capital_cap);
        file.risk.daily_loss_limit = file.risk.daily_loss_limit.min(file.live.capital_cap);
    }
    let settings = trade::engine_settings(&file, &model)?;
    let journal_path = file.journal.path.clone();
    let failed = if simulated { Vec::new() } else { check_gate(&file, &journal_path, args.override_gate.as_deref())? };

    let source = args.source.resolve(file.market_data.stream.clone(), file.sim.clone()).await?;
    exchange_urls(&mut file.gateway, &args.source, &source.stream, simulated);
    if source.markets.is_empty() && source.sim.is_none() {
        refuse!("name the markets to trade: --market SLUG...");
    }
    let infos = if source.markets.is_empty() {
        // The embedded simulator's markets.
        let sim = source.sim.as_ref().expect("checked above");
        let g = sim.state.lock();
        g.exchange.markets().iter().filter(|m| !m.closed).map(|m| trade::sim_market(&m.spec)).collect()
    } else {
        source.markets.iter().map(market_info).collect::<Result<Vec<_>>>()?
    };

    let journal = trade::open_journal(&journal_path)?;
    let mut monitor = crate::monitor::Monitor::start(&file, &journal, args.http.as_deref(), "live", exchange).await?;
    let learning = Learning::new();
    let (log, run_slot) = RunOrderLog::new(journal.clone());
    let (started, balance) = crate::account::start_gateway_with_log(&file, Box::new(learning.forwarding(log))).await?;
    let paid_out = balance.clone();
    let (balance_slot, balance_task) = crate::monitor::watch_balance(balance, Duration::from_secs(30));
    let gateway = started.gateway;

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let data_source = exchange.data_source();
    let run = trade::run_start(RunMode::Live, data_source, &file, &model, args.override_gate.clone(), clock.now());
    let kill = Box::new(KillSwitchFile(file.gateway.kill_switch.clone()));
    let mut engine =
        Engine::start(journal.clone(), &run, settings, Box::new(model.file.model.clone()), kill, file.risk.capital_cap)
            .context("the engine did not start")?;
    run_slot.set(engine.run_id());
    // Payouts are cash only once redeemed (Polymarket pays nothing at resolution).
    engine.set_redemption(Redemption::OnConfirmation);
    let (scheduler, redemptions) = start_redemptions(&file, &journal, clock.clone())?;
    if let Some(reason) = &args.override_gate {
        let note = json!({"run": engine.run_id(), "reason": reason, "failed": failed});
        lock(&journal).record_note("gate_override", &note, clock.now()).context("cannot journal the override")?;
    }
    let resolutions = trade::resolution_fallback(&file.gateway.clob_url, &infos)?;
    let mut driver = Driver::new(engine, LiveExecution::new(gateway.clone(), learning, clock.clone()));
    let mut tokens = Vec::new();
    for mut info in infos {
        tokens.push(info.up.clone());
        tokens.push(info.down.clone());
        // The engine sizes, reserves and prices by the fee the market's fills
        // will pay: its `fd` as the exchange states it (issue 13). If it
        // cannot be read now, the highest category rate stands in (a fee is
        // then overestimated, never under); the fills still pay by `fd`,
        // which the gateway reads before the market's first order.
        match gateway.market_fee(&info.up).await {
            Ok(fee) => info.fee = fee,
            Err(e) => eprintln!(
                "WARNING: market {}: fee schedule not read ({e}); deciding with rate {} meanwhile",
                info.market, info.fee.rate
            ),
        }
        driver.list_market(info).context("cannot list a market")?;
    }
    for t in &tokens {
        // A market whose facts cannot be read now is read at its first order.
        let _ = gateway.prepare_market(t).await;
    }
    println!(
        "live trading run {} on {} ({}); journal {}",
        driver.engine().run_id(),
        source.description,
        if simulated { "simulator: no real money" } else { "REAL MONEY" },
        journal_path.display()
    );

    let mut md_cfg = file.market_data.clone();
    md_cfg.stream = source.stream.clone();
    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    let pump = Pump::start(md_cfg, tokens, clock.clone(), resolutions, Duration::from_millis(500), deadline)?;
    let mut side = LiveSide {
        alerts: started.alerts,
        redemptions,
        scheduler,
        journal: journal.clone(),
        paid_out,
        balance_slot,
        balance_floor: file.ops.balance_floor,
        gateway: gateway.clone(),
    };
    let reason = pump.run(&mut driver, &mut side, &mut monitor, &stop, None).await?;
    if file.live.cancel_on_exit {
        cancel_resting(&gateway, &journal, driver.engine().run_id(), clock.now()).await;
    }
    take_owed_fills(&mut driver, &journal).await?;
    while let Ok(report) = side.redemptions.try_recv() {
        on_redemption(driver.engine_mut(), &journal, &side.paid_out, &report, clock.now())?;
    }
    if let Some(scheduler) = side.scheduler.take() {
        scheduler.stop();
    }
    let owed: Vec<_> = driver.engine().ledger().unredeemed_markets().map(|(m, a)| (*m, *a)).collect();
    if !owed.is_empty() {
        let total: pmbot_core::Usdc = owed.iter().map(|(_, a)| *a).sum();
        println!(
            "{} resolved market(s) not yet redeemed ({total} pUSD at the payout): `pmbot redeem` redeems them",
            owed.len()
        );
    }
    let (stats, _) = driver.finish(clock.now(), reason).context("live run")?;
    gateway.shutdown();
    balance_task.abort();
    monitor.run_ended();
    println!(
        "stopped ({reason}): {} books distrusted by the feed, {} samples, {} intents, {} refused by risk, {} fills, \
         {} closed trades",
        stats.books_distrusted, stats.samples, stats.intents, stats.refusals, stats.fills, stats.trades
    );
    drop(source);
    let written = crate::report_out::write(&journal_path, &args.report);
    monitor.stop(file.ops.linger, reason, &stop).await;
    written
}

/// How long a stopping run waits for fills the exchange matched and has not
/// yet reported (a FAK's trades come after its post reply, over the user
/// channel or the gateway's REST look-up 2 s later).
const OWED_FILLS_WAIT: Duration = Duration::from_secs(6);

/// Takes the updates and fills still in flight before the run's end is
/// written: at least half a second of them, then until no final order in the
/// journal lacks fills its filled size says it had (bounded by
/// [`OWED_FILLS_WAIT`]). Without this a fill that came late reached the
/// journal after the run ended, and the ledger's last mark missed it.
async fn take_owed_fills(driver: &mut Driver<LiveExecution>, journal: &SharedJournal) -> Result<()> {
    let started = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = driver.venue_mut().learnt() => driver.take_answers().context("live run")?,
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        driver.take_answers().context("live run")?;
        let waited = started.elapsed();
        if waited < Duration::from_millis(500) {
            continue;
        }
        let owed = lock(journal).final_orders_missing_fills().context("cannot read the journal's orders")?;
        if owed.is_empty() {
            return Ok(());
        }
        if waited >= OWED_FILLS_WAIT {
            eprintln!(
                "pmbot: {} order(s) still lack fills the exchange reported matched; the next start reconciles them",
                owed.len()
            );
            return Ok(());
        }
    }
}

/// What `live` adds to the real-time loop: the gateway's alerts, the
/// redemptions' results, the balance, the gateway's figures.
struct LiveSide {
    alerts: mpsc::Receiver<GatewayAlert>,
    redemptions: mpsc::UnboundedReceiver<RedemptionReport>,
    scheduler: Option<RedemptionScheduler>,
    journal: SharedJournal,
    paid_out: crate::account::Balances,
    balance_slot: crate::monitor::BalanceSlot,
    balance_floor: pmbot_core::Usdc,
    gateway: Gateway,
}

impl Side<LiveExecution> for LiveSide {
    async fn next(&mut self) -> Aside {
        tokio::select! {
            Some(alert) = self.alerts.recv() => Aside::Alert(alert),
            Some(report) = self.redemptions.recv() => Aside::Redemption(report),
            // Both closed (no redeemer, gateway gone): nothing more to say.
            else => std::future::pending().await,
        }
    }

    fn on_aside(
        &mut self,
        aside: Aside,
        driver: &mut Driver<LiveExecution>,
        monitor: &mut crate::monitor::Monitor,
        now: TimestampMs,
    ) -> Result<()> {
        match aside {
            Aside::Alert(alert) => monitor.raise(crate::monitor::gateway_alert(&alert, now)),
            Aside::Redemption(report) => {
                on_redemption(driver.engine_mut(), &self.journal, &self.paid_out, &report, now)?;
            }
        }
        Ok(())
    }

    fn on_tick(&mut self, monitor: &mut crate::monitor::Monitor, now: TimestampMs) -> Option<GatewayFigures> {
        let reading = self.balance_slot.lock().unwrap_or_else(|e| e.into_inner()).clone();
        monitor.balance(reading.as_ref(), self.balance_floor, now);
        Some(crate::monitor::gateway_figures(&self.gateway))
    }

    fn after_step(&mut self, driver: &mut Driver<LiveExecution>) {
        if let Some(scheduler) = &self.scheduler {
            for market in driver.engine_mut().take_redemptions() {
                scheduler.request(market);
            }
        }
    }
}

/// The background redeemer, asked at once for every market the journal
/// still holds shares of. `None` (said on the terminal and journaled) when
/// this account cannot redeem here (a proxy or Safe funder): trading goes
/// on, and payouts stay owed in the ledger.
fn start_redemptions(
    file: &FileConfig,
    journal: &SharedJournal,
    clock: Arc<dyn Clock>,
) -> Result<(Option<RedemptionScheduler>, mpsc::UnboundedReceiver<RedemptionReport>)> {
    let key = crate::account::private_key(&file.gateway)?;
    let funder = crate::account::funder_of(&file.gateway, &key)?;
    let redeemer = match crate::account::redeemer(file, &key, funder) {
        Ok((redeemer, _)) => redeemer,
        Err(e) => {
            let why = crate::error::one_line(&e);
            eprintln!("pmbot: warning: resolved markets will not be redeemed automatically: {why}");
            let note = json!({"automatic": false, "why": why});
            let _ = lock(journal).record_note("redemption_off", &note, clock.now());
            let (_, idle) = mpsc::unbounded_channel();
            return Ok((None, idle));
        }
    };
    let pending = lock(journal).redemption_candidates().context("cannot read the journal's holdings")?;
    let log: SharedRedemptionLog = journal.clone();
    let (scheduler, reports) = RedemptionScheduler::start(redeemer, log, clock, file.redeem.clone());
    for market in pending {
        scheduler.request(market);
    }
    Ok((Some(scheduler), reports))
}

/// One redemption attempt's result: a confirmed payout becomes the ledger's
/// cash (once: the ledger forgets what it was owed) and the balance
/// pre-check reads the chain again; failures are said, and journaled when
/// no retry follows.
fn on_redemption(
    engine: &mut Engine,
    journal: &SharedJournal,
    balances: &crate::account::Balances,
    report: &RedemptionReport,
    now: TimestampMs,
) -> Result<()> {
    let market = report.market;
    match &report.result {
        Ok(RedeemOutcome::Redeemed { tx_hash, payout }) | Ok(RedeemOutcome::AlreadyRedeemed { tx_hash, payout }) => {
            let credited = engine.on_redeemed(&market, now).context("cannot book a redemption")?;
            // The pre-check's cached pUSD predates the payout.
            balances.invalidate();
            tracing::info!(target: "pmbot::redeem", market = %market, payout = %payout,
                tx = ?tx_hash, credited = ?credited, "redeemed");
        }
        Ok(RedeemOutcome::NotResolved) => {
            tracing::info!(target: "pmbot::redeem", market = %market, "not resolved on chain yet; will look again");
        }
        Ok(outcome @ (RedeemOutcome::NothingHeld | RedeemOutcome::NotPrepared)) => {
            let owed = engine.ledger().unredeemed_markets().find(|(m, _)| **m == market).map(|(_, a)| *a);
            if let Some(owed) = owed {
                // The run's shares are not on chain: redeemed outside pmbot,
                // or never settled. Not cash until someone finds out which.
                tracing::warn!(target: "pmbot::redeem", market = %market, owed = %owed, ?outcome,
                    "nothing to redeem on chain although this run holds a payout for the market");
                let note = json!({"market": market, "owed": owed, "found": format!("{outcome:?}")});
                let _ = lock(journal).record_note("redemption_mismatch", &note, now);
            }
        }
        Err(e) => match report.retry_in {
            Some(after) => tracing::warn!(target: "pmbot::redeem", market = %market, error = %e,
                attempt = report.attempt, retry_in_ms = after.as_millis() as u64, "redemption failed; will retry"),
            None => {
                tracing::error!(target: "pmbot::redeem", market = %market, error = %e, "redemption failed");
                eprintln!("pmbot: redemption of {market} failed: {e}; `pmbot redeem` tries again");
                let note = json!({"market": market, "error": e.to_string(), "attempts": report.attempt});
                let _ = lock(journal).record_note("redemption_failed", &note, now);
            }
        },
    }
    Ok(())
}

/// `[live] cancel_on_exit`: cancels the orders this run may have left
/// resting, and journals what it did. A failure is printed and journaled,
/// never fatal: the run's end must still be written.
async fn cancel_resting(gateway: &Gateway, journal: &SharedJournal, run: i64, now: TimestampMs) {
    let (detail, line) = match gateway.cancel_own_resting().await {
        Ok((report, unknown)) => (
            json!({
                "run": run,
                "cancelled": report.cancelled.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "not_cancelled": report.not_cancelled,
                "id_unknown": unknown.iter().map(ToString::to_string).collect::<Vec<_>>(),
            }),
            format!(
                "cancelled {} resting order(s) on exit; {} could not be cancelled, {} await reconciliation",
                report.cancelled.len(),
                report.not_cancelled.len(),
                unknown.len()
            ),
        ),
        Err(e) => {
            (json!({"run": run, "error": e.to_string()}), format!("could not cancel the resting orders on exit: {e}"))
        }
    };
    println!("{line}");
    if let Err(e) = lock(journal).record_note("cancel_on_exit", &detail, now) {
        eprintln!("pmbot: cannot journal the cancels on exit: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(clob_url: Option<&str>, ws_url: Option<&str>) -> SourceArgs {
        SourceArgs {
            sim: false,
            clob_url: clob_url.map(str::to_owned),
            ws_url: ws_url.map(str::to_owned),
            gamma_url: None,
            tokens: Vec::new(),
            markets: Vec::new(),
        }
    }

    /// `--clob-url` / `--ws-url` on a real (non-loopback) exchange send the
    /// orders where the data comes from; without them the configured
    /// `[gateway]` URLs stay. Issue 13 item 8.
    #[test]
    fn the_url_flags_name_the_gateways_exchange_too() {
        let stream = StreamConfig {
            rest_url: "https://clob-staging.polymarket.com".into(),
            ws_url: "wss://ws-staging.example".into(),
            ..StreamConfig::default()
        };
        let mut gateway = GatewayConfig::default();
        exchange_urls(&mut gateway, &flags(Some("https://clob-staging.polymarket.com"), None), &stream, false);
        assert_eq!(gateway.clob_url, "https://clob-staging.polymarket.com");
        assert_eq!(gateway.ws_url, GatewayConfig::default().ws_url, "no --ws-url: the configured one");
        exchange_urls(&mut gateway, &flags(None, Some("wss://ws-staging.example")), &stream, false);
        assert_eq!(gateway.ws_url, "wss://ws-staging.example");

        let mut untouched = GatewayConfig::default();
        exchange_urls(&mut untouched, &flags(None, None), &stream, false);
        assert_eq!(
            (untouched.clob_url.as_str(), untouched.ws_url.as_str()),
            ("https://clob.polymarket.com", "wss://ws-subscriptions-clob.polymarket.com")
        );
        exchange_urls(&mut untouched, &flags(None, None), &stream, true);
        assert_eq!(untouched.clob_url, stream.rest_url, "a simulator: always its URLs");
    }
}
