//! From recorded market data to a validated, saved model: the steps the
//! `pmbot train` and `pmbot validate` commands run, as library calls.
//!
//! Invariant: the model saved is fitted on every sample only after the same
//! settings were validated walk-forward on that data, and the validation is
//! stored in the file beside the weights, so a model never travels without
//! its honest score. A saved model scored on new data is only scored on
//! samples later than its training span plus one horizon (the holdout);
//! samples inside the span are counted, never scored.

use std::path::Path;

use pmbot_core::{FEATURE_NAMES, Feature, FeatureSpec, Grid, LabelSpec};
use serde::{Deserialize, Serialize};

use crate::dataset::{self, Dataset, DatasetError, DatasetSpec};
use crate::logistic::{FitError, FitSpec, LogisticRegression};
use crate::metrics::{ScoreAccumulator, Scorecard};
use crate::model_file::{GridSpec, InconsistentModel, ModelFile, ModelFileError, TrainingSpan};
use crate::sample::{Label, Sample};
use crate::validate::{RandomKFoldSpec, ValidateError, ValidationReport, ValidationSpec, WalkForwardSpec, validate};

/// Everything `train` and `validate` can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSpec {
    pub features: FeatureSpec,
    /// Market-time grid step of the samples (ms).
    pub grid_step_ms: i64,
    /// Label horizon H (ms): the next mid change within H.
    pub horizon_ms: i64,
    /// Walk-forward test blocks.
    pub folds: usize,
    /// A fold with fewer training samples is skipped and reported.
    pub min_train_samples: usize,
    pub fit: FitSpec,
    pub random_kfold_seed: u64,
}

impl Default for TrainSpec {
    fn default() -> Self {
        TrainSpec {
            features: FeatureSpec::default(),
            grid_step_ms: Grid::default().step_ms,
            horizon_ms: LabelSpec::default().horizon_ms,
            folds: 5,
            min_train_samples: 300,
            fit: FitSpec::default(),
            random_kfold_seed: RandomKFoldSpec::default().seed,
        }
    }
}

impl TrainSpec {
    pub fn dataset_spec(&self) -> DatasetSpec {
        DatasetSpec {
            features: self.features,
            grid: Grid { step_ms: self.grid_step_ms, ..Grid::default() },
            labels: LabelSpec { horizon_ms: self.horizon_ms },
        }
    }

    /// Purge and embargo are both one horizon: a training label never looks
    /// into a test block, and a test label never into the training after it.
    pub fn validation_spec(&self) -> ValidationSpec {
        ValidationSpec {
            walk_forward: WalkForwardSpec {
                folds: self.folds,
                purge_ms: self.horizon_ms,
                embargo_ms: self.horizon_ms,
                min_train_samples: self.min_train_samples,
            },
            horizon_ms: self.horizon_ms,
            fit: self.fit.clone(),
            random_kfold: RandomKFoldSpec { folds: self.folds, seed: self.random_kfold_seed },
            last_move_column: Some(Feature::MidChangeShortTicks.index()),
            ..ValidationSpec::default()
        }
    }
}

