//! What `paper`, `backtest` and `live` share: the model, the engine settings
//! from the configuration, the run record, the journal.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pmbot_core::{FEATURE_NAMES, MarketResolved, TimestampMs};
use pmbot_engine::engine::driver::PaperDriver;
use pmbot_engine::engine::{Engine, EngineSettings, KillSwitchFile, MarketInfo, SharedJournal};
use pmbot_engine::journal::{DataSource, Journal, RunMode, RunStart};
use pmbot_model::ModelFile;
use pmbot_venue::marketdata::resolution::{ResolutionClient, ResolutionFallback};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::FileConfig;
use crate::error::refuse;
use crate::error::{Context, Result, RunError};

/// The `[engine]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineTable {
    /// Engine time between P&L marks.
    #[serde(with = "humantime_serde")]
    pub mark_interval: Duration,
    /// Decision rows buffered before a write (always written before an order).
    pub batch_rows: usize,
}

impl Default for EngineTable {
    fn default() -> Self {
        EngineTable { mark_interval: Duration::from_secs(60), batch_rows: 4096 }
    }
}

/// A model file, loaded and checked against this build's features.
#[derive(Debug)]
pub struct LoadedModel {
    pub file: ModelFile,
    /// sha256 of the file's bytes: which model made a decision.
    pub fingerprint: String,
    pub path: Option<PathBuf>,
}

