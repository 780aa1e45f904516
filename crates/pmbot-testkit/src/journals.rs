//! Journals with a known trading record, for the performance, gate and CLI
//! tests: row builders, and [`GateFixture`], a run whose every gate item can
//! be set to pass or fail on its own.
//!
//! Everything is written through the journal's own API (start_run,
//! record_rows, record_note, end_run), so a fixture is a journal the engine
//! could have written.

use std::path::Path;
use std::str::FromStr;

use pmbot_core::{ClientOrderId, ConditionId, Hash32, Size, TimestampMs, TokenId, Usdc};
use pmbot_engine::journal::{
    DataSource, Decision, DecisionAction, EngineRow, Journal, JournalError, Mark, RunMode, RunStart, Trade,
};
use rust_decimal::Decimal;
use serde_json::json;

/// 2025-01-01T00:00:00Z.
pub const T0: i64 = 1_735_689_600_000;
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;
/// The fixtures' model horizon.
pub const HORIZON_MS: i64 = 30_000;
/// The paper account's starting cash in the fixtures.
pub const STARTING_CASH: Usdc = Usdc::from_whole(1_000);

pub fn at(ms: i64) -> TimestampMs {
    TimestampMs::from_millis(ms)
}

/// Market `n` (a distinct condition id per `n`).
pub fn market(n: u8) -> ConditionId {
    Hash32([n; 32])
}

/// The UP token of market `n`.
pub fn up_token(n: u8) -> TokenId {
    TokenId::parse(&format!("{}00{n}", 7 + u32::from(n))).expect("a decimal token id")
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("a decimal")
}

/// A run as the engine starts it: the model JSON with threshold 0.4,
/// horizon [`HORIZON_MS`] and a validated hit rate; the paper assumptions
/// in `config["paper"]` (absent for live).
pub fn run_start(mode: RunMode, source: DataSource, started: i64) -> RunStart {
    let mut config = json!({
        "strategy": {"confidence_threshold": "0.4"},
        "risk": {"capital_cap": "300"},
        "markets": ["btc-updown-15m"],
    });
    if mode != RunMode::Live {
        config["paper"] = json!({"latency_ms": 250, "queue": "back", "fee": "taker", "walk_book": true,
                                  "trade_report_lag_ms": 0, "starting_cash": STARTING_CASH.to_string()});
    }
    RunStart {
        mode,
        data_source: source,
        config,
        model_fingerprint: "fixture-model".into(),
        model: json!({"fingerprint": "fixture-model", "horizon_ms": HORIZON_MS, "confidence_threshold": "0.4",
                      "validated_hit_rate": 0.88, "validated_low": 0.84, "validated_high": 0.91,
                      "validated_coverage": 0.12}),
        pmbot_version: "0.1.0".into(),
        gate_override: None,
        started: at(started),
    }
}

/// One decision in market `m`. `p_up` and `confidence` as decimal text.
#[allow(clippy::too_many_arguments)]
pub fn decision(
    run: i64,
    when: i64,
    m: u8,
    mid2: Option<u32>,
    p_up: Option<&str>,
    confidence: Option<&str>,
    action: DecisionAction,
    reason: &str,
) -> Decision {
    Decision {
        run,
        at: at(when),
        market: market(m),
        up_token: up_token(m),
        up_mid2_pips: mid2,
        p_up: p_up.map(dec),
        confidence: confidence.map(dec),
        action,
        reason: reason.into(),
        client_order_id: None,
        detail: json!({}),
    }
}

/// A closed position in market 1: `cost` in, `proceeds` out (both after
/// fees), `fees` paid.
pub fn trade(run: i64, n: u32, opened: i64, closed: i64, cost: Usdc, proceeds: Usdc, fees: Usdc) -> Trade {
    Trade {
        run,
        market: market(1),
        token: up_token(1),
        entry_order: ClientOrderId::new(format!("pmbot-r{run}-{n:05}")).expect("a client order id"),
        opened: at(opened),
        closed: at(closed),
        shares: Size::from_shares(10),
        cost,
        proceeds,
        fees,
        close_reason: "take_profit".into(),
        confidence: Some(dec("0.6")),
        probability: Some(dec("0.8")),
    }
}

/// A mark with everything in cash (`positions` valued separately).
pub fn mark(run: i64, when: i64, cash: Usdc, positions: Usdc, realised: Usdc, fees: Usdc) -> Mark {
    Mark {
        run,
        at: at(when),
        cash,
        positions,
        unredeemed: Usdc::ZERO,
        realised,
        fees,
        open_positions: u32::from(positions > Usdc::ZERO),
    }
}

/// How a fixture shows the kill switch tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillSwitchTest {
    /// Not at all.
    None,
    /// A decision refused with reason `kill_switch`.
    Refusal,
    /// A `kill_switch` note with `present = true`.
    Note,
}

/// One run with a chosen record. [`GateFixture::passing`] passes every
/// gate item with the default thresholds; change one field to fail one item.
#[derive(Debug, Clone, PartialEq)]
pub struct GateFixture {
    pub mode: RunMode,
    pub source: DataSource,
    /// When the run starts (its first decision).
    pub start: i64,
    /// From the first decision to the last: the run's covered time.
    pub span_ms: i64,
    pub trades: u32,
    /// The first `wins` trades make `win_pnl`, the rest `loss_pnl`.
    pub wins: u32,
    pub win_pnl: Usdc,
    /// Zero or negative.
    pub loss_pnl: Usdc,
    /// Direction calls at confidence 0.6 (each scored: the mid moves).
    pub calls: u32,
    /// How many of the calls the mid agreed with.
    pub call_hits: u32,
    /// A `balance_check` note with this `ok`, an hour before the run.
    pub balance_check: Option<bool>,
    /// A `market_data_reconnect` note of this run with this `recovered`.
    pub reconnect: Option<bool>,
    pub kill_switch: KillSwitchTest,
}

