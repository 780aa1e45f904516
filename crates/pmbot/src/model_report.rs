//! The validation report on disk: `report.md`, `report.html` and its plots, written by
//! `pmbot_model::report` from what `pmbot validate` found.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pmbot_core::FEATURE_NAMES;
use pmbot_model::report::{Coefficients, ReportInput, write_report};
use pmbot_model::{ModelFile, Validated};

/// Writes the report into `dir`; returns the files written.
pub fn write(dir: &Path, done: &Validated, model: Option<&ModelFile>, data_dirs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let names: Vec<String> = match model {
        Some(m) => m.feature_names.clone(),
        None => FEATURE_NAMES.iter().map(|s| (*s).to_owned()).collect(),
    };
    let command_line: Vec<String> = std::env::args().collect();
    let coefficients = model.map(|m| Coefficients {
        origin: "the saved model given with --model",
        names: &m.feature_names,
        weights: &m.model.weights,
        intercept: m.model.intercept,
    });
    let input = ReportInput {
        validation: &done.validation,
        dataset: &done.dataset.summary,
        feature_names: &names,
        coefficients,
        data_dirs,
        command_line: &command_line,
        pmbot_version: env!("CARGO_PKG_VERSION"),
    };
    let files = write_report(dir, &input).with_context(|| format!("cannot write the report into {}", dir.display()))?;
    let mut out = vec![files.report.clone(), files.html.clone()];
    out.extend(files.plots().iter().map(|p| p.to_path_buf()));
    Ok(out)
}
