//! What the report says, section by section, read off a [`Performance`].
//!
//! Nothing is computed here beyond formatting, comparing an interval with a
//! target and adding the runs' counts up by mode: every figure is one of the
//! struct's fields. The targets the
//! sentences judge against are the go-live gate's defaults, so the report
//! and `pmbot gate` never disagree about what "enough" means.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use pmbot_core::{TimestampMs, Usdc};

use super::document::{Align, Document, Table, code, strong, text};
use super::{DAILY_PNL_PLOT, DRAWDOWN_PLOT, EQUITY_PLOT, FEES_PLOT, PNL_HISTOGRAM_PLOT, Plots};
use crate::gate::GateConfig;
use crate::journal::{DataSource, RunMode};
use crate::performance::{Performance, Proportion, RunSummary};

pub(super) const TITLE: &str = "pmbot performance report";

/// Characters of a hash shown in the runs table (as `git` shortens commits).
const SHORT_HASH: usize = 12;

/// The whole document.
pub(super) fn document<'a>(perf: &Performance, journal_path: &Path, plots: &'a Plots) -> Document<'a> {
    let mut doc = Document { title: TITLE.to_owned(), blocks: Vec::new() };
    let gate = GateConfig::default();
    doc.paragraph(vec![
        text("Journal "),
        code(journal_path.display().to_string()),
        text(format!(" · {} · every figure below is computed from the journal alone.", runs_phrase(&perf.runs))),
    ]);
    if perf.runs.is_empty() {
        doc.heading(2, "Nothing to report");
        doc.paragraph(vec![text(
            "The journal holds no run: no decision, trade or P&L mark to measure. Run pmbot in paper or \
             backtest mode with this journal, then write the report again.",
        )]);
        gate_rule(&mut doc);
        return doc;
    }
    targets(&mut doc, perf, &gate);
    trading(&mut doc, perf, &gate, plots);
    daily(&mut doc, perf, plots);
    hit_rate(&mut doc, perf, &gate);
    coverage(&mut doc, perf);
    decisions(&mut doc, perf);
    assumptions(&mut doc, perf);
    runs(&mut doc, perf);
    doc
}

fn runs_phrase(runs: &[RunSummary]) -> String {
    match runs.len() {
        0 => "no run".to_owned(),
        1 => "1 run".to_owned(),
        n => format!("{n} runs"),
    }
}

/// The rule the reader must not forget, stated the same way everywhere.
fn gate_rule(doc: &mut Document<'_>) {
    doc.paragraph(vec![
        strong("Only runs on live market data count for the go-live gate"),
        text(" (paper or live mode; see "),
        code("pmbot gate"),
        text(
            "). Replay and simulator figures are reported for information and never count for the gate, \
             however good they look.",
        ),
    ]);
}

fn targets(doc: &mut Document<'_>, perf: &Performance, gate: &GateConfig) {
    doc.heading(2, "Targets");
    let mut t = Table::new(&[
        ("target", Align::Left),
        ("required", Align::Left),
        ("measured", Align::Left),
        ("met", Align::Left),
    ]);
    for target in &perf.targets {
        t.row(vec![
            text(&target.name),
            text(&target.target),
            text(&target.measured),
            if target.met { strong("yes") } else { strong("no") },
        ]);
    }
    if t.rows.is_empty() {
        doc.paragraph(vec![text("No target was measured.")]);
    } else {
        doc.table(t);
    }
    gate_rule(doc);
    let other: Vec<String> = perf
        .coverage
        .iter()
        .filter(|(source, c)| **source != DataSource::LiveData && c.runs > 0)
        .map(|(source, c)| {
            format!("{} ({})", plural(c.runs, &format!("{} run", source_name(*source))), plural(c.trades, "trade"))
        })
        .collect();
    if !other.is_empty() {
        doc.caution(vec![
            text(format!(
                "The figures in this report pool every run in the journal, including runs that do not count for \
                 the gate: {}. They are not the gate's figures; ",
                other.join(", ")
            )),
            code("pmbot gate"),
            text(" measures live-data runs only."),
        ]);
    }
    let overrides: Vec<String> = perf
        .runs
        .iter()
        .filter_map(|r| r.gate_override.as_ref().map(|why| format!("run {} (reason: \"{why}\")", r.id)))
        .collect();
    if !overrides.is_empty() {
        doc.caution(vec![text(format!("The gate was overridden with --override-gate for {}.", overrides.join(", ")))]);
    }
    win_rate_verdict(doc, perf, gate);
}

