//! One binary market's book, kept in the primary token's terms.
//!
//! Invariant: each level's `total` is the sum of the remaining sizes of the
//! *live* resting orders whose sequence numbers sit in its queue, and a level
//! exists only while `total > 0`. Queues may also hold sequence numbers of
//! orders that have since been filled or cancelled ("stale" entries): removing
//! an order from the middle of a FIFO is O(n), so cancels only adjust `total`
//! and the stale entry is dropped when it reaches the front or the level
//! empties. Readers therefore always check an entry against the live orders.
//!
//! Both tokens share this one book. An order for the primary token rests at
//! its own price; an order for the other token rests on the opposite side at
//! the complement price (BUY NO at 0.45 is a primary ask at 0.55, SELL NO at
//! 0.45 a primary bid at 0.55), so one price-time queue orders both kinds.

use std::collections::{BTreeMap, VecDeque};

use pmbot_core::price::PIPS_PER_UNIT;
use pmbot_core::{Price, Side, Size};

use super::types::Level as LevelView;

/// A side of the primary book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum BookSide {
    Bid,
    Ask,
}

/// Index of a token within its market: 0 = primary, 1 = the mirror.
pub(crate) type Outcome = usize;

/// Where an order for `outcome` on `side` rests in the primary book.
pub(crate) fn book_side(outcome: Outcome, side: Side) -> BookSide {
    match (outcome, side) {
        (0, Side::Buy) | (1, Side::Sell) => BookSide::Bid,
        _ => BookSide::Ask,
    }
}

/// An order's own price in primary terms (pips).
pub(crate) fn book_price(outcome: Outcome, price: Price) -> u16 {
    if outcome == 0 { price.pips() } else { mirror(price.pips()) }
}

/// The complement of a price in pips: 1 - p.
pub(crate) fn mirror(pips: u16) -> u16 {
    PIPS_PER_UNIT as u16 - pips
}

/// A primary-book price seen from `outcome`'s side.
pub(crate) fn own_price(outcome: Outcome, pips: u16) -> Price {
    let own = if outcome == 0 { pips } else { mirror(pips) };
    Price::from_pips(own).expect("book prices lie inside (0, 1)")
}

/// A primary-book side seen from `outcome`'s side: the mirror token's bids
/// are the primary asks.
pub(crate) fn own_side(outcome: Outcome, side: BookSide) -> Side {
    match (outcome, side) {
        (0, BookSide::Bid) | (1, BookSide::Ask) => Side::Buy,
        _ => Side::Sell,
    }
}

/// One price level: resting orders in time priority and their total size.
#[derive(Debug, Default)]
pub(crate) struct Level {
    pub(crate) queue: VecDeque<u64>,
    pub(crate) total: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Book {
    pub(crate) bids: BTreeMap<u16, Level>,
    pub(crate) asks: BTreeMap<u16, Level>,
}

impl Book {
    pub(crate) fn side(&self, side: BookSide) -> &BTreeMap<u16, Level> {
        match side {
            BookSide::Bid => &self.bids,
            BookSide::Ask => &self.asks,
        }
    }

    pub(crate) fn side_mut(&mut self, side: BookSide) -> &mut BTreeMap<u16, Level> {
        match side {
            BookSide::Bid => &mut self.bids,
            BookSide::Ask => &mut self.asks,
        }
    }

    pub(crate) fn best_bid(&self) -> Option<u16> {
        self.bids.keys().next_back().copied()
    }

    pub(crate) fn best_ask(&self) -> Option<u16> {
        self.asks.keys().next().copied()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bids.is_empty() && self.asks.is_empty()
    }

    /// Total resting size at a level (0 if there is none).
    pub(crate) fn level_total(&self, side: BookSide, price: u16) -> u64 {
        self.side(side).get(&price).map_or(0, |l| l.total)
    }

    /// Appends a live order at the back of its level's queue.
    pub(crate) fn push(&mut self, side: BookSide, price: u16, seq: u64, size: u64) {
        let level = self.side_mut(side).entry(price).or_default();
        level.queue.push_back(seq);
        level.total += size;
    }

    /// Takes `size` off a level's total (a fill or a cancel of one of its
    /// orders); the level disappears when nothing live is left in it.
    pub(crate) fn reduce(&mut self, side: BookSide, price: u16, size: u64) {
        let book_side = self.side_mut(side);
        let level = book_side.get_mut(&price).expect("an order's level exists while it rests");
        level.total = level.total.checked_sub(size).expect("level total covers its orders");
        if level.total == 0 {
            book_side.remove(&price);
        }
    }

