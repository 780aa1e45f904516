//! `report.md`: the reader-first text. Headline and verdict first, then the
//! data, the tables behind the headline, and the run's provenance last.

use std::fmt::Write;

use pmbot_core::TimestampMs;

use super::{
    ACCURACY_COVERAGE_PLOT, CLAIM_ACCURACY, CLAIM_CONFIDENCE, ClaimVerdict, Coefficients, FOLDS_PLOT, RELIABILITY_PLOT,
    ReportInput,
};
use crate::metrics::{BaselineScore, Interval, Scorecard, ThresholdRow};
use crate::validate::{FoldOutcome, FoldReport, LeakageVerdict, SkipReason, SplitScore, ValidationReport};

/// The whole report. `writeln!` into a String cannot fail, hence the `let _`.
pub(super) fn render(input: &ReportInput<'_>) -> String {
    let mut out = String::new();
    let v = input.validation;
    let _ = writeln!(out, "# pmbot model validation report\n");
    let _ = writeln!(
        out,
        "pmbot {} · {} samples from {} markets · walk-forward over {} folds\n",
        input.pmbot_version,
        count(v.samples as u64),
        v.markets,
        v.walk_forward.folds.len()
    );
    headline(&mut out, v);
    data(&mut out, input);
    thresholds(&mut out, v);
    folds(&mut out, v);
    probability(&mut out, v);
    baselines(&mut out, &v.walk_forward.pooled);
    leakage(&mut out, v);
    reliability(&mut out, &v.walk_forward.pooled);
    coefficients(&mut out, input.coefficients.as_ref(), input.feature_names);
    run(&mut out, input);
    out
}

/// The sentence a trader reads first: the walk-forward number at the claimed
/// confidence, its interval, and the plain answer.
pub(super) fn headline_sentence(card: &Scorecard) -> String {
    let threshold = conf(CLAIM_CONFIDENCE);
    let claim = format!("accuracy ≥ {} at confidence ≥ {threshold}", pct0(CLAIM_ACCURACY));
    let verdict = ClaimVerdict::of(card);
    let answer = format!("**Does the model support \"{claim}\"? {}.**", verdict.answer());
    let Some(row) = card.at(CLAIM_CONFIDENCE).filter(|r| r.kept > 0) else {
        return format!(
            "{answer} No walk-forward test sample (of {}) reached confidence {threshold}, so there is nothing to \
             measure the claim on.",
            count(card.samples)
        );
    };
    let i = row.interval.unwrap_or(Interval { low: 0.0, high: 1.0 });
    let why = match verdict {
        ClaimVerdict::Supported => format!("the whole 95% interval lies at or above {}", pct0(CLAIM_ACCURACY)),
        ClaimVerdict::Refuted => format!("the whole 95% interval lies below {}", pct0(CLAIM_ACCURACY)),
        ClaimVerdict::Inconclusive | ClaimVerdict::NoSamples => {
            format!("the 95% interval straddles {}; more out-of-sample data is needed to decide", pct0(CLAIM_ACCURACY))
        }
    };
    format!(
        "{answer} Walk-forward, pooled over all test folds: at confidence ≥ {threshold} the model made a call on \
         {} of {} test samples (coverage {}) and was right on {} of them: accuracy {} (95% Wilson interval {}); {why}.",
        count(row.kept),
        count(card.samples),
        pct(row.coverage),
        count(row.correct),
        pct_opt(row.accuracy),
        interval(Some(i)),
    )
}

fn headline(out: &mut String, v: &ValidationReport) {
    let _ = writeln!(out, "## Headline\n");
    let _ = writeln!(out, "{}\n", headline_sentence(&v.walk_forward.pooled));
    let wf = &v.walk_forward.pooled;
    let _ = writeln!(
        out,
        "Over every test sample (confidence ≥ 0) walk-forward accuracy is {} (95% interval {}); always guessing up \
         scores {}.\n",
        pct_opt(wf.accuracy()),
        interval(wf.thresholds.first().and_then(|r| r.interval)),
        pct_opt(wf.always_up.accuracy),
    );
    if let Some(row) = v.random_kfold.pooled.at(CLAIM_CONFIDENCE) {
        let _ = writeln!(
            out,
            "For comparison, the naive random k-fold on the same data (shuffled, no purge, markets split across train \
             and test) would report {} at confidence ≥ {} with coverage {}: that is what a leaky split would have \
             claimed.\n",
            pct_opt(row.accuracy),
            conf(CLAIM_CONFIDENCE),
            pct(row.coverage)
        );
    }
    let _ = writeln!(out, "Leakage check: {}\n", leakage_sentence(v));
}

