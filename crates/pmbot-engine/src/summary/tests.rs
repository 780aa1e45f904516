//! The summary against a journal written through the journal's own API,
//! every figure recomputed with SQL of the test's own over the file (and
//! checked against the numbers the fixture was built with).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::NaiveDate;
use pmbot_core::{
    ClientOrderId, DecisionContext, EventTime, Fill, Hash32, Liquidity, OrderId, OrderIntent, OrderStatus, OrderType,
    OrderUpdate, Price, Side, Size, TimestampMs, TokenId, Usdc,
};
use rusqlite::{Connection, OpenFlags};
use serde_json::json;

use super::*;
use crate::journal::{Decision, DecisionAction, EngineRow, EventSource, Mark, PreparedOrder, RunMode, RunStart, Trade};

const HOUR: i64 = 3_600_000;
const MIN: i64 = 60_000;
/// A config value that must never reach a summary.
const SECRET: &str = "SECRET-7f3a9c-never-print";

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pmbot-summary-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn journal(&self) -> PathBuf {
        self.0.join("journal.sqlite")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 10).unwrap()
}

/// Milliseconds from the fixture day's midnight.
fn d(offset: i64) -> i64 {
    day_start(day()).millis() + offset
}

fn t(ms: i64) -> TimestampMs {
    TimestampMs::from_millis(ms)
}

fn u(micros: i64) -> Usdc {
    Usdc::from_micros(micros)
}

const TOKEN: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";

fn run_start(mode: RunMode, started: i64) -> RunStart {
    RunStart {
        mode,
        data_source: DataSource::LiveData,
        config: json!({"risk": {"capital_cap": "300"}, "webhook": {"url": SECRET}}),
        model_fingerprint: "fixture-model".into(),
        model: json!({"horizon_ms": 30_000, "confidence_threshold": "0.4"}),
        pmbot_version: "0.1.0".into(),
        gate_override: None,
        started: t(started),
    }
}

fn cid(n: u32) -> ClientOrderId {
    ClientOrderId::new(format!("pmbot-{n:06}")).unwrap()
}

fn hash(n: u32) -> OrderId {
    let mut bytes = [0x5au8; 32];
    bytes[28..].copy_from_slice(&n.to_be_bytes());
    Hash32(bytes)
}

/// Order `n`: a buy of 10 shares at 0.52, written at `created`.
fn order(n: u32, created: i64) -> PreparedOrder {
    PreparedOrder {
        client_order_id: cid(n),
        order_hash: hash(n),
        salt: u64::from(n),
        intent: OrderIntent {
            client_order_id: cid(n),
            token: TokenId::parse(TOKEN).unwrap(),
            side: Side::Buy,
            limit_price: Price::parse("0.52").unwrap(),
            size: Size::from_shares(10),
            order_type: OrderType::Gtc,
            post_only: false,
            expires_at: None,
            decision: DecisionContext::default(),
        },
        market: Hash32([3; 32]),
        body: format!("{{\"order\":{n}}}"),
        created: t(created),
    }
}

fn fill(n: u32, trade: &str, shares: &str, fee: Usdc, received: i64) -> Fill {
    Fill {
        order_id: hash(n),
        client_order_id: Some(cid(n)),
        trade_id: trade.into(),
        token: TokenId::parse(TOKEN).unwrap(),
        side: Side::Buy,
        price: Price::parse("0.52").unwrap(),
        size: Size::parse(shares).unwrap(),
        fee,
        liquidity: Liquidity::Taker,
        // The exchange's clock on the other side of midnight: the day is ours.
        time: EventTime { received: t(received), exchange: t(received - 2 * HOUR) },
    }
}

fn reject(j: &mut Journal, n: u32, at: i64) {
    let update = OrderUpdate {
        client_order_id: cid(n),
        order_id: Some(hash(n)),
        status: OrderStatus::Rejected,
        filled: Size::ZERO,
        reason: Some("not enough balance".into()),
        at: t(at),
    };
    j.record_update(&update, EventSource::Rest, None).unwrap();
}

