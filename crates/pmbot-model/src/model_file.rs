//! The model file: everything needed to use a trained model and to know what
//! it was trained on and how it validated, as JSON.
//!
//! Invariant: a loaded model file is internally consistent (weights, scaler
//! and feature list have one width; every number finite, every std >= 0) and
//! lists exactly the features, in exactly the order, the caller computes.
//! Anything else is a typed error naming the file; nothing is half-loaded.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use pmbot_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::logistic::LogisticRegression;
use crate::sample::Sample;
use crate::validate::ValidationReport;

/// Bumped whenever the file's shape or meaning changes.
pub const MODEL_FORMAT_VERSION: u32 = 1;

/// The market-time sampling grid the training samples were taken on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    pub step_ms: i64,
    /// Grid origin: samples sit at `start_ms + k * step_ms`.
    pub start_ms: i64,
}

/// What the model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSpan {
    pub first: TimestampMs,
    pub last: TimestampMs,
    pub samples: usize,
    pub markets: usize,
    pub up_share: f64,
}

impl TrainingSpan {
    /// The span of `samples`; None when empty.
    pub fn of(samples: &[Sample]) -> Option<TrainingSpan> {
        let first = samples.iter().map(|s| s.t).min()?;
        let last = samples.iter().map(|s| s.t).max()?;
        let mut markets: Vec<_> = samples.iter().map(|s| s.market).collect();
        markets.sort_unstable();
        markets.dedup();
        let ups = samples.iter().filter(|s| s.label.is_up()).count();
        Some(TrainingSpan {
            first,
            last,
            samples: samples.len(),
            markets: markets.len(),
            up_share: ups as f64 / samples.len() as f64,
        })
    }
}

/// A trained model with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub format_version: u32,
    /// The pmbot version that wrote the file.
    pub pmbot_version: String,
    /// Feature names in the order the weights use.
    pub feature_names: Vec<String>,
    pub model: LogisticRegression,
    pub horizon_ms: i64,
    pub grid: GridSpec,
    pub training: TrainingSpan,
    /// Fingerprint of the input data (sha256 of the files, from the dataset summary).
    pub data_fingerprint: String,
    pub validation: Option<ValidationReport>,
    /// The feature settings (look-back lengths, windows) the weights were
    /// fitted on: live inference must compute features the same way.
    #[serde(default)]
    pub feature_spec: pmbot_core::FeatureSpec,
}

/// How a model file's feature list differs from the code's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureMismatch {
    pub expected: Vec<String>,
    pub found: Vec<String>,
    /// First position where they differ (== the shorter length when one is a prefix of the other).
    pub first_difference: usize,
}

impl std::fmt::Display for FeatureMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self.first_difference;
        let name = |v: &[String]| v.get(at).map_or("(end)".to_owned(), |s| format!("{s:?}"));
        write!(
            f,
            "the file has {} features, this build computes {}; first difference at position {at}: file {} vs code {}",
            self.found.len(),
            self.expected.len(),
            name(&self.found),
            name(&self.expected)
        )
    }
}

/// A model file that cannot be written or used.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: not a pmbot model file: {source}")]
    Corrupt { path: PathBuf, source: serde_json::Error },
    #[error("{path}: model format version {found}, this build reads version {supported}")]
    FormatVersion { path: PathBuf, found: u32, supported: u32 },
    #[error("{path}: trained on a different feature list: {mismatch}")]
    FeatureMismatch { path: PathBuf, mismatch: FeatureMismatch },
    #[error("{path}: inconsistent model: {problem}")]
    Inconsistent { path: PathBuf, problem: String },
}

/// Parts of a model that do not fit together (widths, non-finite numbers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("inconsistent model: {0}")]
pub struct InconsistentModel(pub String);

/// Only the version, read before the rest so a future format is reported as
/// such rather than as a parse error.
#[derive(Deserialize)]
struct Header {
    format_version: u32,
}

