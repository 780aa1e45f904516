//! One order's life as pmbot knows it, from the journaled intent to a final
//! state.
//!
//! Invariant: the status only moves forward (new < sent/unknown <
//! acknowledged < partially filled < final) and a final state stays final,
//! and `filled` is the exact sum of the distinct trades seen (or the
//! exchange's own `size_matched`, whichever is larger), never more than the
//! order's size. Events may arrive twice, late or out of order: the REST reply
//! races the user channel, the channel does not replay after a reconnect,
//! reconciliation re-reads what was already seen, a trade is reported again
//! at every settlement step (MATCHED, MINED, CONFIRMED). Each is applied at
//! most once, and a stale one changes nothing.
//!
//! Two exceptions to "final stays final", both corrections from evidence:
//! - an order we marked rejected because the exchange did not have it when we
//!   looked ([`RejectSource::NotOnVenue`]) comes back to life if the exchange
//!   later shows it (a request held in flight landed after all);
//! - a cancelled order whose trades turn out to cover its whole size is
//!   filled (the fill happened before the cancel; its report came after).
//!
//! Pure: no I/O, no clock. The caller passes in what it learnt.

use std::collections::BTreeMap;

use crate::amount::Size;
use crate::clock::TimestampMs;
use crate::events::{ClientOrderId, OrderStatus, OrderType, OrderUpdate};
use crate::ids::OrderId;

/// The exchange's word for an order's state (`status` in `/data/order`, the
/// user channel and the `POST /order` reply), in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VenueOrderStatus {
    Live,
    Matched,
    /// Accepted but held back (taker-order delay on sports markets).
    Delayed,
    /// A marketable order that found nothing to match.
    Unmatched,
    Canceled,
}

impl VenueOrderStatus {
    pub fn parse(s: &str) -> Option<VenueOrderStatus> {
        let s = s.trim();
        let is = |name: &str| s.eq_ignore_ascii_case(name);
        if is("live") {
            Some(VenueOrderStatus::Live)
        } else if is("matched") {
            Some(VenueOrderStatus::Matched)
        } else if is("delayed") {
            Some(VenueOrderStatus::Delayed)
        } else if is("unmatched") {
            Some(VenueOrderStatus::Unmatched)
        } else if is("canceled") || is("cancelled") {
            Some(VenueOrderStatus::Canceled)
        } else {
            None
        }
    }
}

/// The `type` of a user-channel `order` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderEventKind {
    Placement,
    Update,
    Cancellation,
}

impl OrderEventKind {
    pub fn parse(s: &str) -> Option<OrderEventKind> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLACEMENT" => Some(OrderEventKind::Placement),
            "UPDATE" => Some(OrderEventKind::Update),
            "CANCELLATION" => Some(OrderEventKind::Cancellation),
            _ => None,
        }
    }
}

/// A trade's settlement status: MATCHED, then MINED, then CONFIRMED; or
/// RETRYING on the way, and FAILED (the match did not settle) at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TradeStatus {
    Matched,
    Retrying,
    Mined,
    Confirmed,
    Failed,
}

impl TradeStatus {
    pub fn parse(s: &str) -> Option<TradeStatus> {
        match s.trim().to_ascii_uppercase().as_str() {
            "MATCHED" => Some(TradeStatus::Matched),
            "RETRYING" => Some(TradeStatus::Retrying),
            "MINED" => Some(TradeStatus::Mined),
            "CONFIRMED" => Some(TradeStatus::Confirmed),
            "FAILED" => Some(TradeStatus::Failed),
            _ => None,
        }
    }

    /// Settlement progress; a report with a lower rank than one already seen
    /// is stale. CONFIRMED and FAILED are both final.
    const fn rank(self) -> u8 {
        match self {
            TradeStatus::Matched => 0,
            TradeStatus::Retrying => 1,
            TradeStatus::Mined => 2,
            TradeStatus::Confirmed | TradeStatus::Failed => 3,
        }
    }
}

