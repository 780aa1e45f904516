//! The exchange's book `hash`, computed the way the server computes it.
//!
//! Invariant: the hash is taken over the *raw strings the server sent*, never
//! over re-rendered numbers ("0.50" and "0.5" hash differently). Recipe (py
//! client `generate_orderbook_summary_hash`, reproduced on 45/45 live `/book`
//! responses by a third party): SHA-1, lowercase hex, of the compact JSON
//!
//! ```text
//! {"market":M,"asset_id":A,"timestamp":T,"hash":"","bids":[{"price":P,"size":S},…],"asks":[…],
//!  "min_order_size":MOS,"tick_size":TICK,"neg_risk":true|false,"last_trade_price":LTP}
//! ```
//!
//! with keys in exactly this order, levels in wire order, `hash` emptied,
//! `neg_risk` a JSON boolean, every other value a JSON string, and a missing
//! value written `null`. Strings are escaped as Python's
//! `json.dumps(ensure_ascii=False)` escapes them: `"` and `\`, and control
//! characters (`\b \f \n \r \t`, others as `\u00xx`); everything else verbatim.
//!
//! WebSocket `book` frames lack `min_order_size` and `neg_risk`, so their hashes
//! can only be checked with those filled in from REST; verify REST snapshots.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::{Deserialize, Deserializer};
use sha1::{Digest, Sha1};

use crate::level::{RawLevel, decimal_text};

/// The fields the hash covers, as the raw strings the server sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookHashInput<'a> {
    pub market: &'a str,
    /// The token id in decimal, as sent.
    pub asset_id: &'a str,
    /// Milliseconds, as sent.
    pub timestamp: &'a str,
    /// In wire order (REST: ascending).
    pub bids: &'a [RawLevel<'a>],
    /// In wire order (REST: descending).
    pub asks: &'a [RawLevel<'a>],
    pub min_order_size: Option<&'a str>,
    pub tick_size: Option<&'a str>,
    pub neg_risk: Option<bool>,
    pub last_trade_price: Option<&'a str>,
}

/// Whether a book's stated hash matches the one computed from its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashCheck {
    Match,
    Mismatch { stated: String, computed: String },
}

/// The compact JSON the server hashes.
pub fn canonical_json(book: &BookHashInput<'_>) -> String {
    let levels: usize = book.bids.len() + book.asks.len();
    let mut out = String::with_capacity(256 + 40 * levels);
    out.push_str("{\"market\":");
    push_str_value(&mut out, book.market);
    out.push_str(",\"asset_id\":");
    push_str_value(&mut out, book.asset_id);
    out.push_str(",\"timestamp\":");
    push_str_value(&mut out, book.timestamp);
    out.push_str(",\"hash\":\"\",\"bids\":");
    push_levels(&mut out, book.bids);
    out.push_str(",\"asks\":");
    push_levels(&mut out, book.asks);
    out.push_str(",\"min_order_size\":");
    push_opt(&mut out, book.min_order_size);
    out.push_str(",\"tick_size\":");
    push_opt(&mut out, book.tick_size);
    out.push_str(",\"neg_risk\":");
    out.push_str(match book.neg_risk {
        Some(true) => "true",
        Some(false) => "false",
        None => "null",
    });
    out.push_str(",\"last_trade_price\":");
    push_opt(&mut out, book.last_trade_price);
    out.push('}');
    out
}

/// The server-compatible hash: 40 lowercase hex digits.
pub fn book_hash(book: &BookHashInput<'_>) -> String {
    hex::encode(Sha1::digest(canonical_json(book).as_bytes()))
}

/// Checks a stated hash (any case, `0x` prefix tolerated) against the contents.
pub fn verify_book_hash(book: &BookHashInput<'_>, stated: &str) -> HashCheck {
    let computed = book_hash(book);
    let bare = stated.strip_prefix("0x").unwrap_or(stated);
    if bare.eq_ignore_ascii_case(&computed) {
        HashCheck::Match
    } else {
        HashCheck::Mismatch { stated: stated.to_owned(), computed }
    }
}

/// A REST `/book` response (or WS `book` frame) kept as raw strings, borrowed
/// from the input where possible, so its hash can be checked before parsing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RawBookSummary<'a> {
    #[serde(borrow)]
    pub market: Cow<'a, str>,
    #[serde(borrow)]
    pub asset_id: Cow<'a, str>,
    #[serde(borrow)]
    pub timestamp: Cow<'a, str>,
    #[serde(borrow, default)]
    pub hash: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub bids: Vec<RawLevel<'a>>,
    #[serde(borrow)]
    pub asks: Vec<RawLevel<'a>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    pub min_order_size: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    pub tick_size: Option<Cow<'a, str>>,
    #[serde(default)]
    pub neg_risk: Option<bool>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    pub last_trade_price: Option<Cow<'a, str>>,
}