/// Whether an interval settles a "rate > target" question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The whole interval lies above the target.
    Above,
    /// The whole interval lies at or below the target.
    NotAbove,
    /// The interval contains the target: too few samples to tell.
    Undecided,
}

fn verdict(p: &Proportion, target: f64) -> Verdict {
    if p.low > target {
        Verdict::Above
    } else if p.high <= target {
        Verdict::NotAbove
    } else {
        Verdict::Undecided
    }
}

fn win_rate_verdict(doc: &mut Document<'_>, perf: &Performance, gate: &GateConfig) {
    let target = pct0(gate.min_win_rate);
    let Some(w) = &perf.win_rate else {
        doc.caution(vec![text("No closed trade: there is nothing to judge a win rate or a P&L on yet.")]);
        return;
    };
    let measured =
        format!("The win rate is {} ({} of {} trades), 95% Wilson interval {}", pct(w.rate), w.hits, w.n, interval(w));
    match verdict(w, gate.min_win_rate) {
        Verdict::Above => doc.paragraph(vec![text(format!("{measured}: the whole interval is above {target}."))]),
        Verdict::NotAbove => {
            doc.paragraph(vec![text(format!("{measured}: the whole interval is at or below {target}."))]);
        }
        Verdict::Undecided => doc.caution(vec![text(format!(
            "Too few trades to judge. {measured}, {:.0} points wide, and it contains the {target} target: the true \
             win rate could be on either side of it.",
            (w.high - w.low) * 100.0
        ))]),
    }
    if perf.trades < gate.min_trades {
        doc.caution(vec![text(format!(
            "{}: fewer than the {} the go-live gate asks for.",
            plural(perf.trades, "closed trade"),
            gate.min_trades
        ))]);
    }
}

