//! `pmbot watch`: the top of each followed book and the stream's health,
//! refreshed in place on a terminal (one block per refresh otherwise).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use pmbot_core::{Side, TimestampMs, TokenId};
use pmbot_venue::SystemClock;
use pmbot_venue::marketdata::{MarketData, MarketDataConfig, StreamHealth, Trust};

use crate::config::FileConfig;
use pmbot_run::shutdown::Shutdown;
use pmbot_run::source::SourceArgs;

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// How often to redraw.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Stop after this long (e.g. 30s, 5m); default: until SIGTERM or SIGINT (Ctrl-C).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
}

/// One book's line.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub token: TokenId,
    pub bid: Option<(String, String)>,
    pub ask: Option<(String, String)>,
    pub trust: Option<Trust>,
}

fn short(token: &TokenId) -> String {
    let s = token.as_str();
    if s.len() > 12 { format!("{}..{}", &s[..5], &s[s.len() - 5..]) } else { s.to_owned() }
}

fn ago(now: TimestampMs, t: TimestampMs) -> String {
    format!("{:.1}s", now.millis_since(t) as f64 / 1000.0)
}

/// The screen: a health header, then a line per token.
pub fn render(now: TimestampMs, health: &StreamHealth, rows: &[Row]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let state = match health.state {
        pmbot_venue::marketdata::ConnectionState::Connecting => "connecting".to_owned(),
        pmbot_venue::marketdata::ConnectionState::Live { since } => format!("live for {}", ago(now, since)),
        pmbot_venue::marketdata::ConnectionState::Backoff { attempt, until } => {
            format!("reconnecting (attempt {attempt}, in {})", ago(until, now))
        }
        pmbot_venue::marketdata::ConnectionState::Stopped => "stopped".to_owned(),
    };
    let rejected: u64 = health.rejected.values().sum();
    let _ = writeln!(
        out,
        "stream {state} | uptime {:.1}% | reconnects {} | {:.1} msg/s | {} messages | rejected {} | resync {}",
        health.uptime_pct,
        health.reconnects,
        health.messages_per_s,
        health.messages,
        rejected,
        health.last_resync_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "pending".into()),
    );
    let _ = writeln!(
        out,
        "{:<14} {:>16} {:>16} {:>8}  {:<28} {:>8}",
        "token", "bid x size", "ask x size", "spread", "book", "last msg"
    );
    for r in rows {
        let side =
            |l: &Option<(String, String)>| l.as_ref().map(|(p, s)| format!("{p} x {s}")).unwrap_or_else(|| "-".into());
        let spread = match (&r.bid, &r.ask) {
            (Some((b, _)), Some((a, _))) => {
                match (b.parse::<rust_decimal::Decimal>(), a.parse::<rust_decimal::Decimal>()) {
                    (Ok(b), Ok(a)) => (a - b).normalize().to_string(),
                    _ => "-".into(),
                }
            }
            _ => "-".into(),
        };
        let trust = match r.trust {
            Some(Trust::Trusted { since }) => format!("trusted {}", ago(now, since)),
            Some(Trust::Unknown { reason, .. }) => format!("UNKNOWN ({reason:?})"),
            None => "-".into(),
        };
        let age =
            health.tokens.get(&r.token).and_then(|t| t.last_message).map(|t| ago(now, t)).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{:<14} {:>16} {:>16} {:>8}  {:<28} {:>8}",
            short(&r.token),
            side(&r.bid),
            side(&r.ask),
            spread,
            trust,
            age
        );
    }
    out
}

fn rows(md: &MarketData, tokens: &[TokenId]) -> Vec<Row> {
    let st = md.state();
    tokens
        .iter()
        .map(|t| {
            let book = st.books.book(t);
            let top = |s| book.and_then(|b| b.best(s)).map(|l| (l.price.to_string(), l.size.to_string()));
            Row { token: t.clone(), bid: top(Side::Buy), ask: top(Side::Sell), trust: st.books.trust(t) }
        })
        .collect()
}

pub async fn run(file: FileConfig, args: WatchArgs, stop: Shutdown) -> Result<()> {
    let source = args.source.resolve(file.market_data.stream.clone(), file.sim.clone()).await?;
    let cfg = MarketDataConfig { stream: source.stream.clone(), books: file.market_data.books };
    let clock = Arc::new(SystemClock);
    let md =
        MarketData::start(cfg, source.tokens.clone(), clock.clone(), None).context("cannot start the market stream")?;
    let tty = std::io::stdout().is_terminal();
    eprintln!("watching {} tokens from {}", source.tokens.len(), source.description);
    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    let mut tick = tokio::time::interval(args.interval);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait() => break,
        }
        let now = pmbot_core::Clock::now(&*clock);
        let screen = render(now, &md.health(), &rows(&md, &source.tokens));
        let mut out = std::io::stdout().lock();
        if tty {
            // Home the cursor and clear: redraw in place.
            write!(out, "\x1b[H\x1b[2J{screen}")?;
        } else {
            writeln!(out, "{screen}")?;
        }
        out.flush()?;
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            break;
        }
    }
    md.stop().await;
    if let Some(sim) = source.sim {
        sim.shutdown().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmbot_venue::marketdata::health::HealthTracker;

    #[test]
    fn screen_shows_health_and_each_book() {
        let a =
            TokenId::parse("71321045679252212594626385532706912750332728571942532289631379312455583992563").unwrap();
        let mut h = HealthTracker::new(TimestampMs(0));
        h.track(&a);
        h.connected(TimestampMs(1_000));
        h.message(TimestampMs(4_000), Some(&a));
        let rows = vec![Row {
            token: a.clone(),
            bid: Some(("0.48".into(), "30".into())),
            ask: Some(("0.52".into(), "25".into())),
            trust: Some(Trust::Trusted { since: TimestampMs(2_000) }),
        }];
        let screen = render(TimestampMs(5_000), &h.snapshot_at(TimestampMs(5_000)), &rows);
        assert!(screen.contains("live for 4.0s"), "{screen}");
        assert!(screen.contains("0.48 x 30") && screen.contains("0.52 x 25") && screen.contains("0.04"), "{screen}");
        assert!(screen.contains("trusted 3.0s"), "{screen}");
        assert!(screen.contains("71321..92563"), "{screen}");
    }
}
