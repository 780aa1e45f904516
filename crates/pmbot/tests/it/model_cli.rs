//! `pmbot train` and `pmbot validate` as a user runs them: on the real data
//! (skipped with a NOTICE when `../shared/data/` is absent; `.ci/run` has it)
//! and on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pmbot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pmbot")).args(args).env_remove("RUST_LOG").output().unwrap()
}

fn real_data() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/resolvedkit-btc15m");
    if dir.join("books.jsonl.gz").exists() {
        Some(dir)
    } else {
        eprintln!("NOTICE: {} is absent; skipping the real-data CLI test", dir.display());
        None
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pmbot-model-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn train_then_validate_on_the_real_data_writes_a_model_and_a_report() {
    let Some(data) = real_data() else { return };
    let dir = temp_dir("real");
    let model = dir.join("models/model.json");
    let out = pmbot(&["train", "--data", s(&data), "--out", s(&model)]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("2569 samples from 13 markets"), "{stdout}");
    assert!(stdout.contains("walk-forward:") && stdout.contains("naive random k-fold"), "{stdout}");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
    assert_eq!(saved["feature_names"].as_array().unwrap().len(), pmbot_core::FEATURE_NAMES.len());
    assert!(saved["validation"]["walk_forward"]["pooled"]["samples"].as_u64().unwrap() > 1_000);

    let report = dir.join("report");
    let out = pmbot(&["validate", "--data", s(&data), "--model", s(&model), "--report", s(&report)]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("no sample after its training span"), "the model is not scored in-sample: {stdout}");
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("Does the model support"), "{md}");
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("Does the model support"), "the same document as a page");
    for png in ["accuracy_coverage.png", "reliability.png", "folds.png"] {
        let bytes = std::fs::read(report.join(png)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "{png}");
    }
    // The same data and settings give the same model, byte for byte.
    let again = dir.join("again.json");
    assert!(pmbot(&["train", "--data", s(&data), "--out", s(&again)]).status.success());
    assert_eq!(std::fs::read(&model).unwrap(), std::fs::read(&again).unwrap());
}

#[test]
fn bad_input_is_one_clear_line() {
    let dir = temp_dir("bad");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let corrupt = dir.join("corrupt.json");
    std::fs::write(&corrupt, "{\"format_version\": 1, \"weights\": [").unwrap();
    let report = dir.join("r");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["train", "--data", "/nonexistent/data", "--out", "/tmp/x.json"], "/nonexistent/data"),
        (vec!["train", "--data", s(&empty), "--out", "/tmp/x.json"], "empty"),
        (vec!["validate", "--data", s(&empty), "--report", s(&report)], "empty"),
        (vec!["validate", "--data", s(&empty), "--model", s(&corrupt), "--report", s(&report)], "corrupt.json"),
        (vec!["train", "--data", s(&empty), "--out", "/tmp/x.json", "--horizon", "0s"], "--horizon"),
        (vec!["train", "--data", s(&empty), "--out", "/tmp/x.json", "--folds", "1"], "--folds"),
    ];
    for (args, needle) in cases {
        let out = pmbot(&args);
        let (_, stderr) = text(&out);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr.starts_with("pmbot: "), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: one line, got {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    assert!(!report.join("report.md").exists(), "no report from a failed run");
}

#[test]
fn a_model_with_another_feature_list_is_refused_by_name() {
    let Some(data) = real_data() else { return };
    let dir = temp_dir("mismatch");
    let model = dir.join("model.json");
    assert!(pmbot(&["train", "--data", s(&data), "--out", s(&model)]).status.success());
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
    v["feature_names"][2] = serde_json::Value::String("imbalance_l7".into());
    std::fs::write(&model, serde_json::to_vec(&v).unwrap()).unwrap();
    let out = pmbot(&["validate", "--data", s(&data), "--model", s(&model), "--report", s(&dir.join("r"))]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("imbalance_l7") && stderr.contains("position 2"), "{stderr}");
}