impl<'a> RawBookSummary<'a> {
    /// The fields the hash covers.
    pub fn hash_input(&self) -> BookHashInput<'_> {
        BookHashInput {
            market: &self.market,
            asset_id: &self.asset_id,
            timestamp: &self.timestamp,
            bids: &self.bids,
            asks: &self.asks,
            min_order_size: self.min_order_size.as_deref(),
            tick_size: self.tick_size.as_deref(),
            neg_risk: self.neg_risk,
            last_trade_price: self.last_trade_price.as_deref(),
        }
    }

    /// Checks the book's own `hash` field; `None` if it has none.
    pub fn verify(&self) -> Option<HashCheck> {
        self.hash.as_deref().map(|h| verify_book_hash(&self.hash_input(), h))
    }
}

fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow, deserialize_with = "decimal_text")] Cow<'a, str>);
    Ok(Option::<Text<'de>>::deserialize(d)?.map(|t| t.0))
}

fn push_levels(out: &mut String, levels: &[RawLevel<'_>]) {
    out.push('[');
    for (i, l) in levels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"price\":");
        push_str_value(out, &l.price);
        out.push_str(",\"size\":");
        push_str_value(out, &l.size);
        out.push('}');
    }
    out.push(']');
}

fn push_opt(out: &mut String, v: Option<&str>) {
    match v {
        Some(s) => push_str_value(out, s),
        None => out.push_str("null"),
    }
}