    /// Drops stale entries from the front of a level's queue, so the next
    /// walk starts at a live order.
    pub(crate) fn trim_front(&mut self, side: BookSide, price: u16, is_live: impl Fn(u64) -> bool) {
        if let Some(level) = self.side_mut(side).get_mut(&price) {
            while level.queue.front().is_some_and(|&seq| !is_live(seq)) {
                level.queue.pop_front();
            }
        }
    }

    /// Levels a taker resting on `taker_side` at primary price `limit` can
    /// reach, best first.
    pub(crate) fn crossing(&self, taker_side: BookSide, limit: u16) -> CrossingLevels<'_> {
        match taker_side {
            BookSide::Bid => CrossingLevels::Asks(self.asks.range(..=limit)),
            BookSide::Ask => CrossingLevels::Bids(self.bids.range(limit..).rev()),
        }
    }

    /// The book's levels as one token publishes them: best bid first, best
    /// ask first, each in the token's own prices.
    pub(crate) fn view_levels(&self, outcome: Outcome) -> (Vec<LevelView>, Vec<LevelView>) {
        let level =
            |pips: u16, l: &Level| LevelView { price: own_price(outcome, pips), size: Size::from_micros(l.total) };
        if outcome == 0 {
            let bids = self.bids.iter().rev().map(|(&p, l)| level(p, l)).collect();
            let asks = self.asks.iter().map(|(&p, l)| level(p, l)).collect();
            (bids, asks)
        } else {
            // The mirror token bids where the primary asks: the lowest primary
            // ask is its highest bid.
            let bids = self.asks.iter().map(|(&p, l)| level(p, l)).collect();
            let asks = self.bids.iter().rev().map(|(&p, l)| level(p, l)).collect();
            (bids, asks)
        }
    }

    /// Best bid and ask of `outcome`, in its own prices.
    pub(crate) fn best_for(&self, outcome: Outcome) -> (Option<Price>, Option<Price>) {
        let (bid, ask) =
            if outcome == 0 { (self.best_bid(), self.best_ask()) } else { (self.best_ask(), self.best_bid()) };
        (bid.map(|p| own_price(outcome, p)), ask.map(|p| own_price(outcome, p)))
    }
}

/// Iterator over the levels a taker crosses, best price first.
pub(crate) enum CrossingLevels<'a> {
    Asks(std::collections::btree_map::Range<'a, u16, Level>),
    Bids(std::iter::Rev<std::collections::btree_map::Range<'a, u16, Level>>),
}

impl<'a> Iterator for CrossingLevels<'a> {
    type Item = (&'a u16, &'a Level);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            CrossingLevels::Asks(r) => r.next(),
            CrossingLevels::Bids(r) => r.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_tokens_map_onto_one_book() {
        let p = Price::parse("0.45").unwrap();
        assert_eq!(book_side(1, Side::Buy), BookSide::Ask);
        assert_eq!(book_side(1, Side::Sell), BookSide::Bid);
        assert_eq!(book_price(1, p), 5500);
        assert_eq!(book_price(0, p), 4500);
        assert_eq!(own_price(1, 5500), p);
        assert_eq!(own_side(1, BookSide::Ask), Side::Buy);
    }

    #[test]
    fn levels_vanish_when_empty_and_stale_entries_are_trimmed() {
        let mut b = Book::default();
        b.push(BookSide::Bid, 4800, 1, 10);
        b.push(BookSide::Bid, 4800, 2, 5);
        b.reduce(BookSide::Bid, 4800, 10);
        assert_eq!(b.level_total(BookSide::Bid, 4800), 5);
        b.trim_front(BookSide::Bid, 4800, |s| s == 2);
        assert_eq!(b.bids[&4800].queue.front(), Some(&2));
        b.reduce(BookSide::Bid, 4800, 5);
        assert!(b.is_empty());
    }

    #[test]
    fn mirror_view_swaps_and_complements() {
        let mut b = Book::default();
        b.push(BookSide::Bid, 4800, 1, 10);
        b.push(BookSide::Ask, 5200, 2, 7);
        b.push(BookSide::Ask, 5300, 3, 1);
        let (bids, asks) = b.view_levels(1);
        assert_eq!(bids.iter().map(|l| l.price.to_string()).collect::<Vec<_>>(), ["0.48", "0.47"]);
        assert_eq!(asks[0].price.to_string(), "0.52");
        assert_eq!(b.best_for(1), (Price::from_pips(4800), Price::from_pips(5200)));
        let crossing: Vec<u16> = b.crossing(BookSide::Bid, 5200).map(|(p, _)| *p).collect();
        assert_eq!(crossing, [5200]);
        let crossing: Vec<u16> = b.crossing(BookSide::Ask, 4700).map(|(p, _)| *p).collect();
        assert_eq!(crossing, [4800]);
    }
}
