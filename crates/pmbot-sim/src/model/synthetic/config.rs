//! The synthetic market model's settings. Every default lives in the
//! `Default` impls below, and unknown fields are refused, so a typo in
//! `pmbot.toml` is an error instead of a silent default.
//!
//! Durations are unix milliseconds (`_ms`); sizes are whole shares; model
//! parameters that are probabilities or log-odds are `f64` (they shape the
//! hidden process, never an amount that is ordered or owed).

use pmbot_core::{Size, TickSize, Usdc};
use serde::{Deserialize, Serialize};

use crate::engine::FeeSchedule;

/// The largest number of markets open at once.
pub const MAX_MARKETS: u32 = 256;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticConfig {
    /// Seeds every random draw.
    pub seed: u64,
    /// Markets open at once; each resolved market is replaced by a new one.
    pub markets: u32,
    /// Length of a market's window (15 min, like the BTC up/down series).
    pub market_duration_ms: i64,
    /// How often the model wants to be called.
    pub step_interval_ms: i64,
    /// Time from a market's end (trading stops) to its resolution.
    pub resolve_delay_ms: i64,
    /// Category tag of every market.
    pub category: String,
    /// Every market's taker fee schedule (`fd`).
    pub fee: FeeSchedule,
    /// Tick a market is listed with (the engine may make it finer near 0/1).
    pub tick: TickSize,
    /// Minimum shares per order.
    pub min_order_size: Size,
    /// Collateral each house account receives at the start and again
    /// whenever a market is listed to replace a resolved one.
    pub house_collateral: Usdc,
    pub probability: ProbabilityConfig,
    pub makers: MakerConfig,
    pub noise: NoiseTakerConfig,
    pub informed: InformedTakerConfig,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            seed: 7,
            markets: 4,
            market_duration_ms: 15 * 60_000,
            step_interval_ms: 250,
            resolve_delay_ms: 5_000,
            category: "crypto".to_owned(),
            fee: FeeSchedule::crypto(),
            tick: TickSize::Hundredth,
            min_order_size: Size::from_shares(5),
            house_collateral: Usdc::from_whole(1_000_000),
            probability: ProbabilityConfig::default(),
            makers: MakerConfig::default(),
            noise: NoiseTakerConfig::default(),
            informed: InformedTakerConfig::default(),
        }
    }
}

/// The hidden probability of the primary outcome ("Up"), as log-odds `x`,
/// with `R` the time left and `F = floor_fraction * duration`:
/// `dx = x dt / (2 (R + F)) + vol_scale sqrt(dt / (R + F)) N(0,1) + jumps`.
/// This is how the z-score of "will the price be higher at the end" moves:
/// it wanders early, moves faster as the end nears and is pulled to 0 or 1.
/// Both terms depend on time only through `R / duration`, so the share of
/// markets that end decided does not depend on the window's length (with the
/// defaults about 90% end outside [0.05, 0.95], 45% five minutes before the
/// end of a 15-minute window, close to the recorded BTC markets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbabilityConfig {
    /// Log-odds volatility relative to the square root of the time left.
    pub vol_scale: f64,
    /// Keeps the pull and the volatility finite at the very end, as a
    /// fraction of the window.
    pub floor_fraction: f64,
    /// Poisson rate of jumps (news, a sudden move of the underlying).
    pub jumps_per_hour: f64,
    /// Standard deviation of a jump, in log-odds.
    pub jump_logit_sd: f64,
    /// Standard deviation of the starting log-odds (0 = every market starts at 0.5).
    pub initial_logit_sd: f64,
}

impl Default for ProbabilityConfig {
    fn default() -> Self {
        ProbabilityConfig {
            vol_scale: 2.5,
            floor_fraction: 0.01,
            jumps_per_hour: 3.0,
            jump_logit_sd: 0.6,
            initial_logit_sd: 0.15,
        }
    }
}

/// Market makers: maker `k` (from 0) quotes a ladder of `levels` bids and asks
/// around its estimate of the probability, `half_spread_ticks +
/// k * half_spread_step_ticks` ticks from it, and re-quotes every
/// `refresh_ms * (k + 1)`: the first maker is tight and fast, later ones wider
/// and slower (their stale quotes are what informed takers pick off).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MakerConfig {
    pub count: u32,
    pub half_spread_ticks: f64,
    pub half_spread_step_ticks: f64,
    /// Price levels per side per maker.
    pub levels: u32,
    /// Ticks between a maker's levels.
    pub level_gap_ticks: u32,
    /// Shares at a maker's first level.
    pub level_size: u64,
    /// Each deeper level is `1 + level_size_growth * level` times larger.
    pub level_size_growth: f64,
    /// Sizes vary uniformly by +- this fraction.
    pub size_jitter: f64,
    pub refresh_ms: i64,
    /// Standard deviation of a maker's error about the true log-odds (it
    /// wanders slowly, so makers disagree a little).
    pub estimate_noise_logit: f64,
}

