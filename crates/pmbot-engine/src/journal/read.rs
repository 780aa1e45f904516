//! Queries. Every row is parsed back into core types; a stored value that no
//! longer parses is [`JournalError::Corrupt`], never skipped.

use std::collections::BTreeMap;
use std::path::Path;

use pmbot_core::{
    ClientOrderId, ConditionId, EventTime, Fill, OrderId, OrderIntent, OrderStatus, Price, Side, Size, TimestampMs,
    TokenId, Usdc,
};
use rusqlite::types::FromSql;
use rusqlite::{Params, Row};
use rust_decimal::Decimal;

use super::codec::{ALL_STATUSES, parse_liquidity, parse_side, parse_status, size_from_sql, status_text};
use super::error::{JournalError, classify, corrupt};
use super::order_log::PreparedOrder;
use super::{EventSource, Journal};

/// An order as the journal holds it.
#[derive(Debug, Clone)]
pub struct JournalOrder {
    /// As recorded before sending.
    pub prepared: PreparedOrder,
    pub status: OrderStatus,
    /// The exchange's own status text, as last reported.
    pub exchange_status: Option<String>,
    /// Cumulative shares filled, as last reported.
    pub filled: Size,
    /// Send attempts recorded (1 for an order sent once).
    pub attempts: u32,
    pub updated: TimestampMs,
    /// The reason of the last rejection or unknown state.
    pub last_error: Option<String>,
}

/// One status change of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEvent {
    pub client_order_id: ClientOrderId,
    pub status: OrderStatus,
    pub filled: Size,
    pub exchange_status: Option<String>,
    pub reason: Option<String>,
    pub source: EventSource,
    pub at: TimestampMs,
}

/// An intent refused before sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub intent: OrderIntent,
    pub reason: String,
    pub at: TimestampMs,
}

/// A free-form journal event.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub kind: String,
    pub detail: serde_json::Value,
    pub at: TimestampMs,
}

/// What the journal's fills add up to for one token. A pUSD fee adds to the
/// cost; every share bought is held (CLOB V2). Fills journaled before
/// schema 4 may say a BUY's fee was shares withheld: those never arrived,
/// so they count against the holding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub token: TokenId,
    pub fills: u64,
    /// Shares matched on buys.
    pub bought: Size,
    /// Shares matched on sells.
    pub sold: Size,
    /// Shares withheld as fees by fills journaled before schema 4 (zero for
    /// every fill since).
    pub fee_shares: Size,
    /// pUSD paid as fees.
    pub fee_collateral: Usdc,
    /// bought - fee_shares - sold. Negative only if the journal misses fills
    /// (shares held before it, or a lost record).
    pub net_shares: Decimal,
    /// pUSD paid for buys + pUSD fees - pUSD received for sells, exactly (up
    /// to 10 decimals: price x size is not a whole number of micros).
    pub net_cost: Decimal,
}

const ORDER_COLUMNS: &str = "id, client_order_id, order_hash, salt, market, intent_json, body, created_ms, status,
     exchange_status, filled_micros, attempts, updated_ms, last_error";

const FILL_COLUMNS: &str = "id, trade_id, order_hash, client_order_id, token, side, price_pips, size_micros, fee_kind,
     fee_micros, liquidity, received_ms, exchange_ms";

impl Journal {
    /// Every order, oldest first.
    pub fn orders(&self) -> Result<Vec<JournalOrder>, JournalError> {
        self.select(&format!("SELECT {ORDER_COLUMNS} FROM orders ORDER BY id"), [], order_from_row)
    }

    /// The orders in `status`, oldest first.
    pub fn orders_with_status(&self, status: OrderStatus) -> Result<Vec<JournalOrder>, JournalError> {
        self.select(
            &format!("SELECT {ORDER_COLUMNS} FROM orders WHERE status = ?1 ORDER BY id"),
            [status_text(status)],
            order_from_row,
        )
    }

