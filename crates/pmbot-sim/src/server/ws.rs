//! The market and user WebSocket channels (`/ws/market`, `/ws/user`).
//!
//! Protocol (polymarket-protocol.md §5): the client's first text message
//! subscribes (`{"assets_ids":[..],"type":"market",...}` or, for the user
//! channel, `{"auth":{..},"markets":[..],"type":"user"}`); later messages carry
//! `operation: subscribe|unsubscribe`. The client sends the text `PING` and the
//! server answers `PONG`. A subscription sends each newly subscribed book as a
//! `book` snapshot (`initial_dump`, default true) in one array frame; later
//! frames are single objects. A client too slow to keep up is disconnected
//! rather than silently skipped, so it knows to resync.
//!
//! A connection that enabled custom features also gets the plain-text frame
//! `NO NEW ASSETS` every `[sim] no_new_assets_every` (the real channel sends
//! it "periodically" to clients subscribed to new-market discovery; like
//! `PONG` it is control, not JSON: polymarket-protocol.md corrections 4,
//! NautilusTrader `websocket/handler.rs` `parse_messages`).
//!
//! Every outgoing frame passes the connection's fault plan, which may drop the
//! connection, stall it, corrupt or reorder frames.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use pmbot_core::{ConditionId, TokenId};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use super::SimState;
use super::wire;
use crate::faults::{WsConnFaults, WsOutput};

pub async fn market_ws(ws: WebSocketUpgrade, State(state): State<Arc<SimState>>) -> Response {
    ws.on_upgrade(move |socket| market_conn(socket, state))
}

pub async fn user_ws(ws: WebSocketUpgrade, State(state): State<Arc<SimState>>) -> Response {
    ws.on_upgrade(move |socket| user_conn(socket, state))
}

/// A subscription message of either channel. Fields the simulator does not
/// use are accepted and ignored, as the real server does.
#[derive(Debug, Deserialize)]
struct SubscriptionMsg {
    #[serde(default, rename = "type")]
    channel: Option<String>,
    #[serde(default)]
    operation: Option<String>,
    #[serde(default, alias = "asset_ids")]
    assets_ids: Vec<Value>,
    #[serde(default)]
    markets: Vec<String>,
    #[serde(default)]
    initial_dump: Option<bool>,
    #[serde(default)]
    custom_feature_enabled: Option<bool>,
    #[serde(default)]
    auth: Option<WsAuth>,
}

#[derive(Debug, Deserialize)]
struct WsAuth {
    #[serde(rename = "apiKey", alias = "api_key")]
    api_key: String,
    secret: String,
    passphrase: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Subscribe,
    Unsubscribe,
}

fn op_of(msg: &SubscriptionMsg) -> Result<Op, ()> {
    match msg.operation.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("subscribe") => Ok(Op::Subscribe),
        Some("unsubscribe") => Ok(Op::Unsubscribe),
        Some(_) => Err(()),
    }
}

/// Token ids from `assets_ids`, which clients send as strings (or numbers);
/// anything that is not a decimal uint256 is ignored, as unknown ids are.
fn token_ids(values: &[Value]) -> Vec<TokenId> {
    values
        .iter()
        .filter_map(|v| match v {
            Value::String(s) => TokenId::parse(s).ok(),
            Value::Number(n) => TokenId::parse(&n.to_string()).ok(),
            _ => None,
        })
        .collect()
}

type Sink = SplitSink<WebSocket, Message>;

/// The plain-text frame the market channel sends to clients that enabled
/// custom features.
pub const NO_NEW_ASSETS: &str = "NO NEW ASSETS";

