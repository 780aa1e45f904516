//! The fault spec: which faults to inject and how often.
//!
//! Invariant: a [`FaultSpec`] that exists is valid. Every probability is a
//! finite number in [0, 1], every count and duration is positive, a stall is
//! shorter than its period, and a `Retry-After` is whole seconds. Parsing
//! (string or JSON object) is the only way in, and it is strict: an unknown
//! kind, a malformed number, a probability outside [0, 1], a zero count or a
//! kind given twice is a [`FaultSpecError`] naming the offending item. Because
//! the spec is always valid, [`Display`](fmt::Display) prints a string that
//! parses back to an equal spec.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};
use std::str::FromStr;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::FaultKind;

/// `Retry-After` of an injected 429 when the spec gives none.
pub const DEFAULT_RETRY_AFTER_S: u32 = 1;
/// How long `rest-accept-timeout` holds the reply when the spec gives no `@D`:
/// longer than the 5 s timeout the official clients use.
pub const DEFAULT_ACCEPT_HOLD_MS: u64 = 6_000;

/// Why one item of a fault spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadFault {
    #[error("empty item (stray comma?)")]
    EmptyItem,
    #[error("expected KIND=VALUE")]
    MissingValue,
    #[error("unknown kind {0:?}; known kinds: {known}", known = FaultKind::names_joined())]
    UnknownKind(String),
    #[error("kind given more than once")]
    Duplicate,
    #[error("{0:?} is not a probability (a decimal number in [0, 1], e.g. 0.05)")]
    BadProbability(String),
    #[error("{0:?} is not a whole number")]
    BadCount(String),
    #[error("the count must be at least 1")]
    ZeroCount,
    #[error("{0:?} is not a duration such as 500ms, 6s, 2m or 1h")]
    BadDuration(String),
    #[error("durations must be positive")]
    ZeroDuration,
    #[error("a stall ({for_ms} ms) must be shorter than its period ({every_ms} ms)")]
    StallNotShorter { every_ms: u64, for_ms: u64 },
    #[error("Retry-After {0:?} must be a whole number of seconds")]
    NotWholeSeconds(String),
    #[error("expected {0}")]
    Shape(&'static str),
}

/// A fault spec item that could not be parsed, with the item as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad fault {token:?}: {reason}")]
pub struct FaultSpecError {
    /// The comma-separated item as it appeared in the spec (trimmed).
    pub token: String,
    pub reason: BadFault,
}

/// A probability in [0, 1].
///
/// A fault rate, not money: `f64` is exact enough, and Rust prints it in the
/// shortest form that parses back to the same value, which keeps
/// `Display`/`FromStr` a round trip.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Probability(f64);

impl Probability {
    pub const ZERO: Probability = Probability(0.0);
    pub const ONE: Probability = Probability(1.0);

    /// Checks that `p` is a finite number in [0, 1].
    pub fn new(p: f64) -> Result<Probability, BadFault> {
        if p.is_finite() && (0.0..=1.0).contains(&p) {
            Ok(Probability(p))
        } else {
            Err(BadFault::BadProbability(p.to_string()))
        }
    }

    pub const fn get(self) -> f64 {
        self.0
    }
}

impl FromStr for Probability {
    type Err = BadFault;

    /// Accepts plain decimals only (`0`, `1`, `0.05`, `.5`): no sign, exponent,
    /// `inf` or `NaN`, which `f64::from_str` would otherwise let through.
    fn from_str(s: &str) -> Result<Probability, BadFault> {
        let bad = || BadFault::BadProbability(s.to_string());
        let digits_and_one_dot = !s.is_empty()
            && s != "."
            && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && s.bytes().filter(|&b| b == b'.').count() <= 1;
        if !digits_and_one_dot {
            return Err(bad());
        }
        let p: f64 = s.parse().map_err(|_| bad())?;
        Probability::new(p).map_err(|_| bad())
    }
}

