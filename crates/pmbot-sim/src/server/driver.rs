//! The simulator's heartbeat: steps the market source, the engine's timers
//! (GTD expiry, trade settlement, market close) and the order-safety
//! heartbeat watchdog, then publishes what changed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pmbot_core::{OrderId, TokenId};
use tokio::sync::watch;

use super::{Sim, SimState};
use crate::engine::{Address, BookView, Exchange, OrderRecord};
use crate::model::{ExchangeView, ModelAction};

/// Longest the driver sleeps, so timers (expiry, settlement, heartbeats) stay
/// timely even when the market source is idle.
const MAX_SLEEP_MS: i64 = 100;

impl ExchangeView for Exchange {
    fn book(&self, token: &TokenId) -> Option<BookView> {
        Exchange::book(self, token)
    }

    fn order(&self, id: &OrderId) -> Option<OrderRecord> {
        Exchange::order(self, id)
    }
}

/// One API key's order-safety heartbeat registration.
#[derive(Debug, Clone)]
struct Heartbeat {
    owner: Address,
    /// The id the next heartbeat must carry ("" after a legacy heartbeat).
    expected: String,
    last_ms: i64,
}

/// Heartbeats by API key: the exchange's dead-man switch.
///
/// Invariant: a key is watched from its first accepted heartbeat until its
/// deadline passes without another, when its owner's open orders are
/// cancelled and the key starts over (expecting ""). Each accepted heartbeat
/// must carry the id the previous one returned, and returns a fresh one.
///
/// Sources: the official TypeScript SDK (`@polymarket/client`,
/// `sendOrderHeartbeat`: "Start with an empty ID, serialize sends, and retain
/// each returned ID ... missing the ten-second deadline triggers cancellation
/// of this API key's orders ... Catch OrderHeartbeatMismatchError and
/// explicitly retry with its heartbeatId"; `sendLegacyOrderHeartbeat`: "Shares
/// the API key's registration ... and resets its expected ID to empty");
/// Polymarket/py-sdk's transport test: a refused heartbeat is HTTP 400
/// `{"error_msg": "Invalid Heartbeat ID", "heartbeat_id": "<expected id>"}`;
/// polymarket-protocol.md corrections 3 (restarting with null does not
/// recover). A fresh id per beat is what "retain each returned ID" implies;
/// the real ids are uuids, as the official Rust SDK parses them.
#[derive(Debug, Default)]
pub struct Heartbeats {
    by_key: BTreeMap<String, Heartbeat>,
    counter: u64,
}

/// The reply to a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeartbeatReply {
    /// Accepted; the id to send next time.
    Ok(String),
    /// The id sent is not the one expected (stale, made up, or "" while a
    /// registration runs): HTTP 400 naming the expected id.
    InvalidId { expected: String },
}

impl Heartbeats {
    /// A heartbeat from `api_key` carrying `sent` (`None` and `""` alike:
    /// what clients send first).
    pub fn beat(
        &mut self,
        api_key: &str,
        owner: Address,
        sent: Option<&str>,
        now_ms: i64,
        seed: u64,
    ) -> HeartbeatReply {
        let sent = sent.unwrap_or("");
        let expected = self.by_key.get(api_key).map_or("", |hb| hb.expected.as_str());
        if sent != expected {
            return HeartbeatReply::InvalidId { expected: expected.to_owned() };
        }
        self.counter += 1;
        let next = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("pmbot-sim heartbeat {seed} {api_key} {}", self.counter).as_bytes(),
        )
        .to_string();
        self.by_key.insert(api_key.to_owned(), Heartbeat { owner, expected: next.clone(), last_ms: now_ms });
        HeartbeatReply::Ok(next)
    }

    /// A legacy heartbeat (`POST /heartbeats`, no id): keeps the key watched
    /// and makes the next id-carrying heartbeat start from "".
    pub fn legacy(&mut self, api_key: &str, owner: Address, now_ms: i64) {
        self.by_key.insert(api_key.to_owned(), Heartbeat { owner, expected: String::new(), last_ms: now_ms });
    }

    /// Owners whose heartbeat is older than `timeout_ms`; they stop being
    /// watched (the next heartbeat starts again from "").
    pub fn expired(&mut self, now_ms: i64, timeout_ms: i64) -> Vec<Address> {
        let dead: Vec<String> =
            self.by_key.iter().filter(|(_, hb)| now_ms - hb.last_ms > timeout_ms).map(|(k, _)| k.clone()).collect();
        dead.into_iter().filter_map(|k| self.by_key.remove(&k)).map(|hb| hb.owner).collect()
    }
}

