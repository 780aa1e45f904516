//! The report says what the structs say, the plots are real PNGs, and a
//! failed write leaves no half-written report.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pmbot_core::TimestampMs;
use pmbot_report::document::Span;

use super::sections::{count, duration, utc};
use super::*;
use crate::dataset::{DatasetSpec, DatasetSummary};
use crate::logistic::{LogisticRegression, Prediction};
use crate::metrics::ScoreAccumulator;
use crate::sample::Label;
use crate::synthetic::{self, LAST_MOVE_COLUMN, SyntheticSpec};
use crate::validate::{FoldOutcome, LeakageVerdict, ValidationSpec, WalkForwardSpec, validate};

struct Fixture {
    validation: ValidationReport,
    dataset: DatasetSummary,
    names: Vec<String>,
    model: LogisticRegression,
    dirs: Vec<PathBuf>,
    command: Vec<String>,
}

impl Fixture {
    fn input(&self) -> ReportInput<'_> {
        ReportInput {
            validation: &self.validation,
            dataset: &self.dataset,
            feature_names: &self.names,
            coefficients: Some(Coefficients {
                origin: "trained on all samples",
                names: &self.names,
                weights: &self.model.weights,
                intercept: self.model.intercept,
            }),
            data_dirs: &self.dirs,
            command_line: &self.command,
            pmbot_version: "0.0.0-test",
        }
    }
}

/// One synthetic validation shared by every test (it fits 16 models).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let data = SyntheticSpec::default();
        let samples = synthetic::generate(&data);
        let horizon_ms = data.horizon_steps as i64 * data.step_ms;
        let spec = ValidationSpec {
            horizon_ms,
            walk_forward: WalkForwardSpec {
                folds: 5,
                purge_ms: horizon_ms,
                embargo_ms: horizon_ms,
                min_train_samples: 200,
            },
            last_move_column: Some(LAST_MOVE_COLUMN),
            ..ValidationSpec::default()
        };
        let validation = validate(&samples, &spec).expect("synthetic data validates");
        let (model, _) = LogisticRegression::fit_samples(&samples, &spec.fit).expect("fits");
        let up = samples.iter().filter(|s| s.label.is_up()).count() as u64;
        let dataset = DatasetSummary {
            spec: DatasetSpec::default(),
            sources: Vec::new(),
            samples: samples.len() as u64,
            up,
            down: samples.len() as u64 - up,
            dropped_no_change: 123,
            dropped_censored: 45,
            dropped_not_ready: 6_789,
            skipped: BTreeMap::from([("truncated frame".to_owned(), 2)]),
            markets: Vec::new(),
            first_t: samples.first().map(|s| s.t),
            last_t: samples.last().map(|s| s.t),
            fingerprint: "ab".repeat(32),
        };
        Fixture {
            validation,
            dataset,
            names: data.feature_names(),
            model,
            dirs: vec![PathBuf::from("data/synthetic")],
            command: ["pmbot", "validate", "--data", "data/synthetic", "--report", "out dir"]
                .map(String::from)
                .to_vec(),
        }
    })
}

/// A fresh empty directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("pmbot-report-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn percent(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

