//! Per-kind deduplication windows (pure: the caller passes the time).
//!
//! Invariant: at most one message per kind per window, follow-ups included,
//! except that an alert more severe than the one that opened its kind's
//! window goes out at once (an escalation must not wait behind a warning).
//! Every held-back alert is counted and told: on the next message of its
//! kind, or, when the window ends with nothing new, in a follow-up carrying
//! the latest held alert (so a person learns of them even if the condition
//! went quiet) — or at shutdown.

use std::time::{Duration, Instant};

use super::{Alert, AlertKind, Severity};

/// What to do with an offered alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Offer {
    /// Send it, telling `suppressed` held back since the last message of its kind.
    Send { suppressed: u64 },
    /// Held back and counted.
    Suppress,
}

#[derive(Debug)]
struct KindWindow {
    opened: Instant,
    /// Severity of the message that opened the window.
    severity: Severity,
    held: u64,
    /// The latest held alert, with the highest severity seen among the held.
    latest_held: Option<Alert>,
}

#[derive(Debug)]
pub(super) struct Deduper {
    window: Duration,
    kinds: [Option<KindWindow>; AlertKind::ALL.len()],
}

impl Deduper {
    pub(super) fn new(window: Duration) -> Deduper {
        Deduper { window, kinds: Default::default() }
    }

    pub(super) fn offer(&mut self, alert: &Alert, now: Instant) -> Offer {
        let window = self.window;
        let slot = &mut self.kinds[alert.kind.index()];
        let reopen =
            |held: u64| (KindWindow { opened: now, severity: alert.severity, held: 0, latest_held: None }, held);
        let (fresh, suppressed) = match slot {
            None => reopen(0),
            Some(w) if now.saturating_duration_since(w.opened) >= window => reopen(w.held),
            Some(w) if alert.severity > w.severity => reopen(w.held),
            Some(w) => {
                w.held += 1;
                let severity = w.latest_held.as_ref().map_or(alert.severity, |h| h.severity.max(alert.severity));
                w.latest_held = Some(Alert { severity, ..alert.clone() });
                return Offer::Suppress;
            }
        };
        *slot = Some(fresh);
        Offer::Send { suppressed }
    }

    /// When the earliest window holding suppressed alerts ends.
    pub(super) fn next_flush(&self) -> Option<Instant> {
        self.kinds.iter().flatten().filter(|w| w.held > 0).map(|w| w.opened + self.window).min()
    }

    /// Follow-ups for windows that ended holding alerts; each opens a new
    /// window for its kind (the follow-up is that window's one message).
    pub(super) fn due(&mut self, now: Instant) -> Vec<(Alert, u64)> {
        let window = self.window;
        self.take_held(|w| now.saturating_duration_since(w.opened) >= window, now)
    }

    /// Follow-ups for every window holding alerts (at shutdown).
    pub(super) fn drain(&mut self, now: Instant) -> Vec<(Alert, u64)> {
        self.take_held(|_| true, now)
    }

    fn take_held(&mut self, pick: impl Fn(&KindWindow) -> bool, now: Instant) -> Vec<(Alert, u64)> {
        let window = self.window;
        let mut out = Vec::new();
        for w in self.kinds.iter_mut().flatten() {
            if w.held == 0 || !pick(w) {
                continue;
            }
            let Some(latest) = w.latest_held.take() else { continue };
            let held = std::mem::take(&mut w.held);
            *w = KindWindow { opened: now, severity: latest.severity, held: 0, latest_held: None };
            out.push((follow_up(latest, held, window), held));
        }
        out
    }
}