impl fmt::Display for Probability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // f64's Display never uses an exponent and is the shortest round trip.
        write!(f, "{}", self.0)
    }
}

impl Serialize for Probability {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let p = f64::deserialize(deserializer)?;
        Probability::new(p).map_err(de::Error::custom)
    }
}

/// Parses a duration such as `500ms`, `6s`, `2m` or `1h` into milliseconds.
/// Zero is accepted here; callers that need a positive duration check it.
pub fn parse_duration_ms(s: &str) -> Result<u64, BadFault> {
    let bad = || BadFault::BadDuration(s.to_string());
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let ms_per_unit = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(bad()),
    };
    n.checked_mul(ms_per_unit).ok_or_else(bad)
}

/// Formats milliseconds in the largest unit that divides them exactly, so the
/// result parses back with [`parse_duration_ms`] to the same value.
pub fn format_duration_ms(ms: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(3_600_000, "h"), (60_000, "m"), (1_000, "s")];
    for (size, unit) in UNITS {
        if ms != 0 && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

fn parse_positive_duration_ms(s: &str) -> Result<NonZeroU64, BadFault> {
    NonZeroU64::new(parse_duration_ms(s)?).ok_or(BadFault::ZeroDuration)
}

fn parse_count(s: &str) -> Result<NonZeroU64, BadFault> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadFault::BadCount(s.to_string()));
    }
    let n: u64 = s.parse().map_err(|_| BadFault::BadCount(s.to_string()))?;
    NonZeroU64::new(n).ok_or(BadFault::ZeroCount)
}

/// `ws-stall=EVERY/FOR`: in every period of `every_ms` (counted from when the
/// connection opened) the last `for_ms` are silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WsStallFields")]
pub struct WsStall {
    every_ms: u64,
    for_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WsStallFields {
    every_ms: u64,
    for_ms: u64,
}

impl TryFrom<WsStallFields> for WsStall {
    type Error = BadFault;

    fn try_from(fields: WsStallFields) -> Result<WsStall, BadFault> {
        WsStall::new(fields.every_ms, fields.for_ms)
    }
}

impl WsStall {
    /// Both positive and `for_ms < every_ms`: a stall as long as its period
    /// would never end, which is a dead connection, not a stall.
    pub fn new(every_ms: u64, for_ms: u64) -> Result<WsStall, BadFault> {
        if every_ms == 0 || for_ms == 0 {
            return Err(BadFault::ZeroDuration);
        }
        if for_ms >= every_ms {
            return Err(BadFault::StallNotShorter { every_ms, for_ms });
        }
        Ok(WsStall { every_ms, for_ms })
    }

    pub const fn every_ms(self) -> u64 {
        self.every_ms
    }

    pub const fn for_ms(self) -> u64 {
        self.for_ms
    }

    /// Whether a connection open for `elapsed_ms` is inside a stall.
    pub const fn is_stalled_at(self, elapsed_ms: u64) -> bool {
        elapsed_ms % self.every_ms >= self.every_ms - self.for_ms
    }
}

fn default_retry_after_s() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_RETRY_AFTER_S).expect("default is positive")
}

fn default_accept_hold_ms() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_ACCEPT_HOLD_MS).expect("default is positive")
}

/// `rest-429=P[@D]`: answer 429 with `Retry-After: D` (whole seconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rest429 {
    pub p: Probability,
    #[serde(default = "default_retry_after_s")]
    pub retry_after_s: NonZeroU32,
}

/// `rest-accept-timeout=P[@D]`: process an order post, then hold its reply.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestAcceptTimeout {
    pub p: Probability,
    #[serde(default = "default_accept_hold_ms")]
    pub hold_ms: NonZeroU64,
}

/// `rest-delay=D@P`: hold a request for `delay_ms` before handling it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestDelay {
    pub delay_ms: NonZeroU64,
    pub p: Probability,
}

