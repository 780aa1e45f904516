//! A second official client: Polymarket's Python `py-clob-client-v2` drives
//! the simulator (keys, books and their hash, allowances, orders, a fill, a
//! cancel, a heartbeat) through `scripts/interop/python_client.py`, and
//! cross-checks the amount rules of the conformance suite: an order built by
//! its market-order builder (`create_market_order`) is accepted and fills, a
//! FAK carrying its limit builder's amounts (a 4-decimal pUSD maker, 18.87 x
//! 0.53 = 10.0011) is refused 400 with the exchange's text.
//!
//! Needs a Python with `py-clob-client-v2` installed: `.ci/run` makes one and
//! points `PMBOT_PYTHON` at it. Without it the test prints a notice and skips,
//! so a fresh clone still passes.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

fn python() -> Option<String> {
    let candidate = std::env::var("PMBOT_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let ok = Command::new(&candidate)
        .args(["-c", "import py_clob_client_v2.client"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    ok.then_some(candidate)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_client_works_unchanged() {
    let Some(python) = python() else {
        eprintln!("NOTICE: skipping: no Python with py-clob-client-v2 (set PMBOT_PYTHON; .ci/run installs it)");
        return;
    };
    let sim = common::start(common::quiet_config(1)).await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/interop/python_client.py");
    let url = sim.rest_url();
    let out = tokio::task::spawn_blocking(move || Command::new(python).arg(script).arg(url).output())
        .await
        .unwrap()
        .expect("runs the script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "python client failed:\n{stdout}\n{stderr}");
    for line in [
        "ok   the market-order builder's FAK BUY is accepted and fills",
        "ok   refused with HTTP 400",
        "all checks passed",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    sim.shutdown().await;
}
