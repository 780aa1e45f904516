//! Seeded synthetic samples with real time structure, for tests and
//! benchmarks: several markets with overlapping spans, an autocorrelated
//! latent drive, labels drawn from it (so labels are autocorrelated too), and
//! autocorrelated noise columns.
//!
//! Invariant: every feature is a function of what is known at the sample's
//! time (the last-move column uses only labels whose horizon has elapsed), so
//! any out-of-sample accuracy above chance comes from the planted signal.
//! The same spec and seed give the same samples on every machine (ChaCha8).

use pmbot_core::{Hash32, TimestampMs};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::sample::{Label, Sample};

/// Column 0: the noisy observable signal.
pub const SIGNAL_COLUMN: usize = 0;
/// Column 1: the last completed move (+1 up, -1 down, 0 before the first).
pub const LAST_MOVE_COLUMN: usize = 1;

/// Shape of a synthetic data set.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSpec {
    pub markets: usize,
    pub samples_per_market: usize,
    pub step_ms: i64,
    /// Market m starts at `m * stagger_ms`; less than a market's length makes spans overlap.
    pub stagger_ms: i64,
    /// Grid steps per label horizon: the last-move column lags by this many.
    pub horizon_steps: usize,
    /// AR(1) coefficient of the latent drive and of the noise columns.
    pub persistence: f64,
    /// Logit slope of P(up) on the latent drive (0: labels are coin flips).
    pub signal: f64,
    /// Standard deviation of the noise added to the latent in column 0.
    pub observation_noise: f64,
    /// Uninformative autocorrelated columns after the first two.
    pub noise_features: usize,
    pub seed: u64,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        SyntheticSpec {
            markets: 12,
            samples_per_market: 900,
            step_ms: 1_000,
            stagger_ms: 600_000,
            horizon_steps: 60,
            persistence: 0.98,
            signal: 1.5,
            observation_noise: 0.5,
            noise_features: 4,
            seed: 7,
        }
    }
}

impl SyntheticSpec {
    pub fn feature_names(&self) -> Vec<String> {
        let mut names = vec!["signal".to_owned(), "last_move".to_owned()];
        names.extend((0..self.noise_features).map(|k| format!("noise_{k}")));
        names
    }

    pub fn width(&self) -> usize {
        2 + self.noise_features
    }
}

/// First grid time of the synthetic data (2023-11-14T22:13:20Z).
pub const EPOCH_MS: i64 = 1_700_000_000_000;

/// A market id derived from its number.
pub fn market_id(m: usize) -> Hash32 {
    let mut bytes = [0u8; 32];
    bytes[24..].copy_from_slice(&(m as u64 + 1).to_be_bytes());
    bytes[0] = 0xab;
    Hash32(bytes)
}

/// A standard normal draw (Box-Muller; rand's own normal lives in another crate).
pub fn normal(rng: &mut impl Rng) -> f64 {
    let u: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let v: f64 = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// The samples of `spec`, sorted by time.
pub fn generate(spec: &SyntheticSpec) -> Vec<Sample> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let phi = spec.persistence;
    let innovation = (1.0 - phi * phi).max(0.0).sqrt();
    let mut out = Vec::with_capacity(spec.markets * spec.samples_per_market);
    for m in 0..spec.markets {
        let start = EPOCH_MS + m as i64 * spec.stagger_ms;
        let mut latent = normal(&mut rng);
        let mut noise: Vec<f64> = (0..spec.noise_features).map(|_| normal(&mut rng)).collect();
        let mut labels: Vec<Label> = Vec::with_capacity(spec.samples_per_market);
        for i in 0..spec.samples_per_market {
            latent = phi * latent + innovation * normal(&mut rng);
            for n in &mut noise {
                *n = phi * *n + innovation * normal(&mut rng);
            }
            let p_up = 1.0 / (1.0 + (-spec.signal * latent).exp());
            let label = Label::from_up(rng.random::<f64>() < p_up);
            labels.push(label);
            // The label of the sample one horizon back has fully played out by now.
            let last_move =
                i.checked_sub(spec.horizon_steps).map_or(0.0, |j| if labels[j].is_up() { 1.0 } else { -1.0 });
            let mut features = Vec::with_capacity(spec.width());
            features.push(latent + spec.observation_noise * normal(&mut rng));
            features.push(last_move);
            features.extend_from_slice(&noise);
            out.push(Sample { market: market_id(m), t: TimestampMs(start + i as i64 * spec.step_ms), features, label });
        }
    }
    out.sort_by_key(|s| (s.t, s.market));
    out
}
