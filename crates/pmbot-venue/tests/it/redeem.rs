//! One market's redemption against a scripted redeemer: every way an attempt
//! can end (mined, reverted, lost answer, crash between journal and send,
//! pending, shares gone), each followed by the next attempt, checking that
//! nothing already confirmed or in flight is sent again and that the
//! journal confirms a market once. Then the background scheduler through
//! an RPC outage, and the simulator client against a loopback stand-in of
//! `POST /_sim/redeem`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy_primitives::{Address, B256, U256};
use futures::future::BoxFuture;
use pmbot_core::{ConditionId, ManualClock, Size, Usdc};
use pmbot_venue::redeem::{
    ChainView, Holding, Inspection, MemoryRedemptionLog, PositionKind, RedeemConfig, RedeemError, RedeemOutcome,
    RedeemPlan, Redeemer, RedemptionLog, RedemptionScheduler, RedemptionStatus, Settlement, Signed, SimRedeemer,
    TxStatus, Via, redeem_market,
};

const MARKET: ConditionId = pmbot_core::Hash32([0x42; 32]);
const HOLDER: Address = Address::repeat_byte(0xab);

/// What the chain holds: 7 winning and 3 losing shares of a resolved market.
fn held() -> ChainView {
    ChainView {
        outcome_slots: U256::from(2u8),
        denominator: U256::from(1u8),
        numerators: [U256::from(1u8), U256::ZERO],
        standard: Holding {
            kind: PositionKind::Standard,
            position_ids: [U256::from(11u8), U256::from(22u8)],
            balances: [U256::from(7_000_000u64), U256::from(3_000_000u64)],
        },
        neg_risk: None,
    }
}

fn gone() -> ChainView {
    let mut v = held();
    v.standard.balances = [U256::ZERO; 2];
    v
}

fn mined(n: u8, payout: Option<i64>) -> Settlement {
    Settlement::Mined { tx_hash: B256::repeat_byte(n), block: Some(9), payout: payout.map(Usdc::from_micros) }
}

/// Scripted answers, in order, and a count of every call.
#[derive(Default)]
struct Script {
    inspect: VecDeque<Result<ChainView, RedeemError>>,
    submit: VecDeque<Result<Settlement, RedeemError>>,
    status: VecDeque<Result<TxStatus, RedeemError>>,
    signed: u8,
    submitted: Vec<B256>,
    looked_up: Vec<B256>,
}

#[derive(Default)]
struct Fake(Mutex<Script>);

impl Fake {
    fn with(f: impl FnOnce(&mut Script)) -> Fake {
        let fake = Fake::default();
        f(&mut fake.0.lock().unwrap());
        fake
    }
    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.0.lock().unwrap()
    }
}

impl Redeemer for Fake {
    fn via(&self) -> Via {
        Via::Chain
    }
    fn holder(&self) -> Address {
        HOLDER
    }
    fn inspect<'a>(&'a self, _: &'a ConditionId) -> BoxFuture<'a, Result<Inspection, RedeemError>> {
        let next = self.script().inspect.pop_front().expect("an unscripted inspect");
        Box::pin(async move { next.map(|v| Inspection::Chain(Box::new(v))) })
    }
    fn sign<'a>(
        &'a self,
        _: &'a ConditionId,
        plan: Option<&'a RedeemPlan>,
    ) -> BoxFuture<'a, Result<Signed, RedeemError>> {
        assert!(plan.is_some(), "a chain redemption is signed from a plan");
        let mut s = self.script();
        s.signed += 1;
        let hash = B256::repeat_byte(s.signed);
        Box::pin(async move { Ok(Signed { tx_hash: Some(hash), raw: vec![1, 2, 3] }) })
    }
    fn submit<'a>(&'a self, _: &'a ConditionId, signed: &'a Signed) -> BoxFuture<'a, Result<Settlement, RedeemError>> {
        let mut s = self.script();
        s.submitted.push(signed.tx_hash.unwrap());
        let next = s.submit.pop_front().expect("an unscripted submit");
        Box::pin(async move { next })
    }
    fn status(&self, hash: B256) -> BoxFuture<'_, Result<TxStatus, RedeemError>> {
        let mut s = self.script();
        s.looked_up.push(hash);
        let next = s.status.pop_front().expect("an unscripted status");
        Box::pin(async move { next })
    }
}

