//! `pmbot livetest`: the order path exercised once, for real, through the
//! gateway (and its journal, so each order is recorded like any other).
//! The resting test ([`exercise`]) places one minimum-size post-only BUY at
//! the market's lowest tick, far from the touch, sees it acknowledged on
//! the user channel, cancels it, and lists the account's open orders to
//! prove ours is gone; the taker test ([`taker`]) one marketable BUY and
//! the SELL of what it bought. Each step is printed to standard output with
//! its latency: this is an operator's command, and the steps are its output.
//!
//! Invariant: once an order may exist on the exchange, the test does not
//! end before it is cancelled or every cancel attempt is spent: a failure
//! after placing (no acknowledgement, a failed cancel) still cancels, and a
//! cancel is retried with backoff (cancelling is safe to repeat). The kill
//! switch refuses it like any order.

pub mod taker;

use std::time::{Duration, Instant};

use pmbot_core::{
    ClientOrderId, Clock, DecisionContext, OrderId, OrderIntent, OrderStatus, OrderType, Side, Size, TokenId,
};

use crate::SystemClock;
use crate::gateway::{Gateway, GatewayError, Refusal};
use crate::marketdata::rest::RestClient;

/// Why a live test failed: what happened and what to do, in one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LivetestFailed(pub String);

pub type Result<T> = std::result::Result<T, LivetestFailed>;

/// Returns a [`LivetestFailed`] with the formatted text.
macro_rules! fail {
    ($($text:tt)*) => {
        return Err($crate::livetest::LivetestFailed(format!($($text)*)))
    };
}
pub(crate) use fail;

/// What was being done when a step failed, in front of why.
pub(crate) trait Context<T> {
    fn context(self, doing: &str) -> Result<T>;
    fn with_context(self, doing: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, doing: &str) -> Result<T> {
        self.map_err(|e| LivetestFailed(format!("{doing}: {e}")))
    }

    fn with_context(self, doing: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| LivetestFailed(format!("{}: {e}", doing())))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, missing: &str) -> Result<T> {
        self.ok_or_else(|| LivetestFailed(missing.to_owned()))
    }

    fn with_context(self, missing: impl FnOnce() -> String) -> Result<T> {
        self.ok_or_else(|| LivetestFailed(missing()))
    }
}

/// Cancel attempts before giving up (each after the gateway's own retries).
const CANCEL_ATTEMPTS: u32 = 6;

/// Prints one step: its name, latency and what it found.
pub fn step(name: &str, started: Instant, detail: impl std::fmt::Display) {
    println!("{name:<14} {:>6} ms  {detail}", started.elapsed().as_millis());
}

/// A token's book over REST, with the two order rules it states: its tick
/// and its minimum order size.
pub(crate) async fn book_and_rules(
    rest: &RestClient,
    token: &TokenId,
) -> Result<(crate::marketdata::books::RestBook, pmbot_core::TickSize, Size)> {
    let book = rest.book(token, || SystemClock.now()).await.context("cannot read the book")?;
    let tick = book.snapshot.tick_size.context("the book states no tick size")?;
    let size = Size::parse(&book.min_order_size)
        .ok()
        .filter(|s| !s.is_zero())
        .with_context(|| format!("the book's min_order_size {:?} is not a size", book.min_order_size))?;
    Ok((book, tick, size))
}

/// The resting test's order from the book: the lowest tick (as far from
/// the touch as a BUY can be) and the minimum size.
pub async fn resting_order(rest: &RestClient, token: &TokenId) -> Result<(pmbot_core::Price, Size)> {
    let t = Instant::now();
    let (book, tick, size) = book_and_rules(rest, token).await?;
    let best_bid = book.snapshot.bids.iter().map(|l| l.price).max();
    let best_ask = book.snapshot.asks.iter().map(|l| l.price).min();
    let price = tick.min_price();
    if best_ask.is_some_and(|a| a <= price) {
        fail!("the best ask is at the lowest tick ({price}): a post-only BUY cannot rest there; pick another market");
    }
    let shown = |p: Option<pmbot_core::Price>| p.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
    step(
        "book",
        t,
        format!("tick {tick}, min size {size}, best bid {}, best ask {}", shown(best_bid), shown(best_ask)),
    );
    Ok((price, size))
}

/// User-channel events the gateway matched to an order it tracks.
fn known_user_events(gateway: &Gateway) -> u64 {
    let s = gateway.stats();
    s.user_events.saturating_sub(s.user_events_unknown_order).saturating_sub(s.user_events_malformed)
}