fn trading<'a>(doc: &mut Document<'a>, perf: &Performance, gate: &GateConfig, plots: &'a Plots) {
    doc.heading(2, "Trades and P&L");
    let mut t = Table::new(&[("figure", Align::Left), ("value", Align::Right)]);
    t.row(vec![text("closed trades"), text(perf.trades.to_string())]);
    t.row(vec![text("wins (P&L > 0 after fees)"), text(perf.wins.to_string())]);
    t.row(vec![text("losses (P&L ≤ 0 after fees)"), text(perf.losses.to_string())]);
    let (rate, band) = match &perf.win_rate {
        Some(w) => (pct(w.rate), interval(w)),
        None => ("n/a (no trade)".to_owned(), "n/a".to_owned()),
    };
    t.row(vec![text("win rate"), text(rate)]);
    t.row(vec![text("win rate, 95% Wilson interval"), text(band)]);
    t.row(vec![text("P&L after fees"), strong(signed_money(perf.pnl))]);
    t.row(vec![text("fees paid"), text(money(perf.fees))]);
    t.row(vec![text("P&L before fees"), text(signed_money(perf.pnl_before_fees))]);
    t.row(vec![text("average win"), text(perf.average_win.map(signed_money).unwrap_or_else(|| "n/a".into()))]);
    t.row(vec![text("average loss"), text(perf.average_loss.map(signed_money).unwrap_or_else(|| "n/a".into()))]);
    let dd_pct = perf.max_drawdown_pct.map(|p| format!(" ({p:.2}% of the peak)")).unwrap_or_default();
    t.row(vec![text("max drawdown"), text(format!("{}{dd_pct}", money(perf.max_drawdown)))]);
    t.row(vec![text("Sharpe, daily returns x √365"), text(ratio(perf.sharpe, perf.daily.len()))]);
    t.row(vec![text("Sortino, daily returns x √365"), text(ratio(perf.sortino, perf.daily.len()))]);
    let owed: Usdc = perf.unredeemed.iter().map(|u| u.amount).sum();
    t.row(vec![text("resolved, not yet redeemed (at the payout; not cash)"), text(money(owed))]);
    doc.table(t);
    if !perf.unredeemed.is_empty() {
        doc.paragraph(vec![text(format!(
            "{} resolved but not yet redeemed on chain: {} pUSD at the payout, counted in the equity as a \
             position, not as cash (Polymarket pays only on redemption). `pmbot redeem` redeems them.",
            plural(perf.unredeemed.len() as u64, "market"),
            money(owed)
        ))]);
    }
    if perf.pnl > gate.min_pnl {
        doc.paragraph(vec![text(format!(
            "P&L after every fee is positive: {} pUSD, of which the exchange took {} pUSD in fees.",
            signed_money(perf.pnl),
            money(perf.fees)
        ))]);
    } else if perf.trades > 0 {
        doc.paragraph(vec![text(format!(
            "P&L after every fee is not positive: {} pUSD ({} pUSD before {} pUSD of fees).",
            signed_money(perf.pnl),
            signed_money(perf.pnl_before_fees),
            money(perf.fees)
        ))]);
    }
    doc.image(EQUITY_PLOT, "Equity curve", &plots.equity);
    doc.image(DRAWDOWN_PLOT, "Drawdown", &plots.drawdown);
    doc.image(PNL_HISTOGRAM_PLOT, "P&L per trade histogram", &plots.pnl_histogram);
    doc.image(FEES_PLOT, "Cumulative fees paid", &plots.fees);
}

/// Sharpe or Sortino, or why there is none.
fn ratio(r: Option<f64>, days: usize) -> String {
    match r {
        Some(r) => format!("{r:.2}"),
        None if days < 2 => format!("n/a ({} of returns; needs 2)", plural(days as u64, "day")),
        None => "n/a (no variation, or no losing day)".to_owned(),
    }
}

fn daily<'a>(doc: &mut Document<'a>, perf: &Performance, plots: &'a Plots) {
    doc.heading(2, "Daily returns");
    if perf.daily.is_empty() {
        doc.paragraph(vec![text("No P&L mark: no daily return.")]);
        return;
    }
    let mut t = Table::new(&[("day (UTC)", Align::Left), ("P&L (pUSD)", Align::Right), ("return", Align::Right)]);
    for d in &perf.daily {
        t.row(vec![text(&d.day), text(signed_money(d.pnl)), text(format!("{:+.2}%", d.return_pct))]);
    }
    doc.table(t);
    doc.image(DAILY_PNL_PLOT, "P&L per UTC day", &plots.daily_pnl);
}

