//! The validation report as a document: the reader-first text, headline
//! and verdict first, then the data, the tables behind the headline, and the
//! run's provenance last. `pmbot_report` renders it as `report.md` and
//! `report.html`.

use pmbot_core::TimestampMs;
use pmbot_report::document::{Align, Document, Span, Table, code, strong, text};

use super::{
    ACCURACY_COVERAGE_PLOT, CLAIM_ACCURACY, CLAIM_CONFIDENCE, ClaimVerdict, Coefficients, FOLDS_PLOT, Pngs,
    RELIABILITY_PLOT, ReportInput,
};
use crate::metrics::{BaselineScore, Interval, Scorecard, ThresholdRow};
use crate::validate::{FoldOutcome, FoldReport, LeakageVerdict, SkipReason, SplitScore, ValidationReport};

use Align::{Left, Right};

/// The whole report.
pub(super) fn document<'a>(input: &ReportInput<'_>, pngs: &'a Pngs) -> Document<'a> {
    let v = input.validation;
    let mut doc = Document { title: "pmbot model validation report".into(), blocks: Vec::new() };
    doc.paragraph(vec![text(format!(
        "pmbot {} · {} samples from {} markets · walk-forward over {} folds",
        input.pmbot_version,
        count(v.samples as u64),
        v.markets,
        v.walk_forward.folds.len()
    ))]);
    headline(&mut doc, v);
    data(&mut doc, input);
    thresholds(&mut doc, v, pngs);
    folds(&mut doc, v, pngs);
    probability(&mut doc, v);
    baselines(&mut doc, &v.walk_forward.pooled);
    leakage(&mut doc, v);
    reliability(&mut doc, &v.walk_forward.pooled, pngs);
    coefficients(&mut doc, input.coefficients.as_ref(), input.feature_names);
    run(&mut doc, input);
    doc
}

/// The sentence a trader reads first: the walk-forward number at the claimed
/// confidence, its interval, and the plain answer (in bold).
pub(super) fn headline_sentence(card: &Scorecard) -> Vec<Span> {
    let threshold = conf(CLAIM_CONFIDENCE);
    let claim = format!("accuracy ≥ {} at confidence ≥ {threshold}", pct0(CLAIM_ACCURACY));
    let verdict = ClaimVerdict::of(card);
    let answer = strong(format!("Does the model support \"{claim}\"? {}.", verdict.answer()));
    let Some(row) = card.at(CLAIM_CONFIDENCE).filter(|r| r.kept > 0) else {
        return vec![
            answer,
            text(format!(
                " No walk-forward test sample (of {}) reached confidence {threshold}, so there is nothing to measure \
                 the claim on.",
                count(card.samples)
            )),
        ];
    };
    let i = row.interval.unwrap_or(Interval { low: 0.0, high: 1.0 });
    let why = match verdict {
        ClaimVerdict::Supported => format!("the whole 95% interval lies at or above {}", pct0(CLAIM_ACCURACY)),
        ClaimVerdict::Refuted => format!("the whole 95% interval lies below {}", pct0(CLAIM_ACCURACY)),
        ClaimVerdict::Inconclusive | ClaimVerdict::NoSamples => {
            format!("the 95% interval straddles {}; more out-of-sample data is needed to decide", pct0(CLAIM_ACCURACY))
        }
    };
    vec![
        answer,
        text(format!(
            " Walk-forward, pooled over all test folds: at confidence ≥ {threshold} the model made a call on {} of \
             {} test samples (coverage {}) and was right on {} of them: accuracy {} (95% Wilson interval {}); {why}.",
            count(row.kept),
            count(card.samples),
            pct(row.coverage),
            count(row.correct),
            pct_opt(row.accuracy),
            interval(Some(i)),
        )),
    ]
}