impl GateFixture {
    /// Paper on live market data: 3.5 days, 137 trades (110 wins of 0.5
    /// pUSD, 27 losses of 0.3), 100 calls with 90 right, a good balance
    /// check, a recovered reconnect and a kill-switch refusal.
    pub fn passing() -> GateFixture {
        GateFixture {
            mode: RunMode::Paper,
            source: DataSource::LiveData,
            start: T0,
            span_ms: 3 * DAY_MS + 12 * HOUR_MS,
            trades: 137,
            wins: 110,
            win_pnl: Usdc::from_micros(500_000),
            loss_pnl: Usdc::from_micros(-300_000),
            calls: 100,
            call_hits: 90,
            balance_check: Some(true),
            reconnect: Some(true),
            kill_switch: KillSwitchTest::Refusal,
        }
    }

    /// The P&L the fixture's trades add up to.
    pub fn pnl(&self) -> Usdc {
        let wins = i64::from(self.wins.min(self.trades));
        let losses = i64::from(self.trades) - wins;
        Usdc::from_micros(wins * self.win_pnl.micros() + losses * self.loss_pnl.micros())
    }

    /// Creates the journal at `path` holding this fixture alone.
    pub fn create(&self, path: &Path) -> Result<(), JournalError> {
        let mut journal = Journal::open(path)?;
        self.write(&mut journal)?;
        Ok(())
    }

    /// Writes the run (and its notes) into `journal`; returns the run id.
    pub fn write(&self, journal: &mut Journal) -> Result<i64, JournalError> {
        assert!(self.call_hits <= self.calls && self.wins <= self.trades, "a fixture cannot hit more than it tries");
        let run = journal.start_run(&run_start(self.mode, self.source, self.start))?;
        let (start, end) = (self.start, self.start + self.span_ms);
        if let Some(ok) = self.balance_check {
            // As `pmbot balance` words it.
            let allowance = if ok { "unlimited" } else { "0" };
            let detail = format!(
                "pUSD 250.5; allowances: CTF Exchange {allowance}, Neg Risk CTF Exchange {allowance}, \
                 Neg Risk Adapter {allowance}"
            );
            journal.record_note("balance_check", &json!({"ok": ok, "detail": detail}), at(start - HOUR_MS))?;
        }
        let mut rows = Vec::new();
        // The covered span: a first and a last look with no call in them.
        rows.push(EngineRow::Decision(decision(run, start, 1, None, None, None, DecisionAction::NotReady, "warm_up")));
        // Calls, each followed by the mid one horizon later (a pass below
        // the threshold, so it is not a call itself).
        let step = (self.span_ms - 2 * HORIZON_MS) / i64::from(self.calls.max(1) + 1);
        for k in 0..self.calls {
            let t = start + step * i64::from(k + 1);
            let later = if k < self.call_hits { 10_100 } else { 9_900 };
            rows.push(EngineRow::Decision(decision(
                run,
                t,
                1,
                Some(10_000),
                Some("0.8"),
                Some("0.6"),
                DecisionAction::Pass,
                "no_edge",
            )));
            rows.push(EngineRow::Decision(decision(
                run,
                t + HORIZON_MS,
                1,
                Some(later),
                Some("0.52"),
                Some("0.04"),
                DecisionAction::Pass,
                "low_confidence",
            )));
        }
        if self.kill_switch == KillSwitchTest::Refusal {
            // In a market looked at once, so the refused call is not scored.
            let t = start + HOUR_MS;
            let d = decision(run, t, 2, Some(9_000), Some("0.8"), Some("0.6"), DecisionAction::Refused, "kill_switch");
            rows.push(EngineRow::Decision(d));
        }
        rows.push(EngineRow::Decision(decision(run, end, 1, None, None, None, DecisionAction::Pass, "no_book")));
        // Trades spread over the span, a mark after each.
        let fee = Usdc::from_micros(50_000);
        let cost = Usdc::from_whole(5);
        let (mut cash, mut realised, mut fees) = (STARTING_CASH, Usdc::ZERO, Usdc::ZERO);
        rows.push(EngineRow::Mark(mark(run, start, cash, Usdc::ZERO, realised, fees)));
        let step = self.span_ms / i64::from(self.trades + 1);
        for k in 0..self.trades {
            let pnl = if k < self.wins { self.win_pnl } else { self.loss_pnl };
            let closed = start + step * i64::from(k + 1);
            rows.push(EngineRow::Trade(trade(run, k, closed - 60_000, closed, cost, cost + pnl, fee)));
            cash += pnl;
            realised += pnl;
            fees += fee;
            rows.push(EngineRow::Mark(mark(run, closed, cash, Usdc::ZERO, realised, fees)));
        }
        rows.push(EngineRow::Mark(mark(run, end, cash, Usdc::ZERO, realised, fees)));
        journal.record_rows(&rows)?;
        if let Some(recovered) = self.reconnect {
            let detail = json!({"run": run, "recovered": recovered, "reconnects": 1});
            journal.record_note("market_data_reconnect", &detail, at(start + 2 * HOUR_MS))?;
        }
        if self.kill_switch == KillSwitchTest::Note {
            journal.record_note("kill_switch", &json!({"run": run, "present": true}), at(start + 3 * HOUR_MS))?;
            journal.record_note("kill_switch", &json!({"run": run, "present": false}), at(start + 4 * HOUR_MS))?;
        }
        journal.end_run(run, at(end), "duration")?;
        Ok(run)
    }
}