/// Who said the order is not on the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectSource {
    /// The exchange refused it: final.
    Exchange,
    /// We looked and the exchange did not have it: final unless it shows up.
    NotOnVenue,
}

/// Something learnt about the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderInput {
    /// The request is going out (the journal row is written).
    Sent,
    /// The exchange answered the post: it holds the order.
    Accepted { order_id: OrderId, status: VenueOrderStatus },
    /// The exchange refused the post.
    Rejected { reason: String },
    /// The post's fate is unknown (timeout, 5xx, connection lost after sending).
    Ambiguous { reason: String },
    /// A look-up found nothing (and nothing is in flight any more).
    NotOnVenue { reason: String },
    /// What the exchange reports about the order: a user-channel `order`
    /// event (`kind` set) or a REST look-up (`kind` `None`).
    Venue { kind: Option<OrderEventKind>, status: Option<VenueOrderStatus>, size_matched: Size },
    /// Our cancel request listed it as cancelled.
    CancelConfirmed,
    /// A trade in this order: `size` is this order's share of it.
    Trade { trade_id: String, size: Size, status: TradeStatus },
}

/// What an input did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The status or the filled size changed.
    Changed(Change),
    /// Nothing changed.
    Unchanged(Unchanged),
}

/// A change of status and/or filled size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub from: OrderStatus,
    pub to: OrderStatus,
    pub filled: Size,
    /// The trade behind the change, if a trade was first seen (or failed).
    pub trade: Option<TradeChange>,
}

/// A trade first seen, or a trade that failed to settle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeChange {
    Added { trade_id: String, size: Size },
    Failed { trade_id: String, size: Size },
}

/// Why an input changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unchanged {
    /// Seen before.
    Duplicate,
    /// Older than what is known (a PLACEMENT after a fill, a MINED after CONFIRMED).
    Stale,
    /// A known trade advanced (MATCHED to MINED): no change to the order.
    TradeProgress,
}

/// Inputs that contradict what is known; nothing is changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderStateError {
    #[error("trade {trade_id} would bring the fills of {client_order_id} to {would_be}, above its size {size}")]
    Overfill { client_order_id: ClientOrderId, trade_id: String, would_be: Size, size: Size },
    #[error("the exchange reports {reported} matched of {client_order_id}, above its size {size}")]
    MatchedAboveSize { client_order_id: ClientOrderId, reported: Size, size: Size },
    #[error("{client_order_id} has order id {known}; the exchange answered with {reported}")]
    WrongOrderId { client_order_id: ClientOrderId, known: OrderId, reported: OrderId },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TradeSeen {
    size: Size,
    status: TradeStatus,
}

/// The state of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderState {
    client_order_id: ClientOrderId,
    order_id: Option<OrderId>,
    size: Size,
    order_type: OrderType,
    status: OrderStatus,
    rejected_by: Option<RejectSource>,
    reason: Option<String>,
    trades: BTreeMap<String, TradeSeen>,
    /// Sum of the sizes of the trades seen and not failed.
    trade_sum: Size,
    /// The largest `size_matched` the exchange reported.
    venue_matched: Size,
    /// Sizes of counted trades that later failed to settle; the exchange's
    /// `size_matched` may still include them.
    failed_sum: Size,
    /// The exchange said the order is done (cancelled, unmatched, or matched
    /// with a remainder that does not rest).
    venue_closed: bool,
}

const fn rank(s: OrderStatus) -> u8 {
    match s {
        OrderStatus::New => 0,
        OrderStatus::Sent | OrderStatus::UnknownPendingReconcile => 1,
        OrderStatus::Acknowledged => 2,
        OrderStatus::PartiallyFilled => 3,
        OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected => 4,
    }
}

