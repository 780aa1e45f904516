//! Writes. Each public method is one IMMEDIATE transaction, checked before it
//! writes anything, committed (and fsynced) before it returns.

use super::observer::Committed;
use std::path::Path;

use pmbot_core::{ClientOrderId, Fill, OrderId, OrderIntent, OrderStatus, OrderUpdate, TimestampMs, Usdc};
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::codec::{liquidity_text, order_type_text, size_to_sql, status_text};
use super::error::{Conflict, JournalError, classify, corrupt};
use super::order_log::{LoggedOrder, OrderLog, OrderLogError, PreparedOrder};
use super::{Access, EventSource, Journal};

pub use pmbot_rows::OrderOutcome;

/// What [`Journal::record_fill`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillOutcome {
    Recorded,
    /// This (trade id, order id) was already recorded; nothing changed.
    AlreadyRecorded,
}

impl Journal {
    /// Runs `f` in one IMMEDIATE transaction and commits it; on any error the
    /// transaction is rolled back whole.
    pub(crate) fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>, &Path) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        let Journal { conn, path, access, .. } = self;
        if *access == Access::ReadOnly {
            return Err(JournalError::ReadOnly { path: path.clone() });
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| classify(path, e))?;
        let out = f(&tx, path)?;
        tx.commit().map_err(|e| classify(path, e))?;
        Ok(out)
    }

    /// Records an order about to be sent, durably, before it is sent (the
    /// gateway's `before_send`). The same signed order again (same client
    /// order id, hash, salt, intent and body) is a resend: its attempt count
    /// goes up. A client order id or hash recorded for another order is a
    /// [`JournalError::Conflict`], and nothing is written.
    pub fn record_order(&mut self, order: &PreparedOrder) -> Result<OrderOutcome, JournalError> {
        let path = self.path.clone();
        if order.intent.client_order_id != order.client_order_id {
            return Err(conflict(
                &path,
                &order.client_order_id,
                Conflict::IntentIdMismatch { intent: order.intent.client_order_id.clone() },
            ));
        }
        let intent_json = to_json(&path, &order.intent)?;
        let size = size_to_sql(&path, order.intent.size, "order size")?;
        let cid = order.client_order_id.as_str();
        let hash = order.order_hash.to_string();
        let salt = order.salt.to_string();
        let r = self.write(|tx, path| {
            let by_id: Option<(i64, String, String, String, String, u32)> = tx
                .prepare_cached(
                    "SELECT id, order_hash, salt, intent_json, body, attempts FROM orders WHERE client_order_id = ?1",
                )
                .and_then(|mut s| {
                    s.query_row([cid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
                        .optional()
                })
                .map_err(|e| classify(path, e))?;
            if let Some((id, rec_hash, rec_salt, rec_intent, rec_body, attempts)) = by_id {
                if rec_hash != hash {
                    let recorded = OrderId::parse(&rec_hash).map_err(|e| corrupt(path, e.to_string()))?;
                    return Err(conflict(path, &order.client_order_id, Conflict::ClientIdReused { recorded }));
                }
                if rec_salt != salt || rec_intent != intent_json || rec_body != order.body {
                    return Err(conflict(path, &order.client_order_id, Conflict::ResendDiffers));
                }
                let attempt = attempts + 1;
                tx.execute("UPDATE orders SET attempts = ?1 WHERE id = ?2", params![attempt, id])
                    .map_err(|e| classify(path, e))?;
                let (status, filled): (String, i64) = tx
                    .query_row("SELECT status, filled_micros FROM orders WHERE id = ?1", [id], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .map_err(|e| classify(path, e))?;
                insert_event(
                    tx,
                    path,
                    cid,
                    &status,
                    filled,
                    None,
                    Some(&format!("send attempt {attempt}")),
                    EventSource::Gateway,
                    order.created,
                )?;
                return Ok(OrderOutcome::Resend { attempt });
            }
            let by_hash: Option<String> = tx
                .query_row("SELECT client_order_id FROM orders WHERE order_hash = ?1", [&hash], |r| r.get(0))
                .optional()
                .map_err(|e| classify(path, e))?;
            if let Some(other) = by_hash {
                let recorded = ClientOrderId::new(other).map_err(|e| corrupt(path, e.to_string()))?;
                return Err(conflict(path, &order.client_order_id, Conflict::HashReused { recorded }));
            }
            let intent = &order.intent;
            tx.prepare_cached(
                "INSERT INTO orders (client_order_id, order_hash, salt, token, market, side, price_pips, size_micros,
                                     order_type, post_only, expires_ms, intent_json, body, status, exchange_status,
                                     filled_micros, attempts, created_ms, updated_ms, last_error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, NULL, 0, 1, ?15, ?15, NULL)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    cid,
                    hash,
                    salt,
                    intent.token.as_str(),
                    order.market.to_string(),
                    intent.side.as_str(),
                    intent.limit_price.pips(),
                    size,
                    order_type_text(intent.order_type),
                    intent.post_only,
                    intent.expires_at.map(|t| t.millis()),
                    intent_json,
                    order.body,
                    status_text(OrderStatus::New),
                    order.created.millis(),
                ])
            })
            .map_err(|e| classify(path, e))?;
            insert_event(
                tx,
                path,
                cid,
                status_text(OrderStatus::New),
                0,
                None,
                None,
                EventSource::Gateway,
                order.created,
            )?;
            Ok(OrderOutcome::Recorded)
        });
        if let Ok(outcome) = &r {
            self.notify(Committed::Order { order, outcome: *outcome });
        }
        r
    }

    /// Records a status change and appends it to the order's events. The order
    /// is found by client order id, else by `order_id`; an order the journal
    /// does not hold is [`JournalError::UnknownOrder`], and an `order_id` other
    /// than the recorded hash a conflict. `exchange_status` is the exchange's
    /// own status text, when the update came from the exchange. The journal
    /// records transitions as told; judging them is the order state machine's
    /// job.
    pub fn record_update(
        &mut self,
        update: &OrderUpdate,
        source: EventSource,
        exchange_status: Option<&str>,
    ) -> Result<(), JournalError> {
        let path = self.path.clone();
        let filled = size_to_sql(&path, update.filled, "filled size")?;
        let r = self.write(|tx, path| {
            let cid = find_order(tx, path, &update.client_order_id, update.order_id.as_ref())?;
            // The error text of a rejection or an unknown state; other reasons
            // (a cancel's) stay in the event only.
            let error = match update.status {
                OrderStatus::Rejected | OrderStatus::UnknownPendingReconcile => update.reason.as_deref(),
                _ => None,
            };
            tx.prepare_cached(
                "UPDATE orders SET status = ?1, filled_micros = ?2, exchange_status = coalesce(?3, exchange_status),
                                   updated_ms = ?4, last_error = coalesce(?5, last_error)
                 WHERE client_order_id = ?6",
            )
            .and_then(|mut s| {
                s.execute(params![status_text(update.status), filled, exchange_status, update.at.millis(), error, cid])
            })
            .map_err(|e| classify(path, e))?;
            insert_event(
                tx,
                path,
                &cid,
                status_text(update.status),
                filled,
                exchange_status,
                update.reason.as_deref(),
                source,
                update.at,
            )
        });
        if r.is_ok() {
            self.notify(Committed::Update { update, source });
        }
        r
    }

    /// Records a fill of one of the journal's orders (found by the fill's
    /// order id). The same (trade id, order id) again changes nothing; with a
    /// different price or size it is a conflict. A fill whose token, side or
    /// client order id differ from its order's is refused.
    pub fn record_fill(&mut self, fill: &Fill) -> Result<FillOutcome, JournalError> {
        let path = self.path.clone();
        let size = size_to_sql(&path, fill.size, "fill size")?;
        let (fee_kind, fee_micros) =
            if fill.fee == Usdc::ZERO { ("none", 0) } else { ("collateral", fill.fee.micros()) };
        let hash = fill.order_id.to_string();
        let r = self.write(|tx, path| {
            let order: Option<(String, String, String)> = tx
                .prepare_cached("SELECT client_order_id, token, side FROM orders WHERE order_hash = ?1")
                .and_then(|mut s| s.query_row([&hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
                .map_err(|e| classify(path, e))?;
            let Some((cid, token, side)) = order else {
                return Err(JournalError::UnknownOrder { path: path.to_path_buf(), order: hash.clone() });
            };
            let mismatch = if fill.client_order_id.as_ref().is_some_and(|c| c.as_str() != cid) {
                Some("client order id")
            } else if fill.token.as_str() != token {
                Some("token")
            } else if fill.side.as_str() != side {
                Some("side")
            } else {
                None
            };
            if let Some(field) = mismatch {
                return Err(JournalError::Conflict {
                    path: path.to_path_buf(),
                    order: hash.clone(),
                    conflict: Conflict::FillMismatch { field },
                });
            }
            let recorded: Option<(i64, i64)> = tx
                .prepare_cached("SELECT price_pips, size_micros FROM fills WHERE trade_id = ?1 AND order_hash = ?2")
                .and_then(|mut s| s.query_row([&fill.trade_id, &hash], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                .map_err(|e| classify(path, e))?;
            if let Some((price, recorded_size)) = recorded {
                if price != i64::from(fill.price.pips()) || recorded_size != size {
                    return Err(JournalError::Conflict {
                        path: path.to_path_buf(),
                        order: hash.clone(),
                        conflict: Conflict::FillDiffers { trade_id: fill.trade_id.clone() },
                    });
                }
                return Ok(FillOutcome::AlreadyRecorded);
            }
            tx.prepare_cached(
                "INSERT INTO fills (trade_id, order_hash, client_order_id, token, side, price_pips, size_micros,
                                    fee_kind, fee_micros, liquidity, received_ms, exchange_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    fill.trade_id,
                    hash,
                    cid,
                    token,
                    side,
                    fill.price.pips(),
                    size,
                    fee_kind,
                    fee_micros,
                    liquidity_text(fill.liquidity),
                    fill.time.received.millis(),
                    fill.time.exchange.millis(),
                ])
            })
            .map_err(|e| classify(path, e))?;
            Ok(FillOutcome::Recorded)
        });
        if let Ok(FillOutcome::Recorded) = &r {
            self.notify(Committed::Fill(fill));
        }
        r
    }

    /// Records an intent refused before sending, with why.
    pub fn record_refusal(&mut self, intent: &OrderIntent, reason: &str, at: TimestampMs) -> Result<(), JournalError> {
        let path = self.path.clone();
        if reason.trim().is_empty() {
            return Err(JournalError::Invalid { path, reason: "a refusal needs a reason".into() });
        }
        let intent_json = to_json(&path, intent)?;
        let r = self.write(|tx, path| {
            tx.prepare_cached(
                "INSERT INTO refusals (client_order_id, token, intent_json, reason, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    intent.client_order_id.as_str(),
                    intent.token.as_str(),
                    intent_json,
                    reason,
                    at.millis()
                ])
            })
            .map_err(|e| classify(path, e))?;
            Ok(())
        });
        if r.is_ok() {
            self.notify(Committed::Refusal { intent, reason, at });
        }
        r
    }

    /// Records a free-form event: `kind` (non-empty) and a JSON detail.
    pub fn record_note(&mut self, kind: &str, detail: &serde_json::Value, at: TimestampMs) -> Result<(), JournalError> {
        let path = self.path.clone();
        if kind.trim().is_empty() {
            return Err(JournalError::Invalid { path, reason: "a note needs a kind".into() });
        }
        let detail_json = to_json(&path, detail)?;
        let r = self.write(|tx, path| {
            tx.prepare_cached("INSERT INTO notes (kind, detail_json, at_ms) VALUES (?1, ?2, ?3)")
                .and_then(|mut s| s.execute(params![kind, detail_json, at.millis()]))
                .map_err(|e| classify(path, e))?;
            Ok(())
        });
        if r.is_ok() {
            self.notify(Committed::Note { kind, detail, at });
        }
        r
    }
}

