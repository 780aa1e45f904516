//! The 95% Wilson score interval of a proportion: shared by the model's
//! validation and the trading record's figures, so both state the same
//! uncertainty the same way.

/// The 97.5% standard normal quantile.
const Z95: f64 = 1.959_963_984_540_054;

/// `(low, high)` of the 95% Wilson interval for `successes` of `trials`;
/// `None` for no trials (or more successes than trials). Chosen over the
/// normal approximation because it stays inside [0, 1] and is honest at the
/// small counts thresholds and short trading records leave.
pub fn wilson_95(successes: u64, trials: u64) -> Option<(f64, f64)> {
    if trials == 0 || successes > trials {
        return None;
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // At 0 and at n successes the exact bounds are 0 and 1; rounding would miss them.
    let low = if successes == 0 { 0.0 } else { (centre - half).max(0.0) };
    let high = if successes == trials { 1.0 } else { (centre + half).min(1.0) };
    Some((low, high))
}