fn data(out: &mut String, input: &ReportInput<'_>) {
    let v = input.validation;
    let d = input.dataset;
    let _ = writeln!(out, "## Data\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let dirs: Vec<String> = input.data_dirs.iter().map(|p| code(&p.display().to_string())).collect();
    let _ = writeln!(out, "| Data directories | {} |", if dirs.is_empty() { "–".into() } else { dirs.join(", ") });
    let _ = writeln!(out, "| Markets | {} |", v.markets);
    let _ = writeln!(
        out,
        "| Span (UTC) | {} → {} ({}) |",
        utc(v.first),
        utc(v.last),
        duration(v.last.millis_since(v.first))
    );
    let mut samples = format!(
        "{} (up {} / down {}; up share {})",
        count(v.samples as u64),
        count(d.up),
        count(d.down),
        pct_opt((d.up + d.down > 0).then(|| d.up as f64 / (d.up + d.down) as f64))
    );
    if d.samples != v.samples as u64 {
        let _ = write!(samples, "; the data set holds {}, the validation used {}", count(d.samples), v.samples);
    }
    let _ = writeln!(out, "| Samples | {samples} |");
    let _ = writeln!(out, "| Dropped: mid did not change within the horizon | {} |", count(d.dropped_no_change));
    let _ = writeln!(out, "| Dropped: horizon ran past the end of the data | {} |", count(d.dropped_censored));
    let _ = writeln!(out, "| Dropped: features not ready (warm-up, one-sided book) | {} |", count(d.dropped_not_ready));
    let skipped: Vec<String> = d.skipped.iter().map(|(reason, n)| format!("{reason}: {}", count(*n))).collect();
    let _ =
        writeln!(out, "| Inputs skipped | {} |", if skipped.is_empty() { "none".into() } else { skipped.join("; ") });
    let _ = writeln!(
        out,
        "| Grid / label horizon | a sample every {} / next mid change within {} |",
        duration(d.spec.grid.step_ms),
        duration(v.spec.horizon_ms)
    );
    let wf = &v.spec.walk_forward;
    let _ = writeln!(
        out,
        "| Walk-forward | {} test folds, purge {}, embargo {}, at least {} training samples |",
        wf.folds,
        duration(wf.purge_ms),
        duration(wf.embargo_ms),
        count(wf.min_train_samples as u64)
    );
    let _ = writeln!(
        out,
        "| Naive random k-fold | {} folds, seed {} |",
        v.spec.random_kfold.folds, v.spec.random_kfold.seed
    );
    let _ = writeln!(out, "| Model | standardised logistic regression, L2 {} |", v.spec.fit.l2);
    let _ = writeln!(out, "| Features ({}) | {} |", input.feature_names.len(), input.feature_names.join(", "));
    let _ = writeln!(out, "| Data fingerprint (SHA-256) | {} |\n", code(&d.fingerprint));
}

fn thresholds(out: &mut String, v: &ValidationReport) {
    let _ = writeln!(out, "## Accuracy and coverage by confidence threshold\n");
    let _ = writeln!(
        out,
        "Walk-forward, pooled over all test folds. A call is kept when its confidence |2p − 1| reaches the \
         threshold; coverage is the share of test samples kept.\n"
    );
    let _ = writeln!(out, "| Confidence ≥ | Kept | Coverage | Correct | Accuracy | 95% interval |");
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---|");
    for row in &v.walk_forward.pooled.thresholds {
        let bold = if is_claim(row) { "**" } else { "" };
        let _ = writeln!(
            out,
            "| {bold}{}{bold} | {} | {} | {} | {bold}{}{bold} | {} |",
            conf(row.threshold),
            count(row.kept),
            pct(row.coverage),
            count(row.correct),
            pct_opt(row.accuracy),
            interval(row.interval)
        );
    }
    let _ = writeln!(out, "\n![Accuracy and coverage against confidence threshold]({ACCURACY_COVERAGE_PLOT})\n");
    let _ = writeln!(out, "### Beside the other splits\n");
    let _ = writeln!(
        out,
        "Accuracy (coverage) per split. The purged k-fold tests every block with a purge before and an embargo after \
         it; the naive random k-fold shuffles samples with no gap and no market grouping. The last column is the \
         inflation the naive split shows over walk-forward.\n"
    );
    let _ =
        writeln!(out, "| Confidence ≥ | Walk-forward | Purged k-fold | Naive random k-fold | Random − walk-forward |");
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|");
    for row in &v.walk_forward.pooled.thresholds {
        let t = row.threshold;
        let cell = |card: &Scorecard| card.at(t).map_or("–".to_owned(), acc_cov);
        let random = v.random_kfold.pooled.at(t);
        let inflation = match (random.and_then(|r| r.accuracy), row.accuracy) {
            (Some(r), Some(w)) => pp(r - w),
            _ => "–".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {inflation} |",
            conf(t),
            acc_cov(row),
            cell(&v.purged_kfold.pooled),
            cell(&v.random_kfold.pooled)
        );
    }
    out.push('\n');
}

fn folds(out: &mut String, v: &ValidationReport) {
    let claim = conf(CLAIM_CONFIDENCE);
    let _ = writeln!(out, "## Walk-forward folds\n");
    let _ = writeln!(
        out,
        "Each fold trains on everything before its test block, less the purge window and every market whose span \
         overlaps it, and tests on the block.\n"
    );
    let _ = writeln!(
        out,
        "| Fold | Test period (UTC) | Test samples | Training samples (markets) | Left out: purge/embargo | Left out: \
         market overlap | Accuracy, all | Accuracy at ≥ {claim} | 95% interval | Coverage at ≥ {claim} | Brier |"
    );
    let _ = writeln!(out, "|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|");
    for f in &v.walk_forward.folds {
        let head = format!(
            "| {} | {} → {} | {} | {} ({}) | {} | {} |",
            f.index + 1,
            utc(f.test_first),
            utc(f.test_last),
            count(f.test_samples as u64),
            count(f.train_samples as u64),
            f.train_markets,
            count(f.excluded_by_time as u64),
            count(f.excluded_by_market as u64)
        );
        match &f.outcome {
            FoldOutcome::Scored { score, .. } => {
                let row = score.at(CLAIM_CONFIDENCE);
                let _ = writeln!(
                    out,
                    "{head} {} | {} | {} | {} | {} |",
                    pct_opt(score.accuracy()),
                    pct_opt(row.and_then(|r| r.accuracy)),
                    interval(row.and_then(|r| r.interval)),
                    row.map_or("–".into(), |r| pct(r.coverage)),
                    brier(score.brier)
                );
            }
            FoldOutcome::Skipped(reason) => {
                let _ = writeln!(out, "{head} skipped: {} | | | | |", skip(reason));
            }
        }
    }
    let _ = writeln!(out, "\n![Per-fold accuracy with 95% intervals]({FOLDS_PLOT})\n");
    let _ = writeln!(out, "### Per fold and threshold\n");
    let _ = writeln!(out, "Walk-forward accuracy (samples kept) for each fold at each confidence threshold.\n");
    fold_matrix(out, &v.walk_forward);
    for (title, split) in [("Purged k-fold folds", &v.purged_kfold), ("Naive random k-fold folds", &v.random_kfold)] {
        let _ = writeln!(out, "### {title}\n");
        let _ = writeln!(
            out,
            "| Fold | Test samples | Training samples | Accuracy, all | Accuracy at ≥ {claim} (kept) | Brier |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|");
        for f in &split.folds {
            let _ = writeln!(out, "{}", compact_fold_row(f));
        }
        out.push('\n');
    }
}

fn fold_matrix(out: &mut String, split: &SplitScore) {
    let header: Vec<String> = split.pooled.thresholds.iter().map(|r| format!("≥ {}", conf(r.threshold))).collect();
    let _ = writeln!(out, "| Fold | {} |", header.join(" | "));
    let _ = writeln!(out, "|---:|{}", "---:|".repeat(header.len()));
    let cell = |r: &ThresholdRow| format!("{} ({})", pct_opt(r.accuracy), count(r.kept));
    for f in &split.folds {
        let cells: Vec<String> = match f.score() {
            Some(score) => score.thresholds.iter().map(cell).collect(),
            None => vec!["skipped".into(); header.len()],
        };
        let _ = writeln!(out, "| {} | {} |", f.index + 1, cells.join(" | "));
    }
    let pooled: Vec<String> = split.pooled.thresholds.iter().map(cell).collect();
    let _ = writeln!(out, "| pooled | {} |\n", pooled.join(" | "));
}

fn compact_fold_row(f: &FoldReport) -> String {
    let lead = format!("| {} | {} | {} |", f.index + 1, count(f.test_samples as u64), count(f.train_samples as u64));
    match &f.outcome {
        FoldOutcome::Scored { score, .. } => {
            let row = score.at(CLAIM_CONFIDENCE);
            format!(
                "{lead} {} | {} ({}) | {} |",
                pct_opt(score.accuracy()),
                pct_opt(row.and_then(|r| r.accuracy)),
                count(row.map_or(0, |r| r.kept)),
                brier(score.brier)
            )
        }
        FoldOutcome::Skipped(reason) => format!("{lead} skipped: {} | | |", skip(reason)),
    }
}

fn probability(out: &mut String, v: &ValidationReport) {
    let _ = writeln!(out, "## Brier score\n");
    let _ = writeln!(
        out,
        "Mean squared error of P(up) against the outcome (lower is better). Always saying p = 0.5 scores 0.25; \
         always saying the test set's own up share u scores u(1 − u), a bar no model should fail to clear.\n"
    );
    let _ = writeln!(out, "| Split | Brier |\n|---|---:|");
    for (name, split) in [
        ("Walk-forward", &v.walk_forward),
        ("Purged k-fold", &v.purged_kfold),
        ("Naive random k-fold", &v.random_kfold),
    ] {
        let _ = writeln!(out, "| {name} | {} |", brier(split.pooled.brier));
    }
    let climatology = v.walk_forward.pooled.up_share.map(|u| u * (1.0 - u));
    let _ = writeln!(out, "| Constant up share (walk-forward test samples) | {} |", brier(climatology));
    let _ = writeln!(out, "| Constant 0.5 | 0.2500 |\n");
}

/// Calls made, accuracy, interval: one row of the baselines table.
type RuleScore = (u64, Option<f64>, Option<Interval>);

fn baselines(out: &mut String, wf: &Scorecard) {
    let _ = writeln!(out, "## Baselines\n");
    let _ = writeln!(out, "Rules that ignore the model, scored on the same walk-forward test samples.\n");
    let _ = writeln!(out, "| Rule | Calls | Accuracy | 95% interval |\n|---|---:|---:|---|");
    let model_row = |r: &ThresholdRow| (r.kept, r.accuracy, r.interval);
    let mut rows: Vec<(String, Option<RuleScore>)> = Vec::new();
    rows.push(("Model, every sample".into(), wf.thresholds.first().map(model_row)));
    rows.push((format!("Model, confidence ≥ {}", conf(CLAIM_CONFIDENCE)), wf.at(CLAIM_CONFIDENCE).map(model_row)));
    let base = |b: &BaselineScore| (b.called, b.accuracy, b.interval);
    rows.push(("Always up".into(), Some(base(&wf.always_up))));
    rows.push(("Last move continues".into(), wf.last_move_continues.as_ref().map(base)));
    for (name, row) in rows {
        match row {
            Some((calls, accuracy, i)) => {
                let _ = writeln!(out, "| {name} | {} | {} | {} |", count(calls), pct_opt(accuracy), interval(i));
            }
            None => {
                let _ = writeln!(out, "| {name} | not computed (no last-move feature column was given) | | |");
            }
        }
    }
    out.push('\n');
}

fn leakage_sentence(v: &ValidationReport) -> String {
    let l = &v.leakage;
    let figures = format!(
        "naive random k-fold accuracy {} against walk-forward {}, a gap of {} (flag above {})",
        pct(l.random_kfold_accuracy),
        pct(l.walk_forward_accuracy),
        pp(l.gap),
        pp(l.threshold).trim_start_matches('+')
    );
    match l.verdict {
        LeakageVerdict::Clear => format!("**clear**: {figures}."),
        LeakageVerdict::Flagged => format!(
            "**flagged**: {figures}. The model does better when the test period's neighbourhood is in training: \
             something leaks across time (a feature, overlapping labels, or memorised markets). Trust the \
             walk-forward figures, not the random k-fold ones."
        ),
    }
}

fn leakage(out: &mut String, v: &ValidationReport) {
    let _ = writeln!(out, "## Leakage check\n");
    let _ = writeln!(out, "{}\n", leakage_sentence(v));
    let _ = writeln!(
        out,
        "What this catches: a model that needs the test period's own neighbourhood in training. What it cannot \
         catch: a feature that peeks at the future the same way in every period scores high in walk-forward too; \
         only the feature code's \"known at t\" rule prevents that.\n"
    );
}

fn reliability(out: &mut String, wf: &Scorecard) {
    let _ = writeln!(out, "## Reliability\n");
    let _ = writeln!(
        out,
        "Walk-forward test samples binned by predicted P(up): a calibrated model's observed up share matches its \
         mean prediction in every bin.\n"
    );
    let _ = writeln!(out, "| P(up) bin | Samples | Mean predicted | Observed up | Observed − predicted |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    for b in &wf.reliability {
        let gap = match (b.observed_up, b.mean_predicted) {
            (Some(o), Some(p)) => pp(o - p),
            _ => "–".into(),
        };
        let _ = writeln!(
            out,
            "| {:.1}–{:.1} | {} | {} | {} | {gap} |",
            b.low,
            b.high,
            count(b.count),
            pct_opt(b.mean_predicted),
            pct_opt(b.observed_up)
        );
    }
    let _ = writeln!(out, "\n![Reliability diagram]({RELIABILITY_PLOT})\n");
}

fn coefficients(out: &mut String, c: Option<&Coefficients<'_>>, feature_names: &[String]) {
    let _ = writeln!(out, "## Coefficients\n");
    let Some(c) = c else {
        let _ = writeln!(
            out,
            "No model was given or trained for this report; the figures above come from the models fitted inside \
             each fold. Features: {}.\n",
            feature_names.join(", ")
        );
        return;
    };
    let _ = writeln!(
        out,
        "Model {}. Weights are on standardised features: the change in log-odds of up per standard deviation of \
         the feature, largest first.\n",
        c.origin
    );
    let _ = writeln!(out, "| Feature | Weight |\n|---|---:|");
    let mut order: Vec<usize> = (0..c.weights.len()).collect();
    order.sort_by(|&a, &b| c.weights[b].abs().total_cmp(&c.weights[a].abs()).then(a.cmp(&b)));
    for i in order {
        let _ = writeln!(out, "| {} | {:+.4} |", c.names[i], c.weights[i]);
    }
    let _ = writeln!(out, "| (intercept) | {:+.4} |\n", c.intercept);
}

fn run(out: &mut String, input: &ReportInput<'_>) {
    let _ = writeln!(out, "## Run\n");
    let _ = writeln!(out, "- pmbot version: {}", input.pmbot_version);
    let line: Vec<String> = input.command_line.iter().map(|a| shell_word(a)).collect();
    let _ = writeln!(out, "- Command line:\n\n  ```text\n  {}\n  ```\n", line.join(" "));
}

fn is_claim(row: &ThresholdRow) -> bool {
    (row.threshold - CLAIM_CONFIDENCE).abs() < 1e-9
}

fn skip(reason: &SkipReason) -> String {
    match reason {
        SkipReason::TooFewTraining { have, need } => format!("{have} training samples, {need} needed"),
        SkipReason::SingleClassTraining { rows } => format!("all {rows} training labels are one class"),
    }
}

/// An argument as a shell would need it typed (quoted when it holds anything but plain characters).
fn shell_word(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain { arg.to_owned() } else { format!("'{}'", arg.replace('\'', r"'\''")) }
}

/// Inline code that survives backticks in the text.
fn code(s: &str) -> String {
    if s.contains('`') { format!("`` {s} ``") } else { format!("`{s}`") }
}

pub(super) fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn pct0(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

pub(super) fn pct_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_owned(), pct)
}

