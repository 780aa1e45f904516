//! The trading engine's rows: runs, decisions, trades, payouts and P&L marks
//! (schema version 2; version 3 changed only what a fill's fee is).
//!
//! The engine writes decisions and marks many at a time
//! ([`Journal::record_rows`], one transaction), and always before the order a
//! decision leads to, so a crash never leaves an order without its reason.
//! Probabilities are exact decimal text; money is integer micros.

use super::observer::Committed;
use std::path::Path;
use std::str::FromStr;

use pmbot_core::{ClientOrderId, ConditionId, Size, TimestampMs, TokenId, Usdc};
use rusqlite::{OptionalExtension, Row, Transaction, params};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::codec::size_to_sql;
use super::error::{JournalError, classify, corrupt};
use super::{Journal, write::to_json};

/// What kind of run the engine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// Paper trading: simulated fills, market data as it arrives.
    Paper,
    /// Replayed recordings through the paper venue.
    Backtest,
    /// Real orders through the gateway.
    Live,
}

impl RunMode {
    pub const fn as_str(self) -> &'static str {
        match self {
            RunMode::Paper => "paper",
            RunMode::Backtest => "backtest",
            RunMode::Live => "live",
        }
    }

    fn parse(path: &Path, s: &str) -> Result<RunMode, JournalError> {
        [RunMode::Paper, RunMode::Backtest, RunMode::Live]
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| corrupt(path, format!("run mode {s:?}")))
    }
}

/// Where a run's market data came from. Only [`DataSource::LiveData`] counts
/// towards the go-live gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    /// Polymarket's own market channel, live.
    LiveData,
    /// Recorded data played back.
    Replay,
    /// The simulated exchange.
    Simulator,
}

impl DataSource {
    pub const ALL: [DataSource; 3] = [DataSource::LiveData, DataSource::Replay, DataSource::Simulator];

    pub const fn as_str(self) -> &'static str {
        match self {
            DataSource::LiveData => "live_data",
            DataSource::Replay => "replay",
            DataSource::Simulator => "simulator",
        }
    }

    fn parse(path: &Path, s: &str) -> Result<DataSource, JournalError> {
        DataSource::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| corrupt(path, format!("data source {s:?}")))
    }
}

/// What a run is, as it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStart {
    pub mode: RunMode,
    pub data_source: DataSource,
    /// Strategy, risk and venue settings (never a secret).
    pub config: serde_json::Value,
    pub model_fingerprint: String,
    /// What the report compares with: horizon, threshold, validated hit rate.
    pub model: serde_json::Value,
    pub pmbot_version: String,
    /// The reason given with `--override-gate`.
    pub gate_override: Option<String>,
    pub started: TimestampMs,
}

/// A run as the journal holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: i64,
    pub start: RunStart,
    /// sha256 (hex) of the stored config JSON.
    pub config_hash: String,
    /// When and why it ended; `None` while running or after a crash.
    pub end: Option<(TimestampMs, String)>,
}

/// What came of one look at a market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionAction {
    Enter,
    Exit,
    Pass,
    /// The strategy wanted an order; the risk gate refused it.
    Refused,
    /// The features were not ready (warm-up, no book).
    NotReady,
}

impl DecisionAction {
    pub const ALL: [DecisionAction; 5] = [
        DecisionAction::Enter,
        DecisionAction::Exit,
        DecisionAction::Pass,
        DecisionAction::Refused,
        DecisionAction::NotReady,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            DecisionAction::Enter => "enter",
            DecisionAction::Exit => "exit",
            DecisionAction::Pass => "pass",
            DecisionAction::Refused => "refused",
            DecisionAction::NotReady => "not_ready",
        }
    }

    fn parse(path: &Path, s: &str) -> Result<DecisionAction, JournalError> {
        DecisionAction::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| corrupt(path, format!("action {s:?}")))
    }
}