fn new_log() -> Arc<Mutex<MemoryRedemptionLog>> {
    Arc::new(Mutex::new(MemoryRedemptionLog::default()))
}

async fn run(fake: &Fake, log: &Arc<Mutex<MemoryRedemptionLog>>) -> Result<RedeemOutcome, RedeemError> {
    let clock = ManualClock::new(1_000);
    let shared: &Mutex<dyn RedemptionLog> = log.as_ref();
    redeem_market(fake, shared, &clock, &MARKET).await
}

fn statuses(log: &Arc<Mutex<MemoryRedemptionLog>>) -> Vec<(RedemptionStatus, Option<B256>, Option<Usdc>)> {
    log.lock().unwrap().rows.iter().map(|r| (r.status, r.tx_hash, r.payout)).collect()
}

#[tokio::test]
async fn mined_once_then_already_redeemed_without_sending() {
    let fake = Fake::with(|s| {
        s.inspect.push_back(Ok(held()));
        s.submit.push_back(Ok(mined(1, Some(7_000_000))));
    });
    let log = new_log();
    let out = run(&fake, &log).await.unwrap();
    let hash = B256::repeat_byte(1);
    assert_eq!(out, RedeemOutcome::Redeemed { tx_hash: Some(hash), payout: Usdc::from_whole(7) });
    let seven = Some(Usdc::from_whole(7));
    assert_eq!(
        statuses(&log),
        [(RedemptionStatus::Sent, Some(hash), seven), (RedemptionStatus::Confirmed, Some(hash), seven)],
        "the hash is journaled before the send, the payout once confirmed"
    );
    let again = run(&fake, &log).await.unwrap();
    assert_eq!(again, RedeemOutcome::AlreadyRedeemed { tx_hash: Some(hash), payout: Usdc::from_whole(7) });
    let s = fake.script();
    assert_eq!((s.signed, s.submitted.len(), s.looked_up.len()), (1, 1, 0), "nothing read, signed or sent again");
}

#[tokio::test]
async fn a_lost_answer_is_found_by_its_hash_not_sent_again() {
    let fake = Fake::with(|s| {
        s.inspect.push_back(Ok(held()));
        // The node took it, the answer never came (an RPC outage).
        s.submit.push_back(Err(RedeemError::Rpc("connection reset".into())));
        // Next attempt: still down, then mined.
        s.status.push_back(Err(RedeemError::Rpc("connection refused".into())));
        s.status.push_back(Ok(TxStatus::Settled(mined(1, Some(7_000_000)))));
    });
    let log = new_log();
    assert!(matches!(run(&fake, &log).await, Err(RedeemError::Rpc(_))));
    assert!(matches!(run(&fake, &log).await, Err(RedeemError::Rpc(_))), "the outage goes on");
    let out = run(&fake, &log).await.unwrap();
    assert_eq!(out, RedeemOutcome::Redeemed { tx_hash: Some(B256::repeat_byte(1)), payout: Usdc::from_whole(7) });
    let confirmed: Vec<_> = statuses(&log).into_iter().filter(|(s, _, _)| *s == RedemptionStatus::Confirmed).collect();
    assert_eq!(confirmed.len(), 1);
    let s = fake.script();
    assert_eq!((s.signed, s.submitted.len()), (1, 1), "one transaction, ever");
    assert_eq!(s.looked_up, [B256::repeat_byte(1); 2]);
}

