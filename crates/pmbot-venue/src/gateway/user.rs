//! pmbot's client of the user channel (`/ws/user`): order and trade events.
//!
//! Invariant: the channel does not replay, so after every (re)connect the
//! orders and trades are reconciled over REST; events are applied through the
//! order state machine, which drops duplicates and stale ones, so an event
//! seen both here and over REST counts once.
//!
//! The subscription carries the API key, secret and passphrase in clear (as
//! the protocol requires); the message is built, sent and dropped, never
//! logged.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use pmbot_core::TimestampMs;
use secrecy::ExposeSecret as _;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::wire::{UserEvent, parse_user_frame};
use super::{GatewayAlert, Inner, lock};
use crate::marketdata::backoff::{Backoff, ConnectionOutcome};

/// The user channel's state, for the health page and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChannelHealth {
    pub connected: bool,
    /// Connections opened so far.
    pub connections: u64,
    pub last_connected: Option<TimestampMs>,
    pub last_error: Option<String>,
    /// Reconciliations run after a (re)connect.
    pub reconciliations: u64,
}

impl Inner {
    fn subscription(&self) -> String {
        let c = self.transport.credentials();
        serde_json::json!({
            "auth": {
                "apiKey": c.key().to_string(),
                "secret": c.secret().expose_secret(),
                "passphrase": c.passphrase().expose_secret(),
            },
            "markets": [],
            "type": "user",
        })
        .to_string()
    }

    /// Applies one frame's events.
    fn on_frame(&self, text: &str) {
        let Ok(events) = parse_user_frame(text) else {
            self.stats.user_events_malformed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut refresh = false;
        for e in events {
            self.stats.user_events.fetch_add(1, Ordering::Relaxed);
            match e {
                Ok(UserEvent::Order(o)) => {
                    if matches!(self.apply_venue_order(&o), super::tracker::Effect::Unknown) {
                        self.stats.user_events_unknown_order.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(UserEvent::Trade(t)) => refresh |= self.apply_trade(&t) > 0,
                Err(_) => {
                    self.stats.user_events_malformed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if refresh {
            // A fill changed the balances; the reader re-reads them.
            let balance = self.balance.clone();
            tokio::spawn(async move { balance.refresh().await });
        }
    }
}

enum Ended {
    Stopped,
    /// The socket did not open.
    ConnectFailed(String),
    /// The connection was lost; `heard`: the server had answered (a PONG or
    /// an event) after the subscription, so the connection worked.
    Lost {
        error: String,
        heard: bool,
    },
}

async fn session(weak: &Weak<Inner>, shutdown: &mut watch::Receiver<bool>) -> Ended {
    let Some(inner) = weak.upgrade() else { return Ended::Stopped };
    let cfg = inner.cfg.user_channel.clone();
    let url = format!("{}/ws/user", inner.cfg.ws_url.trim_end_matches('/'));
    let connect = tokio::time::timeout(cfg.connect_timeout, tokio_tungstenite::connect_async(url.as_str()));
    let mut ws = match connect.await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => return Ended::ConnectFailed(format!("connect: {e}")),
        Err(_) => return Ended::ConnectFailed("connect timed out".into()),
    };
    if let Err(e) = ws.send(Message::text(inner.subscription())).await {
        return Ended::Lost { error: format!("subscribe: {e}"), heard: false };
    }
    let connection = {
        let mut h = lock(&inner.user);
        h.connected = true;
        h.connections += 1;
        h.last_connected = Some(inner.now());
        h.connections
    };
    // Events may have been missed while disconnected (or before the first
    // subscription): read the truth over REST. The subscription is already
    // live, so nothing falls between the two.
    let rec = inner.reconcile_open(false).await;
    lock(&inner.user).reconciliations += 1;
    if connection > 1 {
        inner.alert(GatewayAlert::UserChannelReconnected { connection });
    }
    if let Err(e) = rec {
        tracing::warn!(error = %e, "reconciliation after the user channel connected failed");
    }
    drop(inner);

    let mut ping = tokio::time::interval(cfg.ping_interval);
    ping.tick().await;
    let mut pong_due: Option<Instant> = None;
    let mut heard = false;
    loop {
        let deadline = pong_due.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = shutdown.changed() => {
                let _ = ws.close(None).await;
                return Ended::Stopped;
            }
            _ = ping.tick() => {
                if let Err(e) = ws.send(Message::text("PING")).await {
                    return Ended::Lost { error: format!("ping: {e}"), heard };
                }
                pong_due.get_or_insert(Instant::now() + cfg.pong_timeout);
            }
            () = tokio::time::sleep_until(deadline), if pong_due.is_some() => {
                return Ended::Lost { error: "no PONG in time".into(), heard };
            }
            msg = ws.next() => {
                let Some(inner) = weak.upgrade() else { return Ended::Stopped };
                match msg {
                    Some(Ok(Message::Text(t))) => {
                        heard = true;
                        if t.as_str() == "PONG" {
                            pong_due = None;
                        } else {
                            inner.on_frame(t.as_str());
                        }
                    }
                    Some(Ok(Message::Ping(p))) => {
                        let _ = ws.send(Message::Pong(p)).await;
                    }
                    Some(Ok(Message::Close(_))) | None => {
                        return Ended::Lost { error: "closed by the server".into(), heard };
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Ended::Lost { error: e.to_string(), heard },
                }
            }
        }
    }
}

pub(crate) async fn run(weak: Weak<Inner>, mut shutdown: watch::Receiver<bool>) {
    let Some(cfg) = weak.upgrade().map(|i| i.cfg.user_channel.clone()) else { return };
    let mut backoff = Backoff::new(cfg.backoff, rand::random());
    loop {
        let started = Instant::now();
        let ended = session(&weak, &mut shutdown).await;
        let Some(inner) = weak.upgrade() else { return };
        {
            let mut h = lock(&inner.user);
            h.connected = false;
            if let Ended::ConnectFailed(e) | Ended::Lost { error: e, .. } = &ended {
                h.last_error = Some(e.clone());
            }
        }
        drop(inner);
        let outcome = match ended {
            Ended::Stopped => return,
            Ended::ConnectFailed(_) => ConnectionOutcome::ConnectFailed,
            Ended::Lost { heard, .. } => ConnectionOutcome::Closed { open_for: started.elapsed(), delivered: heard },
        };
        backoff.connection_ended(outcome);
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}
