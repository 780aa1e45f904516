//! The summary as Markdown (the report's document and renderer, so text
//! from the journal is escaped the same way) and as a short plain text for
//! a chat message. Nothing is computed here beyond formatting.

use std::collections::BTreeMap;

use chrono::DateTime;
use pmbot_core::TimestampMs;

use super::{DailySummary, RunEnd};
use crate::performance::stats::proportion_text;
use crate::report::document::{Align, Document, Table, code, text};
use crate::report::markdown;
use crate::report::sections::{duration, money, signed_money, source_name};

/// The most characters [`DailySummary::short_text`] returns.
pub const SHORT_TEXT_MAX: usize = 1_500;

/// At most this many reasons or kinds are listed in the short text.
const SHORT_LIST: usize = 5;
/// A reason or kind longer than this is cut in the short text.
const SHORT_NAME: usize = 40;

impl DailySummary {
    /// The summary as a Markdown file (CommonMark with GitHub tables).
    pub fn markdown(&self) -> String {
        let mut doc = Document { title: format!("pmbot daily summary, {}", self.date), blocks: Vec::new() };
        doc.paragraph(vec![text(self.period_phrase())]);
        doc.paragraph(vec![text(
            "A trade counts on the UTC day it closed; fills, fees, orders, refusals, marks and notes on the day \
             they happened.",
        )]);
        if self.runs.is_empty() {
            doc.caution(vec![text("No run was up in this day.")]);
        } else if !self.all_live_data() {
            doc.caution(vec![text(
                "Runs here traded on the simulator or on replayed data, not live market data: these figures are \
                 not live trading.",
            )]);
        }

        doc.heading(2, "Figures");
        let mut t = Table::new(&[("figure", Align::Left), ("value", Align::Right)]);
        let mut row = |name: &str, value: String| t.row(vec![text(name), text(value)]);
        row("runs", self.runs_phrase());
        row("closed trades", self.trades.to_string());
        row("wins", self.wins.to_string());
        row("win rate", self.win_rate.as_ref().map_or_else(|| "no trades".into(), proportion_text));
        row("P&L after fees (pUSD)", signed_money(self.pnl_after_fees));
        row("fees in that P&L (pUSD)", money(self.trade_fees));
        row("fees paid on the day's fills (pUSD)", format!("{} ({} fills)", money(self.fees), self.fills));
        row(
            "orders placed / filled / rejected",
            format!("{} / {} / {}", self.orders.placed, self.orders.filled, self.orders.rejected),
        );
        row("exposure at the day's last mark", self.exposure_phrase());
        row(
            "largest exposure at a mark (pUSD)",
            self.exposure.map_or_else(
                || "no mark".into(),
                |e| format!("{} (at most {} open)", money(e.max_value), e.max_open_positions),
            ),
        );
        row("risk refusals", self.refusals().to_string());
        row("uptime", self.uptime_phrase());
        row("market-data reconnects", self.reconnects.market_data.to_string());
        row("user-channel reconnects", self.reconnects.user_channel.to_string());
        row("alerts", self.alert_count().to_string());
        doc.table(t);

        counts(&mut doc, "Risk refusals", "reason", &self.refusals_by_reason, "None.");
        counts(&mut doc, "Alerts", "kind", &self.alerts, "None.");

        doc.heading(2, "Runs");
        if self.runs.is_empty() {
            doc.paragraph(vec![text("None.")]);
        } else {
            let mut t = Table::new(&[
                ("run", Align::Right),
                ("mode", Align::Left),
                ("market data", Align::Left),
                ("started", Align::Left),
                ("ended", Align::Left),
                ("up in the day", Align::Right),
            ]);
            for r in &self.runs {
                let ended = match &r.end {
                    RunEnd::Ended { at, reason } => format!("{} ({reason})", time(*at)),
                    RunEnd::Open { last_row } => format!("no end recorded; last row {}", time(*last_row)),
                };
                let cells = vec![
                    text(r.id.to_string()),
                    text(r.mode.as_str()),
                    text(source_name(r.data_source)),
                    text(time(r.started)),
                    text(ended),
                    text(duration_or_zero(r.in_day_ms)),
                ];
                t.row(cells);
            }
            doc.table(t);
        }
        markdown::render(&doc)
    }

