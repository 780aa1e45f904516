//! Book-change events: one `LevelChanged` per level a call touched.
//!
//! Invariant: after every public call, each level whose size changed has been
//! announced once for each token, with its final size in that call and the
//! token's best bid and ask after the call, in the order the levels were
//! first touched. Announcing the final size rather than every intermediate
//! one is what the real `price_change` frame does (new aggregate size).

use super::Exchange;
use super::book::{BookSide, own_price, own_side};
use super::types::EngineEvent;
use pmbot_core::Size;

impl Exchange {
    /// Notes that a level of market `idx` changed in the current call.
    pub(crate) fn touch(&mut self, idx: u32, side: BookSide, price: u16) {
        if !self.touched.contains(&(idx, side, price)) {
            self.touched.push((idx, side, price));
        }
    }

    /// Emits the touched levels of the call that is ending, then applies the
    /// tick rule to each market whose book changed.
    pub(crate) fn publish(&mut self, now_ms: i64) {
        if self.touched.is_empty() {
            return;
        }
        let touched = std::mem::take(&mut self.touched);
        let mut markets: Vec<u32> = Vec::new();
        for &(idx, side, price) in &touched {
            let Some(market) = self.markets.get_mut(&idx) else {
                continue;
            };
            market.book_ts_ms = now_ms;
            if !markets.contains(&idx) {
                markets.push(idx);
            }
            let size = Size::from_micros(market.book.level_total(side, price));
            for outcome in 0..2 {
                let (best_bid, best_ask) = market.book.best_for(outcome);
                self.events.push(EngineEvent::LevelChanged {
                    market: market.spec.condition_id,
                    token: market.token(outcome).clone(),
                    side: own_side(outcome, side),
                    price: own_price(outcome, price),
                    size,
                    best_bid,
                    best_ask,
                    timestamp_ms: now_ms,
                });
            }
        }
        // Reuse the allocation for the next call.
        self.touched = touched;
        self.touched.clear();
        for idx in markets {
            self.retick(idx, now_ms);
        }
    }
}