fn hit_rate(doc: &mut Document<'_>, perf: &Performance, gate: &GateConfig) {
    let h = &perf.hit_rate;
    doc.heading(2, "Model hit rate");
    doc.paragraph(vec![text(format!(
        "Decisions with confidence ≥ {} (and a probability and a mid): a call is right when the UP mid's next move \
         within {} (as sampled by later decisions) goes the way the model said (up when P(up) > 0.5), the label the \
         model was validated on. Decisions whose mid does not move within the horizon are not scored.",
        h.threshold.normalize(),
        duration(h.horizon_ms)
    ))]);
    let mut t = Table::new(&[
        ("measured on", Align::Left),
        ("hit rate", Align::Right),
        ("95% interval", Align::Right),
        ("calls scored", Align::Right),
    ]);
    match &h.rate {
        Some(r) => t.row(vec![text("these runs"), strong(pct(r.rate)), text(interval(r)), text(r.n.to_string())]),
        None => t.row(vec![text("these runs"), text("n/a"), text("n/a"), text("0")]),
    }
    match &h.validated {
        Some(v) => t.row(vec![
            text("model file (walk-forward validation)"),
            text(pct(v.rate)),
            text(format!("[{}, {}]", pct(v.low), pct(v.high))),
            text(v.coverage.map(|c| format!("coverage {}", pct(c))).unwrap_or_default()),
        ]),
        None => t.row(vec![text("model file (walk-forward validation)"), text("not recorded")]),
    }
    doc.table(t);
    let target = pct0(gate.min_hit_rate);
    match &h.rate {
        None => doc.caution(vec![text("No call could be scored: nothing to compare with the validated figure.")]),
        Some(r) => match verdict(r, gate.min_hit_rate) {
            Verdict::Above => doc.paragraph(vec![text(format!("The whole interval is above the {target} target."))]),
            Verdict::NotAbove => {
                doc.paragraph(vec![text(format!("The whole interval is at or below the {target} target."))]);
            }
            Verdict::Undecided => doc.caution(vec![text(format!(
                "Too few scored calls to judge: the interval {} contains the {target} target.",
                interval(r)
            ))]),
        },
    }
}

fn coverage(doc: &mut Document<'_>, perf: &Performance) {
    doc.heading(2, "Coverage");
    doc.paragraph(vec![text(
        "Market time covered is, per run, its last decision minus its first, summed; calendar days are distinct \
         UTC dates with a decision.",
    )]);
    let mut t = Table::new(&[
        ("data source", Align::Left),
        ("counts for the gate", Align::Left),
        ("runs", Align::Right),
        ("trades", Align::Right),
        ("decisions", Align::Right),
        ("market time covered", Align::Right),
        ("days", Align::Right),
        ("calendar days", Align::Right),
    ]);
    for (source, c) in &perf.coverage {
        t.row(vec![
            code(source.as_str()),
            text(if *source == DataSource::LiveData { "yes" } else { "never" }),
            text(c.runs.to_string()),
            text(c.trades.to_string()),
            text(c.decisions.to_string()),
            text(duration(c.covered_ms)),
            text(format!("{:.2}", c.days)),
            text(c.calendar_days.to_string()),
        ]);
    }
    doc.table(t);
    let mut by_mode: BTreeMap<&'static str, (u64, u64, u64)> = BTreeMap::new();
    for r in &perf.runs {
        let e = by_mode.entry(r.mode.as_str()).or_default();
        e.0 += 1;
        e.1 += r.trades;
        e.2 += r.decisions;
    }
    let mut t = Table::new(&[
        ("mode", Align::Left),
        ("runs", Align::Right),
        ("trades", Align::Right),
        ("decisions", Align::Right),
    ]);
    for mode in [RunMode::Paper, RunMode::Backtest, RunMode::Live] {
        if let Some((runs, trades, decisions)) = by_mode.get(mode.as_str()) {
            t.row(vec![
                code(mode.as_str()),
                text(runs.to_string()),
                text(trades.to_string()),
                text(decisions.to_string()),
            ]);
        }
    }
    doc.table(t);
}

fn decisions(doc: &mut Document<'_>, perf: &Performance) {
    doc.heading(2, "Decisions");
    let passes: u64 = perf.passes.values().sum();
    let refused: u64 = perf.refusals.values().sum();
    let mut t = Table::new(&[("action", Align::Left), ("decisions", Align::Right)]);
    t.row(vec![code("enter"), text(perf.entries.to_string())]);
    t.row(vec![code("exit"), text(perf.exits.to_string())]);
    t.row(vec![code("pass"), text(passes.to_string())]);
    t.row(vec![code("refused"), text(refused.to_string())]);
    t.row(vec![code("not_ready"), text(perf.not_ready.to_string())]);
    doc.table(t);
    doc.heading(3, "Refusals by reason");
    counts(doc, &perf.refusals, "The risk gate refused no order.");
    doc.heading(3, "Passes by rule");
    counts(doc, &perf.passes, "The strategy passed on no market.");
}

