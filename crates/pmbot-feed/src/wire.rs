//! The general reader: serde_json over any frame, arrays included.
//!
//! Invariant: its only failure is "not JSON" (a syntax error, truncation,
//! nesting deeper than serde_json allows, a number out of range). Values of
//! the wrong JSON type are handed to [`super::fields`] as [`Scalar::Other`]
//! and become faults there, so reading never stops for them. Strings are
//! borrowed from the frame (`Cow::Borrowed`; only a string with escapes is
//! copied). It handles what the fast reader gives up on, and decides what is
//! not JSON.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::fields::{ElementKind, Fields, Key, List, Scalar, ValueSource, read_element_member};
use super::intern::TokenInterner;

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::U64(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::I64(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::F64(v))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'de>, A::Error> {
        drain_seq(seq)?;
        Ok(Scalar::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar<'de>, A::Error> {
        drain_map(map)?;
        Ok(Scalar::Other)
    }
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_identifier(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(Key::from_name(v))
    }
}

/// The values of a JSON object, one per key, as a [`ValueSource`].
struct MapValues<'m, A>(&'m mut A);

impl<'de, A: MapAccess<'de>> ValueSource<'de> for MapValues<'_, A> {
    type Error = A::Error;

    fn scalar(&mut self) -> Result<Scalar<'de>, A::Error> {
        self.0.next_value()
    }

    fn list<K: ElementKind<'de>>(&mut self, kind: K) -> Result<Option<List<K::Item>>, A::Error> {
        self.0.next_value_seed(ListSeed(kind))
    }

    fn skip(&mut self) -> Result<(), A::Error> {
        self.0.next_value::<IgnoredAny>().map(drop)
    }
}

/// Visitor methods for the JSON scalars a visitor does not accept: each gives
/// the visitor's `other()` value instead of an error, so reading goes on.
macro_rules! scalars_are_other {
    () => {
        fn visit_bool<Err: de::Error>(self, _: bool) -> Result<Self::Value, Err> {
            Ok(self.other())
        }
        fn visit_i64<Err: de::Error>(self, _: i64) -> Result<Self::Value, Err> {
            Ok(self.other())
        }
        fn visit_u64<Err: de::Error>(self, _: u64) -> Result<Self::Value, Err> {
            Ok(self.other())
        }
        fn visit_f64<Err: de::Error>(self, _: f64) -> Result<Self::Value, Err> {
            Ok(self.other())
        }
        fn visit_str<Err: de::Error>(self, _: &str) -> Result<Self::Value, Err> {
            Ok(self.other())
        }
    };
}

// ---- lists -------------------------------------------------------------------

/// Reads a list field; `None` for `null`, [`List::not_an_array`] for any
/// other value that is not an array.
struct ListSeed<K>(K);

impl<'de, K: ElementKind<'de>> DeserializeSeed<'de> for ListSeed<K> {
    type Value = Option<List<K::Item>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ListVisitor(self.0, PhantomData))
    }
}

struct ListVisitor<'de, K>(K, PhantomData<&'de ()>);

impl<'de, K: ElementKind<'de>> ListVisitor<'de, K> {
    fn other(&self) -> Option<List<K::Item>> {
        Some(List::not_an_array(K::FIELD))
    }
}

impl<'de, K: ElementKind<'de>> Visitor<'de> for ListVisitor<'de, K> {
    type Value = Option<List<K::Item>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    scalars_are_other!();

    fn visit_unit<Err: de::Error>(self) -> Result<Self::Value, Err> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map)?;
        Ok(self.other())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut list = List::new();
        while let Some(element) = seq.next_element_seed(ElementSeed(self.0, PhantomData))? {
            list.push(element);
        }
        Ok(Some(list))
    }
}

/// One list element of kind `K`: an object read field by field when `K`
/// takes objects, anything else handed to `K::scalar_element`.
struct ElementSeed<'de, K>(K, PhantomData<&'de ()>);