/// Applies a market source's actions to the engine and returns how many it
/// refused. Refusals are counted, not fatal: a source quoting into a market
/// that just closed is normal. Shared by the server's driver and the
/// in-process [`crate::generate`] stepper, so both run the same exchange.
pub(crate) fn apply_actions(exchange: &mut Exchange, actions: Vec<ModelAction>, now: i64) -> u64 {
    let mut rejects = 0;
    for action in actions {
        let ok = match action {
            ModelAction::List(spec) => exchange.list_market(spec, now).is_ok(),
            ModelAction::Fund { account, amount } => exchange.fund(account, amount).is_ok(),
            ModelAction::Place(order) => exchange.submit(order, now).is_ok(),
            ModelAction::Cancel { owner, ids } => {
                exchange.cancel(owner, &ids, now);
                true
            }
            ModelAction::Resolve { market, winning_token } => exchange.resolve(&market, &winning_token, now).is_ok(),
            ModelAction::Redeem { account, market } => exchange.redeem(account, &market).is_ok(),
        };
        if !ok {
            rejects += 1;
        }
    }
    rejects
}

fn apply(state: &SimState, sim: &mut Sim, actions: Vec<ModelAction>, now: i64) {
    let rejects = apply_actions(&mut sim.exchange, actions, now);
    state.stats.source_rejects.fetch_add(rejects, Ordering::Relaxed);
}

/// One step at the current time.
pub(super) fn step(state: &SimState) {
    let mut sim = state.lock();
    // Read the clock under the lock, so the engine's times never go back.
    let now = state.now_ms();
    let sim = &mut *sim;
    if !state.source_paused() {
        let actions = sim.source.step(now, &sim.exchange);
        apply(state, sim, actions, now);
    }
    sim.exchange.tick(now);
    let timeout = state.config.heartbeat_timeout_ms();
    for owner in sim.heartbeats.expired(now, timeout) {
        let out = sim.exchange.cancel_all(owner, now);
        if !out.canceled.is_empty() {
            state.stats.heartbeat_cancels.fetch_add(out.canceled.len() as u64, Ordering::Relaxed);
        }
    }
    let keep_ms = i64::try_from(state.config.keep_resolved.as_millis()).unwrap_or(i64::MAX);
    sim.exchange.prune_resolved(now.saturating_sub(keep_ms));
    let exchange = &sim.exchange;
    sim.tape.retain(|t| exchange.market_of_token(t).is_some());
    state.publish(sim);
}

/// Runs steps until `stop` turns true.
pub(super) async fn run(state: Arc<SimState>, mut stop: watch::Receiver<bool>) {
    loop {
        let now = state.now_ms();
        let next = state.lock().source.next_step_ms();
        let wait = (next - now).clamp(1, MAX_SLEEP_MS);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        step(&state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_ids_rotate_and_a_wrong_one_names_the_expected_id() {
        let mut hb = Heartbeats::default();
        let owner = Address::repeat_byte(7);
        let invalid = |e: &str| HeartbeatReply::InvalidId { expected: e.to_owned() };
        assert_eq!(hb.beat("k", owner, Some("made-up"), 500, 1), invalid(""), "nothing issued yet");
        let HeartbeatReply::Ok(first) = hb.beat("k", owner, None, 1_000, 1) else { panic!() };
        assert_eq!(hb.beat("k", owner, Some("nope"), 2_000, 1), invalid(&first));
        assert_eq!(hb.beat("k", owner, Some(""), 2_000, 1), invalid(&first), "restarting does not recover");
        let HeartbeatReply::Ok(second) = hb.beat("k", owner, Some(&first), 5_000, 1) else { panic!() };
        assert_ne!(second, first, "every beat returns a fresh id");
        assert_eq!(hb.beat("k", owner, Some(&first), 6_000, 1), invalid(&second), "the old id is stale");
        assert!(hb.expired(14_000, 10_000).is_empty(), "refused beats do not count, accepted ones do");
        assert_eq!(hb.expired(15_001, 10_000), vec![owner]);
        assert!(hb.expired(99_000, 10_000).is_empty(), "expired keys stop being watched");
        assert!(matches!(hb.beat("k", owner, Some(""), 99_000, 1), HeartbeatReply::Ok(_)), "and start over");
    }

    #[test]
    fn a_legacy_heartbeat_resets_the_expected_id() {
        let mut hb = Heartbeats::default();
        let owner = Address::repeat_byte(7);
        let HeartbeatReply::Ok(id) = hb.beat("k", owner, None, 0, 1) else { panic!() };
        hb.legacy("k", owner, 8_000);
        assert!(hb.expired(12_000, 10_000).is_empty(), "the legacy beat kept the key watched");
        assert_eq!(hb.beat("k", owner, Some(&id), 9_000, 1), HeartbeatReply::InvalidId { expected: String::new() });
        assert!(matches!(hb.beat("k", owner, None, 9_000, 1), HeartbeatReply::Ok(_)));
    }
}