/// Which faults to inject. `None` in a field means that fault is off.
///
/// Text form (CLI `--faults`, config files): see the [module docs](super).
/// JSON form: serializes as the text; deserializes from the text *or* from
/// the object shape documented on [`FaultSpec::to_json_object`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultSpec {
    pub ws_drop_every: Option<NonZeroU64>,
    pub ws_drop: Option<Probability>,
    pub ws_stall: Option<WsStall>,
    pub ws_malformed: Option<Probability>,
    pub ws_out_of_order: Option<Probability>,
    pub rest_5xx: Option<Probability>,
    pub rest_425: Option<Probability>,
    pub rest_429: Option<Rest429>,
    pub rest_403_html: Option<Probability>,
    pub rest_accept_timeout: Option<RestAcceptTimeout>,
    pub rest_delay: Option<RestDelay>,
    /// Fail the first N cancel requests after the spec takes effect.
    pub rest_cancel_fail_first: Option<NonZeroU64>,
}

impl FaultSpec {
    /// No faults at all.
    pub fn none() -> FaultSpec {
        FaultSpec::default()
    }

    pub fn is_none(&self) -> bool {
        *self == FaultSpec::none()
    }

    /// Whether `kind` is configured (even with probability 0).
    pub fn has(&self, kind: FaultKind) -> bool {
        match kind {
            FaultKind::WsDropEvery => self.ws_drop_every.is_some(),
            FaultKind::WsDrop => self.ws_drop.is_some(),
            FaultKind::WsStall => self.ws_stall.is_some(),
            FaultKind::WsMalformed => self.ws_malformed.is_some(),
            FaultKind::WsOutOfOrder => self.ws_out_of_order.is_some(),
            FaultKind::Rest5xx => self.rest_5xx.is_some(),
            FaultKind::Rest425 => self.rest_425.is_some(),
            FaultKind::Rest429 => self.rest_429.is_some(),
            FaultKind::Rest403Html => self.rest_403_html.is_some(),
            FaultKind::RestAcceptTimeout => self.rest_accept_timeout.is_some(),
            FaultKind::RestDelay => self.rest_delay.is_some(),
            FaultKind::RestCancelFailFirst => self.rest_cancel_fail_first.is_some(),
        }
    }

    /// The spec as the JSON object the admin endpoint speaks. Keys are the
    /// kind names; an absent key means off; `{}` is no faults:
    ///
    /// ```json
    /// {
    ///   "ws-drop-every": 500,
    ///   "ws-drop": 0.001,
    ///   "ws-stall": {"every_ms": 30000, "for_ms": 5000},
    ///   "ws-malformed": 0.001,
    ///   "ws-out-of-order": 0.01,
    ///   "rest-5xx": 0.05,
    ///   "rest-425": 0.01,
    ///   "rest-429": {"p": 0.02, "retry_after_s": 1},
    ///   "rest-403-html": 0.01,
    ///   "rest-accept-timeout": {"p": 0.01, "hold_ms": 6000},
    ///   "rest-delay": {"delay_ms": 6000, "p": 0.01},
    ///   "rest-cancel-fail-first": 2
    /// }
    /// ```
    ///
    /// `retry_after_s` and `hold_ms` may be omitted on input (defaults 1 s
    /// and 6 s); unknown keys are refused.
    pub fn to_json_object(&self) -> serde_json::Value {
        serde_json::to_value(SpecObject::from(self.clone())).expect("a fault spec object always serializes")
    }