impl OrderState {
    /// A journaled order not yet sent. `order_id` is known before sending (it
    /// is the EIP-712 hash of the signed order).
    pub fn new(client_order_id: ClientOrderId, order_id: Option<OrderId>, size: Size, order_type: OrderType) -> Self {
        OrderState {
            client_order_id,
            order_id,
            size,
            order_type,
            status: OrderStatus::New,
            rejected_by: None,
            reason: None,
            trades: BTreeMap::new(),
            trade_sum: Size::ZERO,
            venue_matched: Size::ZERO,
            failed_sum: Size::ZERO,
            venue_closed: false,
        }
    }

    /// An order as a journal recorded it (for recovery): `status` and
    /// `filled` as logged; the trades behind `filled` are not known, so later
    /// trade reports are counted only beyond it.
    pub fn restored(
        client_order_id: ClientOrderId,
        order_id: Option<OrderId>,
        size: Size,
        order_type: OrderType,
        status: OrderStatus,
        filled: Size,
    ) -> Self {
        let mut s = OrderState::new(client_order_id, order_id, size, order_type);
        s.status = status;
        s.venue_matched = filled.min(size);
        s
    }

    pub fn client_order_id(&self) -> &ClientOrderId {
        &self.client_order_id
    }

    pub fn order_id(&self) -> Option<OrderId> {
        self.order_id
    }

    pub fn size(&self) -> Size {
        self.size
    }

    pub fn order_type(&self) -> OrderType {
        self.order_type
    }

    pub fn status(&self) -> OrderStatus {
        self.status
    }

    /// Shares filled: the larger of the trades' sum and the exchange's count
    /// (less any trade that failed since).
    pub fn filled(&self) -> Size {
        self.trade_sum.max(self.venue_matched.saturating_sub(self.failed_sum))
    }

    /// The sum of the distinct trades seen (and not failed).
    pub fn trade_sum(&self) -> Size {
        self.trade_sum
    }

    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    pub fn rejected_by(&self) -> Option<RejectSource> {
        self.rejected_by
    }

    /// Whether it may be on the book now (or may be, for all we know).
    pub fn may_rest(&self) -> bool {
        matches!(
            self.status,
            OrderStatus::Sent
                | OrderStatus::UnknownPendingReconcile
                | OrderStatus::Acknowledged
                | OrderStatus::PartiallyFilled
        ) && self.order_type.rests()
    }

    /// Not in a final state.
    pub fn is_open(&self) -> bool {
        !self.status.is_terminal()
    }

    /// The state as the core event the engine and the journal take.
    pub fn update(&self, at: TimestampMs) -> OrderUpdate {
        OrderUpdate {
            client_order_id: self.client_order_id.clone(),
            order_id: self.order_id,
            status: self.status,
            filled: self.filled(),
            reason: self.reason.clone(),
            at,
        }
    }

