//! Per-connection WebSocket faults.
//!
//! Invariant: once [`WsConnFaults::on_send`] has returned [`WsOutput::Close`]
//! the connection is finished: every later call returns nothing and
//! `answers_ping` is false. At most one frame is held back for
//! `ws-out-of-order` at a time, and it is released by the next frame sent
//! (a held frame is lost if the connection closes first).
//!
//! What happens to one frame, in order: dropped if the connection is stalled;
//! maybe corrupted (`ws-malformed`); held, or released together with the held
//! one (`ws-out-of-order`); then for each frame to go out, `ws-drop` may close
//! the connection instead of sending it, and `ws-drop-every` closes it right
//! after the N-th frame sent.

use std::sync::Arc;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::FaultKind;
use super::injector::Shared;
use super::malform::{Corruption, corrupt};
use super::spec::FaultSpec;

/// One thing the server should do on the socket, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsOutput {
    /// Send this text frame.
    Send(String),
    /// Close the connection (an abrupt drop: no close frame is required).
    Close,
}

/// The fault state of one WebSocket connection. Owned by the task that
/// writes to the socket; obtained from [`FaultInjector::ws_connection`](super::FaultInjector::ws_connection).
#[derive(Debug)]
pub struct WsConnFaults {
    shared: Arc<Shared>,
    spec: Arc<FaultSpec>,
    generation: u64,
    index: u64,
    rng: ChaCha8Rng,
    opened_ms: i64,
    sent: u64,
    held: Option<String>,
    closed: bool,
    last_corruption: Option<Corruption>,
}

impl WsConnFaults {
    pub(super) fn new(shared: Arc<Shared>, index: u64, rng: ChaCha8Rng, opened_ms: i64) -> Self {
        let (spec, generation) = shared.current_spec();
        WsConnFaults {
            shared,
            spec,
            generation,
            index,
            rng,
            opened_ms,
            sent: 0,
            held: None,
            closed: false,
            last_corruption: None,
        }
    }