    /// Parses the value of one `kind=value` item into `self`.
    fn set_from_str(&mut self, kind: FaultKind, value: &str) -> Result<(), BadFault> {
        match kind {
            FaultKind::WsDropEvery => self.ws_drop_every = Some(parse_count(value)?),
            FaultKind::WsDrop => self.ws_drop = Some(value.parse()?),
            FaultKind::WsStall => {
                let (every, stall) =
                    value.split_once('/').ok_or(BadFault::Shape("EVERY/FOR, two durations such as 30s/5s"))?;
                let every = parse_positive_duration_ms(every.trim())?.get();
                let stall = parse_positive_duration_ms(stall.trim())?.get();
                self.ws_stall = Some(WsStall::new(every, stall)?);
            }
            FaultKind::WsMalformed => self.ws_malformed = Some(value.parse()?),
            FaultKind::WsOutOfOrder => self.ws_out_of_order = Some(value.parse()?),
            FaultKind::Rest5xx => self.rest_5xx = Some(value.parse()?),
            FaultKind::Rest425 => self.rest_425 = Some(value.parse()?),
            FaultKind::Rest429 => {
                let (p, retry_after_s) = match value.split_once('@') {
                    None => (value, default_retry_after_s()),
                    Some((p, d)) => {
                        let d = d.trim();
                        let ms = parse_positive_duration_ms(d)?.get();
                        if !ms.is_multiple_of(1_000) {
                            return Err(BadFault::NotWholeSeconds(d.to_string()));
                        }
                        let s = u32::try_from(ms / 1_000).map_err(|_| BadFault::BadDuration(d.to_string()))?;
                        (p, NonZeroU32::new(s).ok_or(BadFault::ZeroDuration)?)
                    }
                };
                let p = p.trim().parse()?;
                self.rest_429 = Some(Rest429 { p, retry_after_s });
            }
            FaultKind::Rest403Html => self.rest_403_html = Some(value.parse()?),
            FaultKind::RestAcceptTimeout => {
                let (p, hold_ms) = match value.split_once('@') {
                    None => (value, default_accept_hold_ms()),
                    Some((p, d)) => (p, parse_positive_duration_ms(d.trim())?),
                };
                let p = p.trim().parse()?;
                self.rest_accept_timeout = Some(RestAcceptTimeout { p, hold_ms });
            }
            FaultKind::RestDelay => {
                let (d, p) = value.split_once('@').ok_or(BadFault::Shape("DURATION@PROBABILITY, e.g. 6s@0.01"))?;
                let delay_ms = parse_positive_duration_ms(d.trim())?;
                let p = p.trim().parse()?;
                self.rest_delay = Some(RestDelay { delay_ms, p });
            }
            FaultKind::RestCancelFailFirst => self.rest_cancel_fail_first = Some(parse_count(value)?),
        }
        Ok(())
    }

    /// The value part of `kind=value`, or `None` when the kind is off.
    fn value_string(&self, kind: FaultKind) -> Option<String> {
        Some(match kind {
            FaultKind::WsDropEvery => self.ws_drop_every?.to_string(),
            FaultKind::WsDrop => self.ws_drop?.to_string(),
            FaultKind::WsStall => {
                let stall = self.ws_stall?;
                format!("{}/{}", format_duration_ms(stall.every_ms), format_duration_ms(stall.for_ms))
            }
            FaultKind::WsMalformed => self.ws_malformed?.to_string(),
            FaultKind::WsOutOfOrder => self.ws_out_of_order?.to_string(),
            FaultKind::Rest5xx => self.rest_5xx?.to_string(),
            FaultKind::Rest425 => self.rest_425?.to_string(),
            FaultKind::Rest429 => {
                let f = self.rest_429?;
                if f.retry_after_s.get() == DEFAULT_RETRY_AFTER_S {
                    f.p.to_string()
                } else {
                    let ms = u64::from(f.retry_after_s.get()) * 1_000;
                    format!("{}@{}", f.p, format_duration_ms(ms))
                }
            }
            FaultKind::Rest403Html => self.rest_403_html?.to_string(),
            FaultKind::RestAcceptTimeout => {
                let f = self.rest_accept_timeout?;
                if f.hold_ms.get() == DEFAULT_ACCEPT_HOLD_MS {
                    f.p.to_string()
                } else {
                    format!("{}@{}", f.p, format_duration_ms(f.hold_ms.get()))
                }
            }
            FaultKind::RestDelay => {
                let f = self.rest_delay?;
                format!("{}@{}", format_duration_ms(f.delay_ms.get()), f.p)
            }
            FaultKind::RestCancelFailFirst => self.rest_cancel_fail_first?.to_string(),
        })
    }
}

