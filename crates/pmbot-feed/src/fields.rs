//! What the two JSON readers fill: the loosely typed fields of one object.
//!
//! Invariant: a reader only decides *syntax* (where a value starts and ends,
//! whether it is a string, a number, an array...). Everything else — which key
//! goes where, what a duplicate key means, how a list element converts and
//! what a value of the wrong JSON type becomes — is decided here, once, for
//! both the fast reader (`fast.rs`) and the serde reader (`wire.rs`). So the
//! two readers cannot disagree about anything but syntax, and the fast one
//! gives up on any syntax it does not handle.
//!
//! Problems below syntax are kept, not raised: a value of the wrong JSON type
//! or a bad price inside a level list becomes a [`Fault`] in its field, and
//! reading goes on. An object is judged later by the message type it turns out
//! to have, whatever order its keys came in.

use std::borrow::Cow;

use pmbot_core::{Level, Price, PriceChange, Side, Size, TokenId};

use super::RejectReason;
use super::convert;
use super::intern::TokenInterner;

/// A JSON value where pmbot expects a string or a number, as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Scalar<'a> {
    Str(Cow<'a, str>),
    U64(u64),
    I64(i64),
    F64(f64),
    Null,
    /// A boolean, array or object.
    Other,
}

/// What was wrong with one field (or one element of a list field). Boxed:
/// faults are rare, and a `Result<Price, Fault>` that fits in two registers
/// is returned without going through memory on every conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fault(Box<FaultInfo>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FaultInfo {
    pub reason: RejectReason,
    /// Path of the field, e.g. `"price_changes.price"`.
    pub field: &'static str,
    /// The offending text, shortened.
    pub value: Option<String>,
    /// The token of the list element at fault, when it could be read.
    pub token: Option<TokenId>,
}

impl Fault {
    #[cold]
    pub fn new(reason: RejectReason, field: &'static str) -> Fault {
        Fault(Box::new(FaultInfo { reason, field, value: None, token: None }))
    }

    /// The fault with the offending text (at most 64 characters) attached.
    #[cold]
    pub fn with_value(mut self, text: &str) -> Fault {
        self.0.value = Some(text.chars().take(64).collect());
        self
    }

    /// The fault with the token of its list element attached.
    #[cold]
    pub fn with_token(mut self, token: TokenId) -> Fault {
        self.0.token = Some(token);
        self
    }

    pub fn into_info(self) -> FaultInfo {
        *self.0
    }
}

impl std::ops::Deref for Fault {
    type Target = FaultInfo;
    fn deref(&self) -> &FaultInfo {
        &self.0
    }
}

/// Records `value` in `slot`, noting the key if it was already set.
#[inline(always)]
pub(super) fn set<T>(slot: &mut Option<T>, value: T, name: &'static str, duplicate: &mut Option<&'static str>) {
    if slot.is_some() {
        duplicate.get_or_insert(name);
    }
    *slot = Some(value);
}

/// A list field's value; `null` (`None`) counts as absent.
pub(super) fn put_list<T>(
    slot: &mut Option<List<T>>,
    value: Option<List<T>>,
    name: &'static str,
    duplicate: &mut Option<&'static str>,
) {
    if let Some(list) = value {
        set(slot, list, name, duplicate);
    }
}

// ---- keys --------------------------------------------------------------------

/// The keys pmbot reads, in any object of the market channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    EventType,
    AssetId,
    Market,
    Timestamp,
    Hash,
    Bids,
    Asks,
    TickSize,
    LastTradePrice,
    PriceChanges,
    Changes,
    Price,
    Side,
    Size,
    FeeRateBps,
    OldTickSize,
    NewTickSize,
    BestBid,
    BestAsk,
    Id,
    Question,
    Slug,
    AssetsIds,
    Outcomes,
    WinningAssetId,
    WinningOutcome,
    Ignored,
}

