//! Corrupting a WebSocket frame for `ws-malformed`.
//!
//! Invariant: a corrupted frame differs from the original and does not decode
//! as the original message. [`Corruption::Truncated`] and
//! [`Corruption::Garbage`] are not JSON at all; [`Corruption::WrongType`] is
//! JSON of the same structure with exactly one scalar replaced by a value of
//! another JSON type (a string price becomes a number, `null`, an object...),
//! which is what a schema change or a server bug looks like to a client.

use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::Value;

/// How a frame was corrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Corruption {
    /// Cut off part-way, as if the frame were split.
    Truncated,
    /// Well-formed JSON with one value of the wrong type.
    WrongType,
    /// Bytes that are not JSON.
    Garbage,
}

/// Corrupts `frame`, choosing the kind of corruption at random. Falls back to
/// another kind when the chosen one cannot apply (a frame too short to cut,
/// or one that is not JSON or has no scalar to retype).
pub(crate) fn corrupt(frame: &str, rng: &mut impl Rng) -> (Corruption, String) {
    let wanted = [Corruption::Truncated, Corruption::WrongType, Corruption::Garbage][rng.random_range(0..3)];
    if wanted == Corruption::WrongType
        && let Some(out) = retype_one_scalar(frame, rng)
    {
        return (Corruption::WrongType, out);
    }
    if wanted != Corruption::Garbage
        && let Some(out) = truncate(frame, rng)
    {
        return (Corruption::Truncated, out);
    }
    (Corruption::Garbage, garbage(rng))
}

fn is_json(s: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok()
}

/// A non-empty strict prefix that is not valid JSON, if one was drawn.
fn truncate(frame: &str, rng: &mut impl Rng) -> Option<String> {
    let cuts: Vec<usize> = frame.char_indices().map(|(i, _)| i).filter(|&i| i > 0).collect();
    let &cut = cuts.choose(rng)?;
    let prefix = &frame[..cut];
    // A prefix of an object or array is never JSON, but a prefix of a bare
    // number can be ("12" of "123"): that would not be a corruption.
    (!is_json(prefix)).then(|| prefix.to_string())
}

fn garbage(rng: &mut impl Rng) -> String {
    // No JSON value starts with these, so the result never parses.
    const FIRST: &[u8] = b"}]:,#@~<";
    let len = rng.random_range(8..=40);
    let mut out = String::with_capacity(len);
    out.push(char::from(*FIRST.choose(rng).expect("non-empty")));
    for _ in 1..len {
        out.push(char::from(rng.random_range(0x20u8..=0x7e)));
    }
    out
}

fn retype_one_scalar(frame: &str, rng: &mut impl Rng) -> Option<String> {
    let mut value: Value = serde_json::from_str(frame).ok()?;
    let scalars = count_scalars(&value);
    if scalars == 0 {
        return None;
    }
    let mut target = rng.random_range(0..scalars);
    let slot = nth_scalar(&mut value, &mut target)?;
    *slot = other_type_than(slot, rng);
    serde_json::to_string(&value).ok()
}

fn count_scalars(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.iter().map(count_scalars).sum(),
        Value::Object(fields) => fields.values().map(count_scalars).sum(),
        _ => 1,
    }
}

/// The `n`-th scalar in document order; `n` counts down as scalars are passed.
fn nth_scalar<'a>(value: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
    match value {
        Value::Array(items) => items.iter_mut().find_map(|v| nth_scalar(v, n)),
        Value::Object(fields) => fields.values_mut().find_map(|v| nth_scalar(v, n)),
        scalar => {
            if *n == 0 {
                Some(scalar)
            } else {
                *n -= 1;
                None
            }
        }
    }
}

fn other_type_than(original: &Value, rng: &mut impl Rng) -> Value {
    let choices: [Value; 3] = match original {
        Value::String(_) => [Value::from(12_345), Value::Bool(true), Value::Object(Default::default())],
        Value::Number(_) => [Value::from("NaN"), Value::Bool(false), Value::Array(vec![])],
        Value::Bool(_) => [Value::from("true"), Value::from(1), Value::Null],
        _ => [Value::from(0), Value::from(""), Value::Bool(false)],
    };
    choices.choose(rng).expect("non-empty").clone()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    const FRAME: &str = r#"{"event_type":"price_change","market":"0xabc","timestamp":"1757908892351","price_changes":[{"asset_id":"71321","price":"0.5","size":"200","side":"BUY","hash":"56621a","best_bid":"0.5","best_ask":"1"}]}"#;

    fn json_type(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }

    /// Pairs up the scalars of two same-shaped values and counts type changes.
    fn type_changes(a: &Value, b: &Value) -> usize {
        match (a, b) {
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                x.iter().zip(y).map(|(x, y)| type_changes(x, y)).sum()
            }
            (Value::Object(x), Value::Object(y)) if x.len() == y.len() => {
                x.iter().map(|(k, xv)| y.get(k).map_or(usize::MAX / 4, |yv| type_changes(xv, yv))).sum()
            }
            (Value::Array(_) | Value::Object(_), _) => usize::MAX / 4,
            (x, y) => usize::from(json_type(x) != json_type(y)),
        }
    }

    #[test]
    fn every_corruption_kind_occurs_and_breaks_the_frame() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let original: Value = serde_json::from_str(FRAME).unwrap();
        let mut seen = [0usize; 3];
        for _ in 0..600 {
            let (kind, out) = corrupt(FRAME, &mut rng);
            assert_ne!(out, FRAME);
            match kind {
                Corruption::Truncated => {
                    seen[0] += 1;
                    assert!(FRAME.starts_with(&out) && !out.is_empty());
                    assert!(!is_json(&out), "{out}");
                }
                Corruption::WrongType => {
                    seen[1] += 1;
                    let retyped: Value = serde_json::from_str(&out).unwrap();
                    assert_eq!(type_changes(&original, &retyped), 1, "{out}");
                }
                Corruption::Garbage => {
                    seen[2] += 1;
                    assert!(!is_json(&out), "{out}");
                }
            }
        }
        // Each kind is drawn with probability 1/3: 200 expected of 600, sd ~11.5.
        for count in seen {
            assert!((140..=260).contains(&count), "{seen:?}");
        }
    }

    #[test]
    fn falls_back_when_a_kind_cannot_apply() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            // Not JSON and one char long: neither retype nor truncate applies.
            let (kind, out) = corrupt("x", &mut rng);
            assert_eq!(kind, Corruption::Garbage);
            assert!(!is_json(&out));
            // An empty object has no scalar to retype.
            let (kind, _) = corrupt("{}", &mut rng);
            assert_ne!(kind, Corruption::WrongType);
            // "12" is a valid prefix of "123", so truncation must not be used.
            let (kind, out) = corrupt("123", &mut rng);
            assert!(!is_json(&out) || kind == Corruption::WrongType, "{kind:?} {out}");
        }
    }
}
