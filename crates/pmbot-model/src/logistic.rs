//! Standardised logistic regression with an L2 penalty, fitted by Newton's
//! method (IRLS) with a dense Cholesky solve.
//!
//! Invariant: the scaler is fitted on the training rows only and travels with
//! the weights, so a prediction standardises exactly as training did. Fitting
//! is deterministic (fixed summation order, no randomness) and either
//! converges or says it did not: it never returns a half-fitted model.
//!
//! Why not linfa or smartcore: with at most a few dozen features the exact
//! Newton fit is about a hundred lines here, converges in under ten
//! iterations, and needs no linear-algebra stack (ndarray, BLAS bindings,
//! num-traits generics) in the build of a trading binary that only ever
//! evaluates one dot product per prediction.
//!
//! The objective is the mean log-loss plus `l2 / 2 * |w|^2` over the
//! standardised weights (the intercept is not penalised). Using the mean,
//! not the sum, keeps `l2` meaning the same thing at 5,000 and 500,000 rows.

use serde::{Deserialize, Serialize};

use crate::sample::{Label, Sample};

/// Fit settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FitSpec {
    /// L2 penalty on the standardised weights; must be > 0 (it keeps the
    /// Newton system positive definite and the weights finite on separable data).
    pub l2: f64,
    /// Newton iterations before giving up.
    pub max_iterations: u32,
    /// Stop when half the Newton decrement (the predicted objective decrease)
    /// falls below this.
    pub tolerance: f64,
}

impl Default for FitSpec {
    fn default() -> Self {
        FitSpec { l2: 1e-3, max_iterations: 100, tolerance: 1e-12 }
    }
}

/// Why a fit produced no model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("no training rows")]
    Empty,
    #[error("training rows have {got} features at row {row}, expected {expected}")]
    Width { row: usize, expected: usize, got: usize },
    #[error("feature {column} of training row {row} is not finite")]
    NonFinite { row: usize, column: usize },
    #[error("all {rows} training labels are {label:?}: there is no direction to learn")]
    SingleClass { rows: usize, label: Label },
    #[error("invalid fit settings: {0}")]
    InvalidSpec(&'static str),
    #[error("Newton system not positive definite at iteration {iteration}")]
    Singular { iteration: u32 },
    #[error("did not converge in {iterations} iterations (last Newton decrement {decrement:e})")]
    NotConverged { iterations: u32, decrement: f64 },
}

/// How a successful fit went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    pub rows: usize,
    pub iterations: u32,
    /// Final mean log-loss plus penalty.
    pub objective: f64,
    /// Columns whose training standard deviation was zero (they get weight 0).
    pub constant_columns: Vec<usize>,
}

/// Per-feature centring and scaling, fitted on training rows only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scaler {
    pub mean: Vec<f64>,
    /// Population standard deviation; 0 marks a constant column.
    pub std: Vec<f64>,
    /// 1/std, or 0 for a constant column (so it standardises to 0).
    #[serde(skip)]
    inv_std: Vec<f64>,
}

impl Scaler {
    /// Mean and standard deviation of each column of row-major `x` (`rows` × `width`).
    pub fn fit(x: &[f64], width: usize) -> Scaler {
        let rows = x.len().checked_div(width).unwrap_or(0);
        let mut mean = vec![0.0; width];
        let mut var = vec![0.0; width];
        if rows > 0 {
            for row in x.chunks_exact(width) {
                for (m, v) in mean.iter_mut().zip(row) {
                    *m += v;
                }
            }
            mean.iter_mut().for_each(|m| *m /= rows as f64);
            // Two passes: the one-pass formula loses digits on price-like columns.
            for row in x.chunks_exact(width) {
                for ((s, v), m) in var.iter_mut().zip(row).zip(&mean) {
                    *s += (v - m) * (v - m);
                }
            }
        }
        let std: Vec<f64> = var
            .iter()
            .zip(&mean)
            .map(|(s, m)| {
                let sd = (s / rows.max(1) as f64).sqrt();
                // Relative test: a column that varies only in its last bits is constant.
                if sd <= 1e-12 * m.abs().max(1.0) { 0.0 } else { sd }
            })
            .collect();
        Scaler::from_parts(mean, std)
    }

    fn from_parts(mean: Vec<f64>, std: Vec<f64>) -> Scaler {
        let inv_std = std.iter().map(|&s| if s > 0.0 { 1.0 / s } else { 0.0 }).collect();
        Scaler { mean, std, inv_std }
    }

    /// Restores the derived reciprocal after deserialisation.
    pub(crate) fn rebuild(self) -> Scaler {
        Scaler::from_parts(self.mean, self.std)
    }

