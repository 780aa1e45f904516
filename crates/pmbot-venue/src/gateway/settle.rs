//! `settled`: the fills of an order that does not rest (FAK, FOK), once the
//! exchange has said its last word on it.
//!
//! Invariant: the answer is the exchange's own record of the order
//! (`GET /data/order/{hash}`: a closed status and its `size_matched`) with
//! the trades behind that size seen, or, when the wait runs out, the order
//! as it stands then, after one look at the market's trades. Never a guess.
//!
//! Why a wait: a FAK's post reply is not its fills. It says `matched` before
//! the trades reach the user channel (so the order is closed with nothing
//! filled yet), and the real exchange may even answer `live` with nothing
//! filled and fill it seconds later (clob-client issue #317, "Incorrect
//! Response for FAK (IOC) Orders"). Reading the reply alone reports a filled
//! order as empty; `pmbot livetest --taker` did exactly that on the
//! simulator whenever the reply beat the trade frame.

use std::time::Duration;

use pmbot_core::order_state::VenueOrderStatus;
use pmbot_core::{ClientOrderId, Size};
use tokio::time::Instant;

use super::tracker::OrderView;
use super::{Inner, lock};

/// How often the exchange's record is read while waiting.
const POLL: Duration = Duration::from_millis(250);
/// How long the trades behind a closed record may lag before they are
/// fetched over REST instead of awaited on the user channel.
const TRADES_GRACE: Duration = Duration::from_secs(2);

impl Inner {
    pub(crate) async fn settled(&self, cid: &ClientOrderId, timeout: Duration) -> Option<OrderView> {
        let started = Instant::now();
        let (hash, market) = {
            let t = lock(&self.tracker);
            let tracked = t.get(cid)?;
            (tracked.state.order_id(), tracked.market)
        };
        let Some(hash) = hash else { return lock(&self.tracker).view(cid) };
        loop {
            let record = self.lookup_order(hash).await.ok().flatten();
            if let Some(o) = &record {
                self.apply_venue_order(o);
            }
            let closed_with = record.as_ref().and_then(|o| closed(o.status).then_some(o.size_matched));
            if closed_with.is_some_and(|m| self.trades_seen(cid) >= m) {
                return lock(&self.tracker).view(cid);
            }
            let out_of_time = started.elapsed() >= timeout;
            if out_of_time || (closed_with.is_some() && started.elapsed() >= TRADES_GRACE) {
                if let Ok(trades) = self.trades_of(hash, market).await {
                    for t in &trades {
                        self.apply_trade(t);
                    }
                }
                if out_of_time || closed_with.is_some_and(|m| self.trades_seen(cid) >= m) {
                    return lock(&self.tracker).view(cid);
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The size of the distinct trades seen for `cid` (not failed).
    fn trades_seen(&self, cid: &ClientOrderId) -> Size {
        lock(&self.tracker).get(cid).map_or(Size::ZERO, |t| t.state.trade_sum())
    }
}

/// Whether the exchange's record says the order can fill no more.
fn closed(status: Option<VenueOrderStatus>) -> bool {
    matches!(status, Some(VenueOrderStatus::Matched | VenueOrderStatus::Canceled | VenueOrderStatus::Unmatched))
}
