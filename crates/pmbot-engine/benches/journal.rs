//! The SQLite journal's write and read latency on the local disk: what the
//! order gateway waits for before an order's first byte (`before_send`, one
//! fsynced transaction), a status update, a fill, and reading the open
//! orders back at start-up; and the per-tick flush of decision rows that
//! real-time runs do (issue 12).
//!
//! Run: `cargo bench -p pmbot-engine --bench journal`.
//!
//! The journal file lives under Cargo's per-target scratch directory
//! (`CARGO_TARGET_TMPDIR`, on the same disk as the build), opened as pmbot
//! opens it (WAL, `synchronous=FULL`: every commit is fsynced), and is
//! removed at the end. Each call is timed alone with `Instant`; calls go
//! through the `OrderLog` trait the gateway uses. Prints p50/p90/p99/max.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pmbot_core::{
    ClientOrderId, ConditionId, DecisionContext, EventTime, Fill, Hash32, Liquidity, OrderId, OrderIntent, OrderStatus,
    OrderType, OrderUpdate, Price, Side, Size, TimestampMs, TokenId, Usdc,
};
use pmbot_engine::journal::{
    DataSource, Decision, DecisionAction, EngineRow, Journal, OrderLog, PreparedOrder, RunMode, RunStart,
};

const TOKEN: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
/// Timed writes of each kind.
const WRITES: u32 = 2_000;
/// Orders left open for the `open_orders()` read.
const OPEN: u32 = 1_000;
const READS: usize = 200;

fn main() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("journal-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    println!("journal file: {}", dir.join("journal.sqlite").display());
    let mut j = Journal::open(dir.join("journal.sqlite")).expect("journal opens");

    // Warm-up: statement cache, WAL file grown.
    for n in 0..100 {
        j.before_send(&order(1_000_000 + n)).expect("warm-up");
    }

    let mut sends = Vec::with_capacity(WRITES as usize);
    let mut sent_updates = Vec::with_capacity(WRITES as usize);
    let mut acks = Vec::with_capacity(WRITES as usize);
    let mut fills = Vec::with_capacity(WRITES as usize);
    let mut pre_send = Vec::with_capacity(WRITES as usize);
    for n in 0..WRITES {
        let o = order(n);
        let t = Instant::now();
        j.before_send(&o).expect("before_send");
        let journaled = t.elapsed();
        let t = Instant::now();
        j.update(&update(n, OrderStatus::Sent, "0")).expect("sent");
        let sent = t.elapsed();
        sends.push(journaled);
        sent_updates.push(sent);
        pre_send.push(journaled + sent);
        let t = Instant::now();
        j.update(&update(n, OrderStatus::Acknowledged, "0")).expect("acknowledged");
        acks.push(t.elapsed());
        let t = Instant::now();
        let recorded = j.fill(&fill(&o, n)).expect("fill");
        fills.push(t.elapsed());
        assert!(recorded, "a new fill is recorded");
    }
    report("before_send (record_order: row + event, one fsynced commit)", &mut sends);
    report("update to Sent (the gateway's next write, also before the post)", &mut sent_updates);
    report("before_send + update(Sent): the gateway's journal time before the first byte", &mut pre_send);
    report("update to Acknowledged", &mut acks);
    report("fill insert", &mut fills);

    // Finish every order so far, then leave exactly OPEN orders open.
    for n in (0..WRITES).chain(1_000_000..1_000_100) {
        j.update(&update(n, OrderStatus::Cancelled, "0")).expect("cancel");
    }
    for n in 0..OPEN {
        let id = 2_000_000 + n;
        j.before_send(&order(id)).expect("before_send");
        j.update(&update(id, OrderStatus::Acknowledged, "0")).expect("ack");
    }
    let mut reads = Vec::with_capacity(READS);
    for _ in 0..READS {
        let t = Instant::now();
        let open = j.open_orders().expect("open orders");
        reads.push(t.elapsed());
        assert_eq!(open.len(), OPEN as usize);
    }
    report(&format!("open_orders() with {OPEN} open of {} recorded", WRITES + 100 + OPEN), &mut reads);

    tick_flushes(&mut j);

    drop(j);
    std::fs::remove_dir_all(&dir).expect("remove the scratch dir");
}