    pub fn width(&self) -> usize {
        self.mean.len()
    }

    #[inline]
    fn standardise(&self, column: usize, value: f64) -> f64 {
        (value - self.mean[column]) * self.inv_std[column]
    }
}

/// P(up) and the confidence the trading rule filters on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub p_up: f64,
    /// |2p - 1|: 0 for a coin flip, 1 for certainty.
    pub confidence: f64,
}

impl Prediction {
    fn from_logit(z: f64) -> Prediction {
        // Stable in both tails: never exp of a large positive number.
        let p_up = if z >= 0.0 { 1.0 / (1.0 + (-z).exp()) } else { z.exp() / (1.0 + z.exp()) };
        Prediction { p_up, confidence: (2.0 * p_up - 1.0).abs() }
    }

    /// The predicted direction (up on an exact tie).
    pub fn direction(&self) -> Label {
        Label::from_up(self.p_up >= 0.5)
    }
}

/// A feature vector the model cannot score.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PredictError {
    #[error("feature vector has {got} values, the model expects {expected}")]
    Width { expected: usize, got: usize },
    #[error("feature {column} is not finite")]
    NonFinite { column: usize },
}

/// A fitted model: scaler, standardised weights and intercept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticRegression {
    pub scaler: Scaler,
    /// Weights on the standardised features, in feature order.
    pub weights: Vec<f64>,
    pub intercept: f64,
}

impl LogisticRegression {
    /// Fits on row-major `x` (`labels.len()` rows × `width` columns).
    pub fn fit(x: &[f64], width: usize, labels: &[Label], spec: &FitSpec) -> Result<(Self, FitReport), FitError> {
        if !(spec.l2 > 0.0 && spec.l2.is_finite()) {
            return Err(FitError::InvalidSpec("l2 must be a positive finite number"));
        }
        if spec.tolerance.is_nan() || spec.tolerance <= 0.0 || spec.max_iterations == 0 {
            return Err(FitError::InvalidSpec("tolerance and max_iterations must be positive"));
        }
        let rows = labels.len();
        if rows == 0 {
            return Err(FitError::Empty);
        }
        if x.len() != rows * width {
            return Err(FitError::Width { row: x.len() / width.max(1), expected: width, got: x.len() % width.max(1) });
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(FitError::NonFinite { row: i / width, column: i % width });
        }
        let ups = labels.iter().filter(|l| l.is_up()).count();
        if ups == 0 || ups == rows {
            return Err(FitError::SingleClass { rows, label: labels[0] });
        }

        let scaler = Scaler::fit(x, width);
        let z: Vec<f64> =
            x.chunks_exact(width.max(1)).flat_map(|row| (0..width).map(|j| scaler.standardise(j, row[j]))).collect();
        let y: Vec<f64> = labels.iter().map(|l| l.as_target()).collect();
        let (beta, iterations, objective) = newton(&z, width, &y, spec)?;
        let constant_columns = (0..width).filter(|&j| scaler.std[j] == 0.0).collect();
        let model = LogisticRegression { scaler, intercept: beta[0], weights: beta[1..].to_vec() };
        Ok((model, FitReport { rows, iterations, objective, constant_columns }))
    }

    /// Fits on the given samples (all must have the same feature width).
    pub fn fit_samples(samples: &[Sample], spec: &FitSpec) -> Result<(Self, FitReport), FitError> {
        let refs: Vec<&Sample> = samples.iter().collect();
        Self::fit_refs(&refs, spec)
    }

    pub(crate) fn fit_refs(samples: &[&Sample], spec: &FitSpec) -> Result<(Self, FitReport), FitError> {
        let width = samples.first().map(|s| s.features.len()).ok_or(FitError::Empty)?;
        let mut x = Vec::with_capacity(samples.len() * width);
        for (row, s) in samples.iter().enumerate() {
            if s.features.len() != width {
                return Err(FitError::Width { row, expected: width, got: s.features.len() });
            }
            x.extend_from_slice(&s.features);
        }
        let labels: Vec<Label> = samples.iter().map(|s| s.label).collect();
        Self::fit(&x, width, &labels, spec)
    }

    pub fn width(&self) -> usize {
        self.weights.len()
    }

    /// P(up) for one feature vector. Allocation-free.
    #[inline]
    pub fn predict(&self, features: &[f64]) -> Result<Prediction, PredictError> {
        if features.len() != self.weights.len() {
            return Err(PredictError::Width { expected: self.weights.len(), got: features.len() });
        }
        let mut z = self.intercept;
        for (j, (&v, &w)) in features.iter().zip(&self.weights).enumerate() {
            z += w * self.scaler.standardise(j, v);
        }
        if !z.is_finite() {
            // Cold path: name the culprit (a NaN or infinite input).
            let column = features.iter().position(|v| !v.is_finite()).unwrap_or(0);
            return Err(PredictError::NonFinite { column });
        }
        Ok(Prediction::from_logit(z))
    }

