//! The mid and trade history of one token, by slot of market time.
//!
//! Invariant: slot `k` describes the instant `k * step`: its mid is the last
//! two-sided mid of the events with time `<= k * step`, its trade volume that
//! of the trades with time in `((k - 1) * step, k * step]`. A slot is written
//! only once an event *after* its instant arrives (then nothing can change
//! it); slots from `next_slot` on are the present (the current mid, the
//! pending trades). The ring keeps the last `cap` written slots; older ones
//! read as unknown. Reads walk the ring with a wrapping index, never a
//! division per slot.

use crate::side::Side;

#[derive(Debug, Clone)]
pub(super) struct SlotRing {
    step: i64,
    /// Twice the mid in pips per slot; 0 = no two-sided book yet at that instant.
    mids: Box<[u32]>,
    /// Taker-buy and taker-sell micro-shares per slot.
    buys: Box<[u64]>,
    sells: Box<[u64]>,
    /// The first slot not yet written; `None` before the first event.
    next_slot: Option<i64>,
    /// The current twice-mid (0 = none yet).
    mid: u32,
    /// Trades of slot `next_slot`, written into it when it is closed.
    pending_buy: u64,
    pending_sell: u64,
}

impl SlotRing {
    pub(super) fn new(step: i64, cap: usize) -> SlotRing {
        SlotRing {
            step,
            mids: vec![0; cap].into_boxed_slice(),
            buys: vec![0; cap].into_boxed_slice(),
            sells: vec![0; cap].into_boxed_slice(),
            next_slot: None,
            mid: 0,
            pending_buy: 0,
            pending_sell: 0,
        }
    }

    fn cap(&self) -> i64 {
        self.mids.len() as i64
    }

    fn pos(&self, slot: i64) -> usize {
        slot.rem_euclid(self.cap()) as usize
    }

    /// Closes every slot whose instant is before `t` (times never decrease).
    pub(super) fn advance_to(&mut self, t: i64) {
        // The first slot whose instant is at or after t.
        let target = t.div_euclid(self.step) + i64::from(t.rem_euclid(self.step) != 0);
        let Some(mut k) = self.next_slot else {
            self.next_slot = Some(target);
            return;
        };
        if target - k > self.cap() {
            // Slots that far back are never read; their trades fall out of every window.
            k = target - self.cap();
            self.pending_buy = 0;
            self.pending_sell = 0;
        }
        if k >= target {
            return;
        }
        let mut pos = self.pos(k);
        while k < target {
            self.mids[pos] = self.mid;
            self.buys[pos] = std::mem::take(&mut self.pending_buy);
            self.sells[pos] = std::mem::take(&mut self.pending_sell);
            k += 1;
            pos += 1;
            if pos == self.mids.len() {
                pos = 0;
            }
        }
        self.next_slot = Some(target);
    }

    /// Sets the current mid (after `advance_to` the event's time).
    pub(super) fn set_mid(&mut self, mid2_pips: u32) {
        self.mid = mid2_pips;
    }

    /// Adds a trade to the present slot (after `advance_to` the trade's time).
    pub(super) fn add_trade(&mut self, side: Side, micros: u64) {
        match side {
            Side::Buy => self.pending_buy = self.pending_buy.saturating_add(micros),
            Side::Sell => self.pending_sell = self.pending_sell.saturating_add(micros),
        }
    }

    /// The twice-mid at slot `k`'s instant, if known.
    pub(super) fn mid2_at(&self, k: i64) -> Option<u32> {
        let next = self.next_slot?;
        let v = if k >= next {
            self.mid
        } else if k < next - self.cap() {
            0
        } else {
            self.mids[self.pos(k)]
        };
        (v != 0).then_some(v)
    }

    /// Sum of squared changes of twice-mid between consecutive slots over
    /// `(to - n, to]`, if every slot from `to - n` on has a mid.
    pub(super) fn sum_sq_mid_changes(&self, to: i64, n: i64) -> Option<i64> {
        let next = self.next_slot?;
        let from = to - n;
        let mut prev = i64::from(self.mid2_at(from)?);
        let mut sum = 0i64;
        // Written slots in (from, min(to, next - 1)], walked without division.
        let last_written = to.min(next - 1);
        let mut k = from + 1;
        if k <= last_written {
            let mut pos = self.pos(k);
            while k <= last_written {
                let m = i64::from(self.mids[pos]);
                if m == 0 {
                    return None;
                }
                sum += (m - prev) * (m - prev);
                prev = m;
                k += 1;
                pos += 1;
                if pos == self.mids.len() {
                    pos = 0;
                }
            }
        }
        // The present: every slot from `next` on holds the current mid.
        if k <= to {
            let m = i64::from(self.mid);
            if m == 0 {
                return None;
            }
            sum += (m - prev) * (m - prev);
        }
        Some(sum)
    }

    /// Taker-buy and taker-sell micro-shares of the slots in `(to - n, to]`.
    pub(super) fn trade_volume(&self, to: i64, n: i64) -> (u64, u64) {
        let Some(next) = self.next_slot else { return (0, 0) };
        let (mut buy, mut sell) = (0u64, 0u64);
        let first = (to - n + 1).max(next - self.cap());
        let last_written = to.min(next - 1);
        let mut k = first;
        if k <= last_written {
            let mut pos = self.pos(k);
            while k <= last_written {
                buy = buy.saturating_add(self.buys[pos]);
                sell = sell.saturating_add(self.sells[pos]);
                k += 1;
                pos += 1;
                if pos == self.mids.len() {
                    pos = 0;
                }
            }
        }
        if (to - n + 1..=to).contains(&next) {
            buy = buy.saturating_add(self.pending_buy);
            sell = sell.saturating_add(self.pending_sell);
        }
        (buy, sell)
    }
}
