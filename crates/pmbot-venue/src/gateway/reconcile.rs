//! Finding out what the exchange holds: one order by its hash after an
//! ambiguous post, every open order after a reconnect, and everything the
//! journal left open at start-up.
//!
//! Invariant: pmbot never trades on a partial picture. At start-up every
//! order the journal reports open is looked up by its hash and its trades,
//! the journal is brought up to date, and an open order on the exchange that
//! the journal does not know stops start-up.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Weak;
use std::sync::atomic::Ordering;

use pmbot_core::order_state::{OrderInput, OrderState};
use pmbot_core::{ConditionId, OrderId, OrderStatus};
use reqwest::Method;
use serde::Serialize;
use tokio::sync::watch;

use super::classify::{CallOutcome, classify_call};
use super::tracker::{Effect, FillInfo, Tracked};
use super::wire::{Page, TERMINAL_CURSOR, VenueOrder, VenueTrade};
use super::{GatewayError, Inner, StartError, lock};

/// What a look-up of one order found.
#[derive(Debug, Clone)]
pub(crate) enum Resolution {
    Found(VenueOrder),
    /// The order endpoint did not know it, but trades name it.
    FoundTrades(Vec<VenueTrade>),
    /// Not on the exchange (as far as can be seen now).
    Absent,
    /// Every look-up failed.
    Unreachable(String),
}

/// An open order on the exchange that pmbot's journal does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmappedOrder {
    pub order_id: String,
    pub market: Option<String>,
    pub token: Option<String>,
    pub side: Option<String>,
    pub price: Option<String>,
    pub original_size: String,
}

impl fmt::Display for UnmappedOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} {} @ {} in {})",
            self.order_id,
            self.side.as_deref().unwrap_or("?"),
            self.original_size,
            self.price.as_deref().unwrap_or("?"),
            self.market.as_deref().unwrap_or("?")
        )
    }
}

/// What a reconciliation found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Orders looked up.
    pub checked: usize,
    /// Orders whose state changed.
    pub changed: usize,
    /// Of those checked, now open on the exchange.
    pub open: usize,
    /// Of those checked, final now (filled, cancelled, rejected).
    pub closed: usize,
    /// Orders the exchange does not have (never landed).
    pub not_on_exchange: usize,
    /// Fills recorded that the journal did not have.
    pub new_fills: usize,
    /// Orders that could not be looked up; still pending.
    pub unresolved: usize,
    /// Open orders on the exchange the journal does not know.
    pub unmapped: Vec<UnmappedOrder>,
}

impl Inner {
    /// `GET /data/order/{hash}`: `Ok(None)` when the exchange does not know it.
    pub(crate) async fn lookup_order(&self, hash: OrderId) -> Result<Option<VenueOrder>, String> {
        self.stats.lookups.fetch_add(1, Ordering::Relaxed);
        let path = format!("/data/order/{hash}");
        let r = self.transport.send(Method::GET, &path, "", None).await;
        match (&r, classify_call(&r)) {
            (Ok(reply), CallOutcome::Answered) => {
                let v: serde_json::Value = serde_json::from_str(&reply.body).map_err(|e| e.to_string())?;
                if v.is_null() || v.as_object().is_some_and(|o| o.is_empty()) {
                    return Ok(None);
                }
                VenueOrder::from_value(&v).map(Some).map_err(|e| e.to_string())
            }
            (Ok(reply), CallOutcome::Failed { .. }) if reply.status == 404 => Ok(None),
            (_, CallOutcome::Fatal { detail, .. }) => {
                self.halt(format!("order look-up: {detail}"));
                Err(detail)
            }
            (_, CallOutcome::Retry { detail, .. } | CallOutcome::Failed { detail, .. }) => Err(detail),
            (Err(e), CallOutcome::Answered) => Err(e.to_string()),
        }
    }

    /// Every page of an L2 list endpoint.
    async fn pages(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<serde_json::Value>, String> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1000 {
            let mut q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if let Some(c) = &cursor {
                q.push(format!("next_cursor={c}"));
            }
            let qs = if q.is_empty() { String::new() } else { format!("?{}", q.join("&")) };
            let reply = self.call(Method::GET, path, &qs, None, None).await.map_err(|e| e.to_string())?;
            let page: Page = serde_json::from_str(&reply.body).map_err(|e| format!("{path}: {e}"))?;
            let n = page.data.len();
            out.extend(page.data);
            if n == 0 || page.next_cursor.is_empty() || page.next_cursor == TERMINAL_CURSOR {
                return Ok(out);
            }
            cursor = Some(page.next_cursor);
        }
        Err(format!("{path}: more than 1000 pages"))
    }

