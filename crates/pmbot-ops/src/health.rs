//! `GET /health`: each component's status and figures, and the overall
//! verdict.
//!
//! Invariant: the verdict is a pure function of the figures the driver last
//! reported and how long ago that was. A driver that stops reporting (a
//! stuck engine loop) makes the process unhealthy by itself; nothing here
//! asks a component anything, so a health check can never slow trading.
//!
//! Rules: any component `down` makes the whole `down` (HTTP 503); otherwise
//! any `degraded` makes it `degraded` (HTTP 200: running, but a person should
//! look); otherwise `ok`.

use std::time::Duration;

use serde::Serialize;

/// A component's or the whole process's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Degraded,
    Down,
}

/// The market-data stream, as the driver last saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MarketDataFigures {
    /// Where the connection is (`live`, `connecting`, `backoff`, `stopped`,
    /// or `in_process` for the embedded simulator stepped by paper --sim).
    pub state: String,
    pub connected: bool,
    /// Fresh snapshots are being fetched after a (re)connect.
    pub resyncing: bool,
    /// Age of the newest market message when the driver looked, ms.
    pub message_age_ms: Option<i64>,
    pub uptime_pct: f64,
    pub uptime_s: f64,
    pub reconnects: u64,
    pub messages: u64,
    pub messages_per_s: f64,
    pub last_resync_ms: Option<i64>,
}

/// The order gateway (live runs only).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GatewayFigures {
    /// Why trading is halted until restart, if it is.
    pub halted: Option<String>,
    pub heartbeat_ok: bool,
    pub user_channel_connected: bool,
    pub posts: u64,
    pub ambiguous: u64,
    pub rate_limited: u64,
}

/// The on-chain balance reader.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BalanceFigures {
    /// The last check passed.
    pub ok: bool,
    pub detail: String,
    /// When it was checked (ms since the epoch).
    pub checked_ms: Option<i64>,
}

/// The journal.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JournalFigures {
    pub file: String,
    pub commits: u64,
    /// Engine time of the last commit.
    pub last_commit_ms: Option<i64>,
    /// The last write that failed, if the driver saw one.
    pub error: Option<String>,
}

/// Everything the driver reports, as plain values.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HealthInputs {
    /// `paper`, `live`, `backtest`.
    pub mode: String,
    /// `live_data`, `simulator`, `replay`.
    pub data_source: String,
    pub run: Option<i64>,
    /// `None` when the mode has no stream (never in a trading mode).
    pub market_data: Option<MarketDataFigures>,
    pub gateway: Option<GatewayFigures>,
    pub balance: Option<BalanceFigures>,
    pub journal: JournalFigures,
    pub kill_switch_present: bool,
    /// Engine time (market time in paper --sim) of the last decision.
    pub last_decision_ms: Option<i64>,
    /// The engine's clock when the driver reported.
    pub engine_now_ms: i64,
    pub markets: usize,
    /// The run has ended (the server may outlive it briefly).
    pub finished: bool,
}

/// Thresholds of the verdict (from `[ops]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthConfig {
    /// Market data older than this is stale: down.
    pub stale_after: Duration,
    /// A driver silent for longer than this has a stuck loop: down.
    pub loop_silent_after: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig { stale_after: Duration::from_secs(60), loop_silent_after: Duration::from_secs(15) }
    }
}

/// One component's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentHealth {
    pub name: &'static str,
    pub status: Status,
    /// Why, in a few words.
    pub detail: String,
    pub figures: serde_json::Value,
}

/// The whole `GET /health` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    pub status: Status,
    pub mode: String,
    pub data_source: String,
    pub run: Option<i64>,
    pub uptime_s: f64,
    /// Seconds since the driver last reported.
    pub report_age_s: f64,
    pub last_decision_ms: Option<i64>,
    pub components: Vec<ComponentHealth>,
}

impl HealthReport {
    pub fn http_status(&self) -> u16 {
        if self.status == Status::Down { 503 } else { 200 }
    }
}

fn component(
    name: &'static str,
    status: Status,
    detail: impl Into<String>,
    figures: impl Serialize,
) -> ComponentHealth {
    ComponentHealth {
        name,
        status,
        detail: detail.into(),
        figures: serde_json::to_value(figures).unwrap_or(serde_json::Value::Null),
    }
}