#[tokio::test]
async fn a_sent_transaction_unknown_to_the_node_counts_when_the_shares_are_gone_else_is_replaced() {
    // Crash after journaling, the node never saw it, but the shares went
    // (another node mined it): confirmed at the payout it was sent for.
    let fake = Fake::with(|s| {
        s.inspect.push_back(Ok(held()));
        s.submit.push_back(Err(RedeemError::Rpc("killed".into())));
        s.status.push_back(Ok(TxStatus::Unknown));
        s.inspect.push_back(Ok(gone()));
    });
    let log = new_log();
    let _ = run(&fake, &log).await;
    let out = run(&fake, &log).await.unwrap();
    assert_eq!(out, RedeemOutcome::Redeemed { tx_hash: Some(B256::repeat_byte(1)), payout: Usdc::from_whole(7) });
    assert_eq!(fake.script().signed, 1);

    // Never arrived and the shares are still there: a new transaction.
    let fake = Fake::with(|s| {
        s.inspect.push_back(Ok(held()));
        s.submit.push_back(Err(RedeemError::Rpc("killed".into())));
        s.status.push_back(Ok(TxStatus::Unknown));
        s.inspect.push_back(Ok(held()));
        s.submit.push_back(Ok(mined(2, None)));
    });
    let log = new_log();
    let _ = run(&fake, &log).await;
    let out = run(&fake, &log).await.unwrap();
    // No event in the receipt: the payout the shares were worth.
    assert_eq!(out, RedeemOutcome::Redeemed { tx_hash: Some(B256::repeat_byte(2)), payout: Usdc::from_whole(7) });
    let s = fake.script();
    assert_eq!(s.submitted, [B256::repeat_byte(1), B256::repeat_byte(2)]);
}

#[tokio::test]
async fn pending_waits_reverted_fails_and_then_a_fresh_attempt_goes() {
    let fake = Fake::with(|s| {
        s.inspect.push_back(Ok(held()));
        s.submit.push_back(Err(RedeemError::Rpc("no receipt within 120s".into())));
        s.status.push_back(Ok(TxStatus::Pending));
        s.status.push_back(Ok(TxStatus::Settled(Settlement::Reverted { tx_hash: B256::repeat_byte(1) })));
        s.inspect.push_back(Ok(held()));
        s.submit.push_back(Ok(mined(2, Some(7_000_000))));
    });
    let log = new_log();
    let _ = run(&fake, &log).await;
    let pending = run(&fake, &log).await;
    assert_eq!(pending, Err(RedeemError::Pending(B256::repeat_byte(1))));
    assert!(pending.unwrap_err().is_retryable());
    assert_eq!(fake.script().signed, 1, "a pending transaction is not doubled");
    assert_eq!(run(&fake, &log).await, Err(RedeemError::Reverted(B256::repeat_byte(1))));
    assert_eq!(statuses(&log).last().unwrap().0, RedemptionStatus::Failed);
    assert!(matches!(run(&fake, &log).await, Ok(RedeemOutcome::Redeemed { .. })));
}

#[tokio::test]
async fn nothing_is_sent_unless_the_hash_is_journaled_first() {
    let fake = Fake::with(|s| s.inspect.push_back(Ok(held())));
    let log = new_log();
    log.lock().unwrap().fail_writes = true;
    assert!(matches!(run(&fake, &log).await, Err(RedeemError::Journal(_))));
    assert!(fake.script().submitted.is_empty(), "the journal refused: nothing left the machine");
}

#[tokio::test]
async fn unresolved_and_empty_markets_write_nothing() {
    let mut unresolved = held();
    unresolved.denominator = U256::ZERO;
    let fake = Fake::with(|s| {
        s.inspect.push_back(Ok(unresolved));
        s.inspect.push_back(Ok(gone()));
    });
    let log = new_log();
    assert_eq!(run(&fake, &log).await, Ok(RedeemOutcome::NotResolved));
    assert_eq!(run(&fake, &log).await, Ok(RedeemOutcome::NothingHeld));
    assert!(statuses(&log).is_empty());
    assert_eq!(fake.script().signed, 0);
}

