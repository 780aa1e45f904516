//! Model costs: one `predict` on 15 features (the per-event inference budget is
//! part of the 2 us p99 target), and fitting plus full validation (walk-forward,
//! purged k-fold, random k-fold: 16 fits) on 50,000 synthetic samples.
//!
//! Run: `cargo bench -p pmbot-model --bench model`. A plain program: it prints
//! p50/p99 of single `predict` calls (timed in batches of 64 to stay above the
//! clock's resolution) and wall time of the training runs.

use std::hint::black_box;
use std::time::Instant;

use pmbot_model::synthetic::{self, LAST_MOVE_COLUMN, SyntheticSpec};
use pmbot_model::{FitSpec, LogisticRegression, ValidationSpec, WalkForwardSpec, validate};

fn percentile(sorted: &[f64], q: f64) -> f64 {
    pmbot_core::quantile::quantile(sorted, q).expect("samples")
}

fn main() {
    // 15 features: signal, last move, 13 noise columns; 50 markets x 1000 samples.
    let data = SyntheticSpec { markets: 50, samples_per_market: 1_000, noise_features: 13, ..SyntheticSpec::default() };
    let samples = synthetic::generate(&data);
    assert_eq!(samples.len(), 50_000);
    assert_eq!(samples[0].features.len(), 15);

    let started = Instant::now();
    let (model, report) = LogisticRegression::fit_samples(&samples, &FitSpec::default()).unwrap();
    let fit_time = started.elapsed();
    println!("fit on 50,000 x 15: {:.1} ms ({} Newton iterations)", fit_time.as_secs_f64() * 1e3, report.iterations);

    // predict: per call, batches of 64 distinct vectors.
    const BATCH: usize = 64;
    let inputs: Vec<&[f64]> = samples.iter().take(4_096).map(|s| s.features.as_slice()).collect();
    let mut per_call_ns = Vec::with_capacity(20_000);
    for round in 0..20_000 {
        let base = (round * BATCH) % (inputs.len() - BATCH);
        let t0 = Instant::now();
        for x in &inputs[base..base + BATCH] {
            black_box(model.predict(black_box(x)).unwrap());
        }
        per_call_ns.push(t0.elapsed().as_nanos() as f64 / BATCH as f64);
    }
    per_call_ns.sort_by(f64::total_cmp);
    println!(
        "predict (15 features): p50 {:.1} ns, p99 {:.1} ns, max {:.1} ns per call (batches of {BATCH})",
        percentile(&per_call_ns, 0.5),
        percentile(&per_call_ns, 0.99),
        per_call_ns.last().unwrap()
    );

    let horizon_ms = data.horizon_steps as i64 * data.step_ms;
    let spec = ValidationSpec {
        horizon_ms,
        walk_forward: WalkForwardSpec {
            folds: 5,
            purge_ms: horizon_ms,
            embargo_ms: horizon_ms,
            min_train_samples: 500,
        },
        last_move_column: Some(LAST_MOVE_COLUMN),
        ..ValidationSpec::default()
    };
    for run in 0..3 {
        let started = Instant::now();
        let report = black_box(validate(&samples, &spec).unwrap());
        let fit_again = LogisticRegression::fit_samples(&samples, &FitSpec::default()).unwrap();
        black_box(fit_again);
        println!(
            "run {run}: final fit + validation (walk-forward 5, purged k-fold 6, random k-fold 5) on 50,000 samples: {:.0} ms (walk-forward accuracy {:.3}, random k-fold {:.3})",
            started.elapsed().as_secs_f64() * 1e3,
            report.leakage.walk_forward_accuracy,
            report.leakage.random_kfold_accuracy
        );
    }
}
