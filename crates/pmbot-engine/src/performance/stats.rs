//! Small exact and floating-point helpers: the Wilson interval, exact money
//! sums and means, UTC dates, percent text.

use chrono::DateTime;
use pmbot_core::Usdc;

use super::Proportion;

/// Milliseconds in a UTC day.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// `hits` of `n` with the 95% Wilson score interval; `None` for `n = 0`.
pub(crate) fn proportion(hits: u64, n: u64) -> Option<Proportion> {
    let (low, high) = pmbot_core::wilson_95(hits, n)?;
    Some(Proportion { hits, n, rate: hits as f64 / n as f64, low, high })
}

/// An exact sum; `None` beyond `Usdc`'s range.
pub(crate) fn sum(amounts: impl IntoIterator<Item = Usdc>) -> Option<Usdc> {
    amounts.into_iter().try_fold(Usdc::ZERO, Usdc::checked_add)
}

/// The mean of `n` amounts summing to `total`, rounded to the micro, half
/// away from zero; `None` for `n = 0`.
pub(crate) fn mean(total: Usdc, n: u64) -> Option<Usdc> {
    if n == 0 {
        return None;
    }
    let (t, n) = (i128::from(total.micros()), i128::from(n));
    let (q, r) = (t / n, t % n);
    let q = if 2 * r.abs() >= n { q + t.signum() } else { q };
    // |mean| <= |total|, so it fits.
    Some(Usdc::from_micros(q as i64))
}

/// The UTC day index of a unix-millisecond time.
pub(crate) fn day_index(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// `YYYY-MM-DD` of a UTC day index; `None` outside the calendar.
pub(crate) fn day_text(day: i64) -> Option<String> {
    let ms = day.checked_mul(DAY_MS)?;
    DateTime::from_timestamp_millis(ms).map(|t| t.date_naive().to_string())
}

/// `2025-01-03 14:05 UTC` (the raw milliseconds outside the calendar).
pub(crate) fn time_text(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| format!("unix ms {ms}"))
}

/// A fraction as a percentage with one decimal: `0.7234` -> `72.3%`.
pub(crate) fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// A threshold fraction as a percentage without needless decimals:
/// `0.7` -> `70%`, `0.725` -> `72.5%`.
pub(crate) fn threshold_percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if (p - p.round()).abs() < 1e-9 { format!("{:.0}%", p.round()) } else { format!("{}%", (p * 1e6).round() / 1e6) }
}

/// `72.3% (99 of 137, 95% CI 64.3–79.2%)`.
pub(crate) fn proportion_text(p: &Proportion) -> String {
    format!("{} ({} of {}, 95% CI {})", percent(p.rate), p.hits, p.n, interval_text(p.low, p.high))
}

/// `64.3–79.2%`.
pub(crate) fn interval_text(low: f64, high: f64) -> String {
    format!("{:.1}–{:.1}%", low * 100.0, high * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_hand_computed_values() {
        // 8 of 10: centre (0.8 + 1.9208/10) / 1.38415 = 0.71674, half
        // 1.95996/1.38415 x sqrt(0.016 + 0.0096040) = 0.22657.
        let p = proportion(8, 10).unwrap();
        assert!((p.rate - 0.8).abs() < 1e-12);
        assert!((p.low - 0.490_162).abs() < 1e-5, "{}", p.low);
        assert!((p.high - 0.943_318).abs() < 1e-5, "{}", p.high);
        let all = proportion(5, 5).unwrap();
        assert_eq!(all.high, 1.0);
        assert!((all.low - 0.565_518).abs() < 1e-5, "{}", all.low);
        assert_eq!(proportion(0, 4).unwrap().low, 0.0);
        assert_eq!(proportion(0, 0), None);
        assert_eq!(proportion(3, 2), None);
    }

    #[test]
    fn means_round_half_away_from_zero_and_sums_refuse_overflow() {
        assert_eq!(mean(Usdc::from_micros(10), 4), Some(Usdc::from_micros(3)), "2.5 -> 3");
        assert_eq!(mean(Usdc::from_micros(-10), 4), Some(Usdc::from_micros(-3)), "-2.5 -> -3");
        assert_eq!(mean(Usdc::from_micros(-7), 3), Some(Usdc::from_micros(-2)), "-2.33 -> -2");
        assert_eq!(mean(Usdc::from_micros(5), 0), None);
        assert_eq!(sum([Usdc::from_micros(i64::MAX), Usdc::from_micros(1)]), None);
        assert_eq!(sum([Usdc::from_micros(3), Usdc::from_micros(-5)]), Some(Usdc::from_micros(-2)));
    }

    #[test]
    fn days_are_utc_dates() {
        assert_eq!(day_text(day_index(1_735_689_600_000)).unwrap(), "2025-01-01");
        assert_eq!(day_text(day_index(1_735_689_599_999)).unwrap(), "2024-12-31");
        assert_eq!(day_index(-1), -1, "before the epoch: the previous day");
        assert_eq!(day_text(i64::MAX / DAY_MS), None);
        assert_eq!(threshold_percent(0.7), "70%");
        assert_eq!(threshold_percent(0.725), "72.5%");
        assert_eq!(percent(0.72345), "72.3%");
        assert_eq!(time_text(1_735_740_300_000), "2025-01-01 14:05 UTC");
    }
}