/// Waits until the user channel delivers an event for a tracked order after
/// `base`; the latency, or `None` after `timeout`.
async fn user_event_after(gateway: &Gateway, base: u64, since: Instant, timeout: Duration) -> Option<u128> {
    while since.elapsed() < timeout {
        if known_user_events(gateway) > base {
            return Some(since.elapsed().as_millis());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// Place, see the acknowledgement, cancel, prove it gone.
pub async fn exercise(
    gateway: &Gateway,
    ws_url: &str,
    token: TokenId,
    price: pmbot_core::Price,
    size: Size,
    timeout: Duration,
) -> Result<()> {
    // The channel does not replay: subscribe before the order exists.
    let t = Instant::now();
    loop {
        let h = gateway.user_channel();
        if h.connected && h.reconciliations > 0 {
            break;
        }
        if t.elapsed() >= timeout {
            let why = h.last_error.unwrap_or_else(|| "no error reported".into());
            fail!(
                "the user channel at {} did not connect within {timeout:?} ({why}); nothing was placed",
                pmbot_core::redact::without_credentials(ws_url)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    step("user channel", t, "connected and subscribed");

    let cid = ClientOrderId::new(format!("livetest-{}", SystemClock.now_ms())).context("client order id")?;
    let intent = OrderIntent {
        client_order_id: cid.clone(),
        token,
        side: Side::Buy,
        limit_price: price,
        size,
        order_type: OrderType::Gtc,
        post_only: true,
        expires_at: None,
        decision: DecisionContext::default(),
    };
    let base = known_user_events(gateway);
    let t = Instant::now();
    let placed = gateway.place(intent).await;
    let mut failures = Vec::new();
    let order_id = match placed {
        Ok(p) => {
            step(
                "place",
                t,
                format!("BUY {size} @ {price} post-only: {} {:?} after {} post(s)", p.order_id, p.status, p.posts),
            );
            p.order_id
        }
        Err(GatewayError::Refused(Refusal::KillSwitch(path))) => fail!(
            "refused by the kill switch {} like any order: nothing was sent (`pmbot unkill` after checking why it was \
             set)",
            path.display()
        ),
        Err(e) => {
            // Its fate may be open (a timeout): cancel whatever the gateway signed.
            let Some(id) = gateway.order(&cid).and_then(|v| v.order_id) else {
                fail!("the order was not placed: {e}");
            };
            step("place", t, format!("FAILED: {e}; cancelling {id} in case the exchange holds it"));
            failures.push(format!("placing failed: {e}"));
            id
        }
    };

    if failures.is_empty() {
        match user_event_after(gateway, base, t, timeout).await {
            Some(ms) => println!("{:<14} {ms:>6} ms  acknowledged on the user channel (since the post)", "ack"),
            None => {
                step("ack", t, format!("FAILED: no user-channel event for the order within {timeout:?}"));
                failures.push(format!("no acknowledgement on the user channel within {timeout:?}"));
            }
        }
    }

    let open_left = cancel_until_gone(gateway, order_id, timeout).await;
    let status = gateway.order(&cid).map(|v| v.status);
    match open_left {
        Ok(others) => {
            println!(
                "PASS: order {order_id} {}; none of ours is open ({others} other open order(s) on the account)",
                match status {
                    Some(OrderStatus::Cancelled) => "cancelled and confirmed".to_owned(),
                    Some(s) => format!("is {s:?} in the journal"),
                    None => "gone".to_owned(),
                }
            );
        }
        Err(e) => failures.push(e.to_string()),
    }
    if failures.is_empty() { Ok(()) } else { fail!("livetest failed: {}", failures.join("; ")) }
}

/// Cancels `id` until the exchange no longer lists it among the account's
/// open orders; the number of other open orders, or why it may still be open.
async fn cancel_until_gone(gateway: &Gateway, id: OrderId, timeout: Duration) -> Result<usize> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let base = known_user_events(gateway);
        let t = Instant::now();
        match gateway.cancel(id).await {
            Ok(report) if report.cancelled.contains(&id) => {
                step("cancel", t, format!("attempt {attempt}: the exchange confirmed the cancel"));
                match user_event_after(gateway, base, t, timeout.min(Duration::from_secs(3))).await {
                    Some(ms) => println!("{:<14} {ms:>6} ms  cancel seen on the user channel", "cancel event"),
                    None => step("cancel event", t, "not seen on the user channel (the REST reply confirmed it)"),
                }
            }
            Ok(report) => {
                let why = report.not_cancelled.values().next().cloned().unwrap_or_else(|| "not listed".into());
                step("cancel", t, format!("attempt {attempt}: not cancelled: {why}"));
            }
            Err(e) => step("cancel", t, format!("attempt {attempt} FAILED: {e}")),
        }
        let t = Instant::now();
        match gateway.open_on_exchange().await {
            Ok(open) if !open.iter().any(|o| o.id == id) => {
                step("open orders", t, format!("{} open on the account, none of them ours", open.len()));
                return Ok(open.len());
            }
            Ok(_) => step("open orders", t, format!("{id} is still open")),
            Err(e) => step("open orders", t, format!("cannot list them: {e}")),
        }
        if attempt >= CANCEL_ATTEMPTS {
            fail!(
                "order {id} may still be open after {attempt} cancel attempts: check with `pmbot orders` and cancel \
                 with `pmbot orders --cancel-all`"
            );
        }
        // A cancel is safe to repeat; back off before the next.
        tokio::time::sleep(Duration::from_millis(250u64 << attempt.min(4))).await;
    }
}