    /// The orders not in a final state (what start-up reconciles), oldest first.
    pub fn unfinished_orders(&self) -> Result<Vec<JournalOrder>, JournalError> {
        // The list of statuses comes from the core's own `is_terminal`.
        let open: Vec<String> =
            ALL_STATUSES.into_iter().filter(|s| !s.is_terminal()).map(|s| format!("'{}'", status_text(s))).collect();
        self.select(
            &format!("SELECT {ORDER_COLUMNS} FROM orders WHERE status IN ({}) ORDER BY id", open.join(", ")),
            [],
            order_from_row,
        )
    }

    /// Final orders whose recorded fills add up to less than their filled
    /// size: a crash fell between writing an order's status and its fill.
    /// Start-up reads their trades again. Oldest first.
    pub fn final_orders_missing_fills(&self) -> Result<Vec<JournalOrder>, JournalError> {
        let closed: Vec<String> =
            ALL_STATUSES.into_iter().filter(|s| s.is_terminal()).map(|s| format!("'{}'", status_text(s))).collect();
        self.select(
            &format!(
                "SELECT {ORDER_COLUMNS} FROM orders o WHERE status IN ({}) AND filled_micros >
                   (SELECT coalesce(sum(f.size_micros), 0) FROM fills f WHERE f.order_hash = o.order_hash)
                 ORDER BY id",
                closed.join(", ")
            ),
            [],
            order_from_row,
        )
    }

    /// One order by our id.
    pub fn order(&self, id: &ClientOrderId) -> Result<Option<JournalOrder>, JournalError> {
        let mut rows = self.select(
            &format!("SELECT {ORDER_COLUMNS} FROM orders WHERE client_order_id = ?1"),
            [id.as_str()],
            order_from_row,
        )?;
        Ok(rows.pop())
    }

    /// One order by its hash (the exchange's order id).
    pub fn order_by_hash(&self, hash: &OrderId) -> Result<Option<JournalOrder>, JournalError> {
        let mut rows = self.select(
            &format!("SELECT {ORDER_COLUMNS} FROM orders WHERE order_hash = ?1"),
            [hash.to_string()],
            order_from_row,
        )?;
        Ok(rows.pop())
    }

    /// Every status change of one order, in the order recorded.
    pub fn order_events(&self, id: &ClientOrderId) -> Result<Vec<OrderEvent>, JournalError> {
        self.select(
            "SELECT id, client_order_id, status, filled_micros, exchange_status, reason, source, at_ms
             FROM order_events WHERE client_order_id = ?1 ORDER BY id",
            [id.as_str()],
            event_from_row,
        )
    }

    /// Every fill, in the order recorded. `client_order_id` is always the
    /// order's, even where the fill arrived without it. A fill journaled
    /// before schema 4 whose fee was shares withheld reads with that fee's
    /// value in pUSD, the shares at the fill price rounded up (what the
    /// engine's ledger counted then).
    pub fn fills(&self) -> Result<Vec<Fill>, JournalError> {
        self.select(&format!("SELECT {FILL_COLUMNS} FROM fills ORDER BY id"), [], fill_from_row)
    }

    /// The fills of one order (by the exchange's order id), in the order recorded.
    pub fn fills_of(&self, order: &OrderId) -> Result<Vec<Fill>, JournalError> {
        self.select(
            &format!("SELECT {FILL_COLUMNS} FROM fills WHERE order_hash = ?1 ORDER BY id"),
            [order.to_string()],
            fill_from_row,
        )
    }

    /// Every refusal, oldest first.
    pub fn refusals(&self) -> Result<Vec<Refusal>, JournalError> {
        self.select("SELECT id, intent_json, reason, at_ms FROM refusals ORDER BY id", [], |path, r| {
            let id: i64 = col(path, r, 0)?;
            let json: String = col(path, r, 1)?;
            let intent = serde_json::from_str(&json).map_err(|e| corrupt(path, format!("refusals row {id}: {e}")))?;
            Ok(Refusal { intent, reason: col(path, r, 2)?, at: TimestampMs(col(path, r, 3)?) })
        })
    }