#[test]
fn report_states_the_headline_every_threshold_and_the_verdict() {
    let f = fixture();
    let scratch = Scratch::new("headline");
    let dir = scratch.0.join("nested/report");
    let files = write_report(&dir, &f.input()).unwrap();
    assert_eq!(files.report, dir.join("report.md"));
    let md = fs::read_to_string(&files.report).unwrap();
    let wf = &f.validation.walk_forward.pooled;

    // The headline: walk-forward pooled at confidence >= 0.4, its interval, and the plain answer.
    let row = wf.at(0.4).unwrap();
    let (acc, i) = (row.accuracy.unwrap(), row.interval.unwrap());
    let headline = md.split("## Data").next().unwrap();
    assert!(headline.contains(&format!("accuracy {}", percent(acc))), "{headline}");
    assert!(headline.contains(&format!("(95% Wilson interval {:.1}–{:.1}%)", 100.0 * i.low, 100.0 * i.high)));
    assert!(headline.contains(&format!("(coverage {})", percent(row.coverage))));
    assert!(headline.contains(&format!("call on {} of {}", count(row.kept), count(wf.samples))));
    let expected = if i.low >= 0.9 {
        "yes"
    } else if i.high < 0.9 {
        "no"
    } else {
        "inconclusive"
    };
    assert_eq!(ClaimVerdict::of(wf).answer(), expected);
    assert!(headline.contains(&format!("at confidence ≥ 0.4\"? {expected}.**")), "{headline}");
    let random = f.validation.random_kfold.pooled.at(0.4).unwrap();
    assert!(headline.contains(&format!("would report {}", percent(random.accuracy.unwrap()))));
    let leak = &f.validation.leakage;
    let word = match leak.verdict {
        LeakageVerdict::Clear => "**clear**",
        LeakageVerdict::Flagged => "**flagged**",
    };
    assert!(headline.contains(&format!("Leakage check: {word}")));
    assert!(headline.contains(&format!("a gap of {:+.1} pp", 100.0 * leak.gap)));

    // Every threshold row of the walk-forward table, the claim's row in bold.
    for r in &wf.thresholds {
        let accuracy = r.accuracy.map_or("–".into(), percent);
        let interval = r.interval.map_or("–".into(), |i| format!("{:.1}–{:.1}%", 100.0 * i.low, 100.0 * i.high));
        let b = if (r.threshold - 0.4).abs() < 1e-9 { "**" } else { "" };
        let line = format!(
            "| {b}{:.1}{b} | {} | {} | {} | {b}{accuracy}{b} | {interval} |",
            r.threshold,
            count(r.kept),
            percent(r.coverage),
            count(r.correct)
        );
        assert!(md.contains(&line), "missing threshold row {line}");
    }
    // Every walk-forward fold has its row; the data section has the dropped counts and fingerprint.
    for fold in &f.validation.walk_forward.folds {
        assert!(md.contains(&format!("| {} | {} → ", fold.index + 1, utc(fold.test_first))));
        if let FoldOutcome::Scored { score, .. } = &fold.outcome {
            assert!(md.contains(&format!("| {:.4} |\n", score.brier.unwrap())));
        }
    }
    let fingerprint = "ab".repeat(32);
    for needle in ["| 123 |", "| 45 |", "| 6,789 |", "truncated frame: 2", fingerprint.as_str(), "`data/synthetic`"] {
        assert!(md.contains(needle), "missing {needle}");
    }
    assert!(md.contains(&format!("| Walk-forward | {:.4} |", wf.brier.unwrap())));
    assert!(md.contains(&format!(
        "| Always up | {} | {} |",
        count(wf.always_up.called),
        percent(wf.always_up.accuracy.unwrap())
    )));
    assert!(md.contains("| Last move continues |"));
    // The planted signal is the largest coefficient, so it heads the table.
    assert!(md.contains("|---|--:|\n| signal | +"), "coefficients not sorted by size");
    for plot in [ACCURACY_COVERAGE_PLOT, RELIABILITY_PLOT, FOLDS_PLOT] {
        assert!(md.contains(&format!("]({plot})")), "plot {plot} not embedded");
    }
    // Arguments as typed, quoted where a shell needs it; the report's own absolute path never appears.
    assert!(md.contains("pmbot validate --data data/synthetic --report 'out dir'"));
    assert!(!md.contains(&*scratch.0.to_string_lossy()), "absolute report path leaked into the report");
    assert_eq!(entries(&dir), ["accuracy_coverage.png", "folds.png", "reliability.png", "report.html", "report.md"]);

    // report.html is the same document: its headline, every plot embedded.
    let html = fs::read_to_string(&files.html).unwrap();
    assert!(html.contains("<h1>pmbot model validation report</h1>"));
    assert!(html.contains(&format!("(95% Wilson interval {:.1}–{:.1}%)", 100.0 * i.low, 100.0 * i.high)));
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), 3, "three plots, embedded");
    assert!(html.contains("pmbot validate --data data/synthetic --report &#39;out dir&#39;"), "{html}");
}

