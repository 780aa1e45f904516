//! The `q`-quantile of sorted samples, by the nearest rank
//! `round((n - 1) x q)`: what every benchmark prints as p50, p99, p99.9.
//! One rule for all of them (before, seven printers used three: floor,
//! round and `n x q`).

/// The sample at rank `round((n - 1) x q)` of `sorted` (ascending), `q`
/// clamped to `[0, 1]`; `None` for no samples.
pub fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    let last = sorted.len().checked_sub(1)?;
    let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
    // Rounded and clamped to `last`, so the cast cannot go out of range.
    let rank = ((last as f64) * q).round() as usize;
    Some(sorted[rank.min(last)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<u32> = (1..=101).collect();
        assert_eq!(
            [quantile(&v, 0.0), quantile(&v, 0.5), quantile(&v, 0.99), quantile(&v, 1.0)],
            [Some(1), Some(51), Some(100), Some(101)]
        );
        assert_eq!(quantile(&[7.5], 0.999), Some(7.5));
        assert_eq!(quantile::<u8>(&[], 0.5), None);
        assert_eq!(quantile(&[1, 2, 3], 5.0), Some(3), "clamped");
    }
}