/// One sample of one market.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub run: i64,
    pub at: TimestampMs,
    pub market: ConditionId,
    pub up_token: TokenId,
    /// The UP book's best bid + best ask, in pips (twice the mid).
    pub up_mid2_pips: Option<u32>,
    pub p_up: Option<Decimal>,
    pub confidence: Option<Decimal>,
    pub action: DecisionAction,
    /// The pass rule, the refusal code, the exit reason, or `entry`.
    pub reason: String,
    pub client_order_id: Option<ClientOrderId>,
    /// Everything else that decided it (the numbers).
    pub detail: serde_json::Value,
}

/// A closed position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    pub run: i64,
    pub market: ConditionId,
    pub token: TokenId,
    pub entry_order: ClientOrderId,
    pub opened: TimestampMs,
    pub closed: TimestampMs,
    /// Shares matched on the buys.
    pub shares: Size,
    /// pUSD paid, fees included.
    pub cost: Usdc,
    /// pUSD from sells and payouts.
    pub proceeds: Usdc,
    /// Fees paid, in pUSD (a trade journaled before schema 4 counted the
    /// fee shares of its buys at their fill price).
    pub fees: Usdc,
    pub close_reason: String,
    pub confidence: Option<Decimal>,
    pub probability: Option<Decimal>,
}

impl Trade {
    /// Profit after every fee.
    pub fn pnl(&self) -> Usdc {
        self.proceeds - self.cost
    }
}

/// A resolution payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutRow {
    pub run: i64,
    pub market: ConditionId,
    pub token: TokenId,
    pub shares: Size,
    pub amount: Usdc,
    pub at: TimestampMs,
}

/// The account marked to the best bid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub run: i64,
    pub at: TimestampMs,
    pub cash: Usdc,
    /// Open positions at the best bid, plus `unredeemed`.
    pub positions: Usdc,
    /// Of `positions`: shares of resolved markets not yet redeemed, at
    /// their payout. Not cash until the redemption is confirmed.
    pub unredeemed: Usdc,
    /// Realised P&L so far in the run.
    pub realised: Usdc,
    /// Fees paid so far in the run.
    pub fees: Usdc,
    pub open_positions: u32,
}

impl Mark {
    pub fn equity(&self) -> Usdc {
        self.cash + self.positions
    }
}

/// One engine row, for [`Journal::record_rows`].
#[derive(Debug, Clone, PartialEq)]
pub enum EngineRow {
    Decision(Decision),
    Trade(Trade),
    Payout(PayoutRow),
    Mark(Mark),
    /// The run that placed an order (the order's row must exist).
    RunOrder {
        run: i64,
        client_order_id: ClientOrderId,
        market: ConditionId,
    },
}

fn dec_text(d: Option<Decimal>) -> Option<String> {
    d.map(|d| d.normalize().to_string())
}