#[test]
fn plots_are_real_pngs_with_content() {
    let f = fixture();
    let scratch = Scratch::new("plots");
    let files = write_report(&scratch.0, &f.input()).unwrap();
    for path in files.plots() {
        let bytes = fs::read(path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is not a PNG", path.display());
        assert!(bytes.len() > 10_000, "{} is only {} bytes", path.display(), bytes.len());
        let decoder = png::Decoder::new(io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert!(info.width >= 700 && info.height >= 500);
        // Something was drawn: a real share of the pixels is not background white,
        // and there are many colours (lines, bands, anti-aliased text).
        let rgb: Vec<&[u8]> = pixels[..info.buffer_size()].chunks(3).collect();
        let inked = rgb.iter().filter(|p| ***p != [255u8, 255, 255]).count();
        assert!(inked * 50 > rgb.len(), "{}: only {inked} of {} pixels drawn", path.display(), rgb.len());
        let mut colours: Vec<&[u8]> = rgb.clone();
        colours.sort_unstable();
        colours.dedup();
        assert!(colours.len() > 20, "{}: {} colours", path.display(), colours.len());
    }
}

#[test]
fn unwritable_directory_is_a_typed_error_naming_it() {
    let f = fixture();
    let scratch = Scratch::new("unwritable");
    // A regular file where a parent directory should be: creating the report
    // directory fails for any user, root included (permissions would not stop root).
    let blocker = scratch.0.join("not-a-dir");
    fs::write(&blocker, b"x").unwrap();
    let dir = blocker.join("report");
    let err = write_report(&dir, &f.input()).unwrap_err();
    match &err {
        ReportError::Io { path, .. } => assert_eq!(path, &dir),
        other => panic!("expected Io, got {other:?}"),
    }
    assert!(err.to_string().contains(&*dir.to_string_lossy()), "{err}");
}

#[test]
fn a_report_name_taken_by_a_directory_fails_cleanly() {
    let f = fixture();
    let scratch = Scratch::new("taken");
    fs::create_dir(scratch.0.join(REPORT_FILE)).unwrap();
    let err = write_report(&scratch.0, &f.input()).unwrap_err();
    match &err {
        ReportError::Io { path, .. } => assert_eq!(path, &scratch.0.join(REPORT_FILE)),
        other => panic!("expected Io, got {other:?}"),
    }
    // The plots were written whole before; no temporary file is left.
    assert_eq!(
        entries(&scratch.0),
        ["accuracy_coverage.png", "folds.png", "reliability.png", "report.html", "report.md"]
    );
    assert!(scratch.0.join(REPORT_FILE).is_dir());
}

#[test]
fn mismatched_coefficients_are_refused_before_anything_is_written() {
    let f = fixture();
    let scratch = Scratch::new("mismatch");
    let dir = scratch.0.join("report");
    let short = &f.names[..2];
    let mut input = f.input();
    input.coefficients = Some(Coefficients { origin: "x", names: short, weights: &f.model.weights, intercept: 0.0 });
    assert!(matches!(write_report(&dir, &input), Err(ReportError::Inconsistent(_))));
    assert!(!dir.exists());
}

#[test]
fn claim_verdict_follows_the_interval() {
    let card = |right: u64, wrong: u64, confidence: f64| {
        let mut acc = ScoreAccumulator::new(false);
        let p = Prediction { p_up: (1.0 + confidence) / 2.0, confidence };
        (0..right).for_each(|_| acc.add(p, Label::Up, None));
        (0..wrong).for_each(|_| acc.add(p, Label::Down, None));
        acc.finish()
    };
    // 990/1000: interval about 98.2-99.5%, all above 90%.
    assert_eq!(ClaimVerdict::of(&card(990, 10, 0.5)), ClaimVerdict::Supported);
    // 700/1000: all below.
    assert_eq!(ClaimVerdict::of(&card(700, 300, 0.5)), ClaimVerdict::Refuted);
    // 9/10: 59.6-98.2%, straddles.
    assert_eq!(ClaimVerdict::of(&card(9, 1, 0.5)), ClaimVerdict::Inconclusive);
    // Nothing reached 0.4.
    let none = card(100, 0, 0.2);
    assert_eq!(ClaimVerdict::of(&none), ClaimVerdict::NoSamples);
    assert_eq!(ClaimVerdict::NoSamples.answer(), "inconclusive");
    let sentence: String = sections::headline_sentence(&none)
        .iter()
        .map(|s| match s {
            Span::Text(t) | Span::Strong(t) | Span::Code(t) => t.as_str(),
        })
        .collect();
    assert!(sentence.contains("No walk-forward test sample (of 100) reached confidence 0.4"), "{sentence}");
}

#[test]
fn times_counts_and_durations_read_plainly() {
    assert_eq!(utc(TimestampMs(synthetic::EPOCH_MS)), "2023-11-14 22:13:20");
    assert_eq!(utc(TimestampMs(0)), "1970-01-01 00:00:00");
    assert_eq!(utc(TimestampMs(1_709_164_800_000)), "2024-02-29 00:00:00");
    assert_eq!(utc(TimestampMs(-1_000)), "1969-12-31 23:59:59");
    assert_eq!(count(0), "0");
    assert_eq!(count(999), "999");
    assert_eq!(count(1_234_567), "1,234,567");
    assert_eq!(duration(5_000), "5 s");
    assert_eq!(duration(60_000), "1 min");
    assert_eq!(duration(90_000), "1 min 30 s");
    assert_eq!(duration(90_061_000), "1 d 1 h");
    assert_eq!(duration(250), "250 ms");
    assert_eq!(duration(0), "0 s");
}
