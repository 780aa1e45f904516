//! Model files round-trip exactly and refuse to load against the wrong code.

use std::path::PathBuf;

use pmbot_model::synthetic::{self, SyntheticSpec};
use pmbot_model::{
    FitSpec, GridSpec, LogisticRegression, MODEL_FORMAT_VERSION, ModelFile, ModelFileError, TrainingSpan,
    ValidationSpec, WalkForwardSpec, validate,
};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pmbot-model-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn trained() -> (ModelFile, Vec<String>, Vec<pmbot_model::Sample>) {
    let data = SyntheticSpec { markets: 4, samples_per_market: 600, ..SyntheticSpec::default() };
    let samples = synthetic::generate(&data);
    let names = data.feature_names();
    let (model, _) = LogisticRegression::fit_samples(&samples, &FitSpec::default()).unwrap();
    let spec = ValidationSpec {
        walk_forward: WalkForwardSpec { folds: 2, min_train_samples: 100, ..WalkForwardSpec::default() },
        ..ValidationSpec::default()
    };
    let report = validate(&samples, &spec).unwrap();
    let file = ModelFile::new(
        names.clone(),
        model,
        60_000,
        GridSpec { step_ms: 1_000, start_ms: 0 },
        TrainingSpan::of(&samples).unwrap(),
        "sha256:00ff".into(),
        Some(report),
    )
    .unwrap();
    (file, names, samples)
}

#[test]
fn round_trip_is_exact() {
    let (file, names, samples) = trained();
    let path = scratch("round_trip.json");
    file.save(&path).unwrap();
    let loaded = ModelFile::load(&path, &names).unwrap();
    assert!(loaded == file, "round trip changed the model file");
    assert_eq!(loaded.pmbot_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(loaded.format_version, MODEL_FORMAT_VERSION);
    // The loaded model predicts bit-for-bit what the trained one did.
    for s in samples.iter().step_by(97) {
        assert_eq!(loaded.model.predict(&s.features).unwrap(), file.model.predict(&s.features).unwrap());
    }
    // &[&str] works too (the code's FEATURE_NAMES constant).
    let as_strs: Vec<&str> = names.iter().map(String::as_str).collect();
    assert!(ModelFile::load(&path, &as_strs).is_ok());
}

#[test]
fn feature_mismatch_is_a_clear_error() {
    let (file, mut names, _) = trained();
    let path = scratch("mismatch.json");
    file.save(&path).unwrap();
    names.swap(2, 3);
    match ModelFile::load(&path, &names) {
        Err(ModelFileError::FeatureMismatch { mismatch, .. }) => {
            assert_eq!(mismatch.first_difference, 2);
            let text = ModelFileError::FeatureMismatch { path: path.clone(), mismatch }.to_string();
            assert!(text.contains("position 2") && text.contains("noise_0") && text.contains("noise_1"), "{text}");
        }
        other => panic!("expected a feature mismatch, got {other:?}"),
    }
    names.swap(2, 3);
    names.push("extra".into());
    assert!(matches!(
        ModelFile::load(&path, &names),
        Err(ModelFileError::FeatureMismatch { mismatch, .. }) if mismatch.first_difference == 6
    ));
}

#[test]
fn missing_corrupt_future_and_inconsistent_files_are_refused() {
    let (file, names, _) = trained();
    assert!(matches!(ModelFile::load(&scratch("absent.json"), &names), Err(ModelFileError::Io { .. })));

    let path = scratch("truncated.json");
    file.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    assert!(matches!(ModelFile::load(&path, &names), Err(ModelFileError::Corrupt { .. })));

    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["format_version"] = 2.into();
    let path = scratch("future.json");
    std::fs::write(&path, json.to_string()).unwrap();
    assert!(matches!(
        ModelFile::load(&path, &names),
        Err(ModelFileError::FormatVersion { found: 2, supported: 1, .. })
    ));

    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["model"]["weights"].as_array_mut().unwrap().pop();
    let path = scratch("short.json");
    std::fs::write(&path, json.to_string()).unwrap();
    let err = ModelFile::load(&path, &names).unwrap_err();
    assert!(matches!(err, ModelFileError::Inconsistent { .. }), "{err}");
    assert!(err.to_string().contains("short.json"), "error names the file: {err}");

    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["surprise"] = 1.into();
    let path = scratch("unknown_field.json");
    std::fs::write(&path, json.to_string()).unwrap();
    assert!(matches!(ModelFile::load(&path, &names), Err(ModelFileError::Corrupt { .. })));

    let mut short = file.clone();
    short.feature_names.pop();
    assert!(
        ModelFile::new(short.feature_names, short.model, 60_000, short.grid, short.training, String::new(), None)
            .is_err()
    );
}