/// The verdict on `inputs`, reported `report_age` ago by a process up for
/// `uptime`.
pub fn evaluate(inputs: &HealthInputs, report_age: Duration, uptime: Duration, cfg: &HealthConfig) -> HealthReport {
    let mut components = Vec::new();
    let age_ms = i64::try_from(report_age.as_millis()).unwrap_or(i64::MAX);

    let (status, detail) = if inputs.finished {
        (Status::Degraded, "the run has ended".to_owned())
    } else if report_age > cfg.loop_silent_after {
        (Status::Down, format!("the engine loop has not reported for {:.0} s", report_age.as_secs_f64()))
    } else {
        (Status::Ok, "reporting".to_owned())
    };
    let engine =
        serde_json::json!({"engine_now_ms": inputs.engine_now_ms, "markets": inputs.markets, "report_age_ms": age_ms});
    components.push(component("engine", status, detail, engine));

    match &inputs.market_data {
        Some(md) => {
            let age = md.message_age_ms.map(|a| a.saturating_add(age_ms));
            let stale_ms = i64::try_from(cfg.stale_after.as_millis()).unwrap_or(i64::MAX);
            let (status, detail) = if !md.connected {
                (Status::Down, format!("disconnected ({})", md.state))
            } else if md.resyncing {
                (Status::Down, "resyncing books after a reconnect".to_owned())
            } else if age.is_some_and(|a| a > stale_ms) {
                (Status::Down, format!("stale: newest message {:.1} s old", age.unwrap_or(0) as f64 / 1000.0))
            } else if age.is_none() {
                (Status::Degraded, "connected, no market message yet".to_owned())
            } else {
                (Status::Ok, format!("{} ({:.1} msg/s)", md.state, md.messages_per_s))
            };
            let mut figures = md.clone();
            figures.message_age_ms = age;
            components.push(component("market_data", status, detail, figures));
        }
        None => components.push(component("market_data", Status::Down, "no market-data stream", serde_json::json!({}))),
    }

    if let Some(g) = &inputs.gateway {
        let (status, detail) = match &g.halted {
            Some(why) => (Status::Down, format!("halted: {why}")),
            None if !g.heartbeat_ok => (Status::Degraded, "order-safety heartbeat failing".to_owned()),
            None if !g.user_channel_connected => (Status::Degraded, "user channel disconnected".to_owned()),
            None => (Status::Ok, "ready".to_owned()),
        };
        components.push(component("gateway", status, detail, g));
    }
    if let Some(b) = &inputs.balance {
        let status = if b.ok { Status::Ok } else { Status::Down };
        components.push(component("balance", status, b.detail.clone(), b));
    }

    let (status, detail) = match &inputs.journal.error {
        Some(e) => (Status::Down, format!("write failed: {e}")),
        None => (Status::Ok, format!("{} commits", inputs.journal.commits)),
    };
    components.push(component("journal", status, detail, &inputs.journal));

    let (status, detail) =
        if inputs.kill_switch_present { (Status::Degraded, "engaged: no new orders") } else { (Status::Ok, "absent") };
    components.push(component(
        "kill_switch",
        status,
        detail,
        serde_json::json!({"present": inputs.kill_switch_present}),
    ));

    let status = components.iter().map(|c| c.status).max().unwrap_or(Status::Ok);
    HealthReport {
        status,
        mode: inputs.mode.clone(),
        data_source: inputs.data_source.clone(),
        run: inputs.run,
        uptime_s: uptime.as_secs_f64(),
        report_age_s: report_age.as_secs_f64(),
        last_decision_ms: inputs.last_decision_ms,
        components,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> HealthInputs {
        HealthInputs {
            mode: "paper".into(),
            data_source: "live_data".into(),
            run: Some(1),
            market_data: Some(MarketDataFigures {
                state: "live".into(),
                connected: true,
                message_age_ms: Some(200),
                messages: 10,
                ..Default::default()
            }),
            journal: JournalFigures { file: "j.sqlite".into(), commits: 3, ..Default::default() },
            ..Default::default()
        }
    }

    fn verdict(i: &HealthInputs, report_age_s: u64) -> HealthReport {
        evaluate(i, Duration::from_secs(report_age_s), Duration::from_secs(100), &HealthConfig::default())
    }

    fn of<'a>(r: &'a HealthReport, name: &str) -> &'a ComponentHealth {
        r.components.iter().find(|c| c.name == name).unwrap()
    }

    #[test]
    fn a_healthy_process_is_ok_and_200() {
        let r = verdict(&healthy(), 1);
        assert_eq!(r.status, Status::Ok, "{r:#?}");
        assert_eq!(r.http_status(), 200);
    }

    #[test]
    fn each_failure_names_its_component() {
        let mut i = healthy();
        i.market_data.as_mut().unwrap().connected = false;
        i.market_data.as_mut().unwrap().state = "backoff".into();
        let r = verdict(&i, 1);
        assert_eq!((r.status, r.http_status()), (Status::Down, 503));
        assert_eq!(of(&r, "market_data").detail, "disconnected (backoff)");

        let mut i = healthy();
        i.market_data.as_mut().unwrap().resyncing = true;
        assert_eq!(of(&verdict(&i, 1), "market_data").status, Status::Down);

        // The age grows with the report's own age.
        let mut i = healthy();
        i.market_data.as_mut().unwrap().message_age_ms = Some(50_000);
        assert_eq!(verdict(&i, 5).status, Status::Ok);
        let cfg = HealthConfig { loop_silent_after: Duration::from_secs(3600), ..Default::default() };
        let r = evaluate(&i, Duration::from_secs(11), Duration::from_secs(100), &cfg);
        assert_eq!(of(&r, "market_data").status, Status::Down, "{r:#?}");

        let r = verdict(&healthy(), 16);
        assert_eq!(of(&r, "engine").status, Status::Down, "a silent loop");

        let mut i = healthy();
        i.journal.error = Some("disk full".into());
        assert_eq!(verdict(&i, 1).http_status(), 503);

        let mut i = healthy();
        i.gateway = Some(GatewayFigures { halted: Some("401".into()), ..Default::default() });
        assert_eq!(of(&verdict(&i, 1), "gateway").status, Status::Down);

        let mut i = healthy();
        i.balance = Some(BalanceFigures { ok: false, detail: "RPC down".into(), checked_ms: None });
        assert_eq!(verdict(&i, 1).status, Status::Down);
    }

    #[test]
    fn degraded_is_still_200() {
        let mut i = healthy();
        i.kill_switch_present = true;
        let r = verdict(&i, 1);
        assert_eq!((r.status, r.http_status()), (Status::Degraded, 200));
        let mut i = healthy();
        i.gateway = Some(GatewayFigures { heartbeat_ok: true, user_channel_connected: false, ..Default::default() });
        assert_eq!(verdict(&i, 1).status, Status::Degraded);
    }
}
