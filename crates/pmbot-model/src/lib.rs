//! pmbot's direction model and its honest validation.
//!
//! Invariant: a model is only ever scored on samples it was not fitted on, and
//! (in walk-forward) only on samples later than everything it was fitted on,
//! with a purge gap of at least the label horizon and no market on both sides.
//! The naive random k-fold is computed beside it only to show how much a
//! leaky split would flatter the model.
//!
//! [`dataset`] turns recorded books (the real resolvedkit data, pmbot's own
//! recordings) into feature samples on a market-time grid with labels, through
//! the same feature code the live engine uses (`pmbot_core::features`).

pub mod dataset;
pub mod logistic;
pub mod metrics;
pub mod model_file;
pub mod report;
pub mod sample;
pub mod synthetic;
pub mod training;
pub mod validate;

pub use logistic::{FitError, FitReport, FitSpec, LogisticRegression, PredictError, Prediction, Scaler};
pub use metrics::{
    BaselineScore, CONFIDENCE_THRESHOLDS, Interval, ReliabilityBin, ScoreAccumulator, Scorecard, ThresholdRow,
    wilson_interval,
};
pub use model_file::{
    FeatureMismatch, GridSpec, InconsistentModel, MODEL_FORMAT_VERSION, ModelFile, ModelFileError, TrainingSpan,
};
pub use report::{
    ACCURACY_COVERAGE_PLOT, CLAIM_ACCURACY, CLAIM_CONFIDENCE, ClaimVerdict, Coefficients, FOLDS_PLOT, RELIABILITY_PLOT,
    REPORT_FILE, ReportError, ReportFiles, ReportInput, write_report,
};
pub use sample::{Label, Sample};
pub use training::{
    Holdout, Stage, TrainError, TrainSpec, Trained, Validated, score_holdout, train, training_samples, validate_data,
};
pub use validate::{
    FoldOutcome, FoldPlan, FoldReport, LeakageCheck, LeakageVerdict, RandomKFoldSpec, Scheme, SkipReason, SplitScore,
    ValidateError, ValidationReport, ValidationSpec, WalkForwardSpec, plan_folds, validate,
};