/// What a real-time run pays to write its decisions on every tick (about a
/// second) instead of in batches of 4,096: one fsynced commit per tick,
/// holding the rows of that second (one sample per market per grid step).
fn tick_flushes(j: &mut Journal) {
    let run = j
        .start_run(&RunStart {
            mode: RunMode::Paper,
            data_source: DataSource::LiveData,
            config: serde_json::json!({}),
            model_fingerprint: "bench".into(),
            model: serde_json::json!({}),
            pmbot_version: "bench".into(),
            gate_override: None,
            started: TimestampMs(1_700_000_000_000),
        })
        .expect("run");
    let mut at = 1_700_000_000_000;
    for rows_per_tick in [2usize, 10, 100] {
        let mut commits = Vec::with_capacity(500);
        for _ in 0..500 {
            at += 1_000;
            let rows: Vec<EngineRow> = (0..rows_per_tick).map(|m| decision(run, at, m)).collect();
            let t = Instant::now();
            j.record_rows(&rows).expect("decision rows");
            commits.push(t.elapsed());
        }
        report(&format!("tick flush of {rows_per_tick} decision rows (one fsynced commit)"), &mut commits);
    }
}

/// A pass decision as the engine writes one (numbers in its detail).
fn decision(run: i64, at: i64, market: usize) -> EngineRow {
    EngineRow::Decision(Decision {
        run,
        at: TimestampMs(at),
        market: Hash32::parse(&format!("0x{market:064x}")).expect("condition id"),
        up_token: TokenId::parse(TOKEN).expect("token"),
        up_mid2_pips: Some(10_000),
        p_up: Some("0.5731".parse().expect("p")),
        confidence: Some("0.1462".parse().expect("c")),
        action: DecisionAction::Pass,
        reason: "low_confidence".into(),
        client_order_id: None,
        detail: serde_json::json!({"confidence": "0.1462", "threshold": "0.4"}),
    })
}

fn cid(n: u32) -> ClientOrderId {
    ClientOrderId::new(format!("bench-{n:07}")).expect("client id")
}

fn hash(n: u32) -> OrderId {
    let mut bytes = [0x5au8; 32];
    bytes[28..].copy_from_slice(&n.to_be_bytes());
    Hash32(bytes)
}

/// A GTC buy of 10 shares at 0.52, with a body the size of a real one.
fn order(n: u32) -> PreparedOrder {
    let intent = OrderIntent {
        client_order_id: cid(n),
        token: TokenId::parse(TOKEN).expect("token"),
        side: Side::Buy,
        limit_price: Price::parse("0.52").expect("price"),
        size: Size::from_shares(10),
        order_type: OrderType::Gtc,
        post_only: false,
        expires_at: None,
        decision: DecisionContext {
            probability: Some("0.61".parse().expect("dec")),
            confidence: Some("0.22".parse().expect("dec")),
            expected_value: Some("0.8715".parse().expect("dec")),
            break_even_probability: Some("0.5375".parse().expect("dec")),
            size_before_exact_amounts: None,
        },
    };
    let salt = u64::MAX - u64::from(n);
    let body = format!(
        r#"{{"order":{{"salt":{salt},"maker":"0x70997970c51812dc3a010c7d01b50e0d17dc79c8","signer":"0x70997970c51812dc3a010c7d01b50e0d17dc79c8","tokenId":"{TOKEN}","makerAmount":"5200000","takerAmount":"10000000","side":"BUY","signatureType":0,"timestamp":"1700000000000","metadata":"0x0000000000000000000000000000000000000000000000000000000000000000","builder":"0x0000000000000000000000000000000000000000000000000000000000000000","expiration":"0","signature":"0x{sig}"}},"owner":"f4f247b7-4ac7-ff29-a152-04fda0a8755a","orderType":"GTC","deferExec":true}}"#,
        sig = "ab".repeat(65),
    );
    PreparedOrder {
        client_order_id: cid(n),
        order_hash: hash(n),
        salt,
        intent,
        market: ConditionId::parse("0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917")
            .expect("condition"),
        body,
        created: TimestampMs(1_700_000_000_000 + i64::from(n)),
    }
}

fn update(n: u32, status: OrderStatus, filled: &str) -> OrderUpdate {
    OrderUpdate {
        client_order_id: cid(n),
        order_id: Some(hash(n)),
        status,
        filled: Size::parse(filled).expect("size"),
        reason: None,
        at: TimestampMs(1_700_000_000_500 + i64::from(n)),
    }
}

fn fill(o: &PreparedOrder, n: u32) -> Fill {
    Fill {
        order_id: o.order_hash,
        client_order_id: Some(o.client_order_id.clone()),
        trade_id: format!("trade-{n}"),
        token: o.intent.token.clone(),
        side: o.intent.side,
        price: o.intent.limit_price,
        size: Size::from_shares(3),
        fee: Usdc::ZERO,
        liquidity: Liquidity::Maker,
        time: EventTime { received: TimestampMs(1_700_000_100_000), exchange: TimestampMs(1_700_000_099_990) },
    }
}

fn report(name: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let pick = |q: f64| pmbot_core::quantile::quantile(samples, q).expect("samples");
    println!(
        "{name}: n={} p50={:?} p90={:?} p99={:?} max={:?}",
        samples.len(),
        pick(0.5),
        pick(0.9),
        pick(0.99),
        samples[samples.len() - 1]
    );
}