fn follow_up(latest: Alert, held: u64, window: Duration) -> Alert {
    let window = humantime::format_duration(Duration::from_secs(window.as_secs().max(1)));
    let plural = if held == 1 { "" } else { "s" };
    let body = format!(
        "Follow-up: {held} {kind} alert{plural} held back within {window}; this is the latest of them.\n\n{body}",
        kind = latest.kind,
        body = latest.body
    );
    Alert { body, ..latest }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(300);

    fn alert(kind: AlertKind, severity: Severity, title: &str) -> Alert {
        Alert::new(kind, severity, title, format!("body of {title}"), 0)
    }

    #[test]
    fn first_goes_out_later_ones_are_held_and_the_next_after_the_window_tells_the_count() {
        let t0 = Instant::now();
        let mut d = Deduper::new(W);
        let stale = |t| alert(AlertKind::MarketDataStale, Severity::Warning, t);
        assert_eq!(d.offer(&stale("a"), t0), Offer::Send { suppressed: 0 });
        for i in 1..=4 {
            assert_eq!(d.offer(&stale("b"), t0 + Duration::from_secs(i * 10)), Offer::Suppress);
        }
        assert_eq!(d.next_flush(), Some(t0 + W));
        assert_eq!(d.offer(&stale("c"), t0 + W), Offer::Send { suppressed: 4 });
        assert_eq!(d.next_flush(), None, "the count was told; nothing to flush");
        assert_eq!(d.offer(&stale("d"), t0 + W + Duration::from_secs(1)), Offer::Suppress);
    }

    #[test]
    fn kinds_do_not_suppress_each_other() {
        let t0 = Instant::now();
        let mut d = Deduper::new(W);
        assert_eq!(
            d.offer(&alert(AlertKind::OrderRejected, Severity::Warning, "r"), t0),
            Offer::Send { suppressed: 0 }
        );
        let kill = alert(AlertKind::KillSwitch, Severity::Critical, "k");
        assert_eq!(d.offer(&kill, t0), Offer::Send { suppressed: 0 });
        assert_eq!(d.offer(&kill, t0), Offer::Suppress, "same kind, same severity");
    }

    #[test]
    fn escalation_goes_out_inside_the_window_and_carries_the_count() {
        let t0 = Instant::now();
        let mut d = Deduper::new(W);
        let bal = |s| alert(AlertKind::BalanceCheckFailing, s, "bal");
        assert_eq!(d.offer(&bal(Severity::Warning), t0), Offer::Send { suppressed: 0 });
        assert_eq!(d.offer(&bal(Severity::Warning), t0), Offer::Suppress);
        assert_eq!(d.offer(&bal(Severity::Info), t0), Offer::Suppress, "a lower severity never escalates");
        assert_eq!(d.offer(&bal(Severity::Critical), t0), Offer::Send { suppressed: 2 });
        assert_eq!(d.offer(&bal(Severity::Critical), t0), Offer::Suppress);
        assert_eq!(d.offer(&bal(Severity::Warning), t0), Offer::Suppress);
    }

    #[test]
    fn a_quiet_window_end_yields_one_follow_up_with_the_latest_and_highest_severity() {
        let t0 = Instant::now();
        let mut d = Deduper::new(W);
        let cool = |s, t| alert(AlertKind::Cooldown, s, t);
        d.offer(&cool(Severity::Info, "first"), t0);
        // Equal to the opener: held. The held set's highest severity is kept.
        d.offer(&cool(Severity::Info, "second"), t0 + Duration::from_secs(1));
        d.offer(&cool(Severity::Info, "third"), t0 + Duration::from_secs(2));
        assert!(d.due(t0 + W - Duration::from_millis(1)).is_empty(), "not before the window ends");
        let flushed = d.due(t0 + W);
        assert_eq!(flushed.len(), 1);
        let (follow, n) = &flushed[0];
        assert_eq!(*n, 2);
        assert_eq!(follow.title, "third");
        assert_eq!(follow.kind, AlertKind::Cooldown);
        assert!(follow.body.starts_with("Follow-up: 2 cooldown alerts held back within 5m"), "{}", follow.body);
        assert!(follow.body.ends_with("body of third"));
        assert!(d.due(t0 + W * 3).is_empty(), "told once");
        // The follow-up opened a window: a new alert right after it is held.
        assert_eq!(d.offer(&cool(Severity::Info, "fourth"), t0 + W + Duration::from_secs(1)), Offer::Suppress);
        let at_stop = d.drain(t0 + W + Duration::from_secs(2));
        assert_eq!(at_stop.len(), 1);
        assert_eq!(at_stop[0].1, 1);
        assert!(at_stop[0].0.body.starts_with("Follow-up: 1 cooldown alert held"));
    }

    #[test]
    fn follow_up_takes_the_highest_held_severity() {
        let t0 = Instant::now();
        let mut d = Deduper::new(W);
        let gw = |s| alert(AlertKind::Gateway, s, "gw");
        d.offer(&gw(Severity::Critical), t0);
        d.offer(&gw(Severity::Warning), t0);
        d.offer(&gw(Severity::Info), t0);
        let flushed = d.due(t0 + W);
        assert_eq!(flushed[0].0.severity, Severity::Warning);
        assert_eq!(flushed[0].1, 2);
    }
}
