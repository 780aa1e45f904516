//! The dashboard in a real browser: headless Chromium loads the page from a
//! running paper-trading process and renders its open positions and the
//! health of each component; a screenshot is saved as a test artifact.
//!
//! Needs Chromium: `PMBOT_CHROMIUM` (set by `.ci/run`, which installs
//! Debian's `chromium`) or `/usr/bin/chromium`. Without either the test is
//! skipped with a NOTICE; with `PMBOT_CHROMIUM` set it must run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PMBOT_CHROMIUM") {
        let path = PathBuf::from(path);
        assert!(path.exists(), "PMBOT_CHROMIUM={} does not exist", path.display());
        return Some(path);
    }
    let default = PathBuf::from("/usr/bin/chromium");
    default.exists().then_some(default)
}

/// Headless Chromium as this machine allows it: no sandbox (root), no GPU,
/// and none of its background connections (the network is closed).
fn browser(bin: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1100",
        // Enough virtual time for the page's first fetch and render.
        "--virtual-time-budget=5000",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// Trades often and holds positions for simulated minutes, so some are open
/// whenever the page looks.
const CONFIG: &str = r#"[sim.source]
kind = "synthetic"
seed = 11
markets = 2
step_interval_ms = 1000

[strategy]
confidence_threshold = "0.05"
min_edge = "0"
take_profit_ticks = 60
stop_loss_ticks = 60
max_hold_ms = 900000

[risk]
loss_streak_limit = 100
market_loss_cooldown_ms = 1
daily_loss_limit = "100"
"#;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get_json(url: &str) -> Option<serde_json::Value> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        client.get(url).send().await.ok()?.json().await.ok()
    })
}

#[test]
fn the_dashboard_shows_positions_and_health_in_headless_chromium() {
    let Some(bin) = chromium() else {
        eprintln!(
            "NOTICE: Chromium not found (set PMBOT_CHROMIUM or install Debian's chromium); dashboard test skipped"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("pmbot-dashboard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pmbot.toml"), CONFIG).unwrap();

    // Paced: a simulated minute every three seconds once trading starts.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pmbot"));
    cmd.current_dir(&dir).env("PMBOT_OPS__HTTP", "127.0.0.1:0");
    cmd.args(["--config", "pmbot.toml", "paper", "--sim", "--duration", "6h", "--warmup", "1h", "--speed", "20"]);
    cmd.args(["--journal", "d.sqlite", "--report", "report"]);
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Killed(child);
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let base = loop {
        let line = lines.recv_timeout(Duration::from_secs(60)).expect("the ops server's address");
        if let Some(i) = line.find("http://") {
            break line[i..].split_whitespace().next().unwrap().trim_end_matches('/').to_owned();
        }
    };

    // Wait until the process holds a position and says so on its data endpoint.
    let end = Instant::now() + Duration::from_secs(180);
    let position = loop {
        assert!(Instant::now() < end, "no open position within 3 minutes");
        if let Some(d) = get_json(&format!("{base}/api/dashboard"))
            && let Some(p) = d["dashboard"]["positions"].as_array().and_then(|p| p.first())
        {
            break p.clone();
        }
        std::thread::sleep(Duration::from_millis(200));
    };

    let profile = dir.join("chromium-profile");
    let dom = browser(&bin, &profile).arg("--dump-dom").arg(format!("{base}/")).output().unwrap();
    assert!(dom.status.success(), "chromium: {}", String::from_utf8_lossy(&dom.stderr));
    let html = String::from_utf8_lossy(&dom.stdout).into_owned();

    // Health: a row per component, with its status.
    for component in ["engine", "market_data", "journal", "kill_switch"] {
        assert!(html.contains(&format!("data-component=\"{component}\"")), "no health row for {component}:\n{html}");
    }
    assert!(html.contains("status ok"), "statuses are drawn:\n{html}");
    // Positions: rows of real positions, not the empty placeholder. The
    // market of the position seen a moment ago, or one like it, is listed.
    let positions = html.split("id=\"positions\"").nth(1).and_then(|t| t.split("</table>").next()).unwrap();
    assert!(!positions.contains("no open position"), "positions rendered:\n{positions}");
    let market = position["market"].as_str().unwrap();
    assert!(positions.contains(&market[..8]), "the position's market ({market}) is shown:\n{positions}");
    // The account figures and the equity curve are drawn.
    assert!(html.contains("<polyline"), "equity curve:\n{html}");

    // A screenshot, kept as the test's artifact.
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let out = browser(&bin, &profile)
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("{base}/"))
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "a real screenshot: {} bytes", png.len());
    eprintln!("dashboard screenshot: {}", shot.display());
    let _ = std::fs::remove_dir_all(&dir);
}