    /// The notes of one kind, oldest first.
    pub fn notes(&self, kind: &str) -> Result<Vec<Note>, JournalError> {
        self.select("SELECT id, kind, detail_json, at_ms FROM notes WHERE kind = ?1 ORDER BY id", [kind], |path, r| {
            let id: i64 = col(path, r, 0)?;
            let json: String = col(path, r, 2)?;
            let detail = serde_json::from_str(&json).map_err(|e| corrupt(path, format!("notes row {id}: {e}")))?;
            Ok(Note { kind: col(path, r, 1)?, detail, at: TimestampMs(col(path, r, 3)?) })
        })
    }

    /// What the fills add up to, per token (tokens in id order).
    pub fn positions(&self) -> Result<Vec<Position>, JournalError> {
        let path = self.path.as_path();
        let too_large = |what: &str| JournalError::TooLarge { path: path.to_path_buf(), what: what.to_string() };
        let mut totals: BTreeMap<TokenId, Totals> = BTreeMap::new();
        let stored = self.select(&format!("SELECT {FILL_COLUMNS} FROM fills ORDER BY id"), [], stored_fill_from_row)?;
        for StoredFill { fill, withheld } in stored {
            let t = totals.entry(fill.token.clone()).or_default();
            t.fills += 1;
            let size = i128::from(fill.size.micros());
            // pips x micros = units of 10^-10 pUSD.
            let notional = i128::from(fill.price.pips()) * size;
            match fill.side {
                Side::Buy => {
                    t.bought += size;
                    t.cost_e10 += notional;
                }
                Side::Sell => {
                    t.sold += size;
                    t.cost_e10 -= notional;
                }
            }
            if withheld.is_zero() {
                t.fee_collateral += i128::from(fill.fee.micros());
                t.cost_e10 += i128::from(fill.fee.micros()) * 10_000;
            } else {
                // The fee was these shares: their cost is in the notional.
                t.fee_shares += i128::from(withheld.micros());
            }
        }
        totals
            .into_iter()
            .map(|(token, t)| {
                let size = |v: i128, what: &str| u64::try_from(v).map(Size::from_micros).map_err(|_| too_large(what));
                let decimal = |v: i128, scale: u32, what: &str| {
                    Decimal::try_from_i128_with_scale(v, scale).map(|d| d.normalize()).map_err(|_| too_large(what))
                };
                Ok(Position {
                    fills: t.fills,
                    bought: size(t.bought, "shares bought")?,
                    sold: size(t.sold, "shares sold")?,
                    fee_shares: size(t.fee_shares, "fee shares")?,
                    fee_collateral: i64::try_from(t.fee_collateral)
                        .map(Usdc::from_micros)
                        .map_err(|_| too_large("pUSD fees"))?,
                    net_shares: decimal(t.bought - t.fee_shares - t.sold, 6, "net shares")?,
                    net_cost: decimal(t.cost_e10, 10, "net cost")?,
                    token,
                })
            })
            .collect()
    }

