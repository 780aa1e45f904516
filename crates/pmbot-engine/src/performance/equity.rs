//! The equity curve (runs chained), its drawdown, daily returns and the
//! Sharpe and Sortino ratios of those returns.

use pmbot_core::{TimestampMs, Usdc};

use super::DailyReturn;
use super::stats::{day_index, day_text};

/// Days in a year, to annualise daily ratios (the market trades every day).
const DAYS_PER_YEAR: f64 = 365.0;

/// Amounts over time, oldest first.
pub(crate) type Curve = Vec<(TimestampMs, Usdc)>;

/// What went wrong adding up the curve: the caller names the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutOfRange(pub String);

/// Chains the runs' marks (each inner list one run's `(at, equity)`, in
/// time order): a run's curve is shifted so it starts where the previous
/// run's ended, so the curve shows what the runs made, not restarts of the
/// paper account. The first run keeps its own starting equity.
pub(crate) fn chain(runs: &[Curve]) -> Result<Curve, OutOfRange> {
    let too_large = || OutOfRange("the chained equity".into());
    let mut curve: Vec<(TimestampMs, Usdc)> = Vec::new();
    for marks in runs {
        let Some(&(_, first)) = marks.first() else { continue };
        let shift = match curve.last() {
            Some(&(_, end)) => end.checked_sub(first).ok_or_else(too_large)?,
            None => Usdc::ZERO,
        };
        for &(at, equity) in marks {
            curve.push((at, equity.checked_add(shift).ok_or_else(too_large)?));
        }
    }
    Ok(curve)
}

/// The drawdown curve (equity - running peak, never positive), the deepest
/// drawdown as a positive amount, and that drawdown in percent of the peak
/// it fell from (`None` without marks or when that peak is not positive).
pub(crate) fn drawdown(curve: &[(TimestampMs, Usdc)]) -> Result<(Curve, Usdc, Option<f64>), OutOfRange> {
    let Some(&(_, first)) = curve.first() else { return Ok((Vec::new(), Usdc::ZERO, None)) };
    let mut peak = first;
    let (mut deepest, mut deepest_peak) = (Usdc::ZERO, first);
    let mut out = Vec::with_capacity(curve.len());
    for &(at, equity) in curve {
        peak = peak.max(equity);
        let down = equity.checked_sub(peak).ok_or_else(|| OutOfRange("the drawdown".into()))?;
        if -down > deepest {
            (deepest, deepest_peak) = (-down, peak);
        }
        out.push((at, down));
    }
    let pct = (deepest_peak > Usdc::ZERO).then(|| deepest.micros() as f64 / deepest_peak.micros() as f64 * 100.0);
    Ok((out, deepest, pct))
}

/// One return per UTC day that has marks: equity at the day's last mark
/// against the previous such day's (the first day: against the first mark).
/// Days without marks (pmbot not running) are left out, not counted as flat.
pub(crate) fn daily(curve: &[(TimestampMs, Usdc)]) -> Result<Vec<DailyReturn>, OutOfRange> {
    let Some(&(_, mut open)) = curve.first() else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let mut i = 0;
    while i < curve.len() {
        let day = day_index(curve[i].0.millis());
        // The last mark of this day.
        while i + 1 < curve.len() && day_index(curve[i + 1].0.millis()) == day {
            i += 1;
        }
        let close = curve[i].1;
        let pnl = close.checked_sub(open).ok_or_else(|| OutOfRange("a daily P&L".into()))?;
        // No capital at the open means no return to speak of.
        let return_pct = if open > Usdc::ZERO { pnl.micros() as f64 / open.micros() as f64 * 100.0 } else { 0.0 };
        let day = day_text(day).ok_or_else(|| OutOfRange(format!("mark time {}", curve[i].0)))?;
        out.push(DailyReturn { day, pnl, return_pct });
        open = close;
        i += 1;
    }
    Ok(out)
}

/// Mean / sample standard deviation x sqrt(365); `None` with fewer than 2
/// returns or none that differ.
pub(crate) fn sharpe(returns: &[f64]) -> Option<f64> {
    if returns.len() < 2 {
        return None;
    }
    let n = returns.len() as f64;
    let mean = returns.iter().sum::<f64>() / n;
    let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let sd = var.sqrt();
    (sd > 0.0).then(|| mean / sd * DAYS_PER_YEAR.sqrt())
}

/// Mean / downside deviation (root mean square of the returns below zero,
/// over all returns) x sqrt(365); `None` with fewer than 2 returns or no
/// losing day.
pub(crate) fn sortino(returns: &[f64]) -> Option<f64> {
    if returns.len() < 2 {
        return None;
    }
    let n = returns.len() as f64;
    let mean = returns.iter().sum::<f64>() / n;
    let downside = (returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / n).sqrt();
    (downside > 0.0).then(|| mean / downside * DAYS_PER_YEAR.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(micros: i64) -> Usdc {
        Usdc::from_micros(micros)
    }

    fn t(ms: i64) -> TimestampMs {
        TimestampMs::from_millis(ms)
    }

    #[test]
    fn runs_chain_end_to_start() {
        let curve =
            chain(&[vec![(t(1), u(100)), (t(2), u(110))], vec![], vec![(t(3), u(300)), (t(4), u(290))]]).unwrap();
        assert_eq!(curve, vec![(t(1), u(100)), (t(2), u(110)), (t(3), u(110)), (t(4), u(100))]);
        assert!(chain(&[vec![(t(1), u(i64::MAX))], vec![(t(2), u(-1)), (t(3), u(0))]]).is_err());
    }

    #[test]
    fn drawdown_from_the_running_peak() {
        let curve = [(t(1), u(100)), (t(2), u(120)), (t(3), u(90)), (t(4), u(130)), (t(5), u(125))];
        let (dd, max, pct) = drawdown(&curve).unwrap();
        assert_eq!(dd.iter().map(|d| d.1.micros()).collect::<Vec<_>>(), vec![0, 0, -30, 0, -5]);
        assert_eq!(max, u(30));
        assert_eq!(pct, Some(25.0));
        assert_eq!(drawdown(&[]).unwrap(), (vec![], Usdc::ZERO, None));
        let (_, max, pct) = drawdown(&[(t(1), u(5)), (t(2), u(6))]).unwrap();
        assert_eq!((max, pct), (Usdc::ZERO, Some(0.0)));
    }

    #[test]
    fn ratios_need_two_days_and_variation() {
        assert_eq!(sharpe(&[1.0]), None);
        assert_eq!(sharpe(&[1.0, 1.0]), None);
        // mean 1, sample sd sqrt(2): 1/sqrt(2) x sqrt(365).
        let s = sharpe(&[0.0, 2.0]).unwrap();
        assert!((s - (365.0f64 / 2.0).sqrt()).abs() < 1e-12, "{s}");
        assert_eq!(sortino(&[1.0, 2.0]), None, "no losing day");
        // mean 0.5, downside sqrt(1/2): 0.5 x sqrt(2) x sqrt(365).
        let s = sortino(&[-1.0, 2.0]).unwrap();
        assert!((s - 0.5 * 2.0f64.sqrt() * 365.0f64.sqrt()).abs() < 1e-12, "{s}");
    }
}
