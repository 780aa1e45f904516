//! `pmbot livetest`: the order path exercised once, for real. Through the
//! gateway (and the journal, so the order is recorded like any other) it
//! places one minimum-size post-only BUY at the market's lowest tick, far
//! from the touch, sees it acknowledged on the user channel, cancels it,
//! and lists the account's open orders to prove ours is gone. Each step is
//! printed with its latency.
//!
//! With `--taker` it tests the market-order path instead
//! ([`crate::livetest_taker`]).
//!
//! Invariant: once an order may exist on the exchange, the command does not
//! end before it is cancelled or every cancel attempt is spent: a failure
//! after placing (no acknowledgement, a failed cancel) still cancels, and a
//! cancel is retried with backoff (cancelling is safe to repeat). The kill
//! switch refuses it like any order. Without an open order of ours left
//! and with every step passing, it exits 0.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use pmbot_core::{
    ClientOrderId, Clock, DecisionContext, OrderId, OrderIntent, OrderStatus, OrderType, Side, Size, TokenId,
};
use pmbot_engine::record::redact_url;
use pmbot_venue::SystemClock;
use pmbot_venue::discovery::market_by_slug;
use pmbot_venue::gateway::{Gateway, GatewayError, Refusal};
use pmbot_venue::marketdata::rest::RestClient;

use crate::account;
use crate::config::FileConfig;
use crate::source::GAMMA_URL;

#[derive(Debug, Args)]
pub struct LivetestArgs {
    /// The market to test on (its first outcome's token).
    #[arg(long, value_name = "SLUG", conflicts_with = "token")]
    pub market: Option<String>,
    /// The token to test on.
    #[arg(long, value_name = "ID")]
    pub token: Option<String>,
    /// Run against an embedded simulated exchange (no real money).
    #[arg(long)]
    pub sim: bool,
    /// Gamma API base URL, for --market (default: Polymarket's).
    #[arg(long, value_name = "URL")]
    pub gamma_url: Option<String>,
    /// How long each wait (user channel, acknowledgement) may take.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Test the market-order path instead: one minimum-value marketable BUY
    /// and the SELL of what it bought (costs the spread and two fees).
    #[arg(long)]
    pub taker: bool,
    /// Place the --taker orders after printing their cost (without it the
    /// cost is printed and nothing is placed).
    #[arg(long, requires = "taker")]
    pub yes: bool,
}

/// Cancel attempts before giving up (each after the gateway's own retries).
const CANCEL_ATTEMPTS: u32 = 6;

/// Prints one step: its name, latency and what it found.
pub(crate) fn step(name: &str, started: Instant, detail: impl std::fmt::Display) {
    println!("{name:<14} {:>6} ms  {detail}", started.elapsed().as_millis());
}

pub async fn run(mut file: FileConfig, args: LivetestArgs) -> Result<()> {
    let sim = if args.sim {
        let handle = pmbot_sim::start(file.sim.clone()).await.context("cannot start the embedded simulator")?;
        file.gateway.clob_url = handle.rest_url();
        file.gateway.ws_url = handle.ws_url();
        Some(handle)
    } else {
        None
    };
    let token = resolve_token(&file, &args, sim.as_ref()).await?;
    println!(
        "livetest on token {token} at {}{}",
        redact_url(&file.gateway.clob_url),
        if sim.is_some() { " (embedded simulator: no real money)" } else { "" }
    );

    let rest = RestClient::new(&file.gateway.clob_url, file.gateway.request_timeout)?;
    // The resting test reads its price first: nothing starts on a book it
    // cannot use. The taker test reads the touch once the fees are known.
    let resting = if args.taker { None } else { Some(resting_order(&rest, &token).await?) };

    // The gateway, as `pmbot live` starts it: the journal, reconciliation.
    let t = Instant::now();
    let (started, _balance) = account::start_gateway(&file).await?;
    let gateway = started.gateway;
    step("gateway", t, format!("API key derived; {} journal order(s) reconciled", started.report.checked));

    let result = match resting {
        Some((price, size)) => exercise(&gateway, &file, token, price, size, args.timeout).await,
        None => crate::livetest_taker::run(&gateway, &rest, token, args.yes, args.timeout).await,
    };
    gateway.shutdown();
    if let Some(handle) = sim {
        handle.shutdown().await;
    }
    result
}

