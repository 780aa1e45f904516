//! The market WebSocket: subscribed, and every token's book over it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pmbot_core::{Clock, TokenId};

use super::Check;
use crate::SystemClock;
use crate::marketdata::{ConnectionState, MarketData, MarketDataConfig};

/// Subscribes on the market WebSocket and waits for every token's book to
/// arrive over it (a REST fallback snapshot does not count).
pub async fn websocket_check(cfg: &MarketDataConfig, tokens: &[TokenId], timeout: Duration) -> Check {
    let ws = pmbot_core::redact::without_credentials(&cfg.stream.ws_url);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let md = match MarketData::start(cfg.clone(), tokens.to_vec(), clock, None) {
        Ok(md) => md,
        Err(e) => {
            return Check::fail("websocket", format!("cannot start the stream: {e}"), "check [market_data.stream]");
        }
    };
    let started = Instant::now();
    let arrived = loop {
        let health = md.health();
        let live = matches!(health.state, ConnectionState::Live { .. });
        let all = live && {
            let st = md.state();
            tokens.iter().all(|t| {
                st.books.trust(t).is_some_and(|tr| tr.is_trusted())
                    && health.tokens.get(t).is_some_and(|h| h.messages > 0)
            })
        };
        if all {
            break Ok(started.elapsed().as_millis());
        }
        if started.elapsed() >= timeout {
            let got = tokens.iter().filter(|t| health.tokens.get(*t).is_some_and(|h| h.messages > 0)).count();
            let state = match health.state {
                ConnectionState::Live { .. } => "subscribed".to_owned(),
                ConnectionState::Connecting => "still connecting".to_owned(),
                ConnectionState::Backoff { attempt, .. } => format!("reconnecting (attempt {attempt})"),
                ConnectionState::Stopped => "stopped".to_owned(),
            };
            break Err(format!("{state}; {got} of {} book(s) arrived within {timeout:?}", tokens.len()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let top = {
        let st = md.state();
        tokens.first().and_then(|t| st.books.book(t)).map(|b| {
            let side = |l: Option<pmbot_core::Level>| l.map(|l| l.price.to_string()).unwrap_or_else(|| "-".into());
            format!("; first: bid {} / ask {}", side(b.best_bid()), side(b.best_ask()))
        })
    };
    md.stop().await;
    match arrived {
        Ok(ms) => Check::pass(
            "websocket",
            format!("{ws}: subscribed, {} book(s) in {ms} ms{}", tokens.len(), top.unwrap_or_default()),
        ),
        Err(why) => Check::fail(
            "websocket",
            format!("{ws}: {why}"),
            "check [market_data.stream] ws_url and that outbound WebSocket (wss) connections are allowed",
        ),
    }
}