    /// Applies what was learnt. On `Err` nothing changed.
    pub fn apply(&mut self, input: OrderInput) -> Result<Applied, OrderStateError> {
        let before = (self.status, self.filled());
        let trade = match input {
            OrderInput::Sent => {
                if self.status != OrderStatus::New {
                    return Ok(self.unchanged_from(before, Unchanged::Duplicate));
                }
                self.status = OrderStatus::Sent;
                None
            }
            OrderInput::Accepted { order_id, status } => {
                self.check_id(order_id)?;
                self.order_id = Some(order_id);
                self.revive_if_not_on_venue();
                self.venue_status(None, Some(status), None);
                None
            }
            OrderInput::Rejected { reason } => {
                if rank(self.status) >= 2 || self.status.is_terminal() {
                    return Ok(self.unchanged_from(before, Unchanged::Stale));
                }
                self.status = OrderStatus::Rejected;
                self.rejected_by = Some(RejectSource::Exchange);
                self.reason = Some(reason);
                None
            }
            OrderInput::Ambiguous { reason } => {
                if !matches!(self.status, OrderStatus::New | OrderStatus::Sent) {
                    let why = if self.status == OrderStatus::UnknownPendingReconcile {
                        Unchanged::Duplicate
                    } else {
                        Unchanged::Stale
                    };
                    return Ok(self.unchanged_from(before, why));
                }
                self.status = OrderStatus::UnknownPendingReconcile;
                self.reason = Some(reason);
                None
            }
            OrderInput::NotOnVenue { reason } => {
                if !matches!(self.status, OrderStatus::New | OrderStatus::Sent | OrderStatus::UnknownPendingReconcile) {
                    return Ok(self.unchanged_from(before, Unchanged::Stale));
                }
                self.status = OrderStatus::Rejected;
                self.rejected_by = Some(RejectSource::NotOnVenue);
                self.reason = Some(reason);
                None
            }
            OrderInput::Venue { kind, status, size_matched } => {
                if size_matched > self.size {
                    return Err(OrderStateError::MatchedAboveSize {
                        client_order_id: self.client_order_id.clone(),
                        reported: size_matched,
                        size: self.size,
                    });
                }
                self.revive_if_not_on_venue();
                self.venue_status(kind, status, Some(size_matched));
                None
            }
            OrderInput::CancelConfirmed => {
                self.revive_if_not_on_venue();
                self.venue_closed = true;
                if self.status.is_terminal() {
                    return Ok(self.unchanged_from(before, Unchanged::Duplicate));
                }
                self.status = OrderStatus::Cancelled;
                self.reason.get_or_insert_with(|| "cancelled".to_owned());
                None
            }
            OrderInput::Trade { trade_id, size, status } => match self.trade(trade_id, size, status)? {
                Ok(t) => t,
                Err(why) => return Ok(self.unchanged_from(before, why)),
            },
        };
        self.settle();
        let after = (self.status, self.filled());
        if after == before && trade.is_none() {
            return Ok(Applied::Unchanged(Unchanged::Duplicate));
        }
        Ok(Applied::Changed(Change { from: before.0, to: after.0, filled: after.1, trade }))
    }

    fn unchanged_from(&self, before: (OrderStatus, Size), why: Unchanged) -> Applied {
        debug_assert_eq!(before, (self.status, self.filled()));
        Applied::Unchanged(why)
    }

    fn check_id(&self, reported: OrderId) -> Result<(), OrderStateError> {
        match self.order_id {
            Some(known) if known != reported => {
                Err(OrderStateError::WrongOrderId { client_order_id: self.client_order_id.clone(), known, reported })
            }
            _ => Ok(()),
        }
    }

    /// Evidence the exchange holds an order we had given up on.
    fn revive_if_not_on_venue(&mut self) {
        if self.status == OrderStatus::Rejected && self.rejected_by == Some(RejectSource::NotOnVenue) {
            self.status = OrderStatus::UnknownPendingReconcile;
            self.rejected_by = None;
            self.reason = None;
        }
    }

    /// Takes in the exchange's view (a post reply, an `order` event, a look-up).
    fn venue_status(&mut self, kind: Option<OrderEventKind>, status: Option<VenueOrderStatus>, matched: Option<Size>) {
        if let Some(m) = matched {
            self.venue_matched = self.venue_matched.max(m);
        }
        let closed = kind == Some(OrderEventKind::Cancellation)
            || match status {
                Some(VenueOrderStatus::Canceled | VenueOrderStatus::Unmatched) => true,
                // A matched order that does not rest is done, whatever it filled.
                Some(VenueOrderStatus::Matched) => !self.order_type.rests(),
                _ => false,
            };
        if closed {
            self.venue_closed = true;
        }
        if rank(self.status) < rank(OrderStatus::Acknowledged) {
            self.status = OrderStatus::Acknowledged;
            self.reason = None;
        }
    }