fn decision(run: i64, at: i64, action: DecisionAction, reason: &str) -> EngineRow {
    EngineRow::Decision(Decision {
        run,
        at: t(at),
        market: Hash32([3; 32]),
        up_token: TokenId::parse(TOKEN).unwrap(),
        up_mid2_pips: Some(10_000),
        p_up: None,
        confidence: None,
        action,
        reason: reason.into(),
        client_order_id: None,
        detail: json!({}),
    })
}

fn trade(run: i64, n: u32, opened: i64, closed: i64, pnl: i64, fees: i64) -> EngineRow {
    let cost = 5_000_000;
    EngineRow::Trade(Trade {
        run,
        market: Hash32([3; 32]),
        token: TokenId::parse(TOKEN).unwrap(),
        entry_order: cid(1000 + n),
        opened: t(opened),
        closed: t(closed),
        shares: Size::from_shares(10),
        cost: u(cost),
        proceeds: u(cost + pnl),
        fees: u(fees),
        close_reason: "take_profit".into(),
        confidence: None,
        probability: None,
    })
}

fn mark(run: i64, at: i64, positions: i64, open: u32) -> EngineRow {
    EngineRow::Mark(Mark {
        run,
        at: t(at),
        cash: u(300_000_000 - positions),
        positions: u(positions),
        unredeemed: Usdc::ZERO,
        realised: Usdc::ZERO,
        fees: Usdc::ZERO,
        open_positions: open,
    })
}