impl Default for MakerConfig {
    fn default() -> Self {
        MakerConfig {
            count: 3,
            half_spread_ticks: 0.6,
            half_spread_step_ticks: 0.5,
            levels: 5,
            level_gap_ticks: 1,
            level_size: 200,
            level_size_growth: 0.6,
            size_jitter: 0.4,
            refresh_ms: 500,
            estimate_noise_logit: 0.03,
        }
    }
}

/// Uninformed takers: Poisson arrivals, a random token, a FAK buy a few ticks
/// through the best ask, exponentially distributed sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoiseTakerConfig {
    /// Arrivals per minute per market.
    pub arrivals_per_min: f64,
    /// Mean shares per order.
    pub mean_size: f64,
    /// Largest shares per order.
    pub max_size: u64,
    /// Limit price up to this many ticks above the best ask.
    pub max_slippage_ticks: u32,
}

impl Default for NoiseTakerConfig {
    fn default() -> Self {
        NoiseTakerConfig { arrivals_per_min: 12.0, mean_size: 40.0, max_size: 400, max_slippage_ticks: 2 }
    }
}

/// Informed takers: they know the true probability and buy a token whenever
/// its ask is cheap enough that the trade wins after the taker fee by more
/// than `min_edge`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InformedTakerConfig {
    pub enabled: bool,
    /// Required probability margin over the fee-adjusted break-even.
    pub min_edge: f64,
    /// Largest shares per order.
    pub max_size: u64,
    /// Least time between two orders in one market.
    pub cooldown_ms: i64,
}

impl Default for InformedTakerConfig {
    fn default() -> Self {
        InformedTakerConfig { enabled: true, min_edge: 0.01, max_size: 150, cooldown_ms: 2_000 }
    }
}

/// A setting the model cannot run with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyntheticConfigError {
    #[error("synthetic.{field}: {reason}")]
    Invalid { field: &'static str, reason: &'static str },
}

