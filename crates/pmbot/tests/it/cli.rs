//! The `pmbot` binary as a user runs it: help, bad input, and `pmbot sim`
//! serving on loopback until its --duration ends.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn pmbot() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pmbot"))
}

#[test]
fn help_lists_the_simulator() {
    let out = pmbot().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("sim"), "{text}");
    let out = pmbot().args(["sim", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--seed", "--markets", "--port", "--faults", "--replay", "--fund", "--duration", "--config"] {
        assert!(text.contains(flag), "sim --help lacks {flag}: {text}");
    }
}

/// Bad input exits non-zero with one line that says what is wrong.
#[test]
fn bad_input_is_one_clear_line() {
    let cases: [(&[&str], &str); 6] = [
        (&["sim", "--faults", "rest-5xx=2"], "rest-5xx"),
        (&["sim", "--fund", "0xabc"], "ADDRESS=AMOUNT"),
        (&["sim", "--config", "/nonexistent/pmbot.toml"], "/nonexistent/pmbot.toml"),
        (&["sim", "--replay", "/nonexistent/dir", "--duration", "1s"], "/nonexistent/dir"),
        // A loopback exchange is simulated, and a simulated run stays on
        // loopback: refused before anything is contacted.
        (
            &["watch", "--clob-url", "http://127.0.0.1:9/", "--ws-url", "wss://ws.example", "--tokens", "1"],
            "not loopback: --ws-url / [market_data.stream] ws_url (ws.example)",
        ),
        (
            &[
                "record",
                "--clob-url",
                "http://127.0.0.1:9/",
                "--ws-url",
                "ws://127.0.0.1:9",
                "--gamma-url",
                "https://gamma.example/?key=SECRET",
                "--market",
                "m",
                "--out",
                "/nonexistent/r",
            ],
            "not loopback: --gamma-url (gamma.example)",
        ),
    ];
    for (args, needle) in cases {
        let out = pmbot().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("pmbot: "), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line, got {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn config_typos_are_refused() {
    let dir = std::env::temp_dir().join(format!("pmbot-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pmbot.toml");
    std::fs::write(&file, "[sim]\nsede = 4\n").unwrap();
    let out = pmbot().arg("--config").arg(&file).args(["sim", "--duration", "1s"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sede"));
}

/// The README's main command in miniature: the simulator starts, prints the
/// address it serves, answers the CLOB's health check, and stops by itself.
#[test]
fn sim_serves_and_stops_after_its_duration() {
    let started = Instant::now();
    let mut child = pmbot()
        .args(["sim", "--port", "0", "--seed", "3", "--markets", "2", "--duration", "3s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a line").unwrap();
    let url = first.strip_prefix("listening on ").expect("prints its address").to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let ws = lines.next().unwrap().unwrap();
    assert!(ws.starts_with("websocket ws://127.0.0.1:"), "{ws}");

    let addr = url.trim_start_matches("http://");
    let body = http_get(addr, "/ok");
    assert!(body.contains("\"OK\""), "{body}");
    let markets = http_get(addr, "/markets");
    assert_eq!(markets.matches("\"condition_id\"").count(), 2, "--markets 2");

    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// A plain HTTP/1.1 GET over a loopback socket; returns the whole response.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// `pmbot watch --sim`: the stream comes up against an embedded simulator and
/// every book is shown trusted, with the stream's health.
#[test]
fn watch_shows_live_trusted_books() {
    let out = pmbot().args(["watch", "--sim", "--duration", "3s", "--interval", "1s"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.rsplit("stream ").next().unwrap();
    assert!(last.starts_with("live"), "{text}");
    // Four synthetic markets, two tokens each, all trusted by the last refresh.
    assert_eq!(last.matches("trusted").count(), 8, "{last}");
    assert!(!last.contains("UNKNOWN"), "{last}");
}

#[test]
fn watch_needs_something_to_follow() {
    let out = pmbot().args(["watch", "--duration", "1s"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tokens"));
    let out = pmbot().args(["watch", "--tokens", "12x"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("12x"));
}

/// `pmbot record` against a running `pmbot sim`, following one market by its
/// slug: frames land in a readable recording.
#[test]
fn record_a_market_by_slug_from_a_running_simulator() {
    let mut sim = pmbot()
        .args(["sim", "--port", "0", "--markets", "2", "--duration", "20s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sim.stdout.take().unwrap()).lines();
    let url = lines.next().unwrap().unwrap().strip_prefix("listening on ").unwrap().to_owned();
    let addr = url.trim_start_matches("http://").to_owned();
    let markets = http_get(&addr, "/markets");
    let slug = markets.split("\"market_slug\":\"").nth(1).unwrap().split('"').next().unwrap().to_owned();

    let dir = std::env::temp_dir().join(format!("pmbot-record-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = pmbot()
        .args(["record", "--clob-url", &url, "--ws-url", &url.replace("http://", "ws://"), "--gamma-url"])
        .arg(format!("{url}/gamma"))
        .args(["--market", &slug, "--duration", "3s", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let _ = sim.kill();
    let _ = sim.wait();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("stopped (duration): recorded "), "{said}");
    let reader = pmbot_engine::replay::RecordingReader::open(&dir).unwrap();
    let meta = reader.meta().cloned().expect("metadata");
    assert_eq!(meta.tokens().len(), 2, "both outcome tokens of the market");
    let frames: Vec<_> = reader.map(|f| f.unwrap()).collect();
    assert!(!frames.is_empty());
    assert!(frames[0].text.contains("\"book\""), "the subscription's book dump comes first: {}", frames[0].text);

    // A slug that does not exist is a clear error.
    let out =
        pmbot().args(["record", "--sim", "--market", "no-such-market", "--out"]).arg(dir.join("x")).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no market with slug"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// DESIGN.md's crate table says what each crate depends on; every crate's
/// Cargo.toml must say the same (its normal `pmbot-*` dependencies), so the
/// picture cannot drift from the code again (issue 14).
#[test]
fn design_md_names_every_crates_pmbot_dependencies() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let design = std::fs::read_to_string(root.join("DESIGN.md")).unwrap();
    let mut checked = 0;
    for row in design.lines().filter(|l| l.starts_with("| `pmbot")) {
        let cells: Vec<&str> = row.split(" | ").collect();
        let name = cells[0].trim_start_matches("| ").trim_matches('`');
        let manifest = root.join("crates").join(name).join("Cargo.toml");
        let Ok(toml) = std::fs::read_to_string(&manifest) else { continue };
        // The [dependencies] table only (dev-dependencies may reach further).
        let normal = toml.split("[dependencies]").nth(1).unwrap_or("").split("\n[").next().unwrap_or("");
        let mut has: Vec<String> = normal
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pmbot-")?.split(['.', ' ', '=']).next().map(str::to_owned))
            .collect();
        has.sort();
        let said = cells.last().unwrap().trim_end_matches(" |").trim_end_matches('|').trim();
        let mut says: Vec<String> = if said.starts_with("nothing of pmbot's") {
            Vec::new()
        } else {
            said.split(',').map(|w| w.split_whitespace().next().unwrap_or("").to_owned()).collect()
        };
        says.sort();
        assert_eq!(has, says, "{name}: Cargo.toml depends on {has:?}; DESIGN.md says {said:?}");
        checked += 1;
    }
    assert!(checked >= 12, "the table lists every crate ({checked} checked)");
}