impl<'de, K: ElementKind<'de>> DeserializeSeed<'de> for ElementSeed<'de, K> {
    type Value = Result<K::Item, super::fields::Fault>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, K: ElementKind<'de>> Visitor<'de> for ElementSeed<'de, K> {
    type Value = Result<K::Item, super::fields::Fault>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list element")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(self.0.scalar_element(Scalar::Str(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.scalar_element(Scalar::Str(Cow::Owned(v.to_owned()))))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(self.0.scalar_element(Scalar::U64(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(self.0.scalar_element(Scalar::I64(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(self.0.scalar_element(Scalar::F64(v)))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(self.0.scalar_element(Scalar::Other))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.0.scalar_element(Scalar::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq)?;
        Ok(self.0.scalar_element(Scalar::Other))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if !K::OBJECTS {
            drain_map(map)?;
            return Ok(self.0.scalar_element(Scalar::Other));
        }
        let mut raw = K::Raw::default();
        let mut duplicate = None;
        while let Some(key) = map.next_key::<Key>()? {
            read_element_member::<K, _>(&mut raw, &mut duplicate, key, &mut MapValues(&mut map))?;
        }
        Ok(self.0.finish(raw, duplicate))
    }
}

// ---- frames ------------------------------------------------------------------

/// A whole frame after a reader's pass.
#[derive(Debug)]
pub(super) enum Frame<'a> {
    /// One object, read into the caller's `Fields`.
    Object,
    Array(Vec<Element<'a>>),
    /// JSON, but neither an object nor an array.
    NotObject,
    InvalidJson,
}

/// One element of an array frame (boxed: array frames are the rare initial
/// dumps, and an element is otherwise the size of its `Fields`).
#[derive(Debug)]
pub(super) enum Element<'a> {
    Object(Box<Fields<'a>>),
    NotObject,
}

/// Reads a frame; a single object goes into `fields`, which must be fresh.
/// The frame must be entirely JSON: trailing non-whitespace makes it
/// [`Frame::InvalidJson`], and then `fields` means nothing.
pub(super) fn read_frame<'a>(text: &'a str, interner: &TokenInterner, fields: &mut Fields<'a>) -> Frame<'a> {
    let mut de = serde_json::Deserializer::from_str(text);
    let Ok(frame) = de.deserialize_any(FrameVisitor { interner, fields }) else {
        return Frame::InvalidJson;
    };
    match de.end() {
        Ok(()) => frame,
        Err(_) => Frame::InvalidJson,
    }
}

fn read_object<'de, A: MapAccess<'de>>(
    mut map: A,
    interner: &TokenInterner,
    fields: &mut Fields<'de>,
) -> Result<(), A::Error> {
    while let Some(key) = map.next_key::<Key>()? {
        fields.read_member(key, &mut MapValues(&mut map), interner)?;
    }
    Ok(())
}

struct FrameVisitor<'i, 'f, 'a> {
    interner: &'i TokenInterner,
    fields: &'f mut Fields<'a>,
}

impl FrameVisitor<'_, '_, '_> {
    fn other<'b>(&self) -> Frame<'b> {
        Frame::NotObject
    }
}

impl<'de> Visitor<'de> for FrameVisitor<'_, '_, 'de> {
    type Value = Frame<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or an array of objects")
    }

    scalars_are_other!();

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.other())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        read_object(map, self.interner, self.fields)?;
        Ok(Frame::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut elements = Vec::new();
        while let Some(element) = seq.next_element_seed(ArrayElementSeed { interner: self.interner })? {
            elements.push(element);
        }
        Ok(Frame::Array(elements))
    }
}

#[derive(Clone, Copy)]
struct ArrayElementSeed<'i> {
    interner: &'i TokenInterner,
}

impl ArrayElementSeed<'_> {
    fn other<'a>(&self) -> Element<'a> {
        Element::NotObject
    }
}

impl<'de> DeserializeSeed<'de> for ArrayElementSeed<'_> {
    type Value = Element<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ArrayElementSeed<'_> {
    type Value = Element<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    scalars_are_other!();

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.other())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq)?;
        Ok(self.other())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Box::<Fields<'de>>::default();
        read_object(map, self.interner, &mut fields)?;
        Ok(Element::Object(fields))
    }
}