    /// Intercept and weights on the raw (unstandardised) features: what the
    /// model computes, written in the units the features come in.
    pub fn raw_coefficients(&self) -> (f64, Vec<f64>) {
        let mut intercept = self.intercept;
        let weights: Vec<f64> = (0..self.width())
            .map(|j| {
                let w = self.weights[j] * self.scaler.inv_std[j];
                intercept -= w * self.scaler.mean[j];
                w
            })
            .collect();
        (intercept, weights)
    }

    /// Restores derived state after deserialisation.
    pub(crate) fn rebuild(self) -> LogisticRegression {
        LogisticRegression { scaler: self.scaler.rebuild(), ..self }
    }
}

/// Mean log-loss of logits `eta` against targets, computed without overflow.
fn log_loss(eta: f64, y: f64) -> f64 {
    // log(1 + e^eta) - y*eta, with softplus written stably.
    let softplus = if eta > 0.0 { eta + (-eta).exp().ln_1p() } else { eta.exp().ln_1p() };
    softplus - y * eta
}

fn objective(z: &[f64], width: usize, y: &[f64], beta: &[f64], l2: f64) -> f64 {
    let rows = y.len();
    let mut loss = 0.0;
    for (row, &yi) in z.chunks_exact(width.max(1)).zip(y).take(rows) {
        loss += log_loss(eta_of(row, beta, width), yi);
    }
    if width == 0 {
        loss = y.iter().map(|&yi| log_loss(beta[0], yi)).sum();
    }
    loss / rows as f64 + 0.5 * l2 * beta[1..].iter().map(|w| w * w).sum::<f64>()
}

#[inline]
fn eta_of(row: &[f64], beta: &[f64], width: usize) -> f64 {
    let mut eta = beta[0];
    for j in 0..width {
        eta += beta[j + 1] * row[j];
    }
    eta
}

/// Newton's method with step halving. Returns (beta = [intercept, w...], iterations, objective).
fn newton(z: &[f64], width: usize, y: &[f64], spec: &FitSpec) -> Result<(Vec<f64>, u32, f64), FitError> {
    let rows = y.len();
    let dim = width + 1;
    let mut beta = vec![0.0; dim];
    // Start the intercept at the log-odds of the base rate: one step saved, and
    // the first Hessian is already well scaled.
    let up_share = y.iter().sum::<f64>() / rows as f64;
    beta[0] = (up_share / (1.0 - up_share)).ln();
    let mut current = objective(z, width, y, &beta, spec.l2);
    let mut grad = vec![0.0; dim];
    let mut hess = vec![0.0; dim * dim];
    let mut xi = vec![0.0; dim];
    let mut decrement = f64::INFINITY;
    for iteration in 1..=spec.max_iterations {
        grad.iter_mut().for_each(|g| *g = 0.0);
        hess.iter_mut().for_each(|h| *h = 0.0);
        for r in 0..rows {
            xi[0] = 1.0;
            xi[1..].copy_from_slice(&z[r * width..(r + 1) * width]);
            let p = Prediction::from_logit(eta_of(&xi[1..], &beta, width)).p_up;
            let residual = p - y[r];
            let weight = p * (1.0 - p);
            for a in 0..dim {
                grad[a] += residual * xi[a];
                let wa = weight * xi[a];
                // Upper triangle only; mirrored below.
                for b in a..dim {
                    hess[a * dim + b] += wa * xi[b];
                }
            }
        }
        let n = rows as f64;
        for a in 0..dim {
            grad[a] /= n;
            for b in a..dim {
                hess[a * dim + b] /= n;
                hess[b * dim + a] = hess[a * dim + b];
            }
        }
        for a in 1..dim {
            grad[a] += spec.l2 * beta[a];
            hess[a * dim + a] += spec.l2;
        }
        let step = cholesky_solve(&mut hess, dim, &grad).ok_or(FitError::Singular { iteration })?;
        // Newton decrement squared: g' H^-1 g, the predicted decrease times two.
        decrement = grad.iter().zip(&step).map(|(g, s)| g * s).sum::<f64>();
        if decrement / 2.0 <= spec.tolerance {
            return Ok((beta, iteration, current));
        }
        let mut t = 1.0;
        loop {
            let trial: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b - t * s).collect();
            let value = objective(z, width, y, &trial, spec.l2);
            if value <= current {
                beta = trial;
                current = value;
                break;
            }
            t *= 0.5;
            if t < 1e-10 {
                // No decrease along a descent direction: rounding has taken over,
                // so the current point is as good as this precision allows.
                return Ok((beta, iteration, current));
            }
        }
    }
    Err(FitError::NotConverged { iterations: spec.max_iterations, decrement })
}