    /// The account's trades in `market`.
    pub(crate) async fn trades_in(&self, market: ConditionId) -> Result<Vec<VenueTrade>, String> {
        let raw = self.pages("/data/trades", &[("market", market.to_string())]).await?;
        let mut out = Vec::with_capacity(raw.len());
        for v in &raw {
            match VenueTrade::from_value(v) {
                Ok(t) => out.push(t),
                Err(e) => return Err(format!("trade record: {e}")),
            }
        }
        Ok(out)
    }

    /// The account's open orders.
    pub(crate) async fn open_on_exchange(&self) -> Result<Vec<VenueOrder>, String> {
        let raw = self.pages("/data/orders", &[]).await?;
        raw.iter().map(|v| VenueOrder::from_value(v).map_err(|e| e.to_string())).collect()
    }

    /// Finds one order after an ambiguous post: by its hash, then by trades.
    pub(crate) async fn resolve(&self, hash: OrderId, market: ConditionId) -> Resolution {
        let mut last = String::new();
        let mut absent = false;
        for attempt in 0..self.cfg.lookup_tries {
            if attempt > 0 {
                tokio::time::sleep(self.cfg.lookup_interval).await;
            }
            match self.lookup_order(hash).await {
                Ok(Some(o)) => return Resolution::Found(o),
                Ok(None) => {
                    absent = true;
                    break;
                }
                Err(e) => last = e,
            }
        }
        if !absent {
            return Resolution::Unreachable(last);
        }
        match self.trades_of(hash, market).await {
            Ok(mine) if mine.is_empty() => Resolution::Absent,
            Ok(mine) => Resolution::FoundTrades(mine),
            Err(e) => Resolution::Unreachable(e),
        }
    }

    /// The trades in `market` one of whose legs is the order `hash`.
    pub(crate) async fn trades_of(&self, hash: OrderId, market: ConditionId) -> Result<Vec<VenueTrade>, String> {
        let trades = self.trades_in(market).await?;
        Ok(trades.into_iter().filter(|t| t.legs.iter().any(|l| l.order_id == hash)).collect())
    }

    /// Applies the exchange's record of an order we track.
    pub(crate) fn apply_venue_order(&self, o: &VenueOrder) -> Effect {
        let input = OrderInput::Venue { kind: o.kind, status: o.status, size_matched: o.size_matched };
        self.apply_hash(&o.id, input, None)
    }

    /// Applies every leg of a trade that is one of our orders. Returns how
    /// many new fills were recorded.
    pub(crate) fn apply_trade(&self, t: &VenueTrade) -> usize {
        let mut new_fills = 0;
        for leg in &t.legs {
            let info = FillInfo { price: leg.price, taker: leg.taker, exchange_time: t.time };
            let input = OrderInput::Trade { trade_id: t.id.clone(), size: leg.size, status: t.status };
            if let Effect::Applied { new_fill: true, .. } = self.apply_hash(&leg.order_id, input, Some(info)) {
                new_fills += 1;
            }
        }
        new_fills
    }