    /// Records a trade report. `Ok(Err(_))`: nothing to change.
    fn trade(
        &mut self,
        trade_id: String,
        size: Size,
        status: TradeStatus,
    ) -> Result<Result<Option<TradeChange>, Unchanged>, OrderStateError> {
        if let Some(seen) = self.trades.get(&trade_id) {
            if status == seen.status {
                return Ok(Err(Unchanged::Duplicate));
            }
            if status.rank() <= seen.status.rank() {
                return Ok(Err(Unchanged::Stale));
            }
            let was = seen.size;
            if status == TradeStatus::Failed {
                self.trades.insert(trade_id.clone(), TradeSeen { size: was, status });
                self.trade_sum = self.trade_sum.saturating_sub(was);
                self.failed_sum = Size::from_micros(self.failed_sum.micros().saturating_add(was.micros()));
                return Ok(Ok(Some(TradeChange::Failed { trade_id, size: was })));
            }
            self.trades.insert(trade_id, TradeSeen { size: was, status });
            return Ok(Err(Unchanged::TradeProgress));
        }
        if status == TradeStatus::Failed {
            // Never counted: remember it so a late MATCHED is stale.
            self.trades.insert(trade_id, TradeSeen { size, status });
            return Ok(Err(Unchanged::TradeProgress));
        }
        let would_be = self.trade_sum.checked_add(size).filter(|s| *s <= self.size);
        let Some(sum) = would_be else {
            return Err(OrderStateError::Overfill {
                client_order_id: self.client_order_id.clone(),
                trade_id,
                would_be: Size::from_micros(self.trade_sum.micros().saturating_add(size.micros())),
                size: self.size,
            });
        };
        self.revive_if_not_on_venue();
        self.trades.insert(trade_id.clone(), TradeSeen { size, status });
        self.trade_sum = sum;
        if rank(self.status) < rank(OrderStatus::Acknowledged) {
            self.status = OrderStatus::Acknowledged;
            self.reason = None;
        }
        Ok(Ok(Some(TradeChange::Added { trade_id, size })))
    }