impl Key {
    /// Byte-string patterns compile to a decision tree on length and bytes,
    /// with no string comparison calls: a frame has a dozen keys or more.
    pub fn from_name(v: &str) -> Key {
        match v.as_bytes() {
            b"id" => Key::Id,
            b"hash" => Key::Hash,
            b"bids" => Key::Bids,
            b"asks" => Key::Asks,
            b"side" => Key::Side,
            b"size" => Key::Size,
            b"slug" => Key::Slug,
            b"price" => Key::Price,
            b"market" => Key::Market,
            b"changes" => Key::Changes,
            b"asset_id" => Key::AssetId,
            b"best_bid" => Key::BestBid,
            b"best_ask" => Key::BestAsk,
            b"question" => Key::Question,
            b"outcomes" => Key::Outcomes,
            b"timestamp" => Key::Timestamp,
            b"tick_size" => Key::TickSize,
            // The official SDK accepts both spellings.
            b"asset_ids" | b"assets_ids" => Key::AssetsIds,
            b"event_type" => Key::EventType,
            b"fee_rate_bps" => Key::FeeRateBps,
            b"price_changes" => Key::PriceChanges,
            b"old_tick_size" => Key::OldTickSize,
            b"new_tick_size" => Key::NewTickSize,
            b"winning_outcome" => Key::WinningOutcome,
            b"last_trade_price" => Key::LastTradePrice,
            b"winning_asset_id" => Key::WinningAssetId,
            _ => Key::Ignored,
        }
    }
}

// ---- lists -------------------------------------------------------------------

/// A list field: the elements that converted, and the faults of those that
/// did not (or one `WrongType` fault if the value was not an array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct List<T> {
    pub items: Vec<T>,
    pub faults: Vec<Fault>,
}

impl<T> List<T> {
    pub fn new() -> List<T> {
        List { items: Vec::new(), faults: Vec::new() }
    }

    /// The value of a list field that is a string, number, boolean or object.
    pub fn not_an_array(field: &'static str) -> List<T> {
        List { items: Vec::new(), faults: vec![Fault::new(RejectReason::WrongType, field)] }
    }

    pub fn push(&mut self, element: Result<T, Fault>) {
        match element {
            Ok(item) => self.items.push(item),
            Err(fault) => self.faults.push(fault),
        }
    }
}

/// One kind of list element. An element that is a JSON object is read
/// through `slot` and `finish` when the kind takes objects (`OBJECTS`); any
/// other element (or an object where the kind takes scalars) goes to
/// `scalar_element`, arrays and objects as [`Scalar::Other`].
pub(super) trait ElementKind<'a>: Copy {
    type Item;
    /// The raw scalar fields of an object element.
    type Raw: Default;
    const OBJECTS: bool;
    /// The list's field name, for faults.
    const FIELD: &'static str;
    /// Where an object element's `key` goes, if the kind reads that key.
    fn slot<'r>(raw: &'r mut Self::Raw, key: Key) -> Option<(&'r mut Option<Scalar<'a>>, &'static str)>;
    /// Converts an object element read in full.
    fn finish(self, raw: Self::Raw, duplicate: Option<&'static str>) -> Result<Self::Item, Fault>;
    fn scalar_element(self, s: Scalar<'a>) -> Result<Self::Item, Fault>;
}

/// A `{"price","size"}` level: of the asks if `ASK`, else of the bids.
#[derive(Debug, Clone, Copy)]
pub(super) struct LevelKind<const ASK: bool>;

#[derive(Debug, Default)]
pub(super) struct LevelRaw<'a> {
    price: Option<Scalar<'a>>,
    size: Option<Scalar<'a>>,
}

impl<'a, const ASK: bool> ElementKind<'a> for LevelKind<ASK> {
    type Item = Level;
    type Raw = LevelRaw<'a>;
    const OBJECTS: bool = true;
    const FIELD: &'static str = if ASK { "asks" } else { "bids" };

    fn slot<'r>(raw: &'r mut LevelRaw<'a>, key: Key) -> Option<(&'r mut Option<Scalar<'a>>, &'static str)> {
        match key {
            Key::Price => Some((&mut raw.price, if ASK { "asks.price" } else { "bids.price" })),
            Key::Size => Some((&mut raw.size, if ASK { "asks.size" } else { "bids.size" })),
            _ => None,
        }
    }

    fn finish(self, raw: LevelRaw<'a>, duplicate: Option<&'static str>) -> Result<Level, Fault> {
        if let Some(name) = duplicate {
            return Err(Fault::new(RejectReason::DuplicateField, name));
        }
        let price = convert::price(raw.price.as_ref(), if ASK { "asks.price" } else { "bids.price" })?;
        let size = convert::size(raw.size.as_ref(), if ASK { "asks.size" } else { "bids.size" })?;
        Ok(Level::new(price, size))
    }

    fn scalar_element(self, _: Scalar<'a>) -> Result<Level, Fault> {
        Err(Fault::new(RejectReason::WrongType, Self::FIELD))
    }
}

