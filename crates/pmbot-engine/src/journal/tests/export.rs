//! The JSON export and the secrets scan.

use serde_json::{Value, json};

use super::super::{EventSource, Journal, Location};
use super::*;

/// A journal with a row in every table.
fn busy_journal(s: &Scratch) -> Journal {
    let mut j = Journal::open(s.journal()).unwrap();
    j.record_order(&order(1)).unwrap();
    let mut rejected = update(1, OrderStatus::Rejected, "0", 20);
    rejected.reason = Some("invalid tick size".into());
    j.record_update(&rejected, EventSource::Rest, Some("INVALID_ORDER_MIN_TICK_SIZE")).unwrap();
    j.record_order(&order(2)).unwrap();
    j.record_fill(&fill_of(&order(2), "trade-1", "0.52", "1.5", Usdc::parse("0.026208").unwrap(), Liquidity::Taker))
        .unwrap();
    j.record_refusal(&order(3).intent, "balance 1.5 pUSD below cost 5.2", TimestampMs(30)).unwrap();
    j.record_note("alert", &json!({"text": "heartbeat failing", "count": 3}), TimestampMs(40)).unwrap();
    j
}

#[test]
fn the_export_holds_every_row_exactly() {
    let s = Scratch::new("export");
    let j = busy_journal(&s);
    let v = j.export_json().unwrap();
    assert_eq!(v["schema_version"], 4);
    let tables = v["tables"].as_object().unwrap();
    let names: Vec<&str> = tables.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "decisions",
            "fills",
            "marks",
            "notes",
            "order_events",
            "orders",
            "payouts",
            "redemptions",
            "refusals",
            "run_ends",
            "run_orders",
            "runs",
            "schema_version",
            "trades"
        ]
    );
    let count = |t: &str| tables[t].as_array().unwrap().len();
    assert_eq!(
        [
            count("fills"),
            count("notes"),
            count("order_events"),
            count("orders"),
            count("refusals"),
            count("schema_version")
        ],
        [1, 1, 3, 2, 1, 4]
    );

    let o = &tables["orders"][0];
    assert_eq!(o["client_order_id"], "pmbot-000001");
    assert_eq!(o["price_pips"], 5200);
    assert_eq!(o["size_micros"], 10_000_000);
    assert_eq!(o["salt"], (u64::MAX - 1).to_string(), "exact, past i64");
    assert_eq!(o["status"], "rejected");
    assert_eq!(o["last_error"], "invalid tick size");
    assert_eq!(o["exchange_status"], "INVALID_ORDER_MIN_TICK_SIZE");
    assert_eq!(o["body"], order(1).body, "the body stays the exact text");
    // JSON columns are embedded, and read back as the intent.
    let intent: pmbot_core::OrderIntent = serde_json::from_value(o["intent_json"].clone()).unwrap();
    assert_eq!(intent, order(1).intent);
    assert_eq!(o["intent_json"]["decision"]["probability"], "0.61");

    let f = &tables["fills"][0];
    assert_eq!((f["fee_kind"].as_str(), f["fee_micros"].as_i64()), (Some("collateral"), Some(26_208)));
    assert_eq!(tables["notes"][0]["detail_json"], json!({"text": "heartbeat failing", "count": 3}));
    assert_eq!(tables["refusals"][0]["reason"], "balance 1.5 pUSD below cost 5.2");
    let statuses: Vec<&str> =
        tables["order_events"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["new", "rejected", "new"]);

    // No floating point anywhere.
    fn no_floats(v: &Value) -> bool {
        match v {
            Value::Number(n) => n.is_i64() || n.is_u64(),
            Value::Array(a) => a.iter().all(no_floats),
            Value::Object(o) => o.values().all(no_floats),
            _ => true,
        }
    }
    assert!(no_floats(&v));
    // A reader exports the same.
    assert_eq!(Journal::open_read_only(s.journal()).unwrap().export_json().unwrap(), v);
}

#[test]
fn scan_finds_a_string_in_any_text_column_of_any_table() {
    let s = Scratch::new("scan");
    let j = busy_journal(&s);
    assert_eq!(j.scan_for(&["0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"]).unwrap(), []);
    let loc = |table: &str, column: &str, rowid: i64, needle: usize| Location {
        table: table.into(),
        column: column.into(),
        rowid,
        needle,
    };
    let found = j
        .scan_for(&[
            "",                   // skipped
            "f4f247b7-4ac7-ff29", // the api key in both bodies
            "INVALID_ORDER_MIN",  // exchange status (orders and its event)
            "heartbeat failing",  // inside a note's JSON
            "below cost",         // a refusal's reason
            "trade-1",            // a fill's trade id
            "not anywhere",
        ])
        .unwrap();
    assert_eq!(
        found,
        [
            loc("fills", "trade_id", 1, 5),
            loc("notes", "detail_json", 1, 3),
            loc("order_events", "exchange_status", 2, 2),
            loc("orders", "body", 1, 1),
            loc("orders", "exchange_status", 1, 2),
            loc("orders", "body", 2, 1),
            loc("refusals", "reason", 1, 4),
        ]
    );
    // Column names in the intent JSON are text too.
    assert_eq!(j.scan_for(&["break_even_probability"]).unwrap().len(), 3, "two orders' intents and a refusal's");
}