#[tokio::test]
async fn the_scheduler_rides_out_an_rpc_outage_and_confirms_once() {
    let fake = Arc::new(Fake::with(|s| {
        s.inspect.push_back(Err(RedeemError::Rpc("down".into())));
        s.inspect.push_back(Ok(held()));
        s.submit.push_back(Err(RedeemError::Rpc("down again".into())));
        s.status.push_back(Ok(TxStatus::Settled(mined(1, Some(7_000_000)))));
    }));
    let log = new_log();
    let cfg = RedeemConfig {
        retry_initial: Duration::from_millis(20),
        retry_max: Duration::from_millis(40),
        ..RedeemConfig::default()
    };
    let clock = Arc::new(ManualClock::new(0));
    let (scheduler, mut reports) = RedemptionScheduler::start(fake.clone(), log.clone(), clock, cfg);
    scheduler.request(MARKET);
    scheduler.request(MARKET); // asked twice while pending: redeemed once
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen.len() < 3 {
        let report = tokio::time::timeout_at(deadline, reports.recv()).await.expect("reports in time").unwrap();
        seen.push(report);
    }
    assert_eq!(seen.iter().map(|r| r.attempt).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(seen[0].result.is_err() && seen[0].retry_in == Some(Duration::from_millis(20)));
    assert!(seen[1].result.is_err() && seen[1].retry_in == Some(Duration::from_millis(40)), "backoff doubles");
    assert!(matches!(seen[2].result, Ok(RedeemOutcome::Redeemed { .. })) && seen[2].retry_in.is_none());
    // Nothing more comes for this market.
    assert!(tokio::time::timeout(Duration::from_millis(200), reports.recv()).await.is_err());
    scheduler.stop();
    let confirmed = statuses(&log).iter().filter(|(s, _, _)| *s == RedemptionStatus::Confirmed).count();
    assert_eq!(confirmed, 1);
    assert_eq!(fake.script().submitted.len(), 1);
}

/// A loopback stand-in of the simulator's endpoint, recording each body.
async fn fake_sim(answers: Vec<(u16, &'static str)>) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    use axum::routing::post;
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
    let (b, a) = (bodies.clone(), answers.clone());
    let app = axum::Router::new().route(
        "/_sim/redeem",
        post(move |body: axum::body::Bytes| {
            let (b, a) = (b.clone(), a.clone());
            async move {
                b.lock().unwrap().push(serde_json::from_slice::<serde_json::Value>(&body).unwrap());
                let (status, text) = a.lock().unwrap().pop_front().unwrap();
                (axum::http::StatusCode::from_u16(status).unwrap(), text)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, bodies)
}

#[tokio::test]
async fn the_simulator_is_asked_with_the_documented_body_and_its_answers_read_exactly() {
    let (url, bodies) = fake_sim(vec![
        (400, r#"{"error":"market not resolved"}"#),
        (200, r#"{"address":"0xab","condition_id":"0x42","payout":"7","winning_burned":"7","losing_burned":"3","balance":"1007"}"#),
        (200, r#"{"payout":"0","winning_burned":"0","losing_burned":"0"}"#),
        (503, "busy"),
    ])
    .await;
    let sim = SimRedeemer::new(&url, HOLDER, Duration::from_secs(2)).unwrap();
    let log = new_log();
    let clock = ManualClock::new(5);
    let shared: &Mutex<dyn RedemptionLog> = log.as_ref();
    let refused = redeem_market(&sim, shared, &clock, &MARKET).await;
    assert_eq!(refused, Err(RedeemError::Simulator("market not resolved".into())));
    let out = redeem_market(&sim, shared, &clock, &MARKET).await.unwrap();
    assert_eq!(out, RedeemOutcome::Redeemed { tx_hash: None, payout: Usdc::from_whole(7) });
    let rows = log.lock().unwrap().rows.clone();
    assert_eq!(rows.len(), 1, "no hash to journal first: one confirmed row");
    assert_eq!((rows[0].status, rows[0].via, rows[0].tx_hash), (RedemptionStatus::Confirmed, Via::Simulator, None));
    assert_eq!(rows[0].detail["winning_burned"], "7");
    assert_eq!(rows[0].detail["losing_burned"], Size::from_shares(3).to_string());
    // Confirmed in the journal: the simulator is not asked again.
    let again = redeem_market(&sim, shared, &clock, &MARKET).await.unwrap();
    assert!(matches!(again, RedeemOutcome::AlreadyRedeemed { .. }));
    // A fresh journal: the simulator says nothing was held; a 503 is retryable.
    let other = new_log();
    let shared: &Mutex<dyn RedemptionLog> = other.as_ref();
    assert_eq!(redeem_market(&sim, shared, &clock, &MARKET).await, Ok(RedeemOutcome::NothingHeld));
    let busy = redeem_market(&sim, shared, &clock, &MARKET).await.unwrap_err();
    assert!(busy.is_retryable(), "{busy}");
    let sent = bodies.lock().unwrap().clone();
    let want = serde_json::json!({"address": format!("{HOLDER:#x}"), "condition_id": MARKET.to_string()});
    assert_eq!(sent.len(), 4);
    assert!(sent.iter().all(|b| *b == want), "{sent:?}");
    assert_eq!(sim.body(&MARKET), want);
}