/// One entry of a current-schema `price_changes` batch.
#[derive(Debug, Clone, Copy)]
pub(super) struct EntryKind<'i> {
    pub interner: &'i TokenInterner,
}

/// The raw fields of one `price_changes` entry.
#[derive(Debug, Default)]
pub(super) struct EntryRaw<'a> {
    pub asset_id: Option<Scalar<'a>>,
    pub price: Option<Scalar<'a>>,
    pub size: Option<Scalar<'a>>,
    pub side: Option<Scalar<'a>>,
    pub hash: Option<Scalar<'a>>,
    pub best_bid: Option<Scalar<'a>>,
    pub best_ask: Option<Scalar<'a>>,
}

impl<'a> ElementKind<'a> for EntryKind<'_> {
    type Item = PriceChange;
    type Raw = EntryRaw<'a>;
    const OBJECTS: bool = true;
    const FIELD: &'static str = "price_changes";

    fn slot<'r>(raw: &'r mut EntryRaw<'a>, key: Key) -> Option<(&'r mut Option<Scalar<'a>>, &'static str)> {
        Some(match key {
            Key::AssetId => (&mut raw.asset_id, "price_changes.asset_id"),
            Key::Price => (&mut raw.price, "price_changes.price"),
            Key::Size => (&mut raw.size, "price_changes.size"),
            Key::Side => (&mut raw.side, "price_changes.side"),
            Key::Hash => (&mut raw.hash, "price_changes.hash"),
            Key::BestBid => (&mut raw.best_bid, "price_changes.best_bid"),
            Key::BestAsk => (&mut raw.best_ask, "price_changes.best_ask"),
            _ => return None,
        })
    }

    fn finish(self, raw: EntryRaw<'a>, duplicate: Option<&'static str>) -> Result<PriceChange, Fault> {
        if let Some(name) = duplicate {
            return Err(Fault::new(RejectReason::DuplicateField, name));
        }
        convert::entry(&raw, self.interner)
    }

    fn scalar_element(self, _: Scalar<'a>) -> Result<PriceChange, Fault> {
        Err(Fault::new(RejectReason::WrongType, Self::FIELD))
    }
}

/// One `{"price","side","size"}` entry of a legacy `changes` list (the token
/// is the object's `asset_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LegacyChange {
    pub side: Side,
    pub price: Price,
    pub size: Size,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct LegacyKind;

#[derive(Debug, Default)]
pub(super) struct LegacyRaw<'a> {
    price: Option<Scalar<'a>>,
    side: Option<Scalar<'a>>,
    size: Option<Scalar<'a>>,
}

impl<'a> ElementKind<'a> for LegacyKind {
    type Item = LegacyChange;
    type Raw = LegacyRaw<'a>;
    const OBJECTS: bool = true;
    const FIELD: &'static str = "changes";

    fn slot<'r>(raw: &'r mut LegacyRaw<'a>, key: Key) -> Option<(&'r mut Option<Scalar<'a>>, &'static str)> {
        match key {
            Key::Price => Some((&mut raw.price, "changes.price")),
            Key::Side => Some((&mut raw.side, "changes.side")),
            Key::Size => Some((&mut raw.size, "changes.size")),
            _ => None,
        }
    }

    fn finish(self, raw: LegacyRaw<'a>, duplicate: Option<&'static str>) -> Result<LegacyChange, Fault> {
        if let Some(name) = duplicate {
            return Err(Fault::new(RejectReason::DuplicateField, name));
        }
        Ok(LegacyChange {
            side: convert::side(raw.side.as_ref(), "changes.side")?,
            price: convert::price(raw.price.as_ref(), "changes.price")?,
            size: convert::size(raw.size.as_ref(), "changes.size")?,
        })
    }

    fn scalar_element(self, _: Scalar<'a>) -> Result<LegacyChange, Fault> {
        Err(Fault::new(RejectReason::WrongType, Self::FIELD))
    }
}