    /// Derives the status from the fills and what the exchange said.
    fn settle(&mut self) {
        let filled = self.filled();
        if filled >= self.size && !self.size.is_zero() {
            if self.status != OrderStatus::Filled && self.rejected_by != Some(RejectSource::Exchange) {
                self.status = OrderStatus::Filled;
                self.reason = None;
            }
            return;
        }
        if self.status.is_terminal() {
            return;
        }
        if self.venue_closed {
            self.status = OrderStatus::Cancelled;
            self.reason.get_or_insert_with(|| "closed by the exchange".to_owned());
        } else if !filled.is_zero() && rank(self.status) < rank(OrderStatus::PartiallyFilled) {
            self.status = OrderStatus::PartiallyFilled;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ids::Hash32;

    fn cid() -> ClientOrderId {
        ClientOrderId::new("c-1").unwrap()
    }

    fn oid(b: u8) -> OrderId {
        Hash32([b; 32])
    }

    fn shares(n: u64) -> Size {
        Size::from_shares(n)
    }

    fn sent(size: u64) -> OrderState {
        let mut s = OrderState::new(cid(), Some(oid(1)), shares(size), OrderType::Gtc);
        s.apply(OrderInput::Sent).unwrap();
        s
    }

    fn trade(id: &str, n: u64, status: TradeStatus) -> OrderInput {
        OrderInput::Trade { trade_id: id.into(), size: shares(n), status }
    }

    fn venue(kind: Option<OrderEventKind>, status: VenueOrderStatus, matched: u64) -> OrderInput {
        OrderInput::Venue { kind, status: Some(status), size_matched: shares(matched) }
    }

    #[test]
    fn happy_path_new_sent_acknowledged_partially_filled_filled() {
        let mut s = OrderState::new(cid(), Some(oid(1)), shares(10), OrderType::Gtc);
        assert_eq!(s.status(), OrderStatus::New);
        s.apply(OrderInput::Sent).unwrap();
        assert_eq!(s.status(), OrderStatus::Sent);
        s.apply(OrderInput::Accepted { order_id: oid(1), status: VenueOrderStatus::Live }).unwrap();
        assert_eq!(s.status(), OrderStatus::Acknowledged);
        assert!(s.may_rest());
        let a = s.apply(trade("t1", 4, TradeStatus::Matched)).unwrap();
        assert_eq!(
            a,
            Applied::Changed(Change {
                from: OrderStatus::Acknowledged,
                to: OrderStatus::PartiallyFilled,
                filled: shares(4),
                trade: Some(TradeChange::Added { trade_id: "t1".into(), size: shares(4) }),
            })
        );
        s.apply(trade("t2", 6, TradeStatus::Matched)).unwrap();
        assert_eq!((s.status(), s.filled()), (OrderStatus::Filled, shares(10)));
        assert!(!s.may_rest() && !s.is_open());
        let u = s.update(TimestampMs(5));
        assert_eq!((u.status, u.filled, u.order_id), (OrderStatus::Filled, shares(10), Some(oid(1))));
    }

    #[test]
    fn settlement_steps_of_a_trade_are_not_new_fills() {
        let mut s = sent(10);
        s.apply(trade("t1", 4, TradeStatus::Matched)).unwrap();
        assert_eq!(s.apply(trade("t1", 4, TradeStatus::Mined)).unwrap(), Applied::Unchanged(Unchanged::TradeProgress));
        assert_eq!(
            s.apply(trade("t1", 4, TradeStatus::Confirmed)).unwrap(),
            Applied::Unchanged(Unchanged::TradeProgress)
        );
        // A MINED after CONFIRMED, and the same trade twice, change nothing.
        assert_eq!(s.apply(trade("t1", 4, TradeStatus::Mined)).unwrap(), Applied::Unchanged(Unchanged::Stale));
        assert_eq!(s.apply(trade("t1", 4, TradeStatus::Confirmed)).unwrap(), Applied::Unchanged(Unchanged::Duplicate));
        assert_eq!(s.filled(), shares(4));
    }

    #[test]
    fn a_placement_after_a_fill_is_stale() {
        let mut s = sent(10);
        s.apply(trade("t1", 10, TradeStatus::Matched)).unwrap();
        assert_eq!(s.status(), OrderStatus::Filled);
        let a = s.apply(venue(Some(OrderEventKind::Placement), VenueOrderStatus::Live, 0)).unwrap();
        assert_eq!(a, Applied::Unchanged(Unchanged::Duplicate));
        assert_eq!((s.status(), s.filled()), (OrderStatus::Filled, shares(10)));
    }

    #[test]
    fn overfill_is_refused_and_changes_nothing() {
        let mut s = sent(10);
        s.apply(trade("t1", 7, TradeStatus::Matched)).unwrap();
        let before = s.clone();
        assert!(matches!(s.apply(trade("t2", 4, TradeStatus::Matched)), Err(OrderStateError::Overfill { .. })));
        assert_eq!(s, before);
        assert!(matches!(
            s.apply(venue(None, VenueOrderStatus::Live, 11)),
            Err(OrderStateError::MatchedAboveSize { .. })
        ));
        assert_eq!(s, before);
    }

    #[test]
    fn ambiguous_then_found_or_not() {
        let mut s = sent(10);
        s.apply(OrderInput::Ambiguous { reason: "timeout".into() }).unwrap();
        assert_eq!(s.status(), OrderStatus::UnknownPendingReconcile);
        assert!(s.may_rest(), "it may be on the book");
        let mut found = s.clone();
        found.apply(venue(None, VenueOrderStatus::Live, 0)).unwrap();
        assert_eq!(found.status(), OrderStatus::Acknowledged);

        s.apply(OrderInput::NotOnVenue { reason: "not found".into() }).unwrap();
        assert_eq!((s.status(), s.rejected_by()), (OrderStatus::Rejected, Some(RejectSource::NotOnVenue)));
        // ... and a held request that lands later brings it back.
        s.apply(venue(Some(OrderEventKind::Placement), VenueOrderStatus::Live, 0)).unwrap();
        assert_eq!(s.status(), OrderStatus::Acknowledged);
    }

    #[test]
    fn an_exchange_rejection_is_final() {
        let mut s = sent(10);
        s.apply(OrderInput::Rejected { reason: "not enough balance / allowance".into() }).unwrap();
        assert_eq!(s.status(), OrderStatus::Rejected);
        assert_eq!(
            s.apply(OrderInput::Ambiguous { reason: "x".into() }).unwrap(),
            Applied::Unchanged(Unchanged::Stale)
        );
        assert_eq!(s.reason(), Some("not enough balance / allowance"));
    }

    #[test]
    fn cancellation_keeps_partial_fills_and_late_trades_still_count() {
        let mut s = sent(10);
        s.apply(OrderInput::Accepted { order_id: oid(1), status: VenueOrderStatus::Live }).unwrap();
        s.apply(venue(Some(OrderEventKind::Update), VenueOrderStatus::Live, 3)).unwrap();
        assert_eq!((s.status(), s.filled()), (OrderStatus::PartiallyFilled, shares(3)));
        s.apply(venue(Some(OrderEventKind::Cancellation), VenueOrderStatus::Canceled, 3)).unwrap();
        assert_eq!((s.status(), s.filled()), (OrderStatus::Cancelled, shares(3)));
        // The trade behind the 3 arrives after the cancellation: recorded once.
        let a = s.apply(trade("t1", 3, TradeStatus::Matched)).unwrap();
        assert!(matches!(a, Applied::Changed(Change { trade: Some(TradeChange::Added { .. }), .. })));
        assert_eq!((s.status(), s.filled()), (OrderStatus::Cancelled, shares(3)));
    }

    #[test]
    fn a_fak_matched_in_part_is_closed() {
        let mut s = OrderState::new(cid(), Some(oid(2)), shares(10), OrderType::Fak);
        s.apply(OrderInput::Sent).unwrap();
        s.apply(OrderInput::Accepted { order_id: oid(2), status: VenueOrderStatus::Matched }).unwrap();
        assert_eq!(s.status(), OrderStatus::Cancelled);
        s.apply(trade("t", 4, TradeStatus::Matched)).unwrap();
        assert_eq!((s.status(), s.filled()), (OrderStatus::Cancelled, shares(4)));
        assert!(!s.may_rest());
    }

    #[test]
    fn a_failed_trade_is_taken_back() {
        let mut s = sent(10);
        s.apply(trade("t", 10, TradeStatus::Matched)).unwrap();
        assert_eq!(s.status(), OrderStatus::Filled);
        let a = s.apply(trade("t", 10, TradeStatus::Failed)).unwrap();
        assert!(matches!(a, Applied::Changed(Change { trade: Some(TradeChange::Failed { .. }), .. })));
        assert_eq!(s.trade_sum(), Size::ZERO);
    }

    #[test]
    fn a_different_order_id_is_refused() {
        let mut s = sent(10);
        let r = s.apply(OrderInput::Accepted { order_id: oid(9), status: VenueOrderStatus::Live });
        assert!(matches!(r, Err(OrderStateError::WrongOrderId { .. })));
        assert_eq!(s.status(), OrderStatus::Sent);
    }

    #[test]
    fn wire_spellings() {
        assert_eq!(VenueOrderStatus::parse("LIVE"), Some(VenueOrderStatus::Live));
        assert_eq!(VenueOrderStatus::parse("canceled"), Some(VenueOrderStatus::Canceled));
        assert_eq!(VenueOrderStatus::parse("gone"), None);
        assert_eq!(TradeStatus::parse("CONFIRMED"), Some(TradeStatus::Confirmed));
        assert_eq!(OrderEventKind::parse("CANCELLATION"), Some(OrderEventKind::Cancellation));
    }

    /// One trade's reports as the exchange may send them: its statuses in
    /// settlement order, ending CONFIRMED or FAILED.
    fn trade_reports(id: usize, micros: u64, fails: bool) -> Vec<OrderInput> {
        let end = if fails { TradeStatus::Failed } else { TradeStatus::Confirmed };
        [TradeStatus::Matched, TradeStatus::Mined, end]
            .into_iter()
            .map(|status| OrderInput::Trade { trade_id: format!("t{id}"), size: Size::from_micros(micros), status })
            .collect()
    }

    proptest! {
        /// However the reports of a set of trades are duplicated and
        /// reordered, the fills are the exact sum of the trades that did not
        /// fail (at most the size), the status never goes back, and applying
        /// everything a second time changes nothing.
        #[test]
        fn fills_are_exact_whatever_the_order(
            parts in proptest::collection::vec((1u64..=300_000, proptest::bool::weighted(0.2)), 1..8),
            order_seed in any::<u64>(),
            dups in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
            venue_events in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..4), 0..6),
        ) {
            let size: u64 = parts.iter().map(|(m, _)| m).sum::<u64>() + 50_000;
            let mut inputs: Vec<OrderInput> = Vec::new();
            for (i, (m, fails)) in parts.iter().enumerate() {
                inputs.extend(trade_reports(i, *m, *fails));
            }
            for d in &dups {
                let x = inputs[d.index(inputs.len())].clone();
                inputs.push(x);
            }
            // Order events with sizes that did happen at some point.
            let mut running = 0u64;
            let mut prefix = vec![0u64];
            for (m, _) in &parts {
                running += m;
                prefix.push(running);
            }
            for (idx, k) in &venue_events {
                let matched = prefix[idx.index(prefix.len())];
                let kind = match k {
                    0 => OrderEventKind::Placement,
                    _ => OrderEventKind::Update,
                };
                inputs.push(OrderInput::Venue {
                    kind: Some(kind),
                    status: Some(VenueOrderStatus::Live),
                    size_matched: Size::from_micros(matched),
                });
            }
            // A deterministic shuffle, but keep each trade's own reports in
            // an arbitrary order too.
            let mut rng = order_seed;
            for i in (1..inputs.len()).rev() {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let j = (rng >> 33) as usize % (i + 1);
                inputs.swap(i, j);
            }

            let mut s = OrderState::new(cid(), Some(oid(1)), Size::from_micros(size), OrderType::Gtc);
            s.apply(OrderInput::Sent).unwrap();
            s.apply(OrderInput::Accepted { order_id: oid(1), status: VenueOrderStatus::Live }).unwrap();
            let mut last_rank = rank(s.status());
            for input in &inputs {
                s.apply(input.clone()).unwrap();
                prop_assert!(s.filled() <= s.size());
                let r = rank(s.status());
                prop_assert!(r >= last_rank, "status went back to {:?}", s.status());
                last_rank = r;
            }
            // Which trades ended counted: a trade whose FAILED came before
            // its MATCHED never counts; otherwise it counts unless it failed.
            let expected: u64 = parts.iter().map(|(m, fails)| if *fails { 0 } else { *m }).sum();
            prop_assert_eq!(s.trade_sum(), Size::from_micros(expected));
            let snapshot = s.clone();
            for input in &inputs {
                let a = s.apply(input.clone()).unwrap();
                prop_assert!(matches!(a, Applied::Unchanged(_)), "{:?} changed on replay: {:?}", input, a);
            }
            prop_assert_eq!(s, snapshot);
        }

        /// Terminal states stay terminal under any later REST reply.
        #[test]
        fn late_rest_replies_do_not_reopen(kind in 0u8..3) {
            let mut s = sent(5);
            s.apply(trade("t", 5, TradeStatus::Matched)).unwrap();
            let late = match kind {
                0 => OrderInput::Ambiguous { reason: "timeout".into() },
                1 => OrderInput::Rejected { reason: "late".into() },
                _ => OrderInput::NotOnVenue { reason: "late".into() },
            };
            prop_assert!(matches!(s.apply(late).unwrap(), Applied::Unchanged(_)));
            prop_assert_eq!(s.status(), OrderStatus::Filled);
        }
    }
}