/// The recorded client order id of the order an update names.
fn find_order(
    tx: &Transaction<'_>,
    path: &Path,
    cid: &ClientOrderId,
    order_id: Option<&OrderId>,
) -> Result<String, JournalError> {
    let by_id: Option<String> = tx
        .prepare_cached("SELECT order_hash FROM orders WHERE client_order_id = ?1")
        .and_then(|mut s| s.query_row([cid.as_str()], |r| r.get(0)).optional())
        .map_err(|e| classify(path, e))?;
    if let Some(recorded) = by_id {
        if let Some(given) = order_id
            && given.to_string() != recorded
        {
            let recorded = OrderId::parse(&recorded).map_err(|e| corrupt(path, e.to_string()))?;
            return Err(conflict(path, cid, Conflict::OrderIdMismatch { recorded, given: *given }));
        }
        return Ok(cid.as_str().to_owned());
    }
    let Some(given) = order_id else {
        return Err(JournalError::UnknownOrder { path: path.to_path_buf(), order: cid.to_string() });
    };
    tx.prepare_cached("SELECT client_order_id FROM orders WHERE order_hash = ?1")
        .and_then(|mut s| s.query_row([given.to_string()], |r| r.get(0)).optional())
        .map_err(|e| classify(path, e))?
        .ok_or_else(|| JournalError::UnknownOrder { path: path.to_path_buf(), order: format!("{cid} ({given})") })
}