/// A token id in an `assets_ids` list.
#[derive(Debug, Clone, Copy)]
pub(super) struct TokenKind<'i> {
    pub interner: &'i TokenInterner,
}

impl<'a> ElementKind<'a> for TokenKind<'_> {
    type Item = TokenId;
    type Raw = ();
    const OBJECTS: bool = false;
    const FIELD: &'static str = "assets_ids";

    fn slot<'r>(_: &'r mut (), _: Key) -> Option<(&'r mut Option<Scalar<'a>>, &'static str)> {
        None
    }

    fn finish(self, _: (), _: Option<&'static str>) -> Result<TokenId, Fault> {
        Err(Fault::new(RejectReason::WrongType, Self::FIELD))
    }

    fn scalar_element(self, s: Scalar<'a>) -> Result<TokenId, Fault> {
        convert::token(Some(&s), Self::FIELD, self.interner)
    }
}

/// A string in an `outcomes` list.
#[derive(Debug, Clone, Copy)]
pub(super) struct OutcomeKind;

impl<'a> ElementKind<'a> for OutcomeKind {
    type Item = String;
    type Raw = ();
    const OBJECTS: bool = false;
    const FIELD: &'static str = "outcomes";

    fn slot<'r>(_: &'r mut (), _: Key) -> Option<(&'r mut Option<Scalar<'a>>, &'static str)> {
        None
    }

    fn finish(self, _: (), _: Option<&'static str>) -> Result<String, Fault> {
        Err(Fault::new(RejectReason::WrongType, Self::FIELD))
    }

    fn scalar_element(self, s: Scalar<'a>) -> Result<String, Fault> {
        convert::string(Some(&s), Self::FIELD)
    }
}

// ---- objects -------------------------------------------------------------------

/// Everything pmbot reads from one object of any message type. Which fields
/// matter is decided later, by `event_type`.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Fields<'a> {
    pub event_type: Option<Scalar<'a>>,
    pub asset_id: Option<Scalar<'a>>,
    pub market: Option<Scalar<'a>>,
    pub timestamp: Option<Scalar<'a>>,
    pub hash: Option<Scalar<'a>>,
    pub tick_size: Option<Scalar<'a>>,
    pub last_trade_price: Option<Scalar<'a>>,
    pub price: Option<Scalar<'a>>,
    pub side: Option<Scalar<'a>>,
    pub size: Option<Scalar<'a>>,
    pub fee_rate_bps: Option<Scalar<'a>>,
    pub old_tick_size: Option<Scalar<'a>>,
    pub new_tick_size: Option<Scalar<'a>>,
    pub best_bid: Option<Scalar<'a>>,
    pub best_ask: Option<Scalar<'a>>,
    pub id: Option<Scalar<'a>>,
    pub question: Option<Scalar<'a>>,
    pub slug: Option<Scalar<'a>>,
    pub winning_asset_id: Option<Scalar<'a>>,
    pub winning_outcome: Option<Scalar<'a>>,
    pub bids: Option<List<Level>>,
    pub asks: Option<List<Level>>,
    pub price_changes: Option<List<PriceChange>>,
    pub changes: Option<List<LegacyChange>>,
    pub assets_ids: Option<List<TokenId>>,
    pub outcomes: Option<List<String>>,
    /// The first key that appeared twice.
    pub duplicate: Option<&'static str>,
}

