//! Engine rows: runs, decisions, trades, payouts, marks.

use pmbot_core::{ClientOrderId, Hash32, Size, TimestampMs, TokenId, Usdc};
use rust_decimal::Decimal;
use serde_json::json;

use super::Scratch;
use crate::journal::{
    DataSource, Decision, DecisionAction, EngineRow, Journal, JournalError, Mark, PayoutRow, RunMode, RunStart, Trade,
    config_hash,
};

fn start(source: DataSource) -> RunStart {
    RunStart {
        mode: RunMode::Paper,
        data_source: source,
        config: json!({"risk": {"capital_cap": "300"}}),
        model_fingerprint: "abc123".into(),
        model: json!({"horizon_ms": 30000}),
        pmbot_version: "0.1.0".into(),
        gate_override: None,
        started: TimestampMs::from_millis(1_000),
    }
}

fn trade(run: i64, cost: i64, proceeds: i64) -> Trade {
    Trade {
        run,
        market: Hash32([7; 32]),
        token: TokenId::parse("1001").unwrap(),
        entry_order: ClientOrderId::new("en-1").unwrap(),
        opened: TimestampMs::from_millis(2_000),
        closed: TimestampMs::from_millis(9_000),
        shares: Size::from_micros(10_000_000),
        cost: Usdc::from_micros(cost),
        proceeds: Usdc::from_micros(proceeds),
        fees: Usdc::from_micros(70_000),
        close_reason: "take_profit".into(),
        confidence: Some(Decimal::new(45, 2)),
        probability: Some(Decimal::new(725, 3)),
    }
}

#[test]
fn engine_rows_read_back_exactly_and_a_batch_is_all_or_nothing() {
    let scratch = Scratch::new("runs");
    let path = scratch.path("j.sqlite");
    let mut j = Journal::open(&path).unwrap();
    let run = j.start_run(&start(DataSource::Simulator)).unwrap();
    let decision = Decision {
        run,
        at: TimestampMs::from_millis(3_000),
        market: Hash32([7; 32]),
        up_token: TokenId::parse("1001").unwrap(),
        up_mid2_pips: Some(10_200),
        p_up: Some(Decimal::new(7, 1)),
        confidence: Some(Decimal::new(4, 1)),
        action: DecisionAction::Pass,
        reason: "no_edge".into(),
        client_order_id: None,
        detail: json!({"break_even": "0.52"}),
    };
    let mark = Mark {
        run,
        at: TimestampMs::from_millis(3_000),
        cash: Usdc::from_micros(295_000_000),
        positions: Usdc::from_micros(5_100_000),
        unredeemed: Usdc::from_micros(1_000_000),
        realised: Usdc::from_micros(-20_000),
        fees: Usdc::from_micros(70_000),
        open_positions: 1,
    };
    let payout = PayoutRow {
        run,
        market: Hash32([7; 32]),
        token: TokenId::parse("1001").unwrap(),
        shares: Size::from_micros(9_900_000),
        amount: Usdc::from_micros(9_900_000),
        at: TimestampMs::from_millis(10_000),
    };
    j.record_rows(&[
        EngineRow::Decision(decision.clone()),
        EngineRow::Mark(mark),
        EngineRow::Trade(trade(run, 5_070_000, 5_500_000)),
        EngineRow::Payout(payout.clone()),
    ])
    .unwrap();
    // A batch with a bad row (unknown run) writes nothing.
    let e = j.record_rows(&[EngineRow::Decision(decision.clone()), EngineRow::Trade(trade(run + 9, 1, 2))]);
    assert!(e.is_err());
    j.end_run(run, TimestampMs::from_millis(20_000), "duration").unwrap();
    assert!(j.end_run(run, TimestampMs::from_millis(21_000), "again").is_err());
    drop(j);

    let r = Journal::open_read_only(&path).unwrap();
    assert_eq!(r.decisions().unwrap(), vec![decision]);
    assert_eq!(r.marks().unwrap(), vec![mark]);
    assert_eq!(r.marks().unwrap()[0].equity(), Usdc::from_micros(300_100_000));
    let trades = r.trades().unwrap();
    assert_eq!(trades, vec![trade(run, 5_070_000, 5_500_000)]);
    assert_eq!(trades[0].pnl(), Usdc::from_micros(430_000));
    assert_eq!(r.payouts().unwrap(), vec![payout]);
    let runs = r.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].start, start(DataSource::Simulator));
    assert_eq!(runs[0].config_hash, config_hash(&start(DataSource::Simulator).config));
    assert_eq!(runs[0].end, Some((TimestampMs::from_millis(20_000), "duration".into())));
}

#[test]
fn engine_rows_are_append_only_and_a_run_needs_a_model() {
    let scratch = Scratch::new("runs-ro");
    let path = scratch.path("j.sqlite");
    let mut j = Journal::open(&path).unwrap();
    let mut bad = start(DataSource::LiveData);
    bad.model_fingerprint.clear();
    assert!(matches!(j.start_run(&bad), Err(JournalError::Invalid { .. })));
    let run = j.start_run(&start(DataSource::LiveData)).unwrap();
    j.record_rows(&[EngineRow::Trade(trade(run, 5, 4))]).unwrap();
    let conn = j.connection();
    assert!(conn.execute("UPDATE trades SET pnl_micros = 99", []).is_err());
    assert!(conn.execute("DELETE FROM runs", []).is_err());
    assert!(conn.execute("UPDATE runs SET data_source = 'live_data'", []).is_err());
}