/// Three runs around the fixture day D:
/// 1. paper, D-1 23:00 to D 01:00 (one hour in D);
/// 2. paper, D 02:00 to 05:30;
/// 3. live, from D 23:00, no end recorded, last mark D+1 00:30 (one hour in D);
///
/// with trades, fills, orders, refusals, marks and notes on both sides of
/// both midnights. What D adds up to is in the comments.
fn fixture(path: &Path) {
    let mut j = Journal::open(path).unwrap();
    let r1 = j.start_run(&run_start(RunMode::Paper, d(-HOUR))).unwrap();
    j.record_rows(&[
        mark(r1, d(-HOUR), 0, 0),
        decision(r1, d(-30 * MIN), DecisionAction::Refused, "kill_switch"), // D-1
        decision(r1, d(30 * MIN), DecisionAction::Refused, "max_open_positions"),
        decision(r1, d(31 * MIN), DecisionAction::Pass, "no_edge"),
        trade(r1, 1, d(-50 * MIN), d(-30 * MIN), 900_000, 10_000), // D-1
        trade(r1, 2, d(-20 * MIN), d(20 * MIN), 500_000, 50_000),  // closed in D: +0.5
        mark(r1, d(30 * MIN), 5_200_000, 1),
    ])
    .unwrap();
    j.record_note("market_data_reconnect", &json!({"run": r1, "recovered": true}), t(d(-MIN))).unwrap(); // D-1
    // Order 1: written and first filled in D-1, filled again in D (a taker
    // buy of 2 at 0.52: 0.07 x 0.52 x 0.48 x 2 = 0.03494 pUSD).
    j.record_order(&order(1, d(-10 * MIN))).unwrap();
    j.record_fill(&fill(1, "t1", "3", u(10_000), d(-5 * MIN))).unwrap(); // D-1
    j.record_fill(&fill(1, "t2", "2", u(34_940), d(5 * MIN))).unwrap();
    j.end_run(r1, t(d(HOUR)), "interrupted").unwrap();

    let r2 = j.start_run(&run_start(RunMode::Paper, d(2 * HOUR))).unwrap();
    j.record_rows(&[
        mark(r2, d(2 * HOUR), 0, 0),
        decision(r2, d(3 * HOUR), DecisionAction::Refused, "max_open_positions"),
        decision(r2, d(4 * HOUR), DecisionAction::Refused, "capital_cap"),
        decision(r2, d(4 * HOUR + MIN), DecisionAction::Enter, "entry"),
        mark(r2, d(3 * HOUR), 12_500_000, 2),
        trade(r2, 3, d(2 * HOUR), d(3 * HOUR), 300_000, 20_000), // +0.3
        trade(r2, 4, d(2 * HOUR), d(4 * HOUR), -200_000, 30_000), // -0.2
        trade(r2, 5, d(3 * HOUR), d(5 * HOUR), 0, 0),            // a loss: nothing made
        mark(r2, d(5 * HOUR + 30 * MIN), 3_000_000, 1),
    ])
    .unwrap();
    // Order 2: two fills in D (one order filled); orders 3 and 4 rejected,
    // order 4 only after midnight.
    j.record_order(&order(2, d(2 * HOUR + 10 * MIN))).unwrap();
    j.record_fill(&fill(2, "t3", "4", u(20_000), d(2 * HOUR + 11 * MIN))).unwrap();
    j.record_fill(&fill(2, "t4", "6", Usdc::ZERO, d(2 * HOUR + 12 * MIN))).unwrap();
    j.record_order(&order(3, d(3 * HOUR))).unwrap();
    reject(&mut j, 3, d(3 * HOUR + 1_000));
    j.record_note("market_data_reconnect", &json!({"run": r2, "recovered": true}), t(d(2 * HOUR + 30 * MIN))).unwrap();
    j.record_note("market_data_reconnect", &json!({"run": r2, "recovered": true}), t(d(4 * HOUR))).unwrap();
    let alert = json!({"kind": "heartbeat_failing", "severity": "warning", "title": "heartbeats failing"});
    j.record_note("alert", &alert, t(d(3 * HOUR + 10 * MIN))).unwrap();
    j.record_note(
        "alert",
        &json!({"run": r2, "alert": "UserChannelReconnected { connection: 2 }"}),
        t(d(3 * HOUR + 20 * MIN)),
    )
    .unwrap();
    j.record_note("alert", &json!({"run": r2, "alert": "HeartbeatRecovered"}), t(d(3 * HOUR + 30 * MIN))).unwrap();
    j.end_run(r2, t(d(5 * HOUR + 30 * MIN)), "duration").unwrap();

    let r3 = j.start_run(&run_start(RunMode::Live, d(23 * HOUR))).unwrap();
    j.record_rows(&[
        mark(r3, d(23 * HOUR), 0, 0),
        mark(r3, d(23 * HOUR + 30 * MIN), 4_000_000, 1),
        decision(r3, d(23 * HOUR + 40 * MIN), DecisionAction::Enter, "entry"),
        trade(r3, 6, d(23 * HOUR + 40 * MIN), d(24 * HOUR + 10 * MIN), 700_000, 40_000), // D+1
        decision(r3, d(24 * HOUR + 5 * MIN), DecisionAction::Refused, "kill_switch"),    // D+1
        mark(r3, d(24 * HOUR + 30 * MIN), 1_000_000, 1),                                 // D+1: the run's last row
    ])
    .unwrap();
    let uc = json!({"kind": "user_channel_reconnected", "severity": "info", "title": "user channel back"});
    j.record_note("alert", &uc, t(d(23 * HOUR + 10 * MIN))).unwrap();
    j.record_note("alert", &alert, t(d(24 * HOUR + MIN))).unwrap(); // D+1
    j.record_order(&order(4, d(24 * HOUR - 1_000))).unwrap();
    reject(&mut j, 4, d(24 * HOUR + 1_000)); // rejected on D+1
}

/// The test's own reading of the file.
struct Sql {
    conn: Connection,
    start: i64,
    end: i64,
}

impl Sql {
    fn open(path: &Path, date: NaiveDate) -> Sql {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let start = date.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis();
        Sql { conn, start, end: start + 86_400_000 }
    }

    fn int(&self, sql: &str) -> i64 {
        self.conn.query_row(sql, [self.start, self.end], |r| r.get::<_, Option<i64>>(0)).unwrap().unwrap_or(0)
    }

    fn by_name(&self, sql: &str) -> BTreeMap<String, u64> {
        let mut stmt = self.conn.prepare(sql).unwrap();
        let rows =
            stmt.query_map([self.start, self.end], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).unwrap();
        rows.map(|r| r.map(|(k, v)| (k, v as u64))).collect::<Result<_, _>>().unwrap()
    }
}