fn headline(doc: &mut Document<'_>, v: &ValidationReport) {
    doc.heading(2, "Headline");
    doc.paragraph(headline_sentence(&v.walk_forward.pooled));
    let wf = &v.walk_forward.pooled;
    doc.paragraph(vec![text(format!(
        "Over every test sample (confidence ≥ 0) walk-forward accuracy is {} (95% interval {}); always guessing up \
         scores {}.",
        pct_opt(wf.accuracy()),
        interval(wf.thresholds.first().and_then(|r| r.interval)),
        pct_opt(wf.always_up.accuracy),
    ))]);
    if let Some(row) = v.random_kfold.pooled.at(CLAIM_CONFIDENCE) {
        doc.paragraph(vec![text(format!(
            "For comparison, the naive random k-fold on the same data (shuffled, no purge, markets split across train \
             and test) would report {} at confidence ≥ {} with coverage {}: that is what a leaky split would have \
             claimed.",
            pct_opt(row.accuracy),
            conf(CLAIM_CONFIDENCE),
            pct(row.coverage)
        ))]);
    }
    let mut line = vec![text("Leakage check: ")];
    line.extend(leakage_sentence(v));
    doc.paragraph(line);
}

fn data(doc: &mut Document<'_>, input: &ReportInput<'_>) {
    let v = input.validation;
    let d = input.dataset;
    doc.heading(2, "Data");
    let mut t = Table::new(&[("", Left), ("", Left)]);
    let dirs: Vec<String> = input.data_dirs.iter().map(|p| p.display().to_string()).collect();
    t.row(vec![text("Data directories"), if dirs.is_empty() { text("–") } else { code(dirs.join(", ")) }]);
    t.row(vec![text("Markets"), text(v.markets.to_string())]);
    t.row(vec![
        text("Span (UTC)"),
        text(format!("{} → {} ({})", utc(v.first), utc(v.last), duration(v.last.millis_since(v.first)))),
    ]);
    let mut samples = format!(
        "{} (up {} / down {}; up share {})",
        count(v.samples as u64),
        count(d.up),
        count(d.down),
        pct_opt((d.up + d.down > 0).then(|| d.up as f64 / (d.up + d.down) as f64))
    );
    if d.samples != v.samples as u64 {
        samples.push_str(&format!("; the data set holds {}, the validation used {}", count(d.samples), v.samples));
    }
    t.row(vec![text("Samples"), text(samples)]);
    t.row(vec![text("Dropped: mid did not change within the horizon"), text(count(d.dropped_no_change))]);
    t.row(vec![text("Dropped: horizon ran past the end of the data"), text(count(d.dropped_censored))]);
    t.row(vec![text("Dropped: features not ready (warm-up, one-sided book)"), text(count(d.dropped_not_ready))]);
    let skipped: Vec<String> = d.skipped.iter().map(|(reason, n)| format!("{reason}: {}", count(*n))).collect();
    t.row(vec![text("Inputs skipped"), text(if skipped.is_empty() { "none".into() } else { skipped.join("; ") })]);
    t.row(vec![
        text("Grid / label horizon"),
        text(format!(
            "a sample every {} / next mid change within {}",
            duration(d.spec.grid.step_ms),
            duration(v.spec.horizon_ms)
        )),
    ]);
    let wf = &v.spec.walk_forward;
    t.row(vec![
        text("Walk-forward"),
        text(format!(
            "{} test folds, purge {}, embargo {}, at least {} training samples",
            wf.folds,
            duration(wf.purge_ms),
            duration(wf.embargo_ms),
            count(wf.min_train_samples as u64)
        )),
    ]);
    t.row(vec![
        text("Naive random k-fold"),
        text(format!("{} folds, seed {}", v.spec.random_kfold.folds, v.spec.random_kfold.seed)),
    ]);
    t.row(vec![text("Model"), text(format!("standardised logistic regression, L2 {}", v.spec.fit.l2))]);
    t.row(vec![text(format!("Features ({})", input.feature_names.len())), text(input.feature_names.join(", "))]);
    t.row(vec![text("Data fingerprint (SHA-256)"), code(d.fingerprint.clone())]);
    doc.table(t);
}