    /// A few lines of plain text for a chat message, at most
    /// [`SHORT_TEXT_MAX`] characters.
    pub fn short_text(&self) -> String {
        let status = if self.complete { "" } else { " (so far)" };
        let mut lines = vec![format!("pmbot daily summary {}{status}", self.date)];
        if !self.runs.is_empty() && !self.all_live_data() {
            lines.push("Not live market data (simulator or replay).".into());
        }
        lines.push(format!("Runs: {}", self.runs_phrase()));
        let win_rate = self.win_rate.map_or_else(String::new, |w| {
            format!(", win rate {:.1}% (95% CI {:.1}–{:.1}%)", w.rate * 100.0, w.low * 100.0, w.high * 100.0)
        });
        lines.push(format!("Trades: {} closed, {} won{win_rate}", self.trades, self.wins));
        lines.push(format!(
            "P&L after fees: {} pUSD; fees paid: {} pUSD",
            signed_money(self.pnl_after_fees),
            money(self.fees)
        ));
        let largest = self.exposure.map_or_else(String::new, |e| format!("; largest {} pUSD", money(e.max_value)));
        lines.push(format!("Exposure: {}{largest}", self.exposure_phrase()));
        lines.push(format!(
            "Orders: {} placed, {} filled, {} rejected",
            self.orders.placed, self.orders.filled, self.orders.rejected
        ));
        lines.push(format!("Refusals: {}{}", self.refusals(), short_list(&self.refusals_by_reason)));
        lines.push(format!(
            "Uptime: {}; reconnects: {} market data, {} user channel",
            self.uptime_phrase(),
            self.reconnects.market_data,
            self.reconnects.user_channel
        ));
        lines.push(format!("Alerts: {}{}", self.alert_count(), short_list(&self.alerts)));
        let mut out = lines.join("\n");
        if out.chars().count() > SHORT_TEXT_MAX {
            out = out.chars().take(SHORT_TEXT_MAX - 1).collect();
            out.push('…');
        }
        out
    }

    fn period_phrase(&self) -> String {
        if self.complete {
            format!("The whole UTC day {}, 00:00 to 24:00.", self.date)
        } else {
            format!("The day so far: {} from 00:00 until {} UTC (the day is not over).", self.date, clock(self.until))
        }
    }

    /// "3 (paper on live-data 2, live on live-data 1)".
    fn runs_phrase(&self) -> String {
        let mut kinds: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for r in &self.runs {
            *kinds.entry((r.mode.as_str(), source_name(r.data_source))).or_insert(0) += 1;
        }
        if kinds.is_empty() {
            return "0".into();
        }
        let kinds: Vec<String> = kinds.iter().map(|((mode, source), n)| format!("{mode} on {source} {n}")).collect();
        format!("{} ({})", self.runs.len(), kinds.join(", "))
    }

    fn exposure_phrase(&self) -> String {
        match self.exposure {
            None => "no mark in the day".into(),
            Some(e) => format!(
                "{} open position{} worth {} pUSD at {} UTC",
                e.open_positions,
                if e.open_positions == 1 { "" } else { "s" },
                money(e.value),
                clock(e.at)
            ),
        }
    }

    fn uptime_phrase(&self) -> String {
        let share = self.uptime.share().map_or_else(String::new, |s| format!(" ({:.1}%)", s * 100.0));
        format!("{} of {}{share}", duration_or_zero(self.uptime.covered_ms), duration_or_zero(self.uptime.period_ms))
    }
}

/// A table of counts by name, or `none` without any.
fn counts(doc: &mut Document<'_>, heading: &str, column: &str, by_name: &BTreeMap<String, u64>, none: &str) {
    doc.heading(2, heading);
    if by_name.is_empty() {
        doc.paragraph(vec![text(none)]);
        return;
    }
    let mut t = Table::new(&[(column, Align::Left), ("count", Align::Right)]);
    for (name, n) in by_name {
        t.row(vec![code(name), text(n.to_string())]);
    }
    doc.table(t);
}

/// " (a 3, b 1)": the most frequent first, at most [`SHORT_LIST`] of them.
fn short_list(by_name: &BTreeMap<String, u64>) -> String {
    if by_name.is_empty() {
        return String::new();
    }
    let mut sorted: Vec<(&String, &u64)> = by_name.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut parts: Vec<String> = sorted
        .iter()
        .take(SHORT_LIST)
        .map(|(name, n)| {
            let name: String = name.chars().filter(|c| !c.is_control()).take(SHORT_NAME).collect();
            format!("{name} {n}")
        })
        .collect();
    if sorted.len() > SHORT_LIST {
        parts.push(format!("{} more", sorted.len() - SHORT_LIST));
    }
    format!(" ({})", parts.join(", "))
}

/// "2026-01-01 13:05:00 UTC".
fn time(t: TimestampMs) -> String {
    DateTime::from_timestamp_millis(t.millis())
        .map_or_else(|| format!("unix ms {}", t.millis()), |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

/// "13:05" (the date is the summary's).
fn clock(t: TimestampMs) -> String {
    DateTime::from_timestamp_millis(t.millis())
        .map_or_else(|| format!("unix ms {}", t.millis()), |d| d.format("%H:%M").to_string())
}

/// [`duration`], and "0 s" for nothing.
fn duration_or_zero(ms: i64) -> String {
    if ms <= 0 { "0 s".into() } else { duration(ms) }
}