    /// Brings every order not in a final state up to date: the account's
    /// open orders in one listing, a look-up by hash for each tracked order
    /// missing from it (filled, cancelled, or never landed), and the trades
    /// of their markets. With `only_pending`, only orders whose fate is
    /// unknown are looked up (the background sweep).
    pub(crate) async fn reconcile_open(&self, only_pending: bool) -> Result<ReconcileReport, GatewayError> {
        let call_err = |detail: String| GatewayError::Call { what: "reconciliation", detail };
        let targets: Vec<Tracked> = lock(&self.tracker)
            .open()
            .into_iter()
            .filter(|t| !only_pending || t.state.status() == OrderStatus::UnknownPendingReconcile)
            .collect();
        let before: Vec<(OrderId, OrderStatus)> =
            targets.iter().filter_map(|t| t.state.order_id().map(|h| (h, t.state.status()))).collect();
        let mut report = ReconcileReport { checked: targets.len(), ..ReconcileReport::default() };
        let mut listed = BTreeSet::new();
        if !only_pending {
            for o in self.open_on_exchange().await.map_err(call_err)? {
                listed.insert(o.id);
                if let Effect::Unknown = self.apply_venue_order(&o) {
                    report.unmapped.push(UnmappedOrder {
                        order_id: o.id.to_string(),
                        market: o.market.clone(),
                        token: o.token.as_ref().map(ToString::to_string),
                        side: o.side.map(|s| s.as_str().to_owned()),
                        price: o.price.map(|p| p.to_string()),
                        original_size: o.original_size.to_string(),
                    });
                }
            }
        }
        let mut markets = BTreeSet::new();
        for t in &targets {
            let Some(hash) = t.state.order_id() else { continue };
            markets.insert(t.market);
            if listed.contains(&hash) {
                continue;
            }
            match self.lookup_order(hash).await {
                Ok(Some(o)) => {
                    self.apply_venue_order(&o);
                }
                Ok(None) => {
                    let reason = "not on the exchange at reconciliation".to_owned();
                    self.apply_hash(&hash, OrderInput::NotOnVenue { reason }, None);
                }
                Err(_) => report.unresolved += 1,
            }
        }
        for m in markets {
            match self.trades_in(m).await {
                Ok(trades) => {
                    for trade in trades {
                        report.new_fills += self.apply_trade(&trade);
                    }
                }
                Err(e) if !only_pending => return Err(call_err(e)),
                Err(_) => {}
            }
        }
        for (hash, was) in &before {
            let now = self.status_of(hash);
            if now != Some(*was) {
                report.changed += 1;
            }
            match now {
                Some(OrderStatus::Rejected) => report.not_on_exchange += 1,
                Some(s) if s.is_terminal() => report.closed += 1,
                Some(OrderStatus::Acknowledged | OrderStatus::PartiallyFilled) => report.open += 1,
                _ => {}
            }
        }
        if report.new_fills > 0 {
            self.balance.refresh().await;
        }
        if report.changed > 0 || report.new_fills > 0 || !report.unmapped.is_empty() || !only_pending {
            let detail = serde_json::to_value(&report).unwrap_or_default();
            self.journal_note(if only_pending { "reconcile_pending" } else { "reconciliation" }, &detail);
        }
        Ok(report)
    }

    fn status_of(&self, hash: &OrderId) -> Option<OrderStatus> {
        let t = lock(&self.tracker);
        t.cid_of(hash).and_then(|c| t.get(c)).map(|x| x.state.status())
    }

    /// Start-up: tracks what the journal left open, then reconciles it all.
    /// A final order the journal holds without all of its fills (a crash
    /// between the two writes) has its market's trades read again.
    pub(crate) async fn recover(&self) -> Result<ReconcileReport, StartError> {
        let logged = self.with_log(|l| l.open_orders())?;
        let owed: BTreeSet<ConditionId> =
            logged.iter().filter(|o| o.status.is_terminal()).map(|o| o.prepared.market).collect();
        // Fills found now pay by their market's fee schedule: read it first.
        let mut fees = BTreeMap::new();
        for o in &logged {
            let token = &o.prepared.intent.token;
            if !fees.contains_key(token) {
                let meta = self.market_meta(token).await.map_err(|e| StartError::Reconcile(e.to_string()))?;
                fees.insert(token.clone(), meta.fee);
            }
        }
        {
            let mut tracker = lock(&self.tracker);
            for o in logged {
                let p = &o.prepared;
                let state = OrderState::restored(
                    p.client_order_id.clone(),
                    Some(p.order_hash),
                    p.intent.size,
                    p.intent.order_type,
                    o.status,
                    o.filled,
                );
                tracker.insert(Tracked {
                    state,
                    intent: p.intent.clone(),
                    market: p.market,
                    price: p.intent.limit_price,
                    fee: fees[&p.intent.token],
                });
            }
        }
        let mut report = self.reconcile_open(false).await.map_err(|e| StartError::Reconcile(e.to_string()))?;
        let mut owed_fills = 0;
        for m in owed {
            for trade in self.trades_in(m).await.map_err(StartError::Reconcile)? {
                owed_fills += self.apply_trade(&trade);
            }
        }
        if owed_fills > 0 {
            report.new_fills += owed_fills;
            self.balance.refresh().await;
            self.journal_note("reconcile_owed_fills", &serde_json::json!({ "new_fills": owed_fills }));
        }
        if !report.unmapped.is_empty() {
            return Err(StartError::Unmapped(report.unmapped));
        }
        Ok(report)
    }
}

/// Looks up orders whose fate is unknown until it is known.
pub(crate) async fn sweep(weak: Weak<Inner>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let Some(every) = weak.upgrade().map(|i| i.cfg.pending_sweep) else { return };
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(every) => {}
        }
        let Some(inner) = weak.upgrade() else { return };
        let pending =
            lock(&inner.tracker).open().iter().any(|t| t.state.status() == OrderStatus::UnknownPendingReconcile);
        if pending {
            let _ = inner.reconcile_open(true).await;
        }
    }
}