impl FromStr for FaultSpec {
    type Err = FaultSpecError;

    /// `""` and `"none"` are no faults; otherwise comma-separated
    /// `kind=value` items, whitespace around items and around `=` ignored.
    fn from_str(s: &str) -> Result<FaultSpec, FaultSpecError> {
        let trimmed = s.trim();
        let mut spec = FaultSpec::none();
        if trimmed.is_empty() || trimmed == "none" {
            return Ok(spec);
        }
        for item in trimmed.split(',') {
            let token = item.trim();
            let fail = |reason| FaultSpecError { token: token.to_string(), reason };
            if token.is_empty() {
                return Err(fail(BadFault::EmptyItem));
            }
            let (kind, value) = token.split_once('=').ok_or_else(|| fail(BadFault::MissingValue))?;
            let (kind, value) = (kind.trim(), value.trim());
            let kind = FaultKind::from_name(kind).ok_or_else(|| fail(BadFault::UnknownKind(kind.to_string())))?;
            if spec.has(kind) {
                return Err(fail(BadFault::Duplicate));
            }
            spec.set_from_str(kind, value).map_err(fail)?;
        }
        Ok(spec)
    }
}

impl fmt::Display for FaultSpec {
    /// Kinds in the canonical order of [`FaultKind::ALL`]; `none` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for kind in FaultKind::ALL {
            if let Some(value) = self.value_string(kind) {
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                write!(f, "{}={value}", kind.name())?;
            }
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

impl Serialize for FaultSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FaultSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpecVisitor;

        impl<'de> Visitor<'de> for SpecVisitor {
            type Value = FaultSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a fault spec string like \"ws-drop-every=500\" or a fault object")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<FaultSpec, E> {
                s.parse().map_err(E::custom)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FaultSpec, A::Error> {
                let object = SpecObject::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(object.into())
            }
        }

        deserializer.deserialize_any(SpecVisitor)
    }
}

/// The object shape of a [`FaultSpec`] (see [`FaultSpec::to_json_object`]).
/// Every field type validates itself, so the conversion is infallible.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecObject {
    #[serde(rename = "ws-drop-every", default, skip_serializing_if = "Option::is_none")]
    ws_drop_every: Option<NonZeroU64>,
    #[serde(rename = "ws-drop", default, skip_serializing_if = "Option::is_none")]
    ws_drop: Option<Probability>,
    #[serde(rename = "ws-stall", default, skip_serializing_if = "Option::is_none")]
    ws_stall: Option<WsStall>,
    #[serde(rename = "ws-malformed", default, skip_serializing_if = "Option::is_none")]
    ws_malformed: Option<Probability>,
    #[serde(rename = "ws-out-of-order", default, skip_serializing_if = "Option::is_none")]
    ws_out_of_order: Option<Probability>,
    #[serde(rename = "rest-5xx", default, skip_serializing_if = "Option::is_none")]
    rest_5xx: Option<Probability>,
    #[serde(rename = "rest-425", default, skip_serializing_if = "Option::is_none")]
    rest_425: Option<Probability>,
    #[serde(rename = "rest-429", default, skip_serializing_if = "Option::is_none")]
    rest_429: Option<Rest429>,
    #[serde(rename = "rest-403-html", default, skip_serializing_if = "Option::is_none")]
    rest_403_html: Option<Probability>,
    #[serde(rename = "rest-accept-timeout", default, skip_serializing_if = "Option::is_none")]
    rest_accept_timeout: Option<RestAcceptTimeout>,
    #[serde(rename = "rest-delay", default, skip_serializing_if = "Option::is_none")]
    rest_delay: Option<RestDelay>,
    #[serde(rename = "rest-cancel-fail-first", default, skip_serializing_if = "Option::is_none")]
    rest_cancel_fail_first: Option<NonZeroU64>,
}