fn dec_parse(path: &Path, s: Option<String>, what: &str) -> Result<Option<Decimal>, JournalError> {
    s.map(|s| Decimal::from_str(&s).map_err(|_| corrupt(path, format!("{what} {s:?}")))).transpose()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hash a run's config gets: of its JSON text, keys in serde_json's
/// (sorted) order.
pub fn config_hash(config: &serde_json::Value) -> String {
    sha256_hex(config.to_string().as_bytes())
}

impl Journal {
    /// Records the start of a run; returns its id.
    pub fn start_run(&mut self, run: &RunStart) -> Result<i64, JournalError> {
        let path = self.path.clone();
        let config_json = to_json(&path, &run.config)?;
        let model_json = to_json(&path, &run.model)?;
        if run.model_fingerprint.is_empty() {
            return Err(JournalError::Invalid { path, reason: "a run needs its model's fingerprint".into() });
        }
        let hash = sha256_hex(config_json.as_bytes());
        let r = self.write(|tx, path| {
            tx.prepare_cached(
                "INSERT INTO runs (mode, data_source, config_hash, config_json, model_fingerprint, model_json,
                                   pmbot_version, gate_override, started_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    run.mode.as_str(),
                    run.data_source.as_str(),
                    hash,
                    config_json,
                    run.model_fingerprint,
                    model_json,
                    run.pmbot_version,
                    run.gate_override,
                    run.started.millis()
                ])
            })
            .map_err(|e| classify(path, e))?;
            Ok(tx.last_insert_rowid())
        });
        if let Ok(id) = &r {
            self.notify(Committed::RunStarted { id: *id, run });
        }
        r
    }

    /// Records the end of a run (once).
    pub fn end_run(&mut self, run: i64, at: TimestampMs, reason: &str) -> Result<(), JournalError> {
        let r = self.write(|tx, path| {
            tx.prepare_cached("INSERT INTO run_ends (run_id, ended_ms, reason) VALUES (?1, ?2, ?3)")
                .and_then(|mut s| s.execute(params![run, at.millis(), reason]))
                .map_err(|e| classify(path, e))?;
            Ok(())
        });
        if r.is_ok() {
            self.notify(Committed::RunEnded { run, at, reason });
        }
        r
    }

    /// Writes `rows` in one transaction: all or none.
    pub fn record_rows(&mut self, rows: &[EngineRow]) -> Result<(), JournalError> {
        if rows.is_empty() {
            return Ok(());
        }
        let r = self.write(|tx, path| {
            for row in rows {
                insert_row(tx, path, row)?;
            }
            Ok(())
        });
        if r.is_ok() {
            self.notify(Committed::Rows(rows));
        }
        r
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<Run>, JournalError> {
        self.select(
            "SELECT r.id, r.mode, r.data_source, r.config_hash, r.config_json, r.model_fingerprint, r.model_json,
                    r.pmbot_version, r.gate_override, r.started_ms, e.ended_ms, e.reason
             FROM runs r LEFT JOIN run_ends e ON e.run_id = r.id ORDER BY r.id",
            [],
            run_from_row,
        )
    }

    /// The decisions of every run, in the order written.
    pub fn decisions(&self) -> Result<Vec<Decision>, JournalError> {
        self.select(
            "SELECT run_id, at_ms, market, up_token, up_mid2_pips, p_up, confidence, action, reason,
                    client_order_id, detail_json FROM decisions ORDER BY id",
            [],
            decision_from_row,
        )
    }

    /// Closed positions, in the order closed.
    pub fn trades(&self) -> Result<Vec<Trade>, JournalError> {
        self.select(
            "SELECT run_id, market, token, entry_order, opened_ms, closed_ms, shares_micros, cost_micros,
                    proceeds_micros, fees_micros, close_reason, confidence, probability FROM trades ORDER BY id",
            [],
            trade_from_row,
        )
    }

    pub fn payouts(&self) -> Result<Vec<PayoutRow>, JournalError> {
        self.select(
            "SELECT run_id, market, token, shares_micros, amount_micros, at_ms FROM payouts ORDER BY id",
            [],
            |path, r| {
                Ok(PayoutRow {
                    run: get(path, r, 0)?,
                    market: parse_hash(path, get(path, r, 1)?)?,
                    token: parse_token(path, get(path, r, 2)?)?,
                    shares: size_from(path, get(path, r, 3)?)?,
                    amount: Usdc::from_micros(get(path, r, 4)?),
                    at: ts(get(path, r, 5)?),
                })
            },
        )
    }

    pub fn marks(&self) -> Result<Vec<Mark>, JournalError> {
        self.select(
            "SELECT run_id, at_ms, cash_micros, positions_micros, realised_micros, fees_micros, open_positions,
                    unredeemed_micros
             FROM marks ORDER BY id",
            [],
            |path, r| {
                Ok(Mark {
                    run: get(path, r, 0)?,
                    at: ts(get(path, r, 1)?),
                    cash: Usdc::from_micros(get(path, r, 2)?),
                    positions: Usdc::from_micros(get(path, r, 3)?),
                    realised: Usdc::from_micros(get(path, r, 4)?),
                    fees: Usdc::from_micros(get(path, r, 5)?),
                    open_positions: get(path, r, 6)?,
                    unredeemed: Usdc::from_micros(get(path, r, 7)?),
                })
            },
        )
    }

    /// (client order id, run, market) of every order a run placed.
    pub fn run_orders(&self) -> Result<Vec<(ClientOrderId, i64, ConditionId)>, JournalError> {
        self.select("SELECT client_order_id, run_id, market FROM run_orders ORDER BY rowid", [], |path, r| {
            let cid: String = get(path, r, 0)?;
            let cid = ClientOrderId::new(cid).map_err(|e| corrupt(path, e.to_string()))?;
            Ok((cid, get(path, r, 1)?, parse_hash(path, get(path, r, 2)?)?))
        })
    }

    /// The run an order belongs to, if a run placed it.
    pub fn run_of_order(&self, id: &ClientOrderId) -> Result<Option<i64>, JournalError> {
        let path = self.path.as_path();
        self.conn
            .prepare_cached("SELECT run_id FROM run_orders WHERE client_order_id = ?1")
            .and_then(|mut s| s.query_row([id.as_str()], |r| r.get(0)).optional())
            .map_err(|e| classify(path, e))
    }
}