#[allow(clippy::too_many_arguments)]
fn insert_event(
    tx: &Transaction<'_>,
    path: &Path,
    cid: &str,
    status: &str,
    filled_micros: i64,
    exchange_status: Option<&str>,
    reason: Option<&str>,
    source: EventSource,
    at: TimestampMs,
) -> Result<(), JournalError> {
    tx.prepare_cached(
        "INSERT INTO order_events (client_order_id, status, filled_micros, exchange_status, reason, source, at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![cid, status, filled_micros, exchange_status, reason, source.as_str(), at.millis()])
    })
    .map_err(|e| classify(path, e))?;
    Ok(())
}

fn conflict(path: &Path, cid: &ClientOrderId, conflict: Conflict) -> JournalError {
    JournalError::Conflict { path: path.to_path_buf(), order: cid.to_string(), conflict }
}

pub(crate) fn to_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<String, JournalError> {
    serde_json::to_string(value)
        .map_err(|e| JournalError::Invalid { path: path.to_path_buf(), reason: format!("cannot serialise: {e}") })
}

impl From<JournalError> for OrderLogError {
    fn from(e: JournalError) -> OrderLogError {
        match e {
            JournalError::Full { .. } => OrderLogError::Full(e.to_string()),
            other => OrderLogError::Storage(other.to_string()),
        }
    }
}

