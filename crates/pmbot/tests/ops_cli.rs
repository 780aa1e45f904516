//! The ops server of a real trading process, over loopback: `/metrics`
//! parses with an independent Prometheus text parser and its counters equal
//! the journal's rows; `/health` answers 503 while the simulator stalls the
//! market data and 200 again once the stream has resynced.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pmbot_engine::journal::Journal;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pmbot-ops-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Two markets stepped once a second.
const LIGHT_SIM: &str = "[sim.source]\nkind = \"synthetic\"\nseed = 11\nmarkets = 2\nstep_interval_ms = 1000\n";

/// A running pmbot whose stdout lines arrive on a channel; killed on drop.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Running { child, lines, seen: Vec::new() }
    }

    /// The first line containing `needle`, waiting at most `within`.
    fn wait_line(&mut self, needle: &str, within: Duration) -> String {
        let end = Instant::now() + within;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {needle:?} within {within:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// The ops server's base URL, from its start-up line.
    fn ops_url(&mut self) -> String {
        let line = self.wait_line("ops: dashboard http://", Duration::from_secs(60));
        let start = line.find("http://").unwrap();
        line[start..].split_whitespace().next().unwrap().trim_end_matches('/').to_owned()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(url: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let r = client.get(url).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
}

fn samples(text: &str) -> Vec<prometheus_parse::Sample> {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).expect("the Prometheus text parser reads /metrics").samples
}

fn value(samples: &[prometheus_parse::Sample], name: &str, label: Option<(&str, &str)>) -> f64 {
    let found = samples.iter().find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)));
    match found.map(|s| &s.value) {
        Some(
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v),
        ) => *v,
        None => 0.0,
        other => panic!("{name}: {other:?}"),
    }
}

fn paper_sim(dir: &Path, journal: &str, duration: &str) -> Command {
    std::fs::write(dir.join("pmbot.toml"), LIGHT_SIM).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pmbot"));
    cmd.current_dir(dir).env("PMBOT_OPS__HTTP", "127.0.0.1:0").env("PMBOT_OPS__LINGER", "2m");
    cmd.args(["--config", "pmbot.toml", "paper", "--sim", "--duration", duration, "--warmup", "1h"]);
    cmd.args(["--journal", journal, "--report", "report"]);
    cmd
}

#[test]
fn metrics_parse_and_their_counters_equal_the_journal_rows() {
    let dir = scratch("metrics");
    let mut run = Running::spawn(paper_sim(&dir, "m.sqlite", "6h"));
    let base = run.ops_url();
    // Once the report is written the run is over; the server lingers.
    run.wait_line("report:", Duration::from_secs(300));

    let (code, text) = get(&format!("{base}/metrics"));
    assert_eq!(code, 200);
    let s = samples(&text);
    let j = Journal::open_read_only(dir.join("m.sqlite")).unwrap();

    let orders = j.orders().unwrap();
    let fills = j.fills().unwrap();
    let trades = j.trades().unwrap();
    let decisions = j.decisions().unwrap();
    assert!(!fills.is_empty() && !trades.is_empty(), "the run traded");
    assert_eq!(value(&s, "pmbot_orders_submitted_total", None), orders.len() as f64);
    assert_eq!(value(&s, "pmbot_fills_total", None), fills.len() as f64);
    let won = trades.iter().filter(|t| t.pnl() > pmbot_core::Usdc::ZERO).count();
    assert_eq!(value(&s, "pmbot_trades_total", Some(("outcome", "won"))), won as f64);
    assert_eq!(value(&s, "pmbot_trades_total", Some(("outcome", "lost"))), (trades.len() - won) as f64);
    let mut by_action: BTreeMap<&str, u64> = BTreeMap::new();
    let mut refusals: BTreeMap<String, u64> = BTreeMap::new();
    for d in &decisions {
        *by_action.entry(d.action.as_str()).or_default() += 1;
        if d.action == pmbot_engine::journal::DecisionAction::Refused {
            *refusals.entry(d.reason.clone()).or_default() += 1;
        }
    }
    for (action, n) in &by_action {
        assert_eq!(value(&s, "pmbot_decisions_total", Some(("action", action))), *n as f64, "{action}");
    }
    assert!(!refusals.is_empty(), "the run had risk refusals");
    for (reason, n) in &refusals {
        assert_eq!(value(&s, "pmbot_risk_refusals_total", Some(("reason", reason))), *n as f64, "{reason}");
    }
    // Orders by current state add up to every order.
    let by_state: f64 = s
        .iter()
        .filter(|x| x.metric == "pmbot_orders")
        .map(|x| match x.value {
            prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum();
    assert_eq!(by_state, orders.len() as f64);
    let last = j.marks().unwrap().last().cloned().unwrap();
    let equity = last.equity().micros() as f64 / 1e6;
    assert!((value(&s, "pmbot_equity_usd", None) - equity).abs() < 1e-6);
    assert!(value(&s, "pmbot_market_messages_total", None) > 1000.0);
    assert!(value(&s, "pmbot_order_fill_latency_seconds_count", None) >= 1.0);

    // Health: the run has ended, which is said, not hidden.
    let (code, body) = get(&format!("{base}/health"));
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((code, health["status"].as_str()), (200, Some("degraded")), "{body}");
    let names: Vec<&str> =
        health["components"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["engine", "market_data", "journal", "kill_switch"]);

    // The dashboard's data agrees too.
    let (code, body) = get(&format!("{base}/api/dashboard"));
    assert_eq!(code, 200);
    let dash: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(dash["dashboard"]["trades"], trades.len());
    assert!(dash["dashboard"]["equity"].as_array().unwrap().len() > 10);
    assert_eq!(dash["dashboard"]["mark"]["equity"], last.equity().to_string());

    // Read-only: other methods are refused.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let code =
        rt.block_on(async { reqwest::Client::new().post(format!("{base}/health")).send().await.unwrap().status() });
    assert_eq!(code.as_u16(), 405);
}