    /// 0-based order in which this connection was opened on its injector.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Frames actually handed out with [`WsOutput::Send`].
    pub fn frames_sent(&self) -> u64 {
        self.sent
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// How the most recent corrupted frame was corrupted, if any was.
    pub fn last_corruption(&self) -> Option<Corruption> {
        self.last_corruption
    }

    /// Whether `now_ms` falls in a stall. Before the connection opened (a
    /// clock stepping back) counts as not stalled.
    pub fn is_stalled(&mut self, now_ms: i64) -> bool {
        self.refresh_spec();
        self.stalled_at(now_ms)
    }

    fn stalled_at(&self, now_ms: i64) -> bool {
        let Some(stall) = self.spec.ws_stall else {
            return false;
        };
        u64::try_from(now_ms - self.opened_ms).is_ok_and(|elapsed| stall.is_stalled_at(elapsed))
    }

    fn refresh_spec(&mut self) {
        if self.shared.generation() != self.generation {
            (self.spec, self.generation) = self.shared.current_spec();
        }
    }

    fn bump(&self, kind: FaultKind) {
        self.shared.counters.bump(kind);
    }

    /// Whether the server should answer a client `PING` received at `now_ms`
    /// with `PONG`: not while stalled, not once closed.
    pub fn answers_ping(&mut self, now_ms: i64) -> bool {
        if self.closed {
            return false;
        }
        self.refresh_spec();
        if self.stalled_at(now_ms) {
            self.bump(FaultKind::WsStall);
            return false;
        }
        true
    }

    /// The server wants to send `frame` at `now_ms`: returns what to actually
    /// do, in order (possibly nothing).
    pub fn on_send(&mut self, now_ms: i64, frame: String) -> Vec<WsOutput> {
        if self.closed {
            return Vec::new();
        }
        self.refresh_spec();
        let spec = Arc::clone(&self.spec);

        if self.stalled_at(now_ms) {
            self.bump(FaultKind::WsStall);
            return Vec::new();
        }

        let mut frame = frame;
        if let Some(p) = spec.ws_malformed
            && self.rng.random_bool(p.get())
        {
            let (how, corrupted) = corrupt(&frame, &mut self.rng);
            self.last_corruption = Some(how);
            frame = corrupted;
            self.bump(FaultKind::WsMalformed);
        }

        let ready = match self.held.take() {
            Some(held) => vec![frame, held],
            None => {
                if let Some(p) = spec.ws_out_of_order
                    && self.rng.random_bool(p.get())
                {
                    self.held = Some(frame);
                    self.bump(FaultKind::WsOutOfOrder);
                    return Vec::new();
                }
                vec![frame]
            }
        };

        let mut out = Vec::with_capacity(ready.len() + 1);
        for frame in ready {
            if let Some(p) = spec.ws_drop
                && self.rng.random_bool(p.get())
            {
                self.bump(FaultKind::WsDrop);
                return self.close(out);
            }
            out.push(WsOutput::Send(frame));
            self.sent += 1;
            if let Some(n) = spec.ws_drop_every
                && self.sent.is_multiple_of(n.get())
            {
                self.bump(FaultKind::WsDropEvery);
                return self.close(out);
            }
        }
        out
    }

    fn close(&mut self, mut out: Vec<WsOutput>) -> Vec<WsOutput> {
        self.closed = true;
        self.held = None;
        out.push(WsOutput::Close);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::FaultInjector;

    const FRAME: &str = r#"{"event_type":"book","asset_id":"1","market":"0xabc","bids":[{"price":"0.48","size":"30"}],"asks":[],"timestamp":"1","hash":"0x1"}"#;

    fn injector(spec: &str, seed: u64) -> FaultInjector {
        FaultInjector::new(spec.parse().unwrap(), seed)
    }

    fn numbered(i: u64) -> String {
        format!(r#"{{"n":{i}}}"#)
    }

    fn sends(out: &[WsOutput]) -> Vec<&str> {
        out.iter()
            .filter_map(|o| match o {
                WsOutput::Send(s) => Some(s.as_str()),
                WsOutput::Close => None,
            })
            .collect()
    }

    /// Same bound as the REST tests: within 5 standard deviations.
    fn assert_rate(hits: u64, trials: u64, p: f64) {
        let n = trials as f64;
        let (mean, sd) = (n * p, (n * p * (1.0 - p)).sqrt());
        assert!((hits as f64 - mean).abs() <= 5.0 * sd, "{hits} of {trials}, expected {mean} ± {:.0}", 5.0 * sd);
    }

    #[test]
    fn no_faults_passes_frames_through() {
        let inj = FaultInjector::new(FaultSpec::none(), 1);
        let mut conn = inj.ws_connection(0);
        for i in 0..1_000 {
            assert_eq!(conn.on_send(i, numbered(i as u64)), vec![WsOutput::Send(numbered(i as u64))]);
            assert!(conn.answers_ping(i));
        }
        assert_eq!(conn.frames_sent(), 1_000);
        assert_eq!(inj.counts().total(), 0);
    }

    #[test]
    fn drop_every_closes_after_exactly_n_sends() {
        let inj = injector("ws-drop-every=3", 1);
        for connection in 0..4 {
            let mut conn = inj.ws_connection(0);
            assert_eq!(conn.index(), connection);
            assert_eq!(conn.on_send(1, numbered(1)), vec![WsOutput::Send(numbered(1))]);
            assert_eq!(conn.on_send(2, numbered(2)), vec![WsOutput::Send(numbered(2))]);
            assert_eq!(conn.on_send(3, numbered(3)), vec![WsOutput::Send(numbered(3)), WsOutput::Close]);
            assert!(conn.is_closed());
            assert_eq!(conn.on_send(4, numbered(4)), vec![]);
            assert!(!conn.answers_ping(4));
            assert_eq!(conn.frames_sent(), 3);
        }
        assert_eq!(inj.counts().get(FaultKind::WsDropEvery), 4);
    }

    #[test]
    fn drop_with_probability_closes_instead_of_sending() {
        let inj = injector("ws-drop=0.05", 3);
        let (mut frames, mut closes) = (0u64, 0u64);
        while frames < 10_000 {
            let mut conn = inj.ws_connection(0);
            loop {
                frames += 1;
                let out = conn.on_send(0, numbered(frames));
                match out.as_slice() {
                    [WsOutput::Send(_)] => {}
                    [WsOutput::Close] => {
                        closes += 1;
                        break;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        // Each frame closes the connection with probability 0.05.
        assert_rate(closes, frames, 0.05);
        assert_eq!(inj.counts().get(FaultKind::WsDrop), closes);
    }

    #[test]
    fn stall_is_silent_for_its_window_each_period() {
        let inj = injector("ws-stall=30s/5s", 1);
        let opened = 1_000_000;
        let mut conn = inj.ws_connection(opened);
        let mut stalled_frames = 0;
        // One frame and one PING per 100 ms for three periods.
        for step in 0..900 {
            let t = opened + step * 100;
            let in_stall = (step * 100) % 30_000 >= 25_000;
            let out = conn.on_send(t, numbered(step as u64));
            assert_eq!(out.is_empty(), in_stall, "t+{} ms", step * 100);
            assert_eq!(conn.answers_ping(t), !in_stall, "t+{} ms", step * 100);
            assert!(!conn.is_closed());
            stalled_frames += u64::from(in_stall);
        }
        // 5 s of every 30 s: 50 frames per period.
        assert_eq!(stalled_frames, 150);
        // Each withheld frame and each unanswered PING counts.
        assert_eq!(inj.counts().get(FaultKind::WsStall), 300);
        // The schedule is anchored at this connection's open time.
        let mut late = inj.ws_connection(opened + 26_000);
        assert!(late.answers_ping(opened + 26_000));
        assert!(!late.answers_ping(opened + 26_000 + 25_000));
        assert!(!late.is_stalled(opened - 1));
    }

    #[test]
    fn malformed_replaces_frames_at_rate() {
        let inj = injector("ws-malformed=0.05", 11);
        let mut conn = inj.ws_connection(0);
        let mut bad = 0;
        for i in 0..10_000 {
            let out = conn.on_send(i, FRAME.to_string());
            let [WsOutput::Send(sent)] = out.as_slice() else {
                panic!("unexpected {out:?}");
            };
            if sent != FRAME {
                bad += 1;
                assert!(conn.last_corruption().is_some());
                let still_valid: Result<serde_json::Value, _> = serde_json::from_str(sent);
                if conn.last_corruption() != Some(Corruption::WrongType) {
                    assert!(still_valid.is_err(), "{sent}");
                }
            }
        }
        assert_rate(bad, 10_000, 0.05);
        assert_eq!(inj.counts().get(FaultKind::WsMalformed), bad);
    }

    #[test]
    fn out_of_order_holds_one_frame_until_the_next() {
        let inj = injector("ws-out-of-order=0.05", 5);
        let mut conn = inj.ws_connection(0);
        let mut delivered: Vec<u64> = Vec::new();
        for i in 0..10_000u64 {
            for s in sends(&conn.on_send(0, numbered(i))) {
                let v: serde_json::Value = serde_json::from_str(s).unwrap();
                delivered.push(v["n"].as_u64().unwrap());
            }
        }
        let held = inj.counts().get(FaultKind::WsOutOfOrder);
        // A frame is only held when none is: the rate is p / (1 + p) per frame.
        assert_rate(held, 10_000, 0.05 / 1.05);
        // Every frame but a possibly still-held last one arrives exactly once.
        let last_held = delivered.len() == 9_999;
        assert!(delivered.len() == 10_000 || last_held);
        let mut sorted = delivered.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), delivered.len());
        // Each held frame arrives right after its successor: exactly `held`
        // adjacent swaps (minus one if the last frame is still held).
        let swaps = delivered.windows(2).filter(|w| w[0] > w[1]).count() as u64;
        assert_eq!(swaps + u64::from(last_held), held);
        for w in delivered.windows(2).filter(|w| w[0] > w[1]) {
            assert_eq!(w[0], w[1] + 1);
        }
    }

    #[test]
    fn set_spec_reaches_open_connections() {
        let inj = FaultInjector::new(FaultSpec::none(), 1);
        let mut conn = inj.ws_connection(0);
        assert_eq!(conn.on_send(0, numbered(0)).len(), 1);
        inj.set_spec("ws-drop=1".parse().unwrap());
        assert_eq!(conn.on_send(1, numbered(1)), vec![WsOutput::Close]);
    }

    #[test]
    fn connections_are_reproducible_per_seed() {
        let transcript = |seed: u64| {
            let inj = injector("ws-malformed=0.2,ws-out-of-order=0.2,ws-drop=0.01", seed);
            let mut all = Vec::new();
            for _ in 0..3 {
                let mut conn = inj.ws_connection(0);
                for i in 0..300 {
                    all.push(conn.on_send(i, FRAME.to_string()));
                }
            }
            all
        };
        assert_eq!(transcript(7), transcript(7));
        assert_ne!(transcript(7), transcript(8));

        // A connection's faults do not depend on what other connections did.
        let inj_a = injector("ws-malformed=0.5", 7);
        let inj_b = injector("ws-malformed=0.5", 7);
        let mut a0 = inj_a.ws_connection(0);
        let mut a1 = inj_a.ws_connection(0);
        let _b0 = inj_b.ws_connection(0);
        let mut b1 = inj_b.ws_connection(0);
        for i in 0..50 {
            a0.on_send(i, FRAME.to_string());
        }
        for i in 0..50 {
            assert_eq!(a1.on_send(i, FRAME.to_string()), b1.on_send(i, FRAME.to_string()));
        }
    }
}
