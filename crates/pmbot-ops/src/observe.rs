//! The journal observer of the ops side: every committed write becomes
//! metrics, a log line with its ids, dashboard rows and, where a person
//! should know, an alert.
//!
//! Invariant: it only counts, formats and appends to bounded lists (see
//! [`pmbot_rows::JournalObserver`]); the counters it moves are
//! the journal's rows, so `/metrics` agrees with the journal.

use std::collections::HashMap;
use std::sync::Arc;

use pmbot_core::OrderStatus;
use pmbot_rows::{Committed, DecisionAction, EngineRow, JournalObserver, OrderOutcome};
use strum::{EnumCount as _, VariantArray as _};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use crate::metrics::{ActionLabel, OutcomeLabel, ReasonLabel, StateLabel};
use crate::state::{DecisionView, EquityPoint, MarkView, OpsState};

/// What the observer remembers of an order.
struct OrderSeen {
    status: OrderStatus,
    recorded_ms: i64,
    acknowledged: bool,
}

/// Feeds [`OpsState`] from the journal. Install with `Journal::set_observer`.
pub struct OpsObserver {
    state: Arc<OpsState>,
    orders: HashMap<String, OrderSeen>,
    raise: Option<Box<dyn FnMut(crate::raise::Raised) + Send>>,
    /// The labelled series this observer moves, looked up once each: a
    /// backtest writes a decision row per market per sample, and a label
    /// lookup allocates.
    decisions: [Counter; DecisionAction::COUNT],
    refusals: HashMap<String, Counter>,
    updates: HashMap<&'static str, Counter>,
    by_state: HashMap<&'static str, Gauge>,
}

impl OpsObserver {
    pub fn new(state: Arc<OpsState>) -> OpsObserver {
        let decisions = std::array::from_fn(|i| {
            let action = DecisionAction::VARIANTS[i].as_str().to_owned();
            state.metrics.decisions.get_or_create(&ActionLabel { action }).clone()
        });
        OpsObserver {
            state,
            orders: HashMap::new(),
            raise: None,
            decisions,
            refusals: HashMap::new(),
            updates: HashMap::new(),
            by_state: HashMap::new(),
        }
    }

    fn state_gauge(&mut self, status: OrderStatus) -> &Gauge {
        let m = &self.state.metrics;
        self.by_state
            .entry(status.as_str())
            .or_insert_with(|| m.orders.get_or_create(&StateLabel { state: status.as_str().to_owned() }).clone())
    }

    /// Also hands what a person should know to `raise` (see [`crate::raise`]).
    pub fn with_alerts(mut self, raise: impl FnMut(crate::raise::Raised) + Send + 'static) -> OpsObserver {
        self.raise = Some(Box::new(raise));
        self
    }

    fn order_state(&mut self, cid: &str, status: OrderStatus, at_ms: i64) {
        let m = &self.state.metrics;
        self.updates
            .entry(status.as_str())
            .or_insert_with(|| m.order_updates.get_or_create(&StateLabel { state: status.as_str().to_owned() }).clone())
            .inc();
        let Some(seen) = self.orders.get_mut(cid) else { return };
        let before = seen.status;
        if status == OrderStatus::Acknowledged && !seen.acknowledged {
            seen.acknowledged = true;
            m.order_ack_latency_seconds.observe(secs(at_ms - seen.recorded_ms));
        }
        seen.status = status;
        if before != status {
            self.state_gauge(before).dec();
            self.state_gauge(status).inc();
        }
    }