/// Solves `a x = b` for symmetric positive-definite `a` (overwritten by its
/// Cholesky factor). None when `a` is not positive definite.
fn cholesky_solve(a: &mut [f64], n: usize, b: &[f64]) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d.is_nan() || d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    let mut x = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            x[i] -= a[i * n + k] * x[k];
        }
        x[i] /= a[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            x[i] -= a[k * n + i] * x[k];
        }
        x[i] /= a[i * n + i];
    }
    Some(x)
}

impl pmbot_core::Predictor for LogisticRegression {
    #[inline]
    fn p_up(&self, features: &pmbot_core::FeatureVector) -> Result<f64, String> {
        self.predict(&features.values).map(|p| p.p_up).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_known_system() {
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let x = cholesky_solve(&mut a, 2, &[2.0, 1.0]).unwrap();
        // 4x + 2y = 2, 2x + 3y = 1 -> x = 0.5, y = 0
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12, "{x:?}");
        let mut singular = vec![1.0, 1.0, 1.0, 1.0];
        assert!(cholesky_solve(&mut singular, 2, &[1.0, 1.0]).is_none());
    }

    #[test]
    fn prediction_is_stable_in_the_tails() {
        let p = Prediction::from_logit(-800.0);
        assert_eq!(p.p_up, 0.0);
        assert_eq!(p.confidence, 1.0);
        let p = Prediction::from_logit(0.0);
        assert_eq!((p.p_up, p.confidence), (0.5, 0.0));
        assert!((log_loss(800.0, 1.0)).abs() < 1e-12);
        assert!((log_loss(-800.0, 1.0) - 800.0).abs() < 1e-9);
    }

    #[test]
    fn bad_input_is_refused() {
        let spec = FitSpec::default();
        assert_eq!(LogisticRegression::fit(&[], 1, &[], &spec).unwrap_err(), FitError::Empty);
        let one_class = LogisticRegression::fit(&[1.0, 2.0], 1, &[Label::Up, Label::Up], &spec).unwrap_err();
        assert!(matches!(one_class, FitError::SingleClass { rows: 2, label: Label::Up }));
        let nan = LogisticRegression::fit(&[1.0, f64::NAN], 1, &[Label::Up, Label::Down], &spec).unwrap_err();
        assert_eq!(nan, FitError::NonFinite { row: 1, column: 0 });
        let no_l2 = FitSpec { l2: 0.0, ..spec };
        assert!(matches!(
            LogisticRegression::fit(&[1.0, 2.0], 1, &[Label::Up, Label::Down], &no_l2),
            Err(FitError::InvalidSpec(_))
        ));
    }

    #[test]
    fn too_few_iterations_is_reported_not_hidden() {
        let x: Vec<f64> = (0..200).map(|i| (i as f64 / 20.0).sin() * 3.0).collect();
        let labels: Vec<Label> = x.iter().enumerate().map(|(i, v)| Label::from_up(*v + (i % 3) as f64 > 1.0)).collect();
        let spec = FitSpec { max_iterations: 1, ..FitSpec::default() };
        assert!(matches!(LogisticRegression::fit(&x, 1, &labels, &spec), Err(FitError::NotConverged { .. })));
        let (model, report) = LogisticRegression::fit(&x, 1, &labels, &FitSpec::default()).unwrap();
        assert!(report.iterations > 1 && report.iterations < 30, "{report:?}");
        assert!(model.weights[0] > 0.0);
    }

    #[test]
    fn constant_columns_get_no_weight_and_predict_checks_input() {
        let x = [1.0, 5.0, 2.0, 5.0, 3.0, 5.0, 4.0, 5.0];
        let labels = [Label::Down, Label::Down, Label::Up, Label::Up];
        let (model, report) = LogisticRegression::fit(&x, 2, &labels, &FitSpec::default()).unwrap();
        assert_eq!(report.constant_columns, vec![1]);
        assert_eq!(model.weights[1], 0.0);
        assert!(model.predict(&[4.0, 5.0]).unwrap().p_up > 0.5);
        assert_eq!(model.predict(&[4.0]), Err(PredictError::Width { expected: 2, got: 1 }));
        assert_eq!(model.predict(&[f64::NAN, 5.0]), Err(PredictError::NonFinite { column: 0 }));
        assert_eq!(model.predict(&[1.0, f64::INFINITY]), Err(PredictError::NonFinite { column: 1 }));
    }
}