/// A step of the work, for progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    ReadingData,
    Validating { samples: usize },
    Fitting,
    Scoring,
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DatasetError),
    #[error("validation: {0}")]
    Validate(#[from] ValidateError),
    #[error("fitting the final model: {0}")]
    Fit(#[from] FitError),
    #[error(transparent)]
    Model(#[from] InconsistentModel),
    #[error(transparent)]
    ModelFile(#[from] ModelFileError),
    #[error(
        "the model was built with horizon {model} ms and grid {model_grid} ms; the data was asked for {data} ms and {data_grid} ms"
    )]
    SpecMismatch { model: i64, model_grid: i64, data: i64, data_grid: i64 },
}

/// The model's view of a data-set sample.
pub fn training_samples(samples: &[dataset::Sample]) -> Vec<Sample> {
    samples
        .iter()
        .map(|s| Sample {
            market: s.market,
            t: s.t,
            features: s.features.values.to_vec(),
            label: Label::from_up(s.label == pmbot_core::labels::Label::Up),
        })
        .collect()
}

/// What `train` produced.
#[derive(Debug, Clone)]
pub struct Trained {
    pub model: ModelFile,
    pub dataset: Dataset,
    pub validation: ValidationReport,
}

/// Reads the data, validates the settings walk-forward, fits on everything.
pub fn train<P: AsRef<Path>>(
    dirs: &[P],
    spec: &TrainSpec,
    progress: &mut dyn FnMut(Stage),
) -> Result<Trained, TrainError> {
    progress(Stage::ReadingData);
    let dataset = dataset::build_dataset(dirs, &spec.dataset_spec())?;
    let samples = training_samples(&dataset.samples);
    progress(Stage::Validating { samples: samples.len() });
    let validation = validate(&samples, &spec.validation_spec())?;
    progress(Stage::Fitting);
    let (model, _) = LogisticRegression::fit_samples(&samples, &spec.fit)?;
    let training = TrainingSpan::of(&samples).ok_or(ValidateError::Empty)?;
    let file = ModelFile::new(
        FEATURE_NAMES.iter().map(|s| (*s).to_owned()).collect(),
        model,
        spec.horizon_ms,
        GridSpec { step_ms: spec.grid_step_ms, start_ms: 0 },
        training,
        dataset.summary.fingerprint.clone(),
        Some(validation.clone()),
    )?
    .with_feature_spec(spec.features);
    Ok(Trained { model: file, dataset, validation })
}

/// A saved model scored on data after its training span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Holdout {
    /// Scored samples (after the training span plus one horizon).
    pub scorecard: Option<Scorecard>,
    /// Samples not scored because the model saw them (or their labels) in training.
    pub inside_training: usize,
}

/// What `validate` produced.
#[derive(Debug, Clone)]
pub struct Validated {
    pub dataset: Dataset,
    pub validation: ValidationReport,
    pub holdout: Option<Holdout>,
}

/// Validates walk-forward on the data; with a model, uses its settings and
/// also scores it on the samples after its training span.
pub fn validate_data<P: AsRef<Path>>(
    dirs: &[P],
    spec: &TrainSpec,
    model: Option<&ModelFile>,
    progress: &mut dyn FnMut(Stage),
) -> Result<Validated, TrainError> {
    let mut spec = spec.clone();
    if let Some(m) = model {
        spec.horizon_ms = m.horizon_ms;
        spec.grid_step_ms = m.grid.step_ms;
        spec.features = m.feature_spec;
    }
    progress(Stage::ReadingData);
    let dataset = dataset::build_dataset(dirs, &spec.dataset_spec())?;
    let samples = training_samples(&dataset.samples);
    progress(Stage::Validating { samples: samples.len() });
    let validation_spec = spec.validation_spec();
    let validation = validate(&samples, &validation_spec)?;
    let holdout = match model {
        None => None,
        Some(m) => {
            progress(Stage::Scoring);
            Some(score_holdout(m, &samples, validation_spec.last_move_column)?)
        }
    };
    Ok(Validated { dataset, validation, holdout })
}

/// Scores `model` on the samples strictly after its training span plus one
/// horizon (their labels could not have been seen in training).
pub fn score_holdout(model: &ModelFile, samples: &[Sample], last_move: Option<usize>) -> Result<Holdout, TrainError> {
    let cutoff = model.training.last.0.saturating_add(model.horizon_ms);
    let mut acc = ScoreAccumulator::new(last_move.is_some());
    let mut inside = 0usize;
    let mut scored = 0usize;
    for s in samples {
        if s.t.0 <= cutoff {
            inside += 1;
            continue;
        }
        let p = model
            .model
            .predict(&s.features)
            .map_err(|e| TrainError::Validate(ValidateError::InvalidSpec(format!("sample at {}: {e}", s.t.0))))?;
        acc.add(p, s.label, last_move.map(|c| s.features[c]));
        scored += 1;
    }
    Ok(Holdout { scorecard: (scored > 0).then(|| acc.finish()), inside_training: inside })
}
