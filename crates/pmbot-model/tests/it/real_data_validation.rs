//! The claim measured on the real recorded data
//! (`../shared/data/resolvedkit-btc15m`, skipped with a NOTICE when absent;
//! `.ci/run` has it): walk-forward accuracy and coverage at confidence
//! at least 0.4, with the naive random k-fold beside it. The numbers are printed
//! as they are; the assertions are about honesty, not about the score:
//! - the validation runs on every market and scores every fold it can;
//! - with labels shuffled (within the data's own up share), pooled
//!   walk-forward accuracy stays within the 95% interval of chance.

use std::path::PathBuf;

use pmbot_model::{Label, TrainSpec, training_samples, validate};
use rand::SeedableRng as _;
use rand::seq::SliceRandom as _;

fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/resolvedkit-btc15m");
    if dir.join("books.jsonl.gz").exists() {
        Some(dir)
    } else {
        eprintln!("NOTICE: {} is absent; skipping the real-data validation", dir.display());
        None
    }
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1}%", v * 100.0)).unwrap_or_else(|| "n/a".into())
}

#[test]
fn walk_forward_on_the_real_data_is_reported_and_shuffled_labels_score_chance() {
    let Some(dir) = data_dir() else { return };
    let spec = TrainSpec::default();
    let data = pmbot_model::dataset::build_dataset(&[&dir], &spec.dataset_spec()).expect("real data set builds");
    let samples = training_samples(&data.samples);
    assert_eq!(data.summary.markets.len(), 13);
    let report = validate(&samples, &spec.validation_spec()).expect("validation runs");
    for (name, split) in [
        ("walk-forward", &report.walk_forward),
        ("purged k-fold", &report.purged_kfold),
        ("random k-fold", &report.random_kfold),
    ] {
        let card = &split.pooled;
        let row = card.at(0.4).unwrap();
        eprintln!(
            "REAL DATA {name}: {} samples, accuracy {} ; at confidence >= 0.4: accuracy {} {:?} coverage {:.1}% ({} kept); Brier {:.4}",
            card.samples,
            pct(card.accuracy()),
            pct(row.accuracy),
            row.interval,
            row.coverage * 100.0,
            row.kept,
            card.brier.unwrap_or(f64::NAN)
        );
        for f in &split.folds {
            match &f.outcome {
                pmbot_model::FoldOutcome::Scored { score, .. } => {
                    let r = score.at(0.4).unwrap();
                    eprintln!(
                        "  fold {}: {} test / {} train samples; accuracy {}; at >= 0.4: {} {:?} coverage {:.1}%",
                        f.index,
                        f.test_samples,
                        f.train_samples,
                        pct(score.accuracy()),
                        pct(r.accuracy),
                        r.interval,
                        r.coverage * 100.0
                    );
                }
                other => eprintln!("  fold {}: {other:?}", f.index),
            }
        }
    }
    eprintln!(
        "REAL DATA baselines: always up {:?}, last move continues {:?}; leakage {:?}",
        report.walk_forward.pooled.always_up, report.walk_forward.pooled.last_move_continues, report.leakage
    );
    assert!(report.walk_forward.pooled.samples > 1_000, "most of the data is scored out of sample");

    // Shuffled labels: nothing to learn, so walk-forward must not find anything.
    let mut shuffled = samples.clone();
    let mut labels: Vec<Label> = shuffled.iter().map(|s| s.label).collect();
    labels.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(7));
    for (s, l) in shuffled.iter_mut().zip(labels) {
        s.label = l;
    }
    let noise = validate(&shuffled, &spec.validation_spec()).expect("validation runs on shuffled labels");
    let card = &noise.walk_forward.pooled;
    let all = card.at(0.0).unwrap();
    let interval = all.interval.unwrap();
    // Chance is the majority share the model can learn from the base rate.
    let up = card.up_share.expect("scored samples");
    let chance = up.max(1.0 - up);
    eprintln!(
        "REAL DATA shuffled labels: walk-forward accuracy {} {:?}, chance {:.3}",
        pct(all.accuracy),
        interval,
        chance
    );
    assert!(interval.low <= chance + 1e-9, "shuffled labels cannot beat chance: {interval:?} vs {chance}");
}