/// A JSON string literal, escaped as Python's `json.dumps(ensure_ascii=False)`.
fn push_str_value(out: &mut String, s: &str) {
    out.push('"');
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        // The usual case: digits, dots, hex.
        out.push_str(s);
    } else {
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{08}' => out.push_str("\\b"),
                '\u{0c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEVELS_BIDS: [(&str, &str); 2] = [("0.3", "100"), ("0.4", "100")];
    const LEVELS_ASKS: [(&str, &str); 2] = [("0.6", "100"), ("0.7", "100")];

    fn raw(levels: &[(&'static str, &'static str)]) -> Vec<RawLevel<'static>> {
        levels.iter().map(|(p, s)| RawLevel::new(p, s)).collect()
    }

    const RS_MARKET: &str = "0x00000000000000000000000000000000000000000000000000000000aabbcc00";
    const RS_ASSET: &str = "15871154585880608648532107628464183779895785213830018178010423617714102767076";

    /// py-clob-client `tests/test_utilities.py`, given there in another key order.
    #[test]
    fn upstream_vector_from_raw_json() {
        let json = r#"{"market":"0xaabbcc","asset_id":"100","bids":[{"price":"0.3","size":"100"},{"price":"0.4","size":"100"}],"asks":[{"price":"0.6","size":"100"},{"price":"0.7","size":"100"}],"hash":"","timestamp":"123456789","min_order_size":"100","neg_risk":false,"tick_size":"0.01","last_trade_price":"0.5"}"#;
        let book: RawBookSummary<'_> = serde_json::from_str(json).unwrap();
        assert!(matches!(book.market, Cow::Borrowed(_)));
        assert_eq!(book_hash(&book.hash_input()), "0458ea5755c9f73d64a14636fa5c36ed460ec394");
        assert_eq!(
            canonical_json(&book.hash_input()),
            r#"{"market":"0xaabbcc","asset_id":"100","timestamp":"123456789","hash":"","bids":[{"price":"0.3","size":"100"},{"price":"0.4","size":"100"}],"asks":[{"price":"0.6","size":"100"},{"price":"0.7","size":"100"}],"min_order_size":"100","tick_size":"0.01","neg_risk":false,"last_trade_price":"0.5"}"#
        );
    }

    #[test]
    fn rs_book_vectors() {
        let (bids, asks) = (raw(&LEVELS_BIDS), raw(&LEVELS_ASKS));
        let mut input = BookHashInput {
            market: RS_MARKET,
            asset_id: RS_ASSET,
            timestamp: "123456789",
            bids: &bids,
            asks: &asks,
            min_order_size: Some("100"),
            tick_size: Some("0.01"),
            neg_risk: Some(false),
            last_trade_price: Some("0"),
        };
        assert_eq!(
            canonical_json(&input),
            r#"{"market":"0x00000000000000000000000000000000000000000000000000000000aabbcc00","asset_id":"15871154585880608648532107628464183779895785213830018178010423617714102767076","timestamp":"123456789","hash":"","bids":[{"price":"0.3","size":"100"},{"price":"0.4","size":"100"}],"asks":[{"price":"0.6","size":"100"},{"price":"0.7","size":"100"}],"min_order_size":"100","tick_size":"0.01","neg_risk":false,"last_trade_price":"0"}"#
        );
        assert_eq!(book_hash(&input), "4181b67d7eb52420c730d14d4c66135c524a144e");
        input.last_trade_price = None;
        assert_eq!(book_hash(&input), "19820b654730e2b31919469ec943e766100c6f22");
        input.last_trade_price = Some("0");
        input.asset_id = "0x2316c15215a7d6ed5efc63c27677a17a93082569343fffecb84e8cd920d08de4";
        assert_eq!(book_hash(&input), "a58babca541960043ae65fc04692b3c6c030bd30");
    }

    #[test]
    fn verify_reports_matches_and_mismatches() {
        let (bids, asks) = (raw(&LEVELS_BIDS), raw(&LEVELS_ASKS));
        let input = BookHashInput {
            market: "0xaabbcc",
            asset_id: "100",
            timestamp: "123456789",
            bids: &bids,
            asks: &asks,
            min_order_size: Some("100"),
            tick_size: Some("0.01"),
            neg_risk: Some(false),
            last_trade_price: Some("0.5"),
        };
        assert_eq!(verify_book_hash(&input, "0458EA5755C9F73D64A14636FA5C36ED460EC394"), HashCheck::Match);
        assert_eq!(verify_book_hash(&input, "0x0458ea5755c9f73d64a14636fa5c36ed460ec394"), HashCheck::Match);
        // The same number spelled differently is a different book to the server.
        let bids2 = raw(&[("0.30", "100"), ("0.4", "100")]);
        let changed = BookHashInput { bids: &bids2, ..input };
        assert_eq!(
            verify_book_hash(&changed, "0458ea5755c9f73d64a14636fa5c36ed460ec394"),
            HashCheck::Mismatch {
                stated: "0458ea5755c9f73d64a14636fa5c36ed460ec394".into(),
                computed: book_hash(&changed),
            }
        );
        // A book whose own hash field is filled in: the field is blanked before hashing.
        let json = r#"{"market":"0xaabbcc","asset_id":"100","timestamp":"123456789","hash":"0458ea5755c9f73d64a14636fa5c36ed460ec394","bids":[{"price":"0.3","size":"100"},{"price":"0.4","size":"100"}],"asks":[{"price":"0.6","size":"100"},{"price":"0.7","size":"100"}],"min_order_size":"100","tick_size":"0.01","neg_risk":false,"last_trade_price":"0.5"}"#;
        let book: RawBookSummary<'_> = serde_json::from_str(json).unwrap();
        assert_eq!(book.verify(), Some(HashCheck::Match));
    }

    #[test]
    fn missing_fields_are_null() {
        // A WS `book` frame: no min_order_size, neg_risk or last_trade_price.
        let json = r#"{"market":"0xm","asset_id":"7","timestamp":"1","bids":[],"asks":[{"price":".52","size":"25"}],"tick_size":"0.01"}"#;
        let book: RawBookSummary<'_> = serde_json::from_str(json).unwrap();
        assert_eq!(book.verify(), None);
        assert_eq!(
            canonical_json(&book.hash_input()),
            r#"{"market":"0xm","asset_id":"7","timestamp":"1","hash":"","bids":[],"asks":[{"price":".52","size":"25"}],"min_order_size":null,"tick_size":"0.01","neg_risk":null,"last_trade_price":null}"#
        );
    }

    /// Values that need escaping are escaped as Python's json.dumps does
    /// (which serde_json happens to match), and non-ASCII is kept verbatim.
    #[test]
    fn escaping_matches_python_json_dumps() {
        let nasty = "a\"b\\c\nd\re\tf\u{8}g\u{c}h\u{1}i\u{1f}j\u{7f}k é 😀 /";
        let mut ours = String::new();
        push_str_value(&mut ours, nasty);
        assert_eq!(ours, r#""a\"b\\c\nd\re\tf\bg\fh\u0001i\u001fj"#.to_owned() + "\u{7f}k é 😀 /\"");
        assert_eq!(ours, serde_json::to_string(nasty).unwrap());
        let input = BookHashInput {
            market: "0x\"q\"",
            asset_id: "1",
            timestamp: "2",
            bids: &[],
            asks: &[],
            min_order_size: None,
            tick_size: None,
            neg_risk: Some(true),
            last_trade_price: None,
        };
        assert!(canonical_json(&input).starts_with(r#"{"market":"0x\"q\"","#));
        assert!(canonical_json(&input).contains(r#""neg_risk":true"#));
    }
}