/// Every figure of `s` against SQL over the journal file.
fn assert_matches_sql(s: &DailySummary, path: &Path, until: i64) {
    let q = Sql::open(path, s.date);
    let closed = "FROM trades WHERE closed_ms >= ?1 AND closed_ms < ?2";
    assert_eq!(s.trades as i64, q.int(&format!("SELECT count(*) {closed}")), "trades");
    assert_eq!(s.wins as i64, q.int(&format!("SELECT count(*) {closed} AND pnl_micros > 0")), "wins");
    assert_eq!(s.pnl_after_fees.micros(), q.int(&format!("SELECT sum(pnl_micros) {closed}")), "P&L");
    assert_eq!(s.trade_fees.micros(), q.int(&format!("SELECT sum(fees_micros) {closed}")), "trade fees");
    let win_rate = s.win_rate.expect("trades, so a win rate");
    let (low, high) = pmbot_core::wilson_95(s.wins, s.trades).unwrap();
    assert_eq!((win_rate.hits, win_rate.n, win_rate.low, win_rate.high), (s.wins, s.trades, low, high));
    // Fees on the day's fills, all in pUSD.
    let fills = "FROM fills WHERE received_ms >= ?1 AND received_ms < ?2";
    let fees = q.int(&format!("SELECT sum(CASE fee_kind WHEN 'collateral' THEN fee_micros ELSE 0 END) {fills}"));
    assert_eq!(s.fees.micros(), fees, "fees paid");
    assert_eq!(s.fills as i64, q.int(&format!("SELECT count(*) {fills}")));
    assert_eq!(s.orders.filled as i64, q.int(&format!("SELECT count(DISTINCT order_hash) {fills}")));
    assert_eq!(s.orders.placed as i64, q.int("SELECT count(*) FROM orders WHERE created_ms >= ?1 AND created_ms < ?2"));
    assert_eq!(
        s.orders.rejected as i64,
        q.int("SELECT count(*) FROM order_events WHERE status = 'rejected' AND at_ms >= ?1 AND at_ms < ?2")
    );
    assert_eq!(
        s.refusals_by_reason,
        q.by_name(
            "SELECT reason, count(*) FROM decisions WHERE action = 'refused' AND at_ms >= ?1 AND at_ms < ?2
             GROUP BY reason"
        )
    );
    // Alerts by detail.kind, the kind-less ones as the gateway's (or a user-channel reconnect).
    assert_eq!(
        s.alerts,
        q.by_name(
            "SELECT CASE WHEN json_extract(detail_json, '$.kind') IS NOT NULL THEN json_extract(detail_json, '$.kind')
                         WHEN json_extract(detail_json, '$.alert') LIKE 'UserChannelReconnected%'
                              THEN 'user_channel_reconnected'
                         ELSE 'gateway' END AS k, count(*)
             FROM notes WHERE kind = 'alert' AND at_ms >= ?1 AND at_ms < ?2 GROUP BY k"
        )
    );
    let notes = "FROM notes WHERE at_ms >= ?1 AND at_ms < ?2";
    assert_eq!(
        s.reconnects.market_data as i64,
        q.int(&format!("SELECT count(*) {notes} AND kind = 'market_data_reconnect'"))
    );
    assert_eq!(
        s.reconnects.user_channel as i64,
        q.int(&format!(
            "SELECT count(*) {notes} AND kind = 'alert' AND (json_extract(detail_json, '$.kind') = 'user_channel_reconnected'
                   OR json_extract(detail_json, '$.alert') LIKE 'UserChannelReconnected%')"
        ))
    );
    // Exposure: the day's last mark, and the largest.
    let marks = "FROM marks WHERE at_ms >= ?1 AND at_ms < ?2";
    let e = s.exposure.expect("marks in the day");
    assert_eq!(
        e.value.micros(),
        q.int(&format!("SELECT positions_micros {marks} ORDER BY at_ms DESC, id DESC LIMIT 1"))
    );
    assert_eq!(
        i64::from(e.open_positions),
        q.int(&format!("SELECT open_positions {marks} ORDER BY at_ms DESC, id DESC LIMIT 1"))
    );
    assert_eq!(e.max_value.micros(), q.int(&format!("SELECT max(positions_micros) {marks}")));
    assert_eq!(i64::from(e.max_open_positions), q.int(&format!("SELECT max(open_positions) {marks}")));
    // Uptime: each run from its start to its end (or its last row), clipped
    // to the period (these runs never overlap).
    let up: i64 = q
        .conn
        .query_row(
            "SELECT sum(max(0, min(coalesce(e.ended_ms,
                                            (SELECT max(at_ms) FROM marks m WHERE m.run_id = r.id),
                                            r.started_ms), ?2) - max(r.started_ms, ?1)))
             FROM runs r LEFT JOIN run_ends e ON e.run_id = r.id",
            [q.start, until],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(s.uptime.covered_ms, up, "uptime");
    assert_eq!(s.uptime.period_ms, until - q.start);
}