fn insert_row(tx: &Transaction<'_>, path: &Path, row: &EngineRow) -> Result<(), JournalError> {
    let result = match row {
        EngineRow::Decision(d) => {
            let detail = to_json(path, &d.detail)?;
            tx.prepare_cached(
                "INSERT INTO decisions (run_id, at_ms, market, up_token, up_mid2_pips, p_up, confidence, action,
                                        reason, client_order_id, detail_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    d.run,
                    d.at.millis(),
                    d.market.to_string(),
                    d.up_token.as_str(),
                    d.up_mid2_pips,
                    dec_text(d.p_up),
                    dec_text(d.confidence),
                    d.action.as_str(),
                    d.reason,
                    d.client_order_id.as_ref().map(ClientOrderId::as_str),
                    detail
                ])
            })
        }
        EngineRow::Trade(t) => {
            let shares = size_to_sql(path, t.shares, "trade shares")?;
            tx.prepare_cached(
                "INSERT INTO trades (run_id, market, token, entry_order, opened_ms, closed_ms, shares_micros,
                                     cost_micros, proceeds_micros, fees_micros, pnl_micros, close_reason,
                                     confidence, probability)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    t.run,
                    t.market.to_string(),
                    t.token.as_str(),
                    t.entry_order.as_str(),
                    t.opened.millis(),
                    t.closed.millis(),
                    shares,
                    t.cost.micros(),
                    t.proceeds.micros(),
                    t.fees.micros(),
                    t.pnl().micros(),
                    t.close_reason,
                    dec_text(t.confidence),
                    dec_text(t.probability)
                ])
            })
        }
        EngineRow::Payout(p) => {
            let shares = size_to_sql(path, p.shares, "payout shares")?;
            tx.prepare_cached(
                "INSERT INTO payouts (run_id, market, token, shares_micros, amount_micros, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    p.run,
                    p.market.to_string(),
                    p.token.as_str(),
                    shares,
                    p.amount.micros(),
                    p.at.millis()
                ])
            })
        }
        EngineRow::Mark(m) => tx
            .prepare_cached(
                "INSERT INTO marks (run_id, at_ms, cash_micros, positions_micros, equity_micros, realised_micros,
                                    fees_micros, open_positions, unredeemed_micros)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    m.run,
                    m.at.millis(),
                    m.cash.micros(),
                    m.positions.micros(),
                    m.equity().micros(),
                    m.realised.micros(),
                    m.fees.micros(),
                    m.open_positions,
                    m.unredeemed.micros()
                ])
            }),
        EngineRow::RunOrder { run, client_order_id, market } => tx
            .prepare_cached("INSERT INTO run_orders (client_order_id, run_id, market) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![client_order_id.as_str(), run, market.to_string()])),
    };
    result.map(|_| ()).map_err(|e| classify(path, e))
}

