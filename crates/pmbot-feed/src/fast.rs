//! The fast reader: the shapes the exchange sends all the time, without serde.
//!
//! Invariant: it reads a subset of JSON and, on that subset, fills exactly the
//! [`Fields`] the serde reader (`wire.rs`) would: both readers only decide
//! syntax and hand every value to `fields.rs`, and the
//! `fast_reader_agrees_with_serde` property test compares them. On anything
//! outside the subset it gives up, and the caller reads the frame again with
//! the serde reader, which also decides what is not JSON. So the fast reader
//! never refuses a frame and never accepts one that serde_json would not.
//!
//! The subset: a single top-level object; keys and string values without
//! escapes or control characters; `null`, `true`, `false`; arrays of such
//! objects, or of strings, where pmbot expects a list. Outside it: numbers
//! (the exchange writes them as strings), escapes, arrays and objects under
//! keys pmbot ignores (`new_market`'s `event_message`), array frames (the
//! initial dump), and anything malformed.
//!
//! Why it exists: the market-data target is 2 million messages a second on
//! one core, and serde_json's visitor machinery alone (an idiomatic borrowed
//! `#[derive(Deserialize)]` of a `price_change`, converting nothing) costs
//! most of that budget; see `benches/marketdata.rs`.

use std::borrow::Cow;

use super::fields::{ElementKind, Fields, Key, List, Scalar, ValueSource, read_element_member};
use super::intern::TokenInterner;

/// The frame is outside the fast reader's subset (or not JSON at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct GiveUp;

/// Reads a frame that is one JSON object into `fields` (fresh). On
/// [`GiveUp`], `fields` holds whatever was read so far and means nothing.
pub(super) fn read_object<'a>(text: &'a str, interner: &TokenInterner, fields: &mut Fields<'a>) -> Result<(), GiveUp> {
    let mut c = Cursor { text, i: 0 };
    c.ws();
    c.object(|c, key| fields.read_member(key, c, interner))?;
    c.ws();
    if c.i == text.len() { Ok(()) } else { Err(GiveUp) }
}

struct Cursor<'a> {
    text: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }

    /// JSON whitespace: space, tab, line feed, carriage return.
    #[inline(always)]
    fn ws(&mut self) {
        let b = self.bytes();
        while let Some(&c) = b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                break;
            }
            self.i += 1;
        }
    }

    #[inline(always)]
    fn expect(&mut self, c: u8) -> Result<(), GiveUp> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), GiveUp> {
        if self.bytes()[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    /// A string without escapes or control characters, borrowed.
    #[inline(always)]
    fn string(&mut self) -> Result<&'a str, GiveUp> {
        self.expect(b'"')?;
        let start = self.i;
        let end = closing_quote(self.bytes(), start).ok_or(GiveUp)?;
        self.i = end + 1;
        // Both ends are at ASCII quotes, so this is a char boundary.
        self.text.get(start..end).ok_or(GiveUp)
    }

    #[inline(always)]
    fn key(&mut self) -> Result<Key, GiveUp> {
        Ok(Key::from_name(self.string()?))
    }

    /// A string, `null`, `true` or `false` (the last two as [`Scalar::Other`],
    /// as the serde reader has them).
    #[inline(always)]
    fn value(&mut self) -> Result<Scalar<'a>, GiveUp> {
        match self.peek() {
            Some(b'"') => Ok(Scalar::Str(Cow::Borrowed(self.string()?))),
            Some(b'n') => self.literal(b"null").map(|()| Scalar::Null),
            Some(b't') => self.literal(b"true").map(|()| Scalar::Other),
            Some(b'f') => self.literal(b"false").map(|()| Scalar::Other),
            _ => Err(GiveUp),
        }
    }

    /// After a value: `,` (more to come, `true`) or `close` (done, `false`).
    #[inline(always)]
    fn next_or_close(&mut self, close: u8) -> Result<bool, GiveUp> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                self.ws();
                Ok(true)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(GiveUp),
        }
    }

    /// `{` members `}`: `member` is called with each key, at its value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, Key) -> Result<(), GiveUp>) -> Result<(), GiveUp> {
        self.expect(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            let key = self.key()?;
            self.ws();
            self.expect(b':')?;
            self.ws();
            member(self, key)?;
            if !self.next_or_close(b'}')? {
                return Ok(());
            }
        }
    }

    /// `[` elements `]`: `element` is called at each element.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Result<(), GiveUp>) -> Result<(), GiveUp> {
        self.expect(b'[')?;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            element(self)?;
            if !self.next_or_close(b']')? {
                return Ok(());
            }
        }
    }

    fn element<K: ElementKind<'a>>(&mut self, kind: K) -> Result<Result<K::Item, super::fields::Fault>, GiveUp> {
        match self.peek() {
            Some(b'{') if K::OBJECTS => {
                let mut raw = K::Raw::default();
                let mut duplicate = None;
                self.object(|c, key| read_element_member::<K, _>(&mut raw, &mut duplicate, key, c))?;
                Ok(kind.finish(raw, duplicate))
            }
            // Arrays and objects here are read by the serde reader.
            Some(b'{' | b'[') => Err(GiveUp),
            _ => Ok(kind.scalar_element(self.value()?)),
        }
    }
}

impl<'a> ValueSource<'a> for Cursor<'a> {
    type Error = GiveUp;

    #[inline(always)]
    fn scalar(&mut self) -> Result<Scalar<'a>, GiveUp> {
        self.value()
    }

    fn list<K: ElementKind<'a>>(&mut self, kind: K) -> Result<Option<List<K::Item>>, GiveUp> {
        match self.peek() {
            Some(b'[') => {
                let mut list = List::new();
                self.array(|c| {
                    list.push(c.element(kind)?);
                    Ok(())
                })?;
                Ok(Some(list))
            }
            Some(b'n') => self.literal(b"null").map(|()| None),
            Some(b'"' | b't' | b'f') => {
                self.value()?;
                Ok(Some(List::not_an_array(K::FIELD)))
            }
            _ => Err(GiveUp),
        }
    }

    #[inline(always)]
    fn skip(&mut self) -> Result<(), GiveUp> {
        self.value().map(drop)
    }
}

/// The index of the quote that closes a string whose content starts at
/// `start`; `None` if an escape, a control character or the end comes first.
/// Looks at eight bytes at a time, as serde_json does, but inlined at each
/// call (measured faster here than memchr's SIMD search, whose per-call cost
/// outweighs its speed on strings of 4 to 80 bytes).
#[inline(always)]
fn closing_quote(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while let Some(chunk) = b.get(i..i + 8) {
        let found = special_bytes(u64::from_le_bytes(chunk.try_into().ok()?));
        if found != 0 {
            // The lowest flagged byte is always a real match.
            let j = i + (found.trailing_zeros() / 8) as usize;
            return (b[j] == b'"').then_some(j);
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => return Some(i),
            b'\\' | 0..=0x1f => return None,
            _ => i += 1,
        }
    }
    None
}

/// The high bit set in each byte of `word` that is `"`, `\\` or below 0x20
/// (Mycroft's zero-byte test). Bytes above the lowest flagged one may be
/// flagged falsely; the lowest one never is.
#[inline(always)]
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (control | quote | backslash) & HIGH
}