#[test]
fn a_whole_day_adds_up_to_what_sql_recomputes_from_the_journal() {
    let dir = Scratch::new("day");
    fixture(&dir.journal());
    let j = Journal::open_read_only(dir.journal()).unwrap();
    let s = compute(&j, day(), d(2 * 86_400_000)).unwrap();
    assert_matches_sql(&s, &dir.journal(), d(86_400_000));

    // And the numbers the fixture was built with.
    assert!(s.complete);
    assert_eq!(s.until, t(d(86_400_000)));
    assert_eq!((s.trades, s.wins), (4, 2), "the trades closed in D; a zero-P&L trade is no win");
    assert_eq!(s.pnl_after_fees, u(600_000));
    assert_eq!(s.trade_fees, u(100_000));
    assert_eq!(s.fees, u(34_940 + 20_000));
    assert_eq!(s.fills, 3);
    assert_eq!(s.orders, OrderCounts { placed: 3, filled: 2, rejected: 1 });
    let refusals: BTreeMap<String, u64> =
        [("capital_cap".to_string(), 1), ("max_open_positions".to_string(), 2)].into();
    assert_eq!(s.refusals_by_reason, refusals);
    let alerts: BTreeMap<String, u64> =
        [("gateway".to_string(), 1), ("heartbeat_failing".to_string(), 1), ("user_channel_reconnected".to_string(), 2)]
            .into();
    assert_eq!(s.alerts, alerts);
    assert_eq!(s.reconnects, Reconnects { market_data: 2, user_channel: 2 });
    assert_eq!(
        s.exposure,
        Some(Exposure {
            at: t(d(23 * HOUR + 30 * MIN)),
            open_positions: 1,
            value: u(4_000_000),
            max_value: u(12_500_000),
            max_open_positions: 2
        })
    );
    // Across both midnights: 1 h of run 1, 3.5 h of run 2, 1 h of run 3.
    assert_eq!(s.uptime, Uptime { covered_ms: 5 * HOUR + 30 * MIN, period_ms: 24 * HOUR });
    assert_eq!(
        s.runs.iter().map(|r| (r.id, r.in_day_ms)).collect::<Vec<_>>(),
        vec![(1, HOUR), (2, 3 * HOUR + 30 * MIN), (3, HOUR)]
    );
    assert_eq!(s.runs[2].end, RunEnd::Open { last_row: t(d(24 * HOUR + 30 * MIN)) });
    assert_eq!(s.runs[0].end, RunEnd::Ended { at: t(d(HOUR)), reason: "interrupted".into() });
}

#[test]
fn the_days_either_side_count_what_d_left_out() {
    let dir = Scratch::new("sides");
    fixture(&dir.journal());
    let j = Journal::open_read_only(dir.journal()).unwrap();
    let before = compute(&j, day().pred_opt().unwrap(), d(2 * 86_400_000)).unwrap();
    assert_matches_sql(&before, &dir.journal(), d(0));
    assert_eq!((before.trades, before.pnl_after_fees), (1, u(900_000)));
    assert_eq!(before.uptime.covered_ms, HOUR, "23:00 to midnight");
    assert_eq!(before.refusals_by_reason.get("kill_switch"), Some(&1));
    let after = compute(&j, day().succ_opt().unwrap(), d(2 * 86_400_000)).unwrap();
    assert_matches_sql(&after, &dir.journal(), d(2 * 86_400_000));
    assert_eq!((after.trades, after.orders.rejected, after.orders.placed), (1, 1, 0));
    assert_eq!(after.uptime.covered_ms, 30 * MIN, "run 3 up to its last mark");
    assert_eq!(after.alerts.get("heartbeat_failing"), Some(&1));
}