/// A reason -> count table, most frequent first (ties by name, so the order
/// is fixed).
fn counts(doc: &mut Document<'_>, by_reason: &BTreeMap<String, u64>, none: &str) {
    if by_reason.is_empty() {
        doc.paragraph(vec![text(none)]);
        return;
    }
    let mut rows: Vec<(&String, &u64)> = by_reason.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let mut t = Table::new(&[("reason", Align::Left), ("count", Align::Right)]);
    for (reason, n) in rows {
        t.row(vec![code(reason), text(n.to_string())]);
    }
    doc.table(t);
}

/// What a known key of `config["paper"]` means (see `pmbot_core::paper`).
fn describe(key: &str) -> &'static str {
    match key {
        "latency_ms" => "delay from a decision to its order or cancel reaching the venue (ms)",
        "queue" => {
            "where a resting order joins the queue (back_of_visible: behind all visible size; front: optimistic)"
        }
        "fee.rate" => "fee rate r: a taker pays shares x r x (p(1-p))^e",
        "fee.exponent" => "fee exponent e",
        "fee.taker_only" => "only takers pay the fee (makers pay nothing)",
        "walk_book" => "a marketable order walks past the best level, within its limit (false: best level only)",
        "trade_report_lag_ms" => "how long after a book drop a trade at that price may still be its cause (ms)",
        "starting_cash" => "starting collateral of the paper account (pUSD)",
        _ => "",
    }
}

fn assumptions(doc: &mut Document<'_>, perf: &Performance) {
    doc.heading(2, "Paper venue assumptions");
    let Some(paper) = &perf.assumptions else {
        doc.paragraph(vec![text("No paper or backtest run: no fill was simulated, so no venue assumption applies.")]);
        return;
    };
    doc.paragraph(vec![
        text(
            "Paper and backtest fills are simulated against the recorded or live book, erring against pmbot where the \
         data cannot tell. The settings (",
        ),
        code("config[\"paper\"]"),
        text(" of the first paper or backtest run):"),
    ]);
    let mut flat = Vec::new();
    flatten("", paper, &mut flat);
    let mut t = Table::new(&[("setting", Align::Left), ("value", Align::Left), ("meaning", Align::Left)]);
    for (key, value) in flat {
        t.row(vec![code(&key), code(value), text(describe(&key))]);
    }
    doc.table(t);
    doc.paragraph(vec![text("Always assumed:")]);
    doc.list(vec![
        vec![text("our resting orders are invisible to the market: they fill only from trades printed at or through their price, after the size queued ahead of them;")],
        vec![text("a share of visible liquidity fills at most one of our orders;")],
        vec![text("no short selling: a SELL needs the shares;")],
        vec![text("resolution pays 1 pUSD per share of the winning token and 0 for the others.")],
    ]);
}

/// `config["paper"]` as (dotted key, value) rows, in the JSON's key order.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        other => out.push((if prefix.is_empty() { "paper".to_owned() } else { prefix.to_owned() }, other.to_string())),
    }
}

fn runs(doc: &mut Document<'_>, perf: &Performance) {
    doc.heading(2, "Runs");
    let mut t = Table::new(&[
        ("run", Align::Right),
        ("mode", Align::Left),
        ("data source", Align::Left),
        ("started (UTC)", Align::Left),
        ("ended (UTC)", Align::Left),
        ("trades", Align::Right),
        ("decisions", Align::Right),
        ("config hash", Align::Left),
        ("model", Align::Left),
        ("gate override", Align::Left),
    ]);
    for r in &perf.runs {
        let ended = match (&r.ended, &r.end_reason) {
            (Some(at), Some(why)) => format!("{} ({why})", time(*at)),
            (Some(at), None) => time(*at),
            (None, _) => "not ended (running, or crashed)".to_owned(),
        };
        t.row(vec![
            text(r.id.to_string()),
            code(r.mode.as_str()),
            code(r.data_source.as_str()),
            text(time(r.started)),
            text(ended),
            text(r.trades.to_string()),
            text(r.decisions.to_string()),
            code(short(&r.config_hash)),
            code(short(&r.model_fingerprint)),
            text(r.gate_override.clone().map(|why| format!("yes: {why}")).unwrap_or_else(|| "no".into())),
        ]);
    }
    doc.table(t);
    doc.paragraph(vec![text(format!(
        "Config hash: SHA-256 of the run's stored config; model: its fingerprint. Both shortened to {SHORT_HASH} \
         characters."
    ))]);
}