fn get<T: rusqlite::types::FromSql>(path: &Path, r: &Row<'_>, i: usize) -> Result<T, JournalError> {
    r.get(i).map_err(|e| classify(path, e))
}

fn ts(ms: i64) -> TimestampMs {
    TimestampMs::from_millis(ms)
}

fn parse_hash(path: &Path, s: String) -> Result<ConditionId, JournalError> {
    ConditionId::parse(&s).map_err(|_| corrupt(path, format!("market {s:?}")))
}

fn parse_token(path: &Path, s: String) -> Result<TokenId, JournalError> {
    TokenId::parse(&s).map_err(|_| corrupt(path, format!("token {s:?}")))
}

fn size_from(path: &Path, micros: i64) -> Result<Size, JournalError> {
    super::codec::size_from_sql(path, micros, "size")
}

fn json(path: &Path, s: String) -> Result<serde_json::Value, JournalError> {
    serde_json::from_str(&s).map_err(|e| corrupt(path, format!("json: {e}")))
}

fn run_from_row(path: &Path, r: &Row<'_>) -> Result<Run, JournalError> {
    let ended: Option<i64> = get(path, r, 10)?;
    let reason: Option<String> = get(path, r, 11)?;
    Ok(Run {
        id: get(path, r, 0)?,
        start: RunStart {
            mode: RunMode::parse(path, &get::<String>(path, r, 1)?)?,
            data_source: DataSource::parse(path, &get::<String>(path, r, 2)?)?,
            config: json(path, get(path, r, 4)?)?,
            model_fingerprint: get(path, r, 5)?,
            model: json(path, get(path, r, 6)?)?,
            pmbot_version: get(path, r, 7)?,
            gate_override: get(path, r, 8)?,
            started: ts(get(path, r, 9)?),
        },
        config_hash: get(path, r, 3)?,
        end: ended.map(|e| (ts(e), reason.unwrap_or_default())),
    })
}

fn decision_from_row(path: &Path, r: &Row<'_>) -> Result<Decision, JournalError> {
    let cid: Option<String> = get(path, r, 9)?;
    Ok(Decision {
        run: get(path, r, 0)?,
        at: ts(get(path, r, 1)?),
        market: parse_hash(path, get(path, r, 2)?)?,
        up_token: parse_token(path, get(path, r, 3)?)?,
        up_mid2_pips: get(path, r, 4)?,
        p_up: dec_parse(path, get(path, r, 5)?, "p_up")?,
        confidence: dec_parse(path, get(path, r, 6)?, "confidence")?,
        action: DecisionAction::parse(path, &get::<String>(path, r, 7)?)?,
        reason: get(path, r, 8)?,
        client_order_id: cid.map(|c| ClientOrderId::new(c).map_err(|e| corrupt(path, e.to_string()))).transpose()?,
        detail: json(path, get(path, r, 10)?)?,
    })
}

fn trade_from_row(path: &Path, r: &Row<'_>) -> Result<Trade, JournalError> {
    let cid: String = get(path, r, 3)?;
    Ok(Trade {
        run: get(path, r, 0)?,
        market: parse_hash(path, get(path, r, 1)?)?,
        token: parse_token(path, get(path, r, 2)?)?,
        entry_order: ClientOrderId::new(cid).map_err(|e| corrupt(path, e.to_string()))?,
        opened: ts(get(path, r, 4)?),
        closed: ts(get(path, r, 5)?),
        shares: size_from(path, get(path, r, 6)?)?,
        cost: Usdc::from_micros(get(path, r, 7)?),
        proceeds: Usdc::from_micros(get(path, r, 8)?),
        fees: Usdc::from_micros(get(path, r, 9)?),
        close_reason: get(path, r, 10)?,
        confidence: dec_parse(path, get(path, r, 11)?, "confidence")?,
        probability: dec_parse(path, get(path, r, 12)?, "probability")?,
    })
}