impl SyntheticConfig {
    /// Checks every setting; a config that passes cannot make the model
    /// produce an invalid order.
    pub fn validate(&self) -> Result<(), SyntheticConfigError> {
        let bad = |field, reason| Err(SyntheticConfigError::Invalid { field, reason });
        let finite_non_negative = |x: f64| x.is_finite() && x >= 0.0;
        if self.markets == 0 || self.markets > MAX_MARKETS {
            return bad("markets", "must be between 1 and 256");
        }
        if self.market_duration_ms < 10_000 {
            return bad("market_duration_ms", "must be at least 10 s");
        }
        if self.step_interval_ms <= 0 || self.step_interval_ms > self.market_duration_ms {
            return bad("step_interval_ms", "must be positive and shorter than a market");
        }
        if self.resolve_delay_ms < 0 {
            return bad("resolve_delay_ms", "must not be negative");
        }
        if self.min_order_size.is_zero() || !self.min_order_size.micros().is_multiple_of(1_000_000) {
            return bad("min_order_size", "must be a positive whole number of shares");
        }
        if self.house_collateral <= Usdc::ZERO {
            return bad("house_collateral", "must be positive");
        }
        if self.fee.validate().is_err() {
            return bad("fee", "rate must be in [0, 1] and exponent in 1..=4");
        }
        let p = &self.probability;
        if !finite_non_negative(p.vol_scale) {
            return bad("probability.vol_scale", "must be a finite number >= 0");
        }
        if !(p.floor_fraction.is_finite() && p.floor_fraction > 0.0 && p.floor_fraction <= 1.0) {
            return bad("probability.floor_fraction", "must be in (0, 1]");
        }
        if !finite_non_negative(p.jumps_per_hour) {
            return bad("probability.jumps_per_hour", "must be a finite number >= 0");
        }
        if !finite_non_negative(p.jump_logit_sd) {
            return bad("probability.jump_logit_sd", "must be a finite number >= 0");
        }
        if !finite_non_negative(p.initial_logit_sd) {
            return bad("probability.initial_logit_sd", "must be a finite number >= 0");
        }
        let m = &self.makers;
        // Zero makers is allowed: quiet markets whose books hold only what
        // clients place (the integration tests rely on it).
        if m.count > 16 {
            return bad("makers.count", "must be at most 16");
        }
        if !finite_non_negative(m.half_spread_ticks) || !finite_non_negative(m.half_spread_step_ticks) {
            return bad("makers.half_spread_ticks", "spreads must be finite numbers >= 0");
        }
        if m.levels == 0 || m.levels > 50 {
            return bad("makers.levels", "must be between 1 and 50");
        }
        if m.level_gap_ticks == 0 {
            return bad("makers.level_gap_ticks", "must be at least 1");
        }
        if m.level_size == 0 || m.level_size > 1_000_000 {
            return bad("makers.level_size", "must be between 1 and 1,000,000 shares");
        }
        if !finite_non_negative(m.level_size_growth) {
            return bad("makers.level_size_growth", "must be a finite number >= 0");
        }
        if !(m.size_jitter.is_finite() && (0.0..1.0).contains(&m.size_jitter)) {
            return bad("makers.size_jitter", "must be in [0, 1)");
        }
        if m.refresh_ms <= 0 {
            return bad("makers.refresh_ms", "must be positive");
        }
        if !finite_non_negative(m.estimate_noise_logit) {
            return bad("makers.estimate_noise_logit", "must be a finite number >= 0");
        }
        let n = &self.noise;
        if !finite_non_negative(n.arrivals_per_min) {
            return bad("noise.arrivals_per_min", "must be a finite number >= 0");
        }
        if !(n.mean_size.is_finite() && n.mean_size > 0.0) {
            return bad("noise.mean_size", "must be a positive number");
        }
        if n.max_size == 0 || n.max_size > 1_000_000 {
            return bad("noise.max_size", "must be between 1 and 1,000,000 shares");
        }
        let i = &self.informed;
        if !finite_non_negative(i.min_edge) {
            return bad("informed.min_edge", "must be a finite number >= 0");
        }
        if i.max_size == 0 || i.max_size > 1_000_000 {
            return bad("informed.max_size", "must be between 1 and 1,000,000 shares");
        }
        if i.cooldown_ms < 0 {
            return bad("informed.cooldown_ms", "must not be negative");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let cfg = SyntheticConfig::default();
        cfg.validate().unwrap();
        let json = serde_json::to_string(&cfg).unwrap();
        assert_eq!(serde_json::from_str::<SyntheticConfig>(&json).unwrap(), cfg);
    }

    #[test]
    fn missing_fields_take_defaults_and_unknown_fields_are_refused() {
        let cfg: SyntheticConfig = serde_json::from_str(r#"{"seed": 11, "makers": {"count": 2}}"#).unwrap();
        assert_eq!(cfg.seed, 11);
        assert_eq!(cfg.makers.count, 2);
        assert_eq!(cfg.makers.levels, MakerConfig::default().levels);
        assert_eq!(cfg.markets, 4);
        assert!(serde_json::from_str::<SyntheticConfig>(r#"{"sead": 11}"#).is_err());
        assert!(serde_json::from_str::<SyntheticConfig>(r#"{"noise": {"rate": 1}}"#).is_err());
    }

    #[test]
    fn invalid_settings_name_their_field() {
        type Change = Box<dyn Fn(&mut SyntheticConfig)>;
        let cases: Vec<(&str, Change)> = vec![
            ("markets", Box::new(|c| c.markets = 0)),
            ("step_interval_ms", Box::new(|c| c.step_interval_ms = 0)),
            ("min_order_size", Box::new(|c| c.min_order_size = Size::parse("2.5").unwrap())),
            ("fee", Box::new(|c| c.fee.exponent = 0)),
            ("probability.jumps_per_hour", Box::new(|c| c.probability.jumps_per_hour = f64::NAN)),
            ("makers.count", Box::new(|c| c.makers.count = 17)),
            ("makers.size_jitter", Box::new(|c| c.makers.size_jitter = 1.0)),
            ("noise.mean_size", Box::new(|c| c.noise.mean_size = 0.0)),
            ("informed.cooldown_ms", Box::new(|c| c.informed.cooldown_ms = -1)),
        ];
        for (field, change) in cases {
            let mut cfg = SyntheticConfig::default();
            change(&mut cfg);
            match cfg.validate() {
                Err(SyntheticConfigError::Invalid { field: f, .. }) => assert_eq!(f, field),
                Ok(()) => panic!("{field} accepted"),
            }
        }
    }
}