    /// Runs a query and parses every row with `parse`.
    pub(crate) fn select<T>(
        &self,
        sql: &str,
        params: impl Params,
        parse: impl Fn(&Path, &Row<'_>) -> Result<T, JournalError>,
    ) -> Result<Vec<T>, JournalError> {
        let path = self.path.as_path();
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| classify(path, e))?;
        let mut rows = stmt.query(params).map_err(|e| classify(path, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| classify(path, e))? {
            out.push(parse(path, row)?);
        }
        Ok(out)
    }
}

#[derive(Default)]
struct Totals {
    fills: u64,
    bought: i128,
    sold: i128,
    fee_shares: i128,
    fee_collateral: i128,
    cost_e10: i128,
}

/// Column `i` of a row; a value of the wrong type is corruption.
fn col<T: FromSql>(path: &Path, r: &Row<'_>, i: usize) -> Result<T, JournalError> {
    r.get(i).map_err(|e| classify(path, e))
}

fn order_from_row(path: &Path, r: &Row<'_>) -> Result<JournalOrder, JournalError> {
    let id: i64 = col(path, r, 0)?;
    let bad = |what: &str, e: &dyn std::fmt::Display| corrupt(path, format!("orders row {id}: {what}: {e}"));
    let prepared = PreparedOrder {
        client_order_id: ClientOrderId::new(col::<String>(path, r, 1)?).map_err(|e| bad("client order id", &e))?,
        order_hash: OrderId::parse(&col::<String>(path, r, 2)?).map_err(|e| bad("order hash", &e))?,
        salt: col::<String>(path, r, 3)?.parse().map_err(|e| bad("salt", &e))?,
        market: ConditionId::parse(&col::<String>(path, r, 4)?).map_err(|e| bad("market", &e))?,
        intent: serde_json::from_str(&col::<String>(path, r, 5)?).map_err(|e| bad("intent", &e))?,
        body: col(path, r, 6)?,
        created: TimestampMs(col(path, r, 7)?),
    };
    Ok(JournalOrder {
        prepared,
        status: parse_status(path, &col::<String>(path, r, 8)?)?,
        exchange_status: col(path, r, 9)?,
        filled: size_from_sql(path, col(path, r, 10)?, "filled")?,
        attempts: col(path, r, 11)?,
        updated: TimestampMs(col(path, r, 12)?),
        last_error: col(path, r, 13)?,
    })
}

fn event_from_row(path: &Path, r: &Row<'_>) -> Result<OrderEvent, JournalError> {
    let id: i64 = col(path, r, 0)?;
    let source: String = col(path, r, 6)?;
    Ok(OrderEvent {
        client_order_id: ClientOrderId::new(col::<String>(path, r, 1)?)
            .map_err(|e| corrupt(path, format!("order_events row {id}: {e}")))?,
        status: parse_status(path, &col::<String>(path, r, 2)?)?,
        filled: size_from_sql(path, col(path, r, 3)?, "filled")?,
        exchange_status: col(path, r, 4)?,
        reason: col(path, r, 5)?,
        source: source.parse().map_err(|_| corrupt(path, format!("order_events row {id}: source {source:?}")))?,
        at: TimestampMs(col(path, r, 7)?),
    })
}

/// A fill as stored, with the shares a row journaled before schema 4 says
/// were withheld as its fee (zero for every other row).
struct StoredFill {
    fill: Fill,
    withheld: Size,
}

fn fill_from_row(path: &Path, r: &Row<'_>) -> Result<Fill, JournalError> {
    stored_fill_from_row(path, r).map(|s| s.fill)
}

fn stored_fill_from_row(path: &Path, r: &Row<'_>) -> Result<StoredFill, JournalError> {
    let id: i64 = col(path, r, 0)?;
    let bad = |what: &str| corrupt(path, format!("fills row {id}: {what}"));
    let fee_micros: i64 = col(path, r, 9)?;
    let price = Price::from_pips(col(path, r, 6)?).ok_or_else(|| bad("price"))?;
    let (fee, withheld) = match col::<String>(path, r, 8)?.as_str() {
        "none" => (Usdc::ZERO, Size::ZERO),
        "collateral" => (Usdc::from_micros(fee_micros), Size::ZERO),
        "shares" => {
            let shares = size_from_sql(path, fee_micros, "fee")?;
            (Usdc::from_price_size_ceil(price, shares), shares)
        }
        _ => return Err(bad("fee kind")),
    };
    let fill = Fill {
        trade_id: col(path, r, 1)?,
        order_id: OrderId::parse(&col::<String>(path, r, 2)?).map_err(|_| bad("order hash"))?,
        client_order_id: Some(ClientOrderId::new(col::<String>(path, r, 3)?).map_err(|_| bad("client order id"))?),
        token: TokenId::parse(&col::<String>(path, r, 4)?).map_err(|_| bad("token"))?,
        side: parse_side(path, &col::<String>(path, r, 5)?)?,
        price,
        size: size_from_sql(path, col(path, r, 7)?, "size")?,
        fee,
        liquidity: parse_liquidity(path, &col::<String>(path, r, 10)?)?,
        time: EventTime { received: TimestampMs(col(path, r, 11)?), exchange: TimestampMs(col(path, r, 12)?) },
    };
    Ok(StoredFill { fill, withheld })
}
