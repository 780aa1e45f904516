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
    let mut cmd = paper_sim(&dir, "m.sqlite", "6h");
    // A webhook that refuses connections, planted to be looked for below.
    cmd.env("PMBOT_DISCORD_WEBHOOK", "http://127.0.0.1:9/api/webhooks/77/planted-metrics-token");
    let mut run = Running::spawn(cmd);
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
    let last = j.marks().unwrap().last().copied().unwrap();
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

    // No secret in what the server shows; the alerts it counts are there.
    for body in [&text, &body] {
        assert!(!body.contains("planted-metrics-token"), "the webhook URL leaked");
    }
    let (_, health_body) = get(&format!("{base}/health"));
    assert!(!health_body.contains("planted-metrics-token"));
    assert!(text.contains("pmbot_alerts_total{"), "alert counts are exported");

    // Read-only: other methods are refused.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let code =
        rt.block_on(async { reqwest::Client::new().post(format!("{base}/health")).send().await.unwrap().status() });
    assert_eq!(code.as_u16(), 405);
}

/// Polls `{base}/health` until `want` says yes (at most `within`); returns the last body.
async fn health_until(
    base: &str,
    within: Duration,
    want: impl Fn(u16, &serde_json::Value) -> bool,
) -> serde_json::Value {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let end = Instant::now() + within;
    let mut last = serde_json::Value::Null;
    while Instant::now() < end {
        if let Ok(r) = client.get(format!("{base}/health")).send().await {
            let code = r.status().as_u16();
            last = r.json().await.unwrap_or(serde_json::Value::Null);
            if want(code, &last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("health never turned as wanted within {within:?}; last: {last:#}");
}

fn component<'a>(health: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    health["components"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_turns_503_while_the_market_data_is_down_and_200_after_resync() {
    use pmbot_sim::model::synthetic::SyntheticConfig;
    use pmbot_sim::{SimConfig, SourceConfig};

    let dir = scratch("stall");
    // A model file to trade with.
    let train = paper_sim(&dir, "train.sqlite", "1m");
    let out = tokio::task::spawn_blocking(move || {
        let mut train = train;
        train.env("PMBOT_OPS__LINGER", "0s").output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let synthetic =
        SyntheticConfig { seed: 5, markets: 2, market_duration_ms: 20 * 60_000, ..SyntheticConfig::default() };
    let sim =
        pmbot_sim::start(SimConfig { source: SourceConfig::Synthetic(Box::new(synthetic)), ..SimConfig::default() })
            .await
            .expect("simulator starts");
    let slugs = sim.state.open_market_slugs();
    // A silent connection is found (no PONG) within a few seconds.
    std::fs::write(dir.join("stall.toml"), "[market_data.stream]\nping_interval = \"1s\"\npong_timeout = \"2s\"\n")
        .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pmbot"));
    cmd.current_dir(&dir).env("PMBOT_OPS__HTTP", "127.0.0.1:0").env("PMBOT_OPS__STALE_AFTER", "3s");
    cmd.args(["--config", "stall.toml", "paper", "--clob-url", &sim.rest_url(), "--ws-url", &sim.ws_url()]);
    cmd.args(["--gamma-url", &format!("{}gamma", sim.rest_url())]);
    cmd.args(["--model", "report/model.json", "--duration", "240s", "--journal", "feed.sqlite", "--report", "feed"]);
    cmd.arg("--market").args(&slugs);
    let mut run = Running::spawn(cmd);
    let base = tokio::task::block_in_place(|| run.ops_url());

    let ok = health_until(&base, Duration::from_secs(60), |code, h| code == 200 && h["status"] == "ok").await;
    assert_eq!(component(&ok, "market_data")["status"], "ok");

    // Every connection closed at its first frame: no book ever arrives, the
    // backoff grows (a connection that delivered nothing does not reset it)
    // and the feed is down. Not `ws-stall`: its plan leaves the first
    // millisecond of each connection free, and a clean CI run got every
    // connection's book dump through it, 25 reconnects in 61 s with
    // messages 1.4 s old, so the feed looked live throughout.
    sim.state.faults.set_spec("ws-drop=1".parse().unwrap());
    // Stale, resyncing or disconnected: each is down; which one a poll sees
    // is timing.
    let down = health_until(&base, Duration::from_secs(60), |code, h| {
        code == 503 && component(h, "market_data")["status"] == "down"
    })
    .await;
    assert_eq!(down["status"], "down");
    let why = component(&down, "market_data")["detail"].as_str().unwrap().to_owned();
    assert!(["stale", "disconnected", "resyncing"].iter().any(|w| why.starts_with(w)), "{down:#}");
    assert_eq!(component(&down, "engine")["status"], "ok", "only the market data is down: {down:#}");

    sim.state.faults.set_spec(Default::default());
    let back = health_until(&base, Duration::from_secs(90), |code, h| {
        code == 200 && component(h, "market_data")["status"] == "ok"
    })
    .await;
    let md = &component(&back, "market_data")["figures"];
    assert!(md["reconnects"].as_u64().unwrap() >= 1, "recovered through a reconnect and a resync: {back:#}");
    assert_eq!(md["resyncing"], false);

    // Connected but silent (the markets freeze; PONGs still come): stale,
    // and once stale for longer than `stale_after` a person is told.
    sim.state.pause_source(true);
    let stale = health_until(&base, Duration::from_secs(60), |code, _| code == 503).await;
    let detail = component(&stale, "market_data")["detail"].as_str().unwrap().to_owned();
    assert!(detail.starts_with("stale"), "{stale:#}");
    let journal = dir.join("feed.sqlite");
    let end = Instant::now() + Duration::from_secs(30);
    let alerted = loop {
        let j = Journal::open_read_only(&journal).unwrap();
        let notes = j.notes("alert").unwrap();
        if let Some(n) = notes.into_iter().find(|n| n.detail["kind"] == "market_data_stale") {
            break n;
        }
        assert!(Instant::now() < end, "no market_data_stale alert journaled");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(alerted.detail["title"], "Market data down");
    sim.state.pause_source(false);
    health_until(&base, Duration::from_secs(60), |code, h| {
        code == 200 && component(h, "market_data")["status"] == "ok"
    })
    .await;
}

/// A loopback HTTP receiver standing in for a webhook: records each request
/// body and answers 204.
struct Receiver {
    url: String,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Receiver {
    fn start() -> Receiver {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook/planted-secret-token", listener.local_addr().unwrap());
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        // One request: headers, then Content-Length bytes.
                        let head_end = loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i + 4;
                            }
                            match stream.read(&mut chunk) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        while buf.len() < head_end + len {
                            match stream.read(&mut chunk) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned();
                        seen.lock().unwrap().push(body);
                        buf.drain(..head_end + len);
                        if stream.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Receiver { url, bodies }
    }

    fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().iter().filter_map(|b| serde_json::from_str(b).ok()).collect()
    }
}

#[test]
fn the_daily_summary_is_written_beside_the_journal_journaled_and_posted_at_its_time() {
    let dir = scratch("summary");
    let hook = Receiver::start();
    // Simulated time runs from 01:00 on 2026-01-01 to 03:00 the next day:
    // the summary of the 1st is due at 00:05 on the 2nd.
    let mut cmd = paper_sim(&dir, "s.sqlite", "26h");
    cmd.env("PMBOT_OPS__LINGER", "0s").env("PMBOT_JSON_WEBHOOK", &hook.url);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");

    let file = dir.join("pmbot-summary-2026-01-01.md");
    let written = std::fs::read_to_string(&file).expect("the summary beside the journal");
    // The same figures as asked for on demand afterwards (the day was over
    // when it was written); only the run's end was not known yet then.
    let on_demand = Command::new(env!("CARGO_BIN_EXE_pmbot"))
        .current_dir(&dir)
        .args(["summary", "--date", "2026-01-01", "--journal", "s.sqlite", "--out", "again.md"])
        .output()
        .unwrap();
    assert!(on_demand.status.success(), "{}", String::from_utf8_lossy(&on_demand.stderr));
    let figures = |text: &str| text.split("## Runs").next().unwrap().to_owned();
    let again = String::from_utf8_lossy(&on_demand.stdout).into_owned();
    assert_eq!(figures(&written), figures(&again));
    assert!(figures(&written).contains("| closed trades |"), "{written}");
    assert!(written.contains("no end recorded") && again.contains("(duration)"));

    let j = Journal::open_read_only(dir.join("s.sqlite")).unwrap();
    let notes = j.notes("daily_summary").unwrap();
    assert_eq!(notes.len(), 1, "one summary: the run saw one summary time");
    assert_eq!(notes[0].detail["date"], "2026-01-01");
    // At the first step at or after 00:05 on the 2nd (engine time; the
    // simulator steps once a second).
    let due = 1_767_225_600_000 + 86_400_000 + 5 * 60_000;
    let at = notes[0].at.millis();
    assert!((due..due + 2_000).contains(&at), "written at {at}, due at {due}");

    // Posted: the start and stop of the process and the summary reach the webhook.
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end && !hook.bodies().iter().any(|b| b["kind"] == "process_stop") {
        std::thread::sleep(Duration::from_millis(100));
    }
    let bodies = hook.bodies();
    let kinds: Vec<&str> = bodies.iter().filter_map(|b| b["kind"].as_str()).collect();
    assert!(kinds.contains(&"process_start") && kinds.contains(&"process_stop"), "{kinds:?}");
    let posted = bodies.iter().find(|b| b["kind"] == "daily_summary").expect("the summary was posted");
    assert_eq!(posted["title"], "Daily summary 2026-01-01");
    assert!(posted["body"].as_str().unwrap().contains("2026-01-01"), "{posted}");
    // Every alert raised in the run was journaled and reached the webhook.
    let alert_notes = j.notes("alert").unwrap();
    let posted_alerts =
        kinds.iter().filter(|k| !matches!(**k, "process_start" | "process_stop" | "daily_summary")).count();
    assert!(posted_alerts <= alert_notes.len(), "held back by the window, never invented");
    // The webhook's URL is nowhere: not on screen, not in the logs.
    let logs: String = std::fs::read_dir(dir.join("pmbot-logs"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(logs.contains("daily summary written"), "the log file has the summary line");
    for text in [&stdout, &stderr, &logs, &written] {
        assert!(!text.contains("planted-secret-token"), "the webhook URL leaked");
    }
}
