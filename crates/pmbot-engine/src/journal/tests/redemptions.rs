//! Redemptions in the journal: rows read back exactly, a market is
//! confirmed once (by the code and by the schema), and "resolved, not yet
//! redeemed" counts live payouts only, until their confirmation.

use alloy_primitives::B256;
use pmbot_core::{Hash32, Size, TimestampMs, TokenId, Usdc};
use pmbot_rows::{RedemptionLog, RedemptionLogError, RedemptionRow, RedemptionStatus, Via};
use serde_json::json;

use super::{Scratch, fill, market, order};
use crate::journal::{DataSource, EngineRow, Journal, JournalError, PayoutRow, RunMode, RunStart, Unredeemed};

fn run(j: &mut Journal, mode: RunMode) -> i64 {
    j.start_run(&RunStart {
        mode,
        data_source: DataSource::Simulator,
        config: json!({}),
        model_fingerprint: "m".into(),
        model: json!({}),
        pmbot_version: "test".into(),
        gate_override: None,
        started: TimestampMs::from_millis(1_000),
    })
    .unwrap()
}

fn payout(run: i64, market: Hash32, amount: i64, at: i64) -> EngineRow {
    EngineRow::Payout(PayoutRow {
        run,
        market,
        token: TokenId::parse("1001").unwrap(),
        shares: Size::from_micros(amount.unsigned_abs().max(1)),
        amount: Usdc::from_micros(amount),
        at: TimestampMs::from_millis(at),
    })
}

fn row(market: Hash32, status: RedemptionStatus, hash: Option<u8>, payout: Option<i64>) -> RedemptionRow {
    RedemptionRow {
        market,
        status,
        via: Via::Chain,
        tx_hash: hash.map(B256::repeat_byte),
        payout: payout.map(Usdc::from_micros),
        detail: json!({"shares": ["7000000", "3000000"]}),
        at: TimestampMs::from_millis(20_000),
    }
}

#[test]
fn live_payouts_are_owed_until_confirmed_once_and_paper_ones_never() {
    let s = Scratch::new("redemptions");
    let mut j = Journal::open(s.journal()).unwrap();
    let (paper_market, live_market) = (Hash32([7; 32]), Hash32([8; 32]));
    let paper = run(&mut j, RunMode::Paper);
    let live = run(&mut j, RunMode::Live);
    j.record_rows(&[payout(paper, paper_market, 5_000_000, 9_000), payout(live, live_market, 7_000_000, 10_000)])
        .unwrap();
    // Shares bought by an order no paper run placed (the gateway's own, as
    // `live` journals them) still wait on chain too.
    j.record_order(&order(1)).unwrap();
    j.record_fill(&fill(1, "t1", "10")).unwrap();

    let owed =
        Unredeemed { market: live_market, amount: Usdc::from_whole(7), resolved: TimestampMs::from_millis(10_000) };
    assert_eq!(j.unredeemed().unwrap(), [owed], "the paper payout was paid at resolution");
    let mut candidates = vec![market(), live_market];
    candidates.sort();
    assert_eq!(j.redemption_candidates().unwrap(), candidates);

    // Sent, then confirmed: no longer owed, no longer a candidate.
    let sent = row(live_market, RedemptionStatus::Sent, Some(1), Some(7_000_000));
    j.record_redemption(&sent).unwrap();
    assert_eq!(j.redemption_state(&live_market).unwrap().in_flight(), Some(&sent));
    assert_eq!(j.unredeemed().unwrap().len(), 1, "sent is not paid");
    let confirmed = row(live_market, RedemptionStatus::Confirmed, Some(1), Some(7_000_000));
    j.record_redemption(&confirmed).unwrap();
    assert_eq!(j.unredeemed().unwrap(), []);
    assert_eq!(j.redemption_candidates().unwrap(), [market()]);
    assert_eq!(j.redemptions().unwrap(), [sent, confirmed.clone()], "rows read back exactly");

    // A second confirmation is refused, through either door, and by SQLite.
    let again = row(live_market, RedemptionStatus::Confirmed, Some(2), Some(7_000_000));
    assert!(matches!(j.record_redemption(&again), Err(RedemptionLogError::AlreadyConfirmed(m)) if m == live_market));
    assert!(matches!(j.record_redemption_row(&again), Err(JournalError::Invalid { .. })));
    let raw = j.connection().execute(
        "INSERT INTO redemptions (market, status, via, tx_hash, payout_micros, detail_json, at_ms)
         VALUES (?1, 'confirmed', 'chain', NULL, 1, '{}', 1)",
        [live_market.to_string()],
    );
    assert!(raw.is_err(), "the unique index refuses a second confirmed row");
    assert!(j.connection().execute("UPDATE redemptions SET payout_micros = 0", []).is_err(), "append-only");
    assert_eq!(j.redemption_state(&live_market).unwrap().confirmed, Some(confirmed));
}