pub(super) fn interval(i: Option<Interval>) -> String {
    i.map_or_else(|| "–".to_owned(), |i| format!("{:.1}–{:.1}%", i.low * 100.0, i.high * 100.0))
}

/// Percentage points, signed.
fn pp(x: f64) -> String {
    format!("{:+.1} pp", x * 100.0)
}

fn conf(t: f64) -> String {
    format!("{t:.1}")
}

fn acc_cov(row: &ThresholdRow) -> String {
    format!("{} ({})", pct_opt(row.accuracy), pct(row.coverage))
}

fn brier(b: Option<f64>) -> String {
    b.map_or_else(|| "–".to_owned(), |b| format!("{b:.4}"))
}

/// A count with thousands separators.
pub(super) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A length of time in the largest two units that matter.
pub(super) fn duration(ms: i64) -> String {
    if ms < 0 {
        return format!("−{}", duration(ms.saturating_neg()));
    }
    if ms < 60_000 && ms % 1_000 != 0 {
        return format!("{ms} ms");
    }
    let s = ms / 1_000;
    let (d, h, m, s) = (s / 86_400, s / 3_600 % 24, s / 60 % 60, s % 60);
    let parts = [(d, "d"), (h, "h"), (m, "min"), (s, "s")];
    let shown: Vec<String> = parts
        .iter()
        .skip_while(|(v, _)| *v == 0)
        .take(2)
        .filter(|(v, _)| *v > 0)
        .map(|(v, u)| format!("{v} {u}"))
        .collect();
    if shown.is_empty() { "0 s".to_owned() } else { shown.join(" ") }
}

/// A timestamp as `YYYY-MM-DD HH:MM:SS` in UTC (no calendar crate needed for that).
pub(super) fn utc(t: TimestampMs) -> String {
    let ms = t.millis();
    let (days, secs) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000) / 1_000);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", secs / 3_600, secs / 60 % 60, secs % 60)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}