    fn rows(&mut self, rows: &[EngineRow]) {
        let m = &self.state.metrics;
        let mut dash = self.state.dashboard_mut();
        let mut last_decision = None;
        for row in rows {
            match row {
                EngineRow::Decision(d) => {
                    if let Some(i) = DecisionAction::VARIANTS.iter().position(|a| *a == d.action) {
                        self.decisions[i].inc();
                    }
                    last_decision = Some(d.at.millis());
                    match d.action {
                        DecisionAction::Pass | DecisionAction::NotReady => continue,
                        DecisionAction::Refused => {
                            match self.refusals.get(&d.reason) {
                                Some(c) => {
                                    c.inc();
                                }
                                None => {
                                    let c = m
                                        .risk_refusals
                                        .get_or_create(&ReasonLabel { reason: d.reason.clone() })
                                        .clone();
                                    c.inc();
                                    self.refusals.insert(d.reason.clone(), c);
                                }
                            };
                            tracing::info!(target: "pmbot::decision", run = d.run, market = %d.market,
                                reason = %d.reason, client_order_id = d.client_order_id.as_ref().map(|c| c.as_str()),
                                confidence = d.confidence.map(|c| c.to_string()), "risk refused an intent");
                            if let Some(raise) = self.raise.as_mut()
                                && crate::raise::refusal_may_alert(&d.reason)
                            {
                                raise(crate::raise::Raised::Refusal {
                                    code: d.reason.clone(),
                                    at_ms: d.at.millis(),
                                    detail: d
                                        .detail
                                        .get("refusal")
                                        .and_then(|v| v.as_str())
                                        .unwrap_or_default()
                                        .to_owned(),
                                });
                            }
                        }
                        DecisionAction::Enter | DecisionAction::Exit => {
                            tracing::info!(target: "pmbot::decision", run = d.run, market = %d.market,
                                action = d.action.as_str(), reason = %d.reason,
                                client_order_id = d.client_order_id.as_ref().map(|c| c.as_str()),
                                confidence = d.confidence.map(|c| c.to_string()), "decision");
                        }
                    }
                    dash.push_decision(DecisionView {
                        at_ms: d.at.millis(),
                        market: d.market.to_string(),
                        action: d.action.as_str(),
                        reason: d.reason.clone(),
                        confidence: d.confidence.map(|c| c.round_dp(3).to_string()),
                        p_up: d.p_up.map(|p| p.round_dp(3).to_string()),
                        client_order_id: d.client_order_id.as_ref().map(|c| c.as_str().to_owned()),
                    });
                }
                EngineRow::Trade(t) => {
                    let won = t.pnl() > pmbot_core::Usdc::ZERO;
                    m.trades
                        .get_or_create(&OutcomeLabel { outcome: if won { "won" } else { "lost" }.to_owned() })
                        .inc();
                    dash.trades += 1;
                    dash.trades_won += u64::from(won);
                    tracing::info!(target: "pmbot::trade", run = t.run, market = %t.market, token = %t.token,
                        entry_order = %t.entry_order, pnl = %t.pnl(), fees = %t.fees, close_reason = %t.close_reason,
                        "trade closed");
                }
                EngineRow::Payout(p) => {
                    tracing::info!(target: "pmbot::trade", run = p.run, market = %p.market, token = %p.token,
                        shares = %p.shares, amount = %p.amount, "payout at resolution");
                }
                EngineRow::Mark(k) => {
                    let equity = k.equity();
                    m.equity_usd.set(usd(equity));
                    m.cash_usd.set(usd(k.cash));
                    m.exposure_usd.set(usd(k.positions));
                    m.realised_pnl_usd.set(usd(k.realised));
                    m.fees_usd.set(usd(k.fees));
                    m.open_positions.set(i64::from(k.open_positions));
                    dash.push_equity(EquityPoint { at_ms: k.at.millis(), equity: usd(equity) });
                    dash.mark = Some(MarkView {
                        at_ms: k.at.millis(),
                        cash: k.cash.to_string(),
                        positions: k.positions.to_string(),
                        equity: equity.to_string(),
                        realised: k.realised.to_string(),
                        fees: k.fees.to_string(),
                        open_positions: k.open_positions,
                    });
                }
                EngineRow::RunOrder { .. } => {}
            }
        }
        drop(dash);
        if let Some(at) = last_decision {
            self.state.update_inputs(|i| i.last_decision_ms = Some(at));
        }
    }
}

fn secs(ms: i64) -> f64 {
    ms.max(0) as f64 / 1000.0
}

fn usd(u: pmbot_core::Usdc) -> f64 {
    u.micros() as f64 / 1e6
}

