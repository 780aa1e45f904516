//! `pmbot paper` on live market data: the supervised market stream (with
//! reconnects, heartbeats and resync) feeds the engine and the paper venue
//! in real time until `--duration` has passed or a stop signal.

use std::sync::Arc;

use pmbot_core::{Clock, FeeModel, TimestampMs};
use pmbot_engine::engine::MarketInfo;
use pmbot_engine::journal::RunMode;
use pmbot_venue::SystemClock;
use pmbot_venue::discovery::MarketRef;

use crate::config::FileConfig;
use crate::error::refuse;
use crate::error::{Context, Result, RunError};
use crate::paper::PaperArgs;
use crate::realtime::{PaperSide, Pump};
use crate::record::FeedRecorder;
use crate::settings::{self as trade, LoadedModel};
use crate::shutdown::Shutdown;
use pmbot_engine::engine::feed_input::FeedInput;

/// How long reading a market's fee schedule may take.
const FEE_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A market found by slug, as the engine needs it. Fees: Polymarket's
/// highest category rate (crypto, 0.07) until the market's own `fd` is read,
/// so a fee is never underestimated.
pub fn market_info(m: &MarketRef) -> Result<MarketInfo> {
    if m.tokens.len() != 2 {
        refuse!("market {} has {} outcome tokens; pmbot trades binary markets", m.slug, m.tokens.len());
    }
    let end = match &m.end_date {
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|d| TimestampMs::from_millis(d.timestamp_millis()))
                .with_context(|| format!("market {}: end date {text:?}", m.slug))?,
        ),
        None => None,
    };
    // By the outcome names, not by position (see `MarketRef::up_down`).
    let (up, down) = m.up_down().map_err(|e| RunError::Refused(e.to_string()))?;
    Ok(MarketInfo {
        market: m.condition_id,
        up,
        down,
        end,
        fee: FeeModel::crypto(),
        min_order_size: trade::DEFAULT_MIN_ORDER,
        tick: trade::DEFAULT_TICK,
    })
}

pub async fn run(file: FileConfig, args: PaperArgs, stop: Shutdown) -> Result<()> {
    let Some(model_path) = &args.model else {
        refuse!("paper trading on live data needs --model FILE (train one with `pmbot train`)");
    };
    if args.source.markets.is_empty() {
        refuse!("name the markets to trade: --market SLUG... (each a binary market)");
    }
    let model = LoadedModel::load(model_path)?;
    let settings = trade::engine_settings(&file, &model)?;
    let journal_path = args.journal.clone().unwrap_or_else(|| file.journal.path.clone());
    let journal = trade::open_journal(&journal_path)?;
    // Polymarket's feed never comes from this machine: a loopback feed is a
    // simulator, and must never count as live market data for the gate.
    let exchange = args.source.exchange(&file.market_data.stream, false)?;
    let mut monitor = crate::monitor::Monitor::start(&file, &journal, args.http.as_deref(), "paper", exchange).await?;
    let source = args.source.resolve(file.market_data.stream.clone(), file.sim.clone()).await?;
    let mut infos = source.markets.iter().map(market_info).collect::<Result<Vec<_>>>()?;
    // Decide and fill by each market's own fee schedule (`fd`), as `live`
    // does; if it cannot be read, the crypto rate (the highest) stands in.
    for info in &mut infos {
        match pmbot_venue::market_fee::market_fee(&source.stream.rest_url, info.market, FEE_READ_TIMEOUT).await {
            Ok(fee) => {
                info.fee = fee;
                println!(
                    "market {}: taker fee rate {} (exponent {}), from its fd",
                    info.market, fee.rate, fee.exponent
                );
            }
            Err(e) => {
                eprintln!("WARNING: {e}; market {} is traded on paper at fee rate {}", info.market, info.fee.rate);
            }
        }
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let run = trade::run_start(RunMode::Paper, exchange.data_source(), &file, &model, None, clock.now());
    let mut driver = trade::paper_driver(&file, journal, &run, &model, settings)?;
    let resolutions = trade::resolution_fallback(&source.stream.rest_url, &infos)?;
    let mut record = match &args.record {
        Some(dir) => {
            let info = crate::record::recording_info(&source, driver.engine().now().millis());
            Some(FeedRecorder::create(dir, info, clock.clone())?)
        }
        None => None,
    };
    for info in infos {
        if let Some(r) = &mut record {
            r.input(&FeedInput::Market { info: info.clone() }, driver.engine().now()).await?;
        }
        driver.list_market(info).context("cannot list a market")?;
    }
    println!(
        "paper trading run {} on {} for {}; journal {}",
        driver.engine().run_id(),
        source.description,
        humantime::format_duration(args.duration),
        journal_path.display()
    );
    let mut md_cfg = file.market_data.clone();
    md_cfg.stream = source.stream.clone();
    let deadline = Some(tokio::time::Instant::now() + args.duration);
    let tick = std::time::Duration::from_secs(1);
    let pump = Pump::start(md_cfg, source.tokens.clone(), clock.clone(), resolutions, tick, deadline)?;
    let reason = pump.run(&mut driver, &mut PaperSide, &mut monitor, &stop, record.as_mut()).await?;
    let end = clock.now();
    if let Some(mut r) = record {
        r.input(&FeedInput::End, end).await?;
        let summary = r.close().await?;
        println!("recorded the feed: {} inputs into {}", summary.frames, summary.dir.display());
    }
    let (stats, rs) = driver.finish(end, reason).context("paper run")?;
    monitor.run_ended();
    println!(
        "stopped ({reason}): {} books distrusted by the feed, {} samples, {} intents, {} refused by risk, {} fills, {} \
         closed trades",
        stats.books_distrusted, stats.samples, stats.intents, stats.refusals, stats.fills, stats.trades
    );
    crate::settings::print_account(&rs);
    drop(source);
    let written = crate::report_out::write(&journal_path, &args.report);
    monitor.stop(file.ops.linger, reason, &stop).await;
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmbot_core::{ConditionId, TokenId};

    fn market(outcomes: [&str; 2]) -> MarketRef {
        MarketRef {
            condition_id: ConditionId::parse(&format!("0x{}", "1f".repeat(32))).unwrap(),
            slug: "btc-updown-15m-1".into(),
            question: String::new(),
            tokens: vec![TokenId::parse("11").unwrap(), TokenId::parse("22").unwrap()],
            outcomes: outcomes.map(str::to_owned).to_vec(),
            end_date: None,
            closed: false,
        }
    }

    /// A market listed Down first trades Up on the token named "Up", not on
    /// `tokens[0]`; one without Up and Down outcomes is refused in one line.
    /// Source: polymarket-protocol.md corrections 9; issue 13 item 8.
    #[test]
    fn up_and_down_come_from_the_outcome_names() {
        let info = market_info(&market(["Down", "Up"])).unwrap();
        assert_eq!((info.up.as_str(), info.down.as_str()), ("22", "11"));
        let err = market_info(&market(["Yes", "No"])).unwrap_err().to_string();
        assert!(err.contains("not one \"Up\" and one \"Down\"") && !err.contains('\n'), "{err}");
    }
}
