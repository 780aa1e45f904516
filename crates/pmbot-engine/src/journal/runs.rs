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
use sha2::{Digest, Sha256};

use super::codec::size_to_sql;
use super::error::{JournalError, classify, corrupt};
use super::{Journal, write::to_json};

pub use pmbot_rows::{DataSource, Decision, DecisionAction, EngineRow, Mark, PayoutRow, RunMode, RunStart, Trade};

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

fn run_mode(path: &Path, s: &str) -> Result<RunMode, JournalError> {
    s.parse().map_err(|_| corrupt(path, format!("run mode {s:?}")))
}

fn data_source(path: &Path, s: &str) -> Result<DataSource, JournalError> {
    s.parse().map_err(|_| corrupt(path, format!("data source {s:?}")))
}

fn decision_action(path: &Path, s: &str) -> Result<DecisionAction, JournalError> {
    s.parse().map_err(|_| corrupt(path, format!("action {s:?}")))
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
            mode: run_mode(path, &get::<String>(path, r, 1)?)?,
            data_source: data_source(path, &get::<String>(path, r, 2)?)?,
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
        action: decision_action(path, &get::<String>(path, r, 7)?)?,
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
