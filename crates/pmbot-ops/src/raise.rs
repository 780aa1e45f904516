//! What the journal observer hands on for a person, and which of it becomes
//! an alert.
//!
//! Invariant: an alert says something new. A rule that keeps refusing (the
//! daily loss limit refuses every sample for the rest of the day) raises one
//! alert, and another only after the rule has been quiet for a while (engine
//! time, so replays decide the same way); the alerter's own window then
//! limits what reaches a person.

use std::collections::HashMap;

use pmbot_core::OrderStatus;

use crate::alerts::{Alert, AlertKind, Severity};

/// An event a person may need to hear of.
#[derive(Debug, Clone, PartialEq)]
pub enum Raised {
    /// The risk gate refused an intent with rule `code`.
    Refusal { code: String, detail: String, at_ms: i64 },
    /// An order was rejected or its fate is unknown.
    Order { client_order_id: String, status: OrderStatus, reason: String, at_ms: i64 },
    /// A journal note (kill switch, gate override, gateway halt, ...).
    Note { kind: String, detail: serde_json::Value, at_ms: i64 },
}

/// The refusal rules a person hears of (the rest are routine: a price out of
/// the band, a market near its end).
pub fn refusal_may_alert(code: &str) -> bool {
    matches!(code, "daily_loss_limit" | "loss_streak_cooldown" | "market_cooldown" | "balance_check")
}

/// A refusal rule quiet for this long (engine time) alerts again.
pub const QUIET_MS: i64 = 10 * 60_000;

/// Turns raised events into alerts.
#[derive(Debug, Default)]
pub struct Raiser {
    /// Refusal code -> engine time of its last refusal.
    last_refusal: HashMap<String, i64>,
}

impl Raiser {
    pub fn alert_for(&mut self, raised: Raised) -> Option<Alert> {
        match raised {
            Raised::Refusal { code, detail, at_ms } => {
                if !refusal_may_alert(&code) {
                    return None;
                }
                let (kind, severity, title) = match code.as_str() {
                    "daily_loss_limit" => {
                        (AlertKind::DailyLossLimit, Severity::Critical, "Daily loss limit hit: no new entries today")
                    }
                    "loss_streak_cooldown" => {
                        (AlertKind::Cooldown, Severity::Warning, "Cooldown after a losing streak")
                    }
                    "market_cooldown" => (AlertKind::Cooldown, Severity::Warning, "Market cooldown after a loss"),
                    "balance_check" => (AlertKind::BalanceCheckFailing, Severity::Critical, "Balance check failing"),
                    _ => return None,
                };
                let last = self.last_refusal.insert(code.clone(), at_ms);
                if last.is_some_and(|t| at_ms - t < QUIET_MS) {
                    return None;
                }
                Some(Alert::new(kind, severity, title, format!("{detail} (rule {code})"), at_ms))
            }
            Raised::Order { client_order_id, status, reason, at_ms } => {
                let (kind, severity, title) = match status {
                    OrderStatus::Rejected => (AlertKind::OrderRejected, Severity::Warning, "Order rejected"),
                    OrderStatus::UnknownPendingReconcile => {
                        (AlertKind::OrderAmbiguous, Severity::Critical, "Order fate unknown: reconciling")
                    }
                    _ => return None,
                };
                Some(Alert::new(kind, severity, title, format!("{client_order_id}: {reason}"), at_ms))
            }
            Raised::Note { kind, detail, at_ms } => match kind.as_str() {
                "kill_switch" if detail["present"] == true => Some(Alert::new(
                    AlertKind::KillSwitch,
                    Severity::Critical,
                    "Kill switch engaged: no new orders",
                    "The kill switch file exists; entries are refused until it is removed (`pmbot unkill`).",
                    at_ms,
                )),
                "kill_switch" => Some(Alert::new(
                    AlertKind::KillSwitch,
                    Severity::Info,
                    "Kill switch removed: trading resumes",
                    "",
                    at_ms,
                )),
                "gate_override" => Some(Alert::new(
                    AlertKind::GateOverride,
                    Severity::Critical,
                    "Go-live gate overridden",
                    format!(
                        "Live trading started although the gate failed ({}); reason given: {}",
                        detail["failed"],
                        detail["reason"].as_str().unwrap_or("")
                    ),
                    at_ms,
                )),
                "gateway_halted" => Some(Alert::new(
                    AlertKind::Gateway,
                    Severity::Critical,
                    "Trading halted by the gateway",
                    detail["reason"].as_str().unwrap_or("").to_owned(),
                    at_ms,
                )),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(code: &str, at_ms: i64) -> Raised {
        Raised::Refusal { code: code.into(), detail: "loss 20.5 >= limit 20".into(), at_ms }
    }

    #[test]
    fn a_rule_that_keeps_refusing_alerts_once_until_it_has_been_quiet() {
        let mut r = Raiser::default();
        let first = r.alert_for(refusal("daily_loss_limit", 0)).unwrap();
        assert_eq!((first.kind, first.severity), (AlertKind::DailyLossLimit, Severity::Critical));
        assert!(first.body.contains("loss 20.5"));
        for t in 1..100 {
            assert!(r.alert_for(refusal("daily_loss_limit", t * 5_000)).is_none());
        }
        // Quiet for 10 minutes of engine time: new news.
        assert!(r.alert_for(refusal("daily_loss_limit", 99 * 5_000 + QUIET_MS)).is_some());
        // Each rule on its own; rules a person need not hear of raise nothing.
        assert_eq!(r.alert_for(refusal("market_cooldown", 1)).unwrap().kind, AlertKind::Cooldown);
        assert!(r.alert_for(refusal("price_band", 1)).is_none());
    }

    #[test]
    fn orders_and_notes_map_to_their_kinds() {
        let mut r = Raiser::default();
        let order = |status| Raised::Order { client_order_id: "c1".into(), status, reason: "why".into(), at_ms: 1 };
        assert_eq!(r.alert_for(order(OrderStatus::Rejected)).unwrap().kind, AlertKind::OrderRejected);
        let ambiguous = r.alert_for(order(OrderStatus::UnknownPendingReconcile)).unwrap();
        assert_eq!((ambiguous.kind, ambiguous.severity), (AlertKind::OrderAmbiguous, Severity::Critical));
        assert!(r.alert_for(order(OrderStatus::Filled)).is_none());
        let note = |kind: &str, detail| Raised::Note { kind: kind.into(), detail, at_ms: 2 };
        let on = r.alert_for(note("kill_switch", serde_json::json!({"present": true}))).unwrap();
        assert_eq!((on.kind, on.severity), (AlertKind::KillSwitch, Severity::Critical));
        let off = r.alert_for(note("kill_switch", serde_json::json!({"present": false}))).unwrap();
        assert_eq!(off.severity, Severity::Info);
        let gate = r.alert_for(note("gate_override", serde_json::json!({"reason": "testing", "failed": ["min_days"]})));
        assert!(gate.unwrap().body.contains("testing"));
        // Our own alert notes never raise again.
        assert!(r.alert_for(note("alert", serde_json::json!({"kind": "kill_switch"}))).is_none());
    }
}