/// Where a reader takes its values from: the syntax half of reading.
pub(super) trait ValueSource<'a> {
    type Error;
    /// The next value as a scalar (arrays and objects as [`Scalar::Other`]).
    fn scalar(&mut self) -> Result<Scalar<'a>, Self::Error>;
    /// The next value as a list of `kind` (`None` for `null`).
    fn list<K: ElementKind<'a>>(&mut self, kind: K) -> Result<Option<List<K::Item>>, Self::Error>;
    /// Skips the next value.
    fn skip(&mut self) -> Result<(), Self::Error>;
}

impl<'a> Fields<'a> {
    /// Reads the value of `key` from `src` into its field.
    pub fn read_member<S: ValueSource<'a>>(
        &mut self,
        key: Key,
        src: &mut S,
        interner: &TokenInterner,
    ) -> Result<(), S::Error> {
        let dup = &mut self.duplicate;
        let scalar = |slot: &mut Option<Scalar<'a>>, name, src: &mut S, dup: &mut Option<&'static str>| {
            set(slot, src.scalar()?, name, dup);
            Ok(())
        };
        match key {
            Key::EventType => scalar(&mut self.event_type, "event_type", src, dup)?,
            Key::AssetId => scalar(&mut self.asset_id, "asset_id", src, dup)?,
            Key::Market => scalar(&mut self.market, "market", src, dup)?,
            Key::Timestamp => scalar(&mut self.timestamp, "timestamp", src, dup)?,
            Key::Hash => scalar(&mut self.hash, "hash", src, dup)?,
            Key::TickSize => scalar(&mut self.tick_size, "tick_size", src, dup)?,
            Key::LastTradePrice => scalar(&mut self.last_trade_price, "last_trade_price", src, dup)?,
            Key::Price => scalar(&mut self.price, "price", src, dup)?,
            Key::Side => scalar(&mut self.side, "side", src, dup)?,
            Key::Size => scalar(&mut self.size, "size", src, dup)?,
            Key::FeeRateBps => scalar(&mut self.fee_rate_bps, "fee_rate_bps", src, dup)?,
            Key::OldTickSize => scalar(&mut self.old_tick_size, "old_tick_size", src, dup)?,
            Key::NewTickSize => scalar(&mut self.new_tick_size, "new_tick_size", src, dup)?,
            Key::BestBid => scalar(&mut self.best_bid, "best_bid", src, dup)?,
            Key::BestAsk => scalar(&mut self.best_ask, "best_ask", src, dup)?,
            Key::Id => scalar(&mut self.id, "id", src, dup)?,
            Key::Question => scalar(&mut self.question, "question", src, dup)?,
            Key::Slug => scalar(&mut self.slug, "slug", src, dup)?,
            Key::WinningAssetId => scalar(&mut self.winning_asset_id, "winning_asset_id", src, dup)?,
            Key::WinningOutcome => scalar(&mut self.winning_outcome, "winning_outcome", src, dup)?,
            Key::Bids => put_list(&mut self.bids, src.list(LevelKind::<false>)?, "bids", dup),
            Key::Asks => put_list(&mut self.asks, src.list(LevelKind::<true>)?, "asks", dup),
            Key::PriceChanges => {
                let list = src.list(EntryKind { interner })?;
                put_list(&mut self.price_changes, list, "price_changes", dup);
            }
            Key::Changes => put_list(&mut self.changes, src.list(LegacyKind)?, "changes", dup),
            Key::AssetsIds => {
                let list = src.list(TokenKind { interner })?;
                put_list(&mut self.assets_ids, list, "assets_ids", dup);
            }
            Key::Outcomes => put_list(&mut self.outcomes, src.list(OutcomeKind)?, "outcomes", dup),
            Key::Ignored => src.skip()?,
        };
        Ok(())
    }
}

/// Reads the value of `key` of an object element of `K` from `src`.
#[inline(always)]
pub(super) fn read_element_member<'a, K: ElementKind<'a>, S: ValueSource<'a>>(
    raw: &mut K::Raw,
    duplicate: &mut Option<&'static str>,
    key: Key,
    src: &mut S,
) -> Result<(), S::Error> {
    match K::slot(raw, key) {
        Some((slot, name)) => {
            set(slot, src.scalar()?, name, duplicate);
            Ok(())
        }
        None => src.skip(),
    }
}