/// The gateway's view of the journal. Status changes through this trait are
/// recorded as coming from [`EventSource::Gateway`].
impl OrderLog for Journal {
    fn before_send(&mut self, order: &PreparedOrder) -> Result<(), OrderLogError> {
        self.record_order(order)?;
        Ok(())
    }

    fn update(&mut self, update: &OrderUpdate) -> Result<(), OrderLogError> {
        Ok(self.record_update(update, EventSource::Gateway, None)?)
    }

    fn fill(&mut self, fill: &Fill) -> Result<bool, OrderLogError> {
        Ok(self.record_fill(fill)? == FillOutcome::Recorded)
    }

    fn refusal(&mut self, intent: &OrderIntent, reason: &str, at: TimestampMs) -> Result<(), OrderLogError> {
        Ok(self.record_refusal(intent, reason, at)?)
    }

    fn note(&mut self, kind: &str, detail: &serde_json::Value, at: TimestampMs) -> Result<(), OrderLogError> {
        Ok(self.record_note(kind, detail, at)?)
    }

    fn open_orders(&self) -> Result<Vec<LoggedOrder>, OrderLogError> {
        let mut orders = self.unfinished_orders()?;
        orders.extend(self.final_orders_missing_fills()?);
        Ok(orders
            .into_iter()
            .map(|o| LoggedOrder { prepared: o.prepared, status: o.status, filled: o.filled })
            .collect())
    }
}