fn thresholds<'a>(doc: &mut Document<'a>, v: &ValidationReport, pngs: &'a Pngs) {
    doc.heading(2, "Accuracy and coverage by confidence threshold");
    doc.paragraph(vec![text(
        "Walk-forward, pooled over all test folds. A call is kept when its confidence |2p − 1| reaches the \
         threshold; coverage is the share of test samples kept.",
    )]);
    let mut t = Table::new(&[
        ("Confidence ≥", Right),
        ("Kept", Right),
        ("Coverage", Right),
        ("Correct", Right),
        ("Accuracy", Right),
        ("95% interval", Left),
    ]);
    for row in &v.walk_forward.pooled.thresholds {
        // The claim's row in bold.
        let mark = |s: String| if is_claim(row) { strong(s) } else { text(s) };
        t.row(vec![
            mark(conf(row.threshold)),
            text(count(row.kept)),
            text(pct(row.coverage)),
            text(count(row.correct)),
            mark(pct_opt(row.accuracy)),
            text(interval(row.interval)),
        ]);
    }
    doc.table(t);
    doc.image(ACCURACY_COVERAGE_PLOT, "Accuracy and coverage against confidence threshold", &pngs.accuracy_coverage);
    doc.heading(3, "Beside the other splits");
    doc.paragraph(vec![text(
        "Accuracy (coverage) per split. The purged k-fold tests every block with a purge before and an embargo after \
         it; the naive random k-fold shuffles samples with no gap and no market grouping. The last column is the \
         inflation the naive split shows over walk-forward.",
    )]);
    let mut t = Table::new(&[
        ("Confidence ≥", Right),
        ("Walk-forward", Right),
        ("Purged k-fold", Right),
        ("Naive random k-fold", Right),
        ("Random − walk-forward", Right),
    ]);
    for row in &v.walk_forward.pooled.thresholds {
        let th = row.threshold;
        let cell = |card: &Scorecard| card.at(th).map_or("–".to_owned(), acc_cov);
        let random = v.random_kfold.pooled.at(th);
        let inflation = match (random.and_then(|r| r.accuracy), row.accuracy) {
            (Some(r), Some(w)) => pp(r - w),
            _ => "–".into(),
        };
        t.row(vec![
            text(conf(th)),
            text(acc_cov(row)),
            text(cell(&v.purged_kfold.pooled)),
            text(cell(&v.random_kfold.pooled)),
            text(inflation),
        ]);
    }
    doc.table(t);
}

fn folds<'a>(doc: &mut Document<'a>, v: &ValidationReport, pngs: &'a Pngs) {
    let claim = conf(CLAIM_CONFIDENCE);
    doc.heading(2, "Walk-forward folds");
    doc.paragraph(vec![text(
        "Each fold trains on everything before its test block, less the purge window and every market whose span \
         overlaps it, and tests on the block.",
    )]);
    let at_claim = format!("Accuracy at ≥ {claim}");
    let coverage_at_claim = format!("Coverage at ≥ {claim}");
    let mut t = Table::new(&[
        ("Fold", Right),
        ("Test period (UTC)", Left),
        ("Test samples", Right),
        ("Training samples (markets)", Right),
        ("Left out: purge/embargo", Right),
        ("Left out: market overlap", Right),
        ("Accuracy, all", Right),
        (at_claim.as_str(), Right),
        ("95% interval", Left),
        (coverage_at_claim.as_str(), Right),
        ("Brier", Right),
    ]);
    for f in &v.walk_forward.folds {
        let mut cells = vec![
            text((f.index + 1).to_string()),
            text(format!("{} → {}", utc(f.test_first), utc(f.test_last))),
            text(count(f.test_samples as u64)),
            text(format!("{} ({})", count(f.train_samples as u64), f.train_markets)),
            text(count(f.excluded_by_time as u64)),
            text(count(f.excluded_by_market as u64)),
        ];
        match &f.outcome {
            FoldOutcome::Scored { score, .. } => {
                let row = score.at(CLAIM_CONFIDENCE);
                cells.extend([
                    text(pct_opt(score.accuracy())),
                    text(pct_opt(row.and_then(|r| r.accuracy))),
                    text(interval(row.and_then(|r| r.interval))),
                    text(row.map_or("–".into(), |r| pct(r.coverage))),
                    text(brier(score.brier)),
                ]);
            }
            FoldOutcome::Skipped(reason) => cells.push(text(format!("skipped: {}", skip(reason)))),
        }
        t.row(cells);
    }
    doc.table(t);
    doc.image(FOLDS_PLOT, "Per-fold accuracy with 95% intervals", &pngs.folds);
    doc.heading(3, "Per fold and threshold");
    doc.paragraph(vec![text("Walk-forward accuracy (samples kept) for each fold at each confidence threshold.")]);
    doc.table(fold_matrix(&v.walk_forward));
    for (title, split) in [("Purged k-fold folds", &v.purged_kfold), ("Naive random k-fold folds", &v.random_kfold)] {
        doc.heading(3, title);
        let kept_at_claim = format!("Accuracy at ≥ {claim} (kept)");
        let mut t = Table::new(&[
            ("Fold", Right),
            ("Test samples", Right),
            ("Training samples", Right),
            ("Accuracy, all", Right),
            (kept_at_claim.as_str(), Right),
            ("Brier", Right),
        ]);
        for f in &split.folds {
            t.row(compact_fold_row(f));
        }
        doc.table(t);
    }
}