fn short(s: &str) -> String {
    s.chars().take(SHORT_HASH).collect()
}

/// "1 trade", "2 trades".
fn plural(n: u64, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

pub(crate) fn source_name(s: DataSource) -> &'static str {
    match s {
        DataSource::LiveData => "live-data",
        DataSource::Replay => "replay",
        DataSource::Simulator => "simulator",
    }
}

/// An exact amount with at least two decimals ("1.50", "0.123456").
pub(crate) fn money(u: Usdc) -> String {
    let s = u.to_string();
    match s.split_once('.') {
        None => format!("{s}.00"),
        Some((_, frac)) if frac.len() == 1 => format!("{s}0"),
        Some(_) => s,
    }
}

/// [`money`] with a sign on gains too.
pub(crate) fn signed_money(u: Usdc) -> String {
    if u.micros() > 0 { format!("+{}", money(u)) } else { money(u) }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn pct0(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn interval(p: &Proportion) -> String {
    format!("[{}, {}]", pct(p.low), pct(p.high))
}

fn time(t: TimestampMs) -> String {
    DateTime::<Utc>::from_timestamp_millis(t.millis())
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| format!("unix ms {}", t.millis()))
}

/// A span of time as a reader says it ("2 h 5 min", "45 s").
pub(crate) fn duration(ms: i64) -> String {
    let s = ms / 1000;
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "min"), (sec, "s")]
        .into_iter()
        .filter(|(n, _)| *n != 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    if parts.is_empty() { format!("{ms} ms") } else { parts.join(" ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_exact_with_two_decimals_at_least() {
        assert_eq!(money(Usdc::from_whole(3)), "3.00");
        assert_eq!(money(Usdc::from_micros(1_500_000)), "1.50");
        assert_eq!(money(Usdc::from_micros(-123_456)), "-0.123456");
        assert_eq!(signed_money(Usdc::from_micros(10_000)), "+0.01");
        assert_eq!(signed_money(Usdc::ZERO), "0.00");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(0), "0 ms");
        assert_eq!(duration(60_000), "1 min");
        assert_eq!(duration(90_061_000), "1 d 1 h 1 min 1 s");
    }

    #[test]
    fn an_interval_settles_a_target_only_when_it_lies_on_one_side() {
        let p = |low, high| Proportion { hits: 0, n: 0, rate: 0.0, low, high };
        assert_eq!(verdict(&p(0.71, 0.9), 0.7), Verdict::Above);
        assert_eq!(verdict(&p(0.7, 0.9), 0.7), Verdict::Undecided, "the rate must exceed the target");
        assert_eq!(verdict(&p(0.5, 0.7), 0.7), Verdict::NotAbove);
    }

    #[test]
    fn paper_settings_flatten_to_dotted_keys() {
        let v = serde_json::json!({"latency_ms": 250, "fee": {"rate": "0.07", "taker_only": true}, "queue": "front"});
        let mut flat = Vec::new();
        flatten("", &v, &mut flat);
        let keys: Vec<&str> = flat.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["fee.rate", "fee.taker_only", "latency_ms", "queue"]);
        assert_eq!(flat[0].1, "0.07");
        assert_eq!(flat[1].1, "true");
    }
}