/// The resting test's order from the book: the lowest tick (as far from
/// the touch as a BUY can be) and the minimum size.
async fn resting_order(rest: &RestClient, token: &TokenId) -> Result<(pmbot_core::Price, Size)> {
    let t = Instant::now();
    let book = rest.book(token, || SystemClock.now()).await.context("cannot read the book")?;
    let tick = book.snapshot.tick_size.context("the book states no tick size")?;
    let size = Size::parse(&book.min_order_size)
        .ok()
        .filter(|s| !s.is_zero())
        .with_context(|| format!("the book's min_order_size {:?} is not a size", book.min_order_size))?;
    let best_bid = book.snapshot.bids.iter().map(|l| l.price).max();
    let best_ask = book.snapshot.asks.iter().map(|l| l.price).min();
    let price = tick.min_price();
    if best_ask.is_some_and(|a| a <= price) {
        bail!("the best ask is at the lowest tick ({price}): a post-only BUY cannot rest there; pick another market");
    }
    let shown = |p: Option<pmbot_core::Price>| p.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
    step(
        "book",
        t,
        format!("tick {tick}, min size {size}, best bid {}, best ask {}", shown(best_bid), shown(best_ask)),
    );
    Ok((price, size))
}

/// The market's (or the simulator's) token to test on.
async fn resolve_token(file: &FileConfig, args: &LivetestArgs, sim: Option<&pmbot_sim::SimHandle>) -> Result<TokenId> {
    if let Some(t) = &args.token {
        return TokenId::parse(t).with_context(|| format!("--token {t:?} is not a token id"));
    }
    if let Some(slug) = &args.market {
        let gamma = match (&args.gamma_url, sim) {
            (Some(g), _) => g.clone(),
            (None, Some(h)) => format!("{}gamma", h.rest_url()),
            (None, None) => GAMMA_URL.to_owned(),
        };
        let m = market_by_slug(&gamma, slug, file.gateway.request_timeout.max(Duration::from_secs(5)))
            .await
            .with_context(|| format!("--market {slug}"))?;
        return m.tokens.first().cloned().with_context(|| format!("market {slug} lists no token"));
    }
    match sim {
        Some(h) => {
            let g = h.state.lock();
            g.exchange
                .markets()
                .iter()
                .find(|m| m.accepting_orders)
                .and_then(|m| m.spec.tokens.first().map(|t| t.token_id.clone()))
                .context("the simulator lists no market accepting orders")
        }
        None => bail!("name where to test: --market SLUG or --token ID"),
    }
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
async fn exercise(
    gateway: &Gateway,
    file: &FileConfig,
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
            bail!(
                "the user channel at {} did not connect within {timeout:?} ({why}); nothing was placed",
                redact_url(&file.gateway.ws_url)
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
        Err(GatewayError::Refused(Refusal::KillSwitch(path))) => bail!(
            "refused by the kill switch {} like any order: nothing was sent (`pmbot unkill` after checking why it was \
             set)",
            path.display()
        ),
        Err(e) => {
            // Its fate may be open (a timeout): cancel whatever the gateway signed.
            let Some(id) = gateway.order(&cid).and_then(|v| v.order_id) else {
                bail!("the order was not placed: {e}");
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
    if failures.is_empty() { Ok(()) } else { bail!("livetest failed: {}", failures.join("; ")) }
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
            bail!(
                "order {id} may still be open after {attempt} cancel attempts: check with `pmbot orders` and cancel \
                 with `pmbot orders --cancel-all`"
            );
        }
        // A cancel is safe to repeat; back off before the next.
        tokio::time::sleep(Duration::from_millis(250u64 << attempt.min(4))).await;
    }
}