fn fold_matrix(split: &SplitScore) -> Table {
    let header: Vec<String> = split.pooled.thresholds.iter().map(|r| format!("≥ {}", conf(r.threshold))).collect();
    let mut columns: Vec<(&str, Align)> = vec![("Fold", Right)];
    columns.extend(header.iter().map(|h| (h.as_str(), Right)));
    let mut t = Table::new(&columns);
    let cell = |r: &ThresholdRow| text(format!("{} ({})", pct_opt(r.accuracy), count(r.kept)));
    for f in &split.folds {
        let mut cells = vec![text((f.index + 1).to_string())];
        match f.score() {
            Some(score) => cells.extend(score.thresholds.iter().map(cell)),
            None => cells.extend(header.iter().map(|_| text("skipped"))),
        }
        t.row(cells);
    }
    let mut pooled = vec![text("pooled")];
    pooled.extend(split.pooled.thresholds.iter().map(cell));
    t.row(pooled);
    t
}

fn compact_fold_row(f: &FoldReport) -> Vec<Span> {
    let mut cells =
        vec![text((f.index + 1).to_string()), text(count(f.test_samples as u64)), text(count(f.train_samples as u64))];
    match &f.outcome {
        FoldOutcome::Scored { score, .. } => {
            let row = score.at(CLAIM_CONFIDENCE);
            cells.extend([
                text(pct_opt(score.accuracy())),
                text(format!("{} ({})", pct_opt(row.and_then(|r| r.accuracy)), count(row.map_or(0, |r| r.kept)))),
                text(brier(score.brier)),
            ]);
        }
        FoldOutcome::Skipped(reason) => cells.push(text(format!("skipped: {}", skip(reason)))),
    }
    cells
}

fn probability(doc: &mut Document<'_>, v: &ValidationReport) {
    doc.heading(2, "Brier score");
    doc.paragraph(vec![text(
        "Mean squared error of P(up) against the outcome (lower is better). Always saying p = 0.5 scores 0.25; \
         always saying the test set's own up share u scores u(1 − u), a bar no model should fail to clear.",
    )]);
    let mut t = Table::new(&[("Split", Left), ("Brier", Right)]);
    for (name, split) in [
        ("Walk-forward", &v.walk_forward),
        ("Purged k-fold", &v.purged_kfold),
        ("Naive random k-fold", &v.random_kfold),
    ] {
        t.row(vec![text(name), text(brier(split.pooled.brier))]);
    }
    let climatology = v.walk_forward.pooled.up_share.map(|u| u * (1.0 - u));
    t.row(vec![text("Constant up share (walk-forward test samples)"), text(brier(climatology))]);
    t.row(vec![text("Constant 0.5"), text("0.2500")]);
    doc.table(t);
}

/// Calls made, accuracy, interval: one row of the baselines table.
type RuleScore = (u64, Option<f64>, Option<Interval>);

fn baselines(doc: &mut Document<'_>, wf: &Scorecard) {
    doc.heading(2, "Baselines");
    doc.paragraph(vec![text("Rules that ignore the model, scored on the same walk-forward test samples.")]);
    let mut t = Table::new(&[("Rule", Left), ("Calls", Right), ("Accuracy", Right), ("95% interval", Left)]);
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
                t.row(vec![text(name), text(count(calls)), text(pct_opt(accuracy)), text(interval(i))]);
            }
            None => t.row(vec![text(name), text("not computed (no last-move feature column was given)")]),
        }
    }
    doc.table(t);
}