impl LoadedModel {
    pub fn load(path: &Path) -> Result<LoadedModel> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read the model {}", path.display()))?;
        let file =
            ModelFile::load(path, &FEATURE_NAMES).with_context(|| format!("unusable model {}", path.display()))?;
        Ok(LoadedModel { file, fingerprint: sha256_hex(&bytes), path: Some(path.to_owned()) })
    }

    /// What the run records of its model (the report compares its hit rate
    /// with the validated one).
    pub fn run_json(&self, threshold: rust_decimal::Decimal) -> Value {
        let t = threshold.to_string().parse::<f64>().unwrap_or(0.4);
        let row = self.file.validation.as_ref().and_then(|v| v.walk_forward.pooled.at(t));
        json!({
            "fingerprint": self.fingerprint,
            "path": self.path.as_ref().map(|p| p.display().to_string()),
            "horizon_ms": self.file.horizon_ms,
            "grid_step_ms": self.file.grid.step_ms,
            "confidence_threshold": threshold.to_string(),
            "validated_hit_rate": row.and_then(|r| r.accuracy),
            "validated_low": row.and_then(|r| r.interval.map(|i| i.low)),
            "validated_high": row.and_then(|r| r.interval.map(|i| i.high)),
            "validated_coverage": row.map(|r| r.coverage),
            "validated_samples": row.map(|r| r.kept),
        })
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The engine settings from the configuration and the model; validated
/// here so a bad limit stops the command before anything starts.
pub fn engine_settings(file: &FileConfig, model: &LoadedModel) -> Result<EngineSettings> {
    let mark_ms = validate_config(file)?;
    Ok(EngineSettings {
        strategy: file.strategy.clone(),
        risk: file.risk.clone(),
        features: model.file.feature_spec,
        sample_step_ms: model.file.grid.step_ms,
        mark_interval_ms: mark_ms,
        batch_rows: file.engine.batch_rows,
    })
}

/// Checks the trading tables (a limit above the capital cap, an empty
/// price band, a zero interval) before anything starts; returns the mark
/// interval in ms.
pub fn validate_config(file: &FileConfig) -> Result<i64> {
    file.strategy.validate().context("invalid [strategy] configuration")?;
    file.risk.validate().context("invalid [risk] configuration")?;
    let mark_ms = i64::try_from(file.engine.mark_interval.as_millis()).unwrap_or(i64::MAX);
    if mark_ms <= 0 {
        refuse!("invalid [engine] configuration: mark_interval must be positive");
    }
    if file.engine.batch_rows == 0 {
        refuse!("invalid [engine] configuration: batch_rows must be at least 1");
    }
    Ok(mark_ms)
}

/// The config the run records (and hashes): every setting that can change a
/// decision or a fill, never a secret.
pub fn run_config(file: &FileConfig, paper: bool) -> Value {
    let mut v = json!({
        "strategy": file.strategy,
        "risk": file.risk,
        "engine": {"mark_interval_ms": file.engine.mark_interval.as_millis() as u64, "batch_rows": file.engine.batch_rows},
    });
    if paper {
        v["paper"] = serde_json::to_value(&file.paper).unwrap_or(Value::Null);
    }
    v
}

pub fn run_start(
    mode: RunMode,
    source: DataSource,
    file: &FileConfig,
    model: &LoadedModel,
    gate_override: Option<String>,
    started: TimestampMs,
) -> RunStart {
    RunStart {
        mode,
        data_source: source,
        config: run_config(file, mode != RunMode::Live),
        model_fingerprint: model.fingerprint.clone(),
        model: model.run_json(file.strategy.confidence_threshold),
        pmbot_version: env!("CARGO_PKG_VERSION").to_owned(),
        gate_override,
        started,
    }
}

/// Opens the journal for writing, shared with the venue driver.
pub fn open_journal(path: &Path) -> Result<SharedJournal> {
    let journal = Journal::open(path).with_context(|| format!("cannot open the journal {}", path.display()))?;
    Ok(Arc::new(Mutex::new(journal)))
}

/// The engine started for `run` with `model` and `settings`, on a paper
/// venue of its own (`[paper]`, starting with `[paper] starting_cash`): the
/// one start of `paper` (simulated or live data) and `backtest`.
pub fn paper_driver(
    file: &FileConfig,
    journal: SharedJournal,
    run: &RunStart,
    model: &LoadedModel,
    settings: EngineSettings,
) -> Result<PaperDriver> {
    let kill = Box::new(KillSwitchFile(file.gateway.kill_switch.clone()));
    let engine =
        Engine::start(journal, run, settings, Box::new(model.file.model.clone()), kill, file.paper.starting_cash)
            .context("the engine did not start")?;
    Ok(PaperDriver::paper(engine, file.paper.clone()))
}

/// A simulator market as the engine needs it. The simulator keeps its own
/// fee schedule type; the engine gets the same plain numbers (rate,
/// exponent, taker-only) in the bot's.
pub fn sim_market(spec: &pmbot_sim::engine::MarketSpec) -> MarketInfo {
    let fd = spec.fee;
    MarketInfo {
        market: spec.condition_id,
        up: spec.tokens[0].token_id.clone(),
        down: spec.tokens[1].token_id.clone(),
        end: spec.end_ms.map(TimestampMs::from_millis),
        fee: pmbot_core::FeeModel { rate: fd.rate, exponent: fd.exponent, taker_only: fd.taker_only },
        min_order_size: spec.min_order_size,
        tick: spec.tick,
    }
}

pub use pmbot_engine::engine::market::{DEFAULT_MIN_ORDER, DEFAULT_TICK};

/// The REST fallback for resolutions the feed misses (it does not replay
/// `market_resolved` after a reconnect), asking the CLOB at `rest_url` about
/// each of `markets` once it has ended.
pub fn resolution_fallback(rest_url: &str, markets: &[MarketInfo]) -> Result<ResolutionFallback> {
    let client = ResolutionClient::new(rest_url, REST_TIMEOUT).map_err(RunError::Refused)?;
    let mut fallback = ResolutionFallback::new(client);
    for m in markets {
        if let Some(end) = m.end {
            fallback.expect(m.market, end);
        }
    }
    Ok(fallback)
}

/// Every REST request's timeout.
const REST_TIMEOUT: Duration = Duration::from_secs(5);

/// A journal note saying a resolution came over REST, not from the feed.
pub fn note_rest_resolution(journal: &SharedJournal, run: i64, r: &MarketResolved, at: TimestampMs) -> Result<()> {
    let note = json!({
        "run": run,
        "market": r.market.to_string(),
        "winning_token": r.winning_token.as_str(),
        "winning_outcome": r.winning_outcome,
        "source": "GET /markets/{condition_id}",
    });
    pmbot_engine::engine::lock(journal)
        .record_note("resolution_from_rest", &note, at)
        .context("cannot journal a resolution learnt over REST")?;
    Ok(())
}

/// Prints the run's account as it ended: the ledger's cash, fees and
/// positions (the journal's last mark says the same).
pub fn print_account(rs: &pmbot_engine::engine::driver::DriverStats) {
    let a = rs.account;
    println!(
        "account: cash {} pUSD, fees {} pUSD, {} unredeemed, {} position(s) open",
        a.cash, a.fees, a.unredeemed, a.open_positions
    );
}