impl ModelFile {
    /// Assembles a model file for the running pmbot version; checks consistency.
    pub fn new(
        feature_names: Vec<String>,
        model: LogisticRegression,
        horizon_ms: i64,
        grid: GridSpec,
        training: TrainingSpan,
        data_fingerprint: String,
        validation: Option<ValidationReport>,
    ) -> Result<ModelFile, InconsistentModel> {
        let file = ModelFile {
            format_version: MODEL_FORMAT_VERSION,
            pmbot_version: env!("CARGO_PKG_VERSION").to_owned(),
            feature_names,
            model,
            horizon_ms,
            grid,
            training,
            data_fingerprint,
            validation,
            feature_spec: pmbot_core::FeatureSpec::default(),
        };
        file.consistency().map(|()| file).map_err(InconsistentModel)
    }

    /// The same model, fitted on features computed with `spec`.
    pub fn with_feature_spec(mut self, spec: pmbot_core::FeatureSpec) -> ModelFile {
        self.feature_spec = spec;
        self
    }

    fn consistency(&self) -> Result<(), String> {
        let width = self.feature_names.len();
        let m = &self.model;
        if m.weights.len() != width || m.scaler.mean.len() != width || m.scaler.std.len() != width {
            return Err(format!(
                "{width} feature names but {} weights, {} means, {} stds",
                m.weights.len(),
                m.scaler.mean.len(),
                m.scaler.std.len()
            ));
        }
        let finite = m.intercept.is_finite()
            && m.weights.iter().chain(&m.scaler.mean).chain(&m.scaler.std).all(|v| v.is_finite());
        if !finite {
            return Err("a weight, mean or std is not finite".into());
        }
        if m.scaler.std.iter().any(|&s| s < 0.0) {
            return Err("a negative standard deviation".into());
        }
        if self.horizon_ms <= 0 || self.grid.step_ms <= 0 {
            return Err(format!(
                "horizon {} ms and grid step {} ms must be positive",
                self.horizon_ms, self.grid.step_ms
            ));
        }
        Ok(())
    }

    /// Writes pretty JSON next to `path` and renames it into place, so a
    /// reader never sees half a file.
    pub fn save(&self, path: &Path) -> Result<(), ModelFileError> {
        let io_err = |source| ModelFileError::Io { path: path.to_owned(), source };
        let json = serde_json::to_vec_pretty(self)
            .map_err(|source| ModelFileError::Corrupt { path: path.to_owned(), source })?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        fs::write(&tmp, json).map_err(io_err)?;
        fs::rename(&tmp, path).map_err(io_err)
    }

    /// Reads a model file and checks it against the feature names (in order)
    /// the running code computes.
    pub fn load<S: AsRef<str>>(path: &Path, expected_feature_names: &[S]) -> Result<ModelFile, ModelFileError> {
        let text = fs::read_to_string(path).map_err(|source| ModelFileError::Io { path: path.to_owned(), source })?;
        let corrupt = |source| ModelFileError::Corrupt { path: path.to_owned(), source };
        let header: Header = serde_json::from_str(&text).map_err(corrupt)?;
        if header.format_version != MODEL_FORMAT_VERSION {
            return Err(ModelFileError::FormatVersion {
                path: path.to_owned(),
                found: header.format_version,
                supported: MODEL_FORMAT_VERSION,
            });
        }
        let mut file: ModelFile = serde_json::from_str(&text).map_err(corrupt)?;
        file.model = file.model.rebuild();
        file.consistency().map_err(|problem| ModelFileError::Inconsistent { path: path.to_owned(), problem })?;
        let expected: Vec<String> = expected_feature_names.iter().map(|s| s.as_ref().to_owned()).collect();
        if file.feature_names != expected {
            let first_difference = expected.iter().zip(&file.feature_names).take_while(|(a, b)| a == b).count();
            let mismatch = FeatureMismatch { expected, found: file.feature_names.clone(), first_difference };
            return Err(ModelFileError::FeatureMismatch { path: path.to_owned(), mismatch });
        }
        Ok(file)
    }
}