/// The leakage verdict in bold, then its figures.
fn leakage_sentence(v: &ValidationReport) -> Vec<Span> {
    let l = &v.leakage;
    let figures = format!(
        "naive random k-fold accuracy {} against walk-forward {}, a gap of {} (flag above {})",
        pct(l.random_kfold_accuracy),
        pct(l.walk_forward_accuracy),
        pp(l.gap),
        pp(l.threshold).trim_start_matches('+')
    );
    match l.verdict {
        LeakageVerdict::Clear => vec![strong("clear"), text(format!(": {figures}."))],
        LeakageVerdict::Flagged => vec![
            strong("flagged"),
            text(format!(
                ": {figures}. The model does better when the test period's neighbourhood is in training: something \
                 leaks across time (a feature, overlapping labels, or memorised markets). Trust the walk-forward \
                 figures, not the random k-fold ones."
            )),
        ],
    }
}

fn leakage(doc: &mut Document<'_>, v: &ValidationReport) {
    doc.heading(2, "Leakage check");
    doc.paragraph(leakage_sentence(v));
    doc.paragraph(vec![text(
        "What this catches: a model that needs the test period's own neighbourhood in training. What it cannot \
         catch: a feature that peeks at the future the same way in every period scores high in walk-forward too; \
         only the feature code's \"known at t\" rule prevents that.",
    )]);
}

fn reliability<'a>(doc: &mut Document<'a>, wf: &Scorecard, pngs: &'a Pngs) {
    doc.heading(2, "Reliability");
    doc.paragraph(vec![text(
        "Walk-forward test samples binned by predicted P(up): a calibrated model's observed up share matches its \
         mean prediction in every bin.",
    )]);
    let mut t = Table::new(&[
        ("P(up) bin", Left),
        ("Samples", Right),
        ("Mean predicted", Right),
        ("Observed up", Right),
        ("Observed − predicted", Right),
    ]);
    for b in &wf.reliability {
        let gap = match (b.observed_up, b.mean_predicted) {
            (Some(o), Some(p)) => pp(o - p),
            _ => "–".into(),
        };
        t.row(vec![
            text(format!("{:.1}–{:.1}", b.low, b.high)),
            text(count(b.count)),
            text(pct_opt(b.mean_predicted)),
            text(pct_opt(b.observed_up)),
            text(gap),
        ]);
    }
    doc.table(t);
    doc.image(RELIABILITY_PLOT, "Reliability diagram", &pngs.reliability);
}

fn coefficients(doc: &mut Document<'_>, c: Option<&Coefficients<'_>>, feature_names: &[String]) {
    doc.heading(2, "Coefficients");
    let Some(c) = c else {
        doc.paragraph(vec![text(format!(
            "No model was given or trained for this report; the figures above come from the models fitted inside \
             each fold. Features: {}.",
            feature_names.join(", ")
        ))]);
        return;
    };
    doc.paragraph(vec![text(format!(
        "Model {}. Weights are on standardised features: the change in log-odds of up per standard deviation of \
         the feature, largest first.",
        c.origin
    ))]);
    let mut t = Table::new(&[("Feature", Left), ("Weight", Right)]);
    let mut order: Vec<usize> = (0..c.weights.len()).collect();
    order.sort_by(|&a, &b| c.weights[b].abs().total_cmp(&c.weights[a].abs()).then(a.cmp(&b)));
    for i in order {
        t.row(vec![text(c.names[i].clone()), text(format!("{:+.4}", c.weights[i]))]);
    }
    t.row(vec![text("(intercept)"), text(format!("{:+.4}", c.intercept))]);
    doc.table(t);
}

fn run(doc: &mut Document<'_>, input: &ReportInput<'_>) {
    doc.heading(2, "Run");
    doc.list(vec![vec![text(format!("pmbot version: {}", input.pmbot_version))], vec![text("Command line:")]]);
    let line: Vec<String> = input.command_line.iter().map(|a| shell_word(a)).collect();
    doc.preformatted(line.join(" "));
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
