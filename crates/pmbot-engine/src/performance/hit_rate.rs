//! The model's hit rate as traded: of the direction calls made at
//! confidence >= the threshold, how many the next move of the UP mid agreed
//! with, scored as the model was validated.
//!
//! The model's label is the direction of the next mid change within
//! `horizon_ms`; here that is the first later decision of the same run and
//! market, within the horizon, whose mid differs from the call's. A call
//! whose mid stays put (as sampled) through the horizon, or is unknown, says
//! nothing and is not counted, as such samples were dropped in validation.

use std::collections::HashMap;
use std::str::FromStr;

use pmbot_core::{ConditionId, TimestampMs};
use rust_decimal::Decimal;

use super::stats::proportion;
use super::{HitRate, ValidatedRate};
use crate::journal::{Decision, Run};

/// The trading rule's threshold when a model names none.
pub(crate) const DEFAULT_THRESHOLD: Decimal = Decimal::from_parts(4, 0, 0, false, 1);

/// What the hit rate reads from a run's model JSON.
pub(crate) struct ModelSettings {
    pub threshold: Decimal,
    pub horizon_ms: i64,
    pub validated: Option<ValidatedRate>,
}

/// Reads `confidence_threshold` (text or number; 0.4 when absent),
/// `horizon_ms` (required, > 0) and the `validated_*` figures (all of rate,
/// low and high, or none) from `run`'s model JSON.
pub(crate) fn model_settings(run: &Run) -> Result<ModelSettings, String> {
    let model = &run.start.model;
    let threshold = match model.get("confidence_threshold") {
        None | Some(serde_json::Value::Null) => DEFAULT_THRESHOLD,
        Some(serde_json::Value::String(s)) => {
            Decimal::from_str(s).map_err(|_| format!("confidence_threshold {s:?}"))?
        }
        Some(serde_json::Value::Number(n)) => {
            Decimal::from_str(&n.to_string()).map_err(|_| format!("confidence_threshold {n}"))?
        }
        Some(other) => return Err(format!("confidence_threshold {other}")),
    };
    let horizon_ms = match model.get("horizon_ms").and_then(serde_json::Value::as_i64) {
        Some(h) if h > 0 => h,
        _ => return Err("no positive horizon_ms (the hit rate cannot be scored without it)".into()),
    };
    let f = |key: &str| model.get(key).and_then(serde_json::Value::as_f64);
    let validated = match (f("validated_hit_rate"), f("validated_low"), f("validated_high")) {
        (Some(rate), Some(low), Some(high)) => {
            Some(ValidatedRate { rate, low, high, coverage: f("validated_coverage") })
        }
        _ => None,
    };
    Ok(ModelSettings { threshold, horizon_ms, validated })
}

/// Scores the calls among `decisions` (the runs in scope, in the order
/// written) with `settings`.
pub(crate) fn score(decisions: &[Decision], settings: ModelSettings) -> HitRate {
    // Each (run, market)'s decisions by time: where the outcome is read.
    type Mids = Vec<(TimestampMs, Option<u32>)>;
    let mut series: HashMap<(i64, &ConditionId), Mids> = HashMap::new();
    for d in decisions {
        series.entry((d.run, &d.market)).or_default().push((d.at, d.up_mid2_pips));
    }
    for s in series.values_mut() {
        // Stable: decisions at the same instant keep the order written.
        s.sort_by_key(|(at, _)| *at);
    }
    let (mut hits, mut n) = (0u64, 0u64);
    for d in decisions {
        let (Some(p_up), Some(confidence), Some(now)) = (d.p_up, d.confidence, d.up_mid2_pips) else { continue };
        if confidence < settings.threshold {
            continue;
        }
        let later = &series[&(d.run, &d.market)];
        let until = d.at.plus_millis(settings.horizon_ms);
        let from = later.partition_point(|(at, _)| *at <= d.at);
        let moved =
            later[from..].iter().take_while(|(at, _)| *at <= until).find_map(|(_, mid)| mid.filter(|m| *m != now));
        let Some(then) = moved else { continue };
        n += 1;
        let predicted_up = p_up > Decimal::new(5, 1);
        if predicted_up == (then > now) {
            hits += 1;
        }
    }
    HitRate {
        threshold: settings.threshold,
        horizon_ms: settings.horizon_ms,
        rate: proportion(hits, n),
        validated: settings.validated,
    }
}