/// Waits for the next `NO NEW ASSETS` tick; forever while there is none.
async fn next_control_tick(timer: &mut Option<tokio::time::Interval>) {
    match timer {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// What a client's message asked for, once PINGs and bad requests are dealt with.
enum Incoming {
    /// A subscription request for this channel.
    Request(SubscriptionMsg, Op),
    /// A PING (answered unless stalled) or a bad request (answered with
    /// `INVALID OPERATION`); nothing more to do.
    Handled,
    /// The client went away or sending failed.
    Closed,
}

/// Reads one client message of the `channel` ("market" or "user") channel.
async fn request(
    incoming: Option<Result<Message, axum::Error>>,
    sink: &mut Sink,
    faults: &mut WsConnFaults,
    state: &SimState,
    channel: &str,
) -> Incoming {
    let text = match incoming {
        Some(Ok(Message::Text(t))) => t.to_string(),
        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Incoming::Closed,
        Some(Ok(_)) => return Incoming::Handled,
    };
    let reply = if text.trim() == "PING" {
        faults.answers_ping(state.now_ms()).then_some("PONG")
    } else {
        match serde_json::from_str::<SubscriptionMsg>(&text) {
            Ok(msg) => match op_of(&msg) {
                Ok(op) if msg.channel.as_deref().is_none_or(|c| c.eq_ignore_ascii_case(channel)) => {
                    return Incoming::Request(msg, op);
                }
                _ => Some("INVALID OPERATION"),
            },
            Err(_) => Some("INVALID OPERATION"),
        }
    };
    match reply {
        Some(r) if sink.send(Message::Text(r.into())).await.is_err() => Incoming::Closed,
        _ => Incoming::Handled,
    }
}

/// Sends `text` through the connection's fault plan. `Err` means the
/// connection is to be closed (a fault, or the client went away).
async fn send_faulty(sink: &mut Sink, faults: &mut WsConnFaults, now_ms: i64, text: String) -> Result<(), ()> {
    for out in faults.on_send(now_ms, text) {
        match out {
            WsOutput::Send(frame) => sink.send(Message::Text(frame.into())).await.map_err(|_| ())?,
            WsOutput::Close => return Err(()),
        }
    }
    Ok(())
}

async fn market_conn(socket: WebSocket, state: Arc<SimState>) {
    state.stats.ws_connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut rx = state.market_tx.subscribe();
    let mut faults = state.ws_faults();
    let (mut sink, mut stream) = socket.split();
    let mut subs: BTreeSet<TokenId> = BTreeSet::new();
    let mut custom = false;
    let every = state.config.no_new_assets_every;
    let mut no_new_assets: Option<tokio::time::Interval> = None;
    loop {
        tokio::select! {
            () = next_control_tick(&mut no_new_assets) => {
                // A stalled connection sends nothing; otherwise the frame goes
                // out as it is (the fault plan corrupts and counts data frames).
                if faults.is_stalled(state.now_ms()) { continue; }
                if sink.send(Message::Text(NO_NEW_ASSETS.into())).await.is_err() { break; }
            }
            incoming = stream.next() => {
                let (msg, op) = match request(incoming, &mut sink, &mut faults, &state, "market").await {
                    Incoming::Request(msg, op) => (msg, op),
                    Incoming::Handled => continue,
                    Incoming::Closed => break,
                };
                let now = state.now_ms();
                if let Some(c) = msg.custom_feature_enabled {
                    custom = custom || c;
                }
                if custom && no_new_assets.is_none() && !every.is_zero() {
                    let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    no_new_assets = Some(timer);
                }
                let ids = token_ids(&msg.assets_ids);
                match op {
                    Op::Unsubscribe => {
                        for id in &ids {
                            subs.remove(id);
                        }
                    }
                    Op::Subscribe => {
                        let fresh: Vec<TokenId> = ids.into_iter().filter(|id| subs.insert(id.clone())).collect();
                        if msg.initial_dump.unwrap_or(true) && !fresh.is_empty() {
                            let dump = state.book_dump(&fresh);
                            if !dump.is_empty() {
                                let text = Value::Array(dump).to_string();
                                if send_faulty(&mut sink, &mut faults, now, text).await.is_err() { break; }
                            }
                        }
                    }
                }
            }
            frame = rx.recv() => {
                match frame {
                    Ok(f) => {
                        if (f.custom && !custom) || !(f.to_all || f.assets.iter().any(|a| subs.contains(a))) {
                            continue;
                        }
                        let now = state.now_ms();
                        if send_faulty(&mut sink, &mut faults, now, f.text.to_string()).await.is_err() { break; }
                    }
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => break,
                }
            }
        }
    }
}

async fn user_conn(socket: WebSocket, state: Arc<SimState>) {
    let mut rx = state.user_tx.subscribe();
    let mut faults = state.ws_faults();
    let (mut sink, mut stream) = socket.split();
    let mut owner = None;
    let mut markets: BTreeSet<ConditionId> = BTreeSet::new();
    let mut all_markets = false;
    loop {
        tokio::select! {
            incoming = stream.next() => {
                let (msg, op) = match request(incoming, &mut sink, &mut faults, &state, "user").await {
                    Incoming::Request(msg, op) => (msg, op),
                    Incoming::Handled => continue,
                    Incoming::Closed => break,
                };
                if let Some(auth) = &msg.auth {
                    match state.ws_user_auth(&auth.api_key, &auth.secret, &auth.passphrase) {
                        Some(addr) => owner = Some(addr),
                        None => {
                            // Bad credentials: the real server refuses the subscription.
                            let _ = sink.send(Message::Text("INVALID AUTH".into())).await;
                            break;
                        }
                    }
                }
                if owner.is_none() {
                    let _ = sink.send(Message::Text("INVALID AUTH".into())).await;
                    break;
                }
                let ids: Vec<ConditionId> = msg.markets.iter().filter_map(|m| ConditionId::parse(m).ok()).collect();
                match op {
                    Op::Subscribe if ids.is_empty() && msg.markets.is_empty() => all_markets = true,
                    Op::Subscribe => markets.extend(ids),
                    Op::Unsubscribe => {
                        for id in &ids {
                            markets.remove(id);
                        }
                    }
                }
            }
            frame = rx.recv() => {
                match frame {
                    Ok(f) => {
                        let wanted = owner == Some(f.owner) && (all_markets || markets.contains(&f.market));
                        if !wanted { continue; }
                        let now = state.now_ms();
                        if send_faulty(&mut sink, &mut faults, now, f.text.to_string()).await.is_err() { break; }
                    }
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => break,
                }
            }
        }
    }
}

/// Book snapshots for a subscription's initial dump.
pub(super) fn dump_books(exchange: &crate::engine::Exchange, ids: &[TokenId]) -> Vec<Value> {
    ids.iter().filter_map(|id| exchange.book(id)).map(|v| wire::ws_book(&v)).collect()
}