impl JournalObserver for OpsObserver {
    fn committed(&mut self, what: Committed<'_>) {
        self.state.metrics.journal_commits.inc();
        let at_ms = match &what {
            Committed::Rows(rows) => rows.iter().rev().find_map(row_time),
            Committed::Order { order, .. } => Some(order.created.millis()),
            Committed::Update { update, .. } => Some(update.at.millis()),
            Committed::Fill(f) => Some(f.time.received.millis()),
            Committed::Refusal { at, .. } | Committed::Note { at, .. } | Committed::RunEnded { at, .. } => {
                Some(at.millis())
            }
            Committed::RunStarted { run, .. } => Some(run.started.millis()),
        };
        self.state.update_inputs(|i| {
            i.journal.commits += 1;
            if at_ms.is_some() {
                i.journal.last_commit_ms = at_ms;
            }
        });
        match what {
            Committed::Rows(rows) => self.rows(rows),
            Committed::Order { order, outcome } => {
                let m = &self.state.metrics;
                let cid = order.client_order_id.as_str();
                match outcome {
                    OrderOutcome::Recorded => {
                        m.orders_submitted.inc();
                        self.state_gauge(OrderStatus::New).inc();
                        self.orders.insert(
                            cid.to_owned(),
                            OrderSeen {
                                status: OrderStatus::New,
                                recorded_ms: order.created.millis(),
                                acknowledged: false,
                            },
                        );
                    }
                    OrderOutcome::Resend { .. } => {
                        m.order_resends.inc();
                    }
                }
                let i = &order.intent;
                tracing::info!(target: "pmbot::order", client_order_id = cid, order_id = %order.order_hash,
                    market = %order.market, token = %i.token, side = i.side.as_str(), price = %i.limit_price,
                    size = %i.size, resend = matches!(outcome, OrderOutcome::Resend { .. }), "order recorded before sending");
            }
            Committed::Update { update, source } => {
                self.order_state(update.client_order_id.as_str(), update.status, update.at.millis());
                let cid = update.client_order_id.as_str();
                let order_id = update.order_id.as_ref().map(|o| o.to_string());
                match update.status {
                    OrderStatus::Rejected | OrderStatus::UnknownPendingReconcile => {
                        tracing::warn!(target: "pmbot::order", client_order_id = cid, order_id, status = update.status.as_str(),
                            filled = %update.filled, source = source.as_str(), reason = update.reason.as_deref(), "order update");
                        if let Some(raise) = self.raise.as_mut() {
                            raise(crate::raise::Raised::Order {
                                client_order_id: cid.to_owned(),
                                status: update.status,
                                reason: update.reason.clone().unwrap_or_default(),
                                at_ms: update.at.millis(),
                            });
                        }
                    }
                    _ => {
                        tracing::info!(target: "pmbot::order", client_order_id = cid, order_id, status = update.status.as_str(),
                        filled = %update.filled, source = source.as_str(), reason = update.reason.as_deref(), "order update");
                    }
                }
            }
            Committed::Fill(f) => {
                let m = &self.state.metrics;
                m.fills.inc();
                if let Some(seen) = f.client_order_id.as_ref().and_then(|c| self.orders.get(c.as_str())) {
                    m.order_fill_latency_seconds.observe(secs(f.time.received.millis() - seen.recorded_ms));
                }
                tracing::info!(target: "pmbot::fill", trade_id = %f.trade_id, order_id = %f.order_id,
                    client_order_id = f.client_order_id.as_ref().map(|c| c.as_str()), token = %f.token,
                    side = f.side.as_str(), price = %f.price, size = %f.size, fee = %f.fee, "fill");
            }
            Committed::Refusal { intent, reason, at } => {
                self.state.metrics.gateway_refusals.inc();
                tracing::warn!(target: "pmbot::order", client_order_id = intent.client_order_id.as_str(),
                    token = %intent.token, reason, at_ms = at.millis(), "order refused before sending");
            }
            Committed::Note { kind, detail, at } => {
                tracing::info!(target: "pmbot::note", kind, detail = %detail, at_ms = at.millis(), "journal note");
                if kind == "kill_switch" {
                    let present = detail.get("present").and_then(|v| v.as_bool()).unwrap_or(false);
                    self.state.update_inputs(|i| i.kill_switch_present = present);
                }
                if let Some(raise) = self.raise.as_mut() {
                    raise(crate::raise::Raised::Note {
                        kind: kind.to_owned(),
                        detail: detail.clone(),
                        at_ms: at.millis(),
                    });
                }
            }
            Committed::RunStarted { id, run } => {
                self.state.update_inputs(|i| {
                    i.run = Some(id);
                    i.mode = run.mode.as_str().to_owned();
                    i.data_source = run.data_source.as_str().to_owned();
                });
                tracing::info!(target: "pmbot::run", run = id, mode = run.mode.as_str(),
                    data_source = run.data_source.as_str(), model = %run.model_fingerprint, "run started");
            }
            Committed::RunEnded { run, at, reason } => {
                tracing::info!(target: "pmbot::run", run, at_ms = at.millis(), reason, "run ended");
            }
        }
    }
}

fn row_time(row: &EngineRow) -> Option<i64> {
    match row {
        EngineRow::Decision(d) => Some(d.at.millis()),
        EngineRow::Trade(t) => Some(t.closed.millis()),
        EngineRow::Payout(p) => Some(p.at.millis()),
        EngineRow::Mark(m) => Some(m.at.millis()),
        EngineRow::RunOrder { .. } => None,
    }
}

// Its parts are handles, channels and callbacks: the type name is what a
// log line or a failed assertion needs.
impl std::fmt::Debug for OpsObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsObserver").finish_non_exhaustive()
    }
}