#[test]
fn today_covers_the_day_so_far() {
    let dir = Scratch::new("today");
    fixture(&dir.journal());
    let j = Journal::open_read_only(dir.journal()).unwrap();
    let now = d(3 * HOUR);
    let s = compute(&j, day(), now).unwrap();
    assert!(!s.complete);
    assert_eq!(s.until, t(now));
    // Run 1's hour and run 2's first hour, of three elapsed.
    assert_eq!(s.uptime, Uptime { covered_ms: 2 * HOUR, period_ms: 3 * HOUR });
    assert!((s.uptime.share().unwrap() - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(s.runs.len(), 2, "run 3 has not started");
    assert!(s.markdown().contains("The day so far"), "{}", s.markdown());
    assert!(s.short_text().starts_with("pmbot daily summary 2025-03-10 (so far)"));

    let at_midnight = compute(&j, day(), d(0)).unwrap();
    assert_eq!(at_midnight.uptime.share(), None, "nothing elapsed");
    match compute(&j, day(), d(-1)) {
        Err(SummaryError::NotBegun { date, .. }) => assert_eq!(date, day()),
        other => panic!("a day not begun: {other:?}"),
    }
}

#[test]
fn an_empty_journal_gives_an_empty_day() {
    let dir = Scratch::new("empty");
    drop(Journal::open(dir.journal()).unwrap());
    let j = Journal::open_read_only(dir.journal()).unwrap();
    let s = compute(&j, day(), d(86_400_000)).unwrap();
    assert_eq!((s.trades, s.win_rate, s.exposure, s.uptime.covered_ms), (0, None, None, 0));
    assert!(s.runs.is_empty() && s.alerts.is_empty() && s.refusals_by_reason.is_empty());
    let md = s.markdown();
    assert!(md.contains("No run was up in this day.") && md.contains("| win rate | no trades |"), "{md}");
}

#[test]
fn the_markdown_and_the_short_text_say_the_figures_and_no_setting() {
    let dir = Scratch::new("text");
    fixture(&dir.journal());
    let j = Journal::open_read_only(dir.journal()).unwrap();
    let s = compute(&j, day(), d(2 * 86_400_000)).unwrap();
    let md = s.markdown();
    for needle in [
        "# pmbot daily summary, 2025-03-10",
        "The whole UTC day 2025-03-10, 00:00 to 24:00.",
        "| runs | 3 (live on live-data 1, paper on live-data 2) |",
        "| closed trades | 4 |",
        "| wins | 2 |",
        "| P&L after fees (pUSD) | +0.60 |",
        "| fees in that P&L (pUSD) | 0.10 |",
        "| fees paid on the day's fills (pUSD) | 0.05494 (3 fills) |",
        "| orders placed / filled / rejected | 3 / 2 / 1 |",
        "| exposure at the day's last mark | 1 open position worth 4.00 pUSD at 23:30 UTC |",
        "| largest exposure at a mark (pUSD) | 12.50 (at most 2 open) |",
        "| uptime | 5 h 30 min of 1 d (22.9%) |",
        "| market-data reconnects | 2 |",
        "| user-channel reconnects | 2 |",
        "| `max_open_positions` | 2 |",
        "| `user_channel_reconnected` | 2 |",
        "| 3 | live | live-data | 2025-03-10 23:00:00 UTC | no end recorded; last row 2025-03-11 00:30:00 UTC | 1 h |",
        "| 1 | paper | live-data | 2025-03-09 23:00:00 UTC | 2025-03-10 01:00:00 UTC (interrupted) | 1 h |",
    ] {
        assert!(md.contains(needle), "{needle:?} missing from\n{md}");
    }
    let short = s.short_text();
    for needle in [
        "Runs: 3 (live on live-data 1, paper on live-data 2)",
        "Trades: 4 closed, 2 won, win rate 50.0%",
        "P&L after fees: +0.60 pUSD; fees paid: 0.05494 pUSD",
        "Refusals: 3 (max_open_positions 2, capital_cap 1)",
        "Alerts: 4 (user_channel_reconnected 2, gateway 1, heartbeat_failing 1)",
        "Exposure: 1 open position worth 4.00 pUSD at 23:30 UTC; largest 12.50 pUSD",
        "Uptime: 5 h 30 min of 1 d (22.9%); reconnects: 2 market data, 2 user channel",
    ] {
        assert!(short.contains(needle), "{needle:?} missing from\n{short}");
    }
    let run = &j.runs().unwrap()[0];
    for text in [&md, &short] {
        assert!(!text.contains(SECRET), "a config value reached the summary");
        assert!(!text.contains(&run.config_hash[..12]), "not even the config's hash");
    }
}

#[test]
fn journal_text_is_escaped_and_the_short_text_stays_short() {
    let dir = Scratch::new("long");
    let mut j = Journal::open(dir.journal()).unwrap();
    let run = j.start_run(&run_start(RunMode::Paper, d(0))).unwrap();
    let mut rows = Vec::new();
    for k in 0..300 {
        let reason = format!("reason_{k:03}_{}", "x".repeat(200));
        rows.push(decision(run, d(i64::from(k) * 1_000), DecisionAction::Refused, &reason));
    }
    rows.push(decision(run, d(HOUR), DecisionAction::Refused, "a|b *c* [d](e)"));
    j.record_rows(&rows).unwrap();
    j.record_note("alert", &json!({"kind": "x".repeat(2_000)}), t(d(HOUR))).unwrap();
    drop(j);
    let j = Journal::open_read_only(dir.journal()).unwrap();
    let s = compute(&j, day(), d(86_400_000)).unwrap();
    assert_eq!(s.refusals(), 301);
    let short = s.short_text();
    assert!(short.chars().count() <= super::render::SHORT_TEXT_MAX, "{} chars", short.chars().count());
    assert!(short.contains("296 more"), "{short}");
    let md = s.markdown();
    assert!(md.contains(r"| `a\|b *c* [d](e)` | 1 |"), "a code span, the pipe escaped");
    // Every table row still has its two cells.
    let section = md.split("## Risk refusals").nth(1).unwrap().split("## Alerts").next().unwrap();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        assert_eq!(line.matches(" | ").count(), 1, "{line}");
    }
}

#[test]
fn overlapping_runs_count_once() {
    let run = |id, started: i64, end: i64| RunOnDay {
        id,
        mode: RunMode::Paper,
        data_source: DataSource::Replay,
        started: t(started),
        end: RunEnd::Ended { at: t(end), reason: "duration".into() },
        in_day_ms: 0,
    };
    let runs = [run(1, 0, 10), run(2, 5, 20), run(3, 30, 40), run(4, 35, 36), run(5, -10, 2)];
    assert_eq!(covered(&runs, 0, 100), 20 + 10);
    assert_eq!(covered(&runs, 0, 33), 20 + 3, "clipped to now");
    assert_eq!(covered(&[], 0, 100), 0);
}

#[test]
fn the_file_lands_beside_the_journal_whole_or_is_a_typed_error() {
    let dir = Scratch::new("write");
    fixture(&dir.journal());
    let j = Journal::open_read_only(dir.journal()).unwrap();
    let s = compute(&j, day(), d(2 * 86_400_000)).unwrap();
    let path = write_beside(&dir.journal(), &s).unwrap();
    assert_eq!(path, dir.0.join("pmbot-summary-2025-03-10.md"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), s.markdown());
    // Written again (the day so far, then the whole day): replaced whole, no temporary left.
    write_beside(&dir.journal(), &s).unwrap();
    let names: Vec<String> =
        std::fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");

    let missing = dir.0.join("gone").join("journal.sqlite");
    match write_beside(&missing, &s) {
        Err(e @ SummaryError::Write { .. }) => {
            assert!(
                e.to_string().contains(&*dir.0.join("gone").join("pmbot-summary-2025-03-10.md").to_string_lossy()),
                "{e}"
            );
        }
        other => panic!("an unwritable folder: {other:?}"),
    }
    // A bare file name: beside it in the working directory.
    assert_eq!(file_name(day()), "pmbot-summary-2025-03-10.md");
}