impl From<FaultSpec> for SpecObject {
    fn from(s: FaultSpec) -> SpecObject {
        SpecObject {
            ws_drop_every: s.ws_drop_every,
            ws_drop: s.ws_drop,
            ws_stall: s.ws_stall,
            ws_malformed: s.ws_malformed,
            ws_out_of_order: s.ws_out_of_order,
            rest_5xx: s.rest_5xx,
            rest_425: s.rest_425,
            rest_429: s.rest_429,
            rest_403_html: s.rest_403_html,
            rest_accept_timeout: s.rest_accept_timeout,
            rest_delay: s.rest_delay,
            rest_cancel_fail_first: s.rest_cancel_fail_first,
        }
    }
}

impl From<SpecObject> for FaultSpec {
    fn from(o: SpecObject) -> FaultSpec {
        FaultSpec {
            ws_drop_every: o.ws_drop_every,
            ws_drop: o.ws_drop,
            ws_stall: o.ws_stall,
            ws_malformed: o.ws_malformed,
            ws_out_of_order: o.ws_out_of_order,
            rest_5xx: o.rest_5xx,
            rest_425: o.rest_425,
            rest_429: o.rest_429,
            rest_403_html: o.rest_403_html,
            rest_accept_timeout: o.rest_accept_timeout,
            rest_delay: o.rest_delay,
            rest_cancel_fail_first: o.rest_cancel_fail_first,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUE_EXAMPLE: &str =
        "ws-drop-every=500,ws-stall=30s/5s,ws-malformed=0.001,rest-5xx=0.05,rest-429=0.02,rest-delay=6s@0.01";

    fn p(x: f64) -> Probability {
        Probability::new(x).unwrap()
    }

    fn err(s: &str) -> FaultSpecError {
        s.parse::<FaultSpec>().unwrap_err()
    }

    #[test]
    fn parses_the_issue_example() {
        let spec: FaultSpec = ISSUE_EXAMPLE.parse().unwrap();
        assert_eq!(spec.ws_drop_every, NonZeroU64::new(500));
        assert_eq!(spec.ws_stall, Some(WsStall::new(30_000, 5_000).unwrap()));
        assert_eq!(spec.ws_malformed, Some(p(0.001)));
        assert_eq!(spec.rest_5xx, Some(p(0.05)));
        assert_eq!(spec.rest_429, Some(Rest429 { p: p(0.02), retry_after_s: NonZeroU32::new(1).unwrap() }));
        assert_eq!(spec.rest_delay, Some(RestDelay { delay_ms: NonZeroU64::new(6_000).unwrap(), p: p(0.01) }));
        assert_eq!(spec.ws_drop, None);
        assert_eq!(spec.rest_accept_timeout, None);
        // Already in canonical order, so Display gives the input back.
        assert_eq!(spec.to_string(), ISSUE_EXAMPLE);
    }

    #[test]
    fn parses_every_kind_and_round_trips() {
        let text = "ws-drop-every=3,ws-drop=0.5,ws-stall=2m/500ms,ws-malformed=1,\
                    ws-out-of-order=0,rest-5xx=0.25,rest-425=0.125,rest-429=0.02@3s,\
                    rest-403-html=0.75,rest-accept-timeout=0.1@7s,rest-delay=1h@0.01,\
                    rest-cancel-fail-first=2";
        let spec: FaultSpec = text.parse().unwrap();
        for kind in FaultKind::ALL {
            assert!(spec.has(kind), "{kind:?} not parsed");
        }
        assert_eq!(spec.ws_stall.unwrap().every_ms(), 120_000);
        assert_eq!(spec.ws_stall.unwrap().for_ms(), 500);
        assert_eq!(spec.rest_429.unwrap().retry_after_s.get(), 3);
        assert_eq!(spec.rest_accept_timeout.unwrap().hold_ms.get(), 7_000);
        assert_eq!(spec.rest_delay.unwrap().delay_ms.get(), 3_600_000);
        assert_eq!(spec.ws_out_of_order, Some(Probability::ZERO));
        assert_eq!(spec.to_string(), text);
        assert_eq!(spec.to_string().parse::<FaultSpec>().unwrap(), spec);
    }

    #[test]
    fn display_is_canonical_and_omits_defaults() {
        let spec: FaultSpec = " rest-accept-timeout = 0.01@6s , ws-drop=0.1, rest-429=0.2@1s ".parse().unwrap();
        assert_eq!(spec.to_string(), "ws-drop=0.1,rest-429=0.2,rest-accept-timeout=0.01");
        assert_eq!(spec.to_string().parse::<FaultSpec>().unwrap(), spec);
    }

    #[test]
    fn none_round_trips() {
        assert_eq!(FaultSpec::none().to_string(), "none");
        assert!("none".parse::<FaultSpec>().unwrap().is_none());
        assert!("".parse::<FaultSpec>().unwrap().is_none());
        assert!("  ".parse::<FaultSpec>().unwrap().is_none());
    }

    #[test]
    fn errors_name_the_token_and_the_reason() {
        let e = err("ws-drop=0.1,ws-explode=0.5");
        assert_eq!(e.token, "ws-explode=0.5");
        assert_eq!(e.reason, BadFault::UnknownKind("ws-explode".into()));
        assert!(e.to_string().contains("ws-drop-every"), "{e}");

        assert_eq!(err("ws-drop=1.5").reason, BadFault::BadProbability("1.5".into()));
        assert_eq!(err("ws-drop=-0.1").reason, BadFault::BadProbability("-0.1".into()));
        assert_eq!(err("ws-drop=1e-3").reason, BadFault::BadProbability("1e-3".into()));
        assert_eq!(err("ws-drop=NaN").reason, BadFault::BadProbability("NaN".into()));
        assert_eq!(err("ws-drop=inf").reason, BadFault::BadProbability("inf".into()));
        assert_eq!(err("ws-drop=").reason, BadFault::BadProbability("".into()));
        assert_eq!(err("ws-drop=0.1.2").reason, BadFault::BadProbability("0.1.2".into()));
        assert_eq!(err("ws-drop-every=0").reason, BadFault::ZeroCount);
        assert_eq!(err("ws-drop-every=-3").reason, BadFault::BadCount("-3".into()));
        assert_eq!(err("ws-drop-every=2.5").reason, BadFault::BadCount("2.5".into()));
        assert_eq!(err("ws-drop-every=99999999999999999999").reason, BadFault::BadCount("99999999999999999999".into()));
        assert_eq!(err("ws-drop").reason, BadFault::MissingValue);
        assert_eq!(err("ws-drop=0.1,").reason, BadFault::EmptyItem);
        assert_eq!(err("ws-drop=0.1,ws-drop=0.2").reason, BadFault::Duplicate);
        assert_eq!(err("ws-drop=0.1,ws-drop=0.2").token, "ws-drop=0.2");
    }

    #[test]
    fn duration_errors() {
        assert_eq!(err("ws-stall=30s").reason, BadFault::Shape("EVERY/FOR, two durations such as 30s/5s"));
        assert_eq!(err("ws-stall=30x/5s").reason, BadFault::BadDuration("30x".into()));
        assert_eq!(err("ws-stall=30/5s").reason, BadFault::BadDuration("30".into()));
        assert_eq!(err("ws-stall=s/5s").reason, BadFault::BadDuration("s".into()));
        assert_eq!(err("ws-stall=30s/0s").reason, BadFault::ZeroDuration);
        assert_eq!(err("ws-stall=5s/5s").reason, BadFault::StallNotShorter { every_ms: 5_000, for_ms: 5_000 });
        assert_eq!(err("rest-delay=0.01@6s").reason, BadFault::BadDuration("0.01".into()));
        assert_eq!(err("rest-delay=6s").reason, BadFault::Shape("DURATION@PROBABILITY, e.g. 6s@0.01"));
        assert_eq!(err("rest-delay=0ms@0.5").reason, BadFault::ZeroDuration);
        assert_eq!(err("rest-429=0.1@1500ms").reason, BadFault::NotWholeSeconds("1500ms".into()));
        assert_eq!(err("rest-accept-timeout=6s@0.1").reason, BadFault::BadDuration("0.1".into()));
        assert_eq!(err("rest-delay=99999999999999999h@0.1").reason, BadFault::BadDuration("99999999999999999h".into()));
    }

    #[test]
    fn durations_format_in_the_largest_exact_unit() {
        for (ms, text) in
            [(500, "500ms"), (6_000, "6s"), (120_000, "2m"), (7_200_000, "2h"), (1_500, "1500ms"), (90_000, "90s")]
        {
            assert_eq!(format_duration_ms(ms), text);
            assert_eq!(parse_duration_ms(text).unwrap(), ms);
        }
    }

    #[test]
    fn serde_as_string_and_as_object() {
        let spec: FaultSpec = ISSUE_EXAMPLE.parse().unwrap();
        let as_json = serde_json::to_string(&spec).unwrap();
        assert_eq!(as_json, format!("\"{ISSUE_EXAMPLE}\""));
        assert_eq!(serde_json::from_str::<FaultSpec>(&as_json).unwrap(), spec);

        let object = spec.to_json_object();
        assert_eq!(
            object,
            serde_json::json!({
                "ws-drop-every": 500,
                "ws-stall": {"every_ms": 30000, "for_ms": 5000},
                "ws-malformed": 0.001,
                "rest-5xx": 0.05,
                "rest-429": {"p": 0.02, "retry_after_s": 1},
                "rest-delay": {"delay_ms": 6000, "p": 0.01}
            })
        );
        assert_eq!(serde_json::from_value::<FaultSpec>(object).unwrap(), spec);
        assert!(serde_json::from_str::<FaultSpec>("{}").unwrap().is_none());

        // Defaults may be omitted from the object.
        let short: FaultSpec = serde_json::from_str(r#"{"rest-429":{"p":0.5},"rest-accept-timeout":{"p":1}}"#).unwrap();
        assert_eq!(short.to_string(), "rest-429=0.5,rest-accept-timeout=1");
    }

    #[test]
    fn object_form_is_strict() {
        let bad = [
            r#"{"ws-explode": 0.1}"#,
            r#"{"ws-drop": 1.5}"#,
            r#"{"ws-drop-every": 0}"#,
            r#"{"ws-stall": {"every_ms": 1000, "for_ms": 1000}}"#,
            r#"{"ws-stall": {"every_ms": 1000, "for_ms": 10, "x": 1}}"#,
            r#"{"rest-delay": {"p": 0.1}}"#,
            r#""ws-drop=2""#,
            "17",
        ];
        for text in bad {
            assert!(serde_json::from_str::<FaultSpec>(text).is_err(), "{text} accepted");
        }
        let e = serde_json::from_str::<FaultSpec>(r#""ws-drop=2""#).unwrap_err();
        assert!(e.to_string().contains("ws-drop=2"), "{e}");
    }

    #[test]
    fn probability_bounds() {
        assert!(Probability::new(0.0).is_ok());
        assert!(Probability::new(1.0).is_ok());
        assert!(Probability::new(1.000_000_1).is_err());
        assert!(Probability::new(f64::NAN).is_err());
        assert_eq!(".5".parse::<Probability>().unwrap(), p(0.5));
        assert_eq!("1.0".parse::<Probability>().unwrap(), Probability::ONE);
        assert!("+0.5".parse::<Probability>().is_err());
        assert!(".".parse::<Probability>().is_err());
    }
}
