//! Seeded randomness and the hidden probability process.
//!
//! The generator is ChaCha8 driven through `rand_core` only: the conversions
//! to uniform, normal and exponential draws are written here, so an upgrade
//! of `rand` cannot silently change a seed's sequence.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use super::config::ProbabilityConfig;

/// Bound on the hidden log-odds: p stays within about 6e-6 of 0 and 1.
const MAX_LOGIT: f64 = 12.0;
/// The process is integrated in steps of at most this long.
const MAX_SUBSTEP_MS: i64 = 1_000;

pub(crate) struct Rng(ChaCha8Rng);

impl Rng {
    pub fn from_seed(seed: [u8; 32]) -> Rng {
        Rng(ChaCha8Rng::from_seed(seed))
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box-Muller; one draw per call keeps the state simple).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -(1.0 - self.uniform()).ln() * mean
    }

    /// Uniform integer in `0..=max`.
    pub fn up_to(&mut self, max: u32) -> u32 {
        (self.0.next_u64() % (u64::from(max) + 1)) as u32
    }

    pub fn coin(&mut self) -> bool {
        self.0.next_u64() & 1 == 1
    }

    /// Time to the next event of a Poisson process with `rate_per_ms`, in
    /// whole ms (at least 1), or `None` for a process that never fires.
    pub fn poisson_gap_ms(&mut self, rate_per_ms: f64) -> Option<i64> {
        if rate_per_ms <= 0.0 {
            return None;
        }
        let gap = self.exponential(1.0 / rate_per_ms).ceil();
        Some(if gap.is_finite() && gap < 1e15 { (gap as i64).max(1) } else { i64::MAX / 4 })
    }
}

pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A market's hidden probability that the primary outcome wins.
pub(crate) struct HiddenProbability {
    logit: f64,
    at_ms: i64,
    end_ms: i64,
    duration_ms: i64,
    next_jump_ms: i64,
}

impl HiddenProbability {
    pub fn new(rng: &mut Rng, cfg: &ProbabilityConfig, window_start_ms: i64, end_ms: i64) -> HiddenProbability {
        let logit = (cfg.initial_logit_sd * rng.normal()).clamp(-MAX_LOGIT, MAX_LOGIT);
        let next_jump_ms = next_jump(rng, cfg, window_start_ms);
        HiddenProbability { logit, at_ms: window_start_ms, end_ms, duration_ms: end_ms - window_start_ms, next_jump_ms }
    }

    pub fn probability(&self) -> f64 {
        sigmoid(self.logit)
    }

    pub fn logit(&self) -> f64 {
        self.logit
    }

    /// Integrates the process up to `t_ms` (never past the end).
    pub fn advance_to(&mut self, t_ms: i64, cfg: &ProbabilityConfig, rng: &mut Rng) {
        let target = t_ms.min(self.end_ms);
        let floor_s = cfg.floor_fraction * self.duration_ms as f64 / 1000.0;
        while self.at_ms < target {
            let next = target.min(self.at_ms + MAX_SUBSTEP_MS);
            let dt = (next - self.at_ms) as f64 / 1000.0;
            let left = (self.end_ms - self.at_ms) as f64 / 1000.0 + floor_s;
            let drift = self.logit * dt / (2.0 * left);
            self.logit += drift + cfg.vol_scale * (dt / left).sqrt() * rng.normal();
            while self.next_jump_ms <= next {
                self.logit += cfg.jump_logit_sd * rng.normal();
                self.next_jump_ms = next_jump(rng, cfg, self.next_jump_ms);
            }
            self.logit = self.logit.clamp(-MAX_LOGIT, MAX_LOGIT);
            self.at_ms = next;
        }
    }
}

fn next_jump(rng: &mut Rng, cfg: &ProbabilityConfig, from_ms: i64) -> i64 {
    match rng.poisson_gap_ms(cfg.jumps_per_hour / 3_600_000.0) {
        Some(gap) => from_ms.saturating_add(gap),
        None => i64::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(n: u8) -> Rng {
        Rng::from_seed([n; 32])
    }

    #[test]
    fn draws_have_the_right_moments() {
        let mut r = rng(1);
        let n = 200_000;
        let (mut s, mut s2, mut e) = (0.0, 0.0, 0.0);
        for _ in 0..n {
            let x = r.normal();
            s += x;
            s2 += x * x;
            e += r.exponential(3.0);
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
        }
        let n = f64::from(n);
        assert!((s / n).abs() < 0.01, "mean {}", s / n);
        assert!((s2 / n - 1.0).abs() < 0.02, "var {}", s2 / n);
        assert!((e / n - 3.0).abs() < 0.05, "exp mean {}", e / n);
    }

    #[test]
    fn same_seed_same_path() {
        let cfg = ProbabilityConfig::default();
        let path = |seed| {
            let mut r = rng(seed);
            let mut p = HiddenProbability::new(&mut r, &cfg, 0, 900_000);
            (0..900)
                .map(|i| {
                    p.advance_to(i * 1000, &cfg, &mut r);
                    p.logit()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(path(3), path(3));
        assert_ne!(path(3), path(4));
    }

    /// The pull toward 0/1 means most markets end decided, and the draw from
    /// the final probability then agrees with it; early on they sit near 0.5.
    #[test]
    fn probability_converges_as_the_end_nears() {
        let cfg = ProbabilityConfig::default();
        let (mut decided_at_end, mut near_half_at_start) = (0, 0);
        let n: u32 = 400;
        for seed in 0..n {
            let mut seed_bytes = [0u8; 32];
            seed_bytes[..4].copy_from_slice(&seed.to_le_bytes());
            let mut r = Rng::from_seed(seed_bytes);
            let mut p = HiddenProbability::new(&mut r, &cfg, 0, 900_000);
            p.advance_to(60_000, &cfg, &mut r);
            if (0.3..0.7).contains(&p.probability()) {
                near_half_at_start += 1;
            }
            p.advance_to(900_000, &cfg, &mut r);
            let q = p.probability();
            if !(0.05..=0.95).contains(&q) {
                decided_at_end += 1;
            }
        }
        assert!(near_half_at_start > n * 7 / 10, "{near_half_at_start} of {n} near 0.5 after a minute");
        assert!(decided_at_end > n * 85 / 100, "{decided_at_end} of {n} decided at the end");
    }

    #[test]
    fn advancing_stops_at_the_end() {
        let cfg = ProbabilityConfig::default();
        let mut r = rng(9);
        let mut p = HiddenProbability::new(&mut r, &cfg, 0, 60_000);
        p.advance_to(60_000, &cfg, &mut r);
        let at_end = p.logit();
        p.advance_to(600_000, &cfg, &mut r);
        assert_eq!(p.logit(), at_end);
    }
}
