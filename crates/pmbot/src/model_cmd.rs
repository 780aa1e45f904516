//! `pmbot train` and `pmbot validate`: the direction model from recorded
//! market data, scored honestly (walk-forward, purged, no market on both
//! sides), with the naive random k-fold beside it so any inflation shows.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use pmbot_core::FEATURE_NAMES;
use pmbot_model::{ModelFile, Scorecard, Stage, TrainSpec, ValidationReport};

#[derive(Debug, Args)]
pub struct DataArgs {
    /// Data folders: the real resolvedkit data, or pmbot recordings (repeatable).
    #[arg(long = "data", value_name = "DIR", required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Label horizon: the next mid change within this much market time.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub horizon: Duration,
    /// Sample every this much market time.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub grid: Duration,
    /// Walk-forward test blocks.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Where to write the model (JSON).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// A saved model: validate with its settings, and score it on the data
    /// after its training span.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Folder for report.md, report.html and the plots.
    #[arg(long, value_name = "DIR")]
    pub report: PathBuf,
}

fn spec_of(a: &DataArgs) -> Result<TrainSpec> {
    let ms = |d: Duration, what: &str| -> Result<i64> {
        let v = i64::try_from(d.as_millis()).context("too long")?;
        if v <= 0 {
            bail!("--{what} must be positive");
        }
        Ok(v)
    };
    if a.folds < 2 {
        bail!("--folds must be at least 2");
    }
    Ok(TrainSpec {
        horizon_ms: ms(a.horizon, "horizon")?,
        grid_step_ms: ms(a.grid, "grid")?,
        folds: a.folds,
        ..TrainSpec::default()
    })
}

/// A stage-by-stage progress bar on stderr (hidden when not a terminal).
fn progress_bar(stages: u64) -> ProgressBar {
    let bar = ProgressBar::new(stages);
    let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn on_stage(bar: &ProgressBar) -> impl FnMut(Stage) + '_ {
    move |stage| {
        let msg = match stage {
            Stage::ReadingData => "reading data, computing features and labels".to_owned(),
            Stage::Validating { samples } => format!("walk-forward validation on {samples} samples"),
            Stage::Fitting => "fitting the model on every sample".to_owned(),
            Stage::Scoring => "scoring the saved model after its training span".to_owned(),
        };
        // Reading the data is always the first stage: the bar counts the ones done.
        if !matches!(stage, Stage::ReadingData) {
            bar.inc(1);
        }
        bar.set_message(msg);
    }
}

pub fn train(args: TrainArgs) -> Result<()> {
    let spec = spec_of(&args.data)?;
    let bar = progress_bar(3);
    let trained = pmbot_model::train(&args.data.data, &spec, &mut on_stage(&bar));
    bar.finish_and_clear();
    let trained = trained.context("training failed")?;
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    trained.model.save(&args.out).with_context(|| format!("cannot write the model to {}", args.out.display()))?;
    let s = &trained.dataset.summary;
    println!(
        "data: {} samples from {} markets ({} up, {} down; {} dropped without a mid change within the horizon)",
        s.samples,
        s.markets.len(),
        s.up,
        s.down,
        s.dropped_no_change
    );
    print!("{}", headline(&trained.validation));
    println!("model written to {}", args.out.display());
    Ok(())
}

pub fn validate(args: ValidateArgs) -> Result<()> {
    let spec = spec_of(&args.data)?;
    let model = match &args.model {
        Some(p) => {
            Some(ModelFile::load(p, &FEATURE_NAMES).with_context(|| format!("cannot use the model {}", p.display()))?)
        }
        None => None,
    };
    let bar = progress_bar(if model.is_some() { 3 } else { 2 });
    let done = pmbot_model::validate_data(&args.data.data, &spec, model.as_ref(), &mut on_stage(&bar));
    bar.finish_and_clear();
    let done = done.context("validation failed")?;
    let files = crate::model_report::write(&args.report, &done, model.as_ref(), &args.data.data)?;
    print!("{}", headline(&done.validation));
    if let Some(h) = &done.holdout {
        match &h.scorecard {
            Some(card) => println!("saved model on {} later samples: {}", card.samples, at_04(card)),
            None => {
                println!(
                    "saved model: no sample after its training span ({} inside it, not scored)",
                    h.inside_training
                );
            }
        }
    }
    for f in files {
        println!("wrote {}", f.display());
    }
    Ok(())
}

fn at_04(card: &Scorecard) -> String {
    match card.at(0.4) {
        Some(r) => match (r.accuracy, &r.interval) {
            (Some(a), Some(i)) => format!(
                "accuracy {:.1}% [{:.1}%, {:.1}%] on {} of {} samples (coverage {:.1}%) at confidence >= 0.4",
                a * 100.0,
                i.low * 100.0,
                i.high * 100.0,
                r.kept,
                card.samples,
                r.coverage * 100.0
            ),
            _ => format!("no sample reached confidence 0.4 (of {})", card.samples),
        },
        None => "no row for confidence 0.4".to_owned(),
    }
}

/// The lines a trader reads first.
pub fn headline(v: &ValidationReport) -> String {
    let wf = &v.walk_forward.pooled;
    format!(
        "walk-forward: overall accuracy {}; {}\nnaive random k-fold (leaky, for comparison): {}\nleakage check: {:?} (random k-fold minus walk-forward = {:+.3}, threshold {:.3})\n",
        pct(wf.accuracy()),
        at_04(wf),
        at_04(&v.random_kfold.pooled),
        v.leakage.verdict,
        v.leakage.gap,
        v.leakage.threshold
    )
}

fn pct(x: Option<f64>) -> String {
    x.map(|a| format!("{:.1}%", a * 100.0)).unwrap_or_else(|| "n/a".into())
}
