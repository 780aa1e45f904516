//! The three PNG plots, drawn in memory with plotters and encoded with `png`.
//!
//! Text is rendered with ab_glyph from DejaVu Sans embedded in the binary (the
//! `dejavu` crate), so plots draw the same on a bare CI machine with no system
//! fonts and no fontconfig. Pixels go to a buffer, not a file: the caller
//! writes the encoded bytes atomically.

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use pmbot_report::plot::{Area, Drawn, FONT};

use super::{ACCURACY_COVERAGE_PLOT, CLAIM_ACCURACY, CLAIM_CONFIDENCE, FOLDS_PLOT, RELIABILITY_PLOT, ReportError};
use crate::metrics::{Interval, Scorecard, ThresholdRow, wilson_interval};
use crate::validate::{FoldOutcome, SplitScore, ValidationReport};

const WALK_FORWARD: RGBColor = RGBColor(31, 119, 180);
const RANDOM: RGBColor = RGBColor(214, 39, 40);
const CLAIM: RGBColor = RGBColor(44, 160, 44);
const GREY: RGBColor = RGBColor(120, 120, 120);
const ALL_SAMPLES: RGBColor = RGBColor(148, 103, 189);

/// Accuracy (with the Wilson band) and coverage against the confidence
/// threshold, walk-forward beside the naive random k-fold.
pub(super) fn accuracy_coverage(v: &ValidationReport) -> Result<Vec<u8>, ReportError> {
    let wf = &v.walk_forward.pooled;
    let random = &v.random_kfold.pooled;
    render(ACCURACY_COVERAGE_PLOT, (1000, 760), |root| {
        let (upper, lower) = root.split_vertically(480);
        let floor = accuracy_floor(wf.thresholds.iter().chain(&random.thresholds).filter_map(|r| r.interval));
        let mut chart = ChartBuilder::on(&upper)
            .caption("Accuracy by confidence threshold (shaded: walk-forward 95% interval)", (FONT, 22))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.02f64..0.92, floor..1.0)?;
        chart
            .configure_mesh()
            .max_light_lines(4)
            .x_desc("confidence threshold |2p − 1| ≥")
            .y_desc("accuracy")
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .draw()?;
        reference_lines(&mut chart, floor)?;
        let band: Vec<(f64, f64)> = {
            let rows: Vec<(f64, Interval)> =
                wf.thresholds.iter().filter_map(|r| Some((r.threshold, r.interval?))).collect();
            let upper_edge = rows.iter().map(|(t, i)| (*t, i.high));
            let lower_edge = rows.iter().rev().map(|(t, i)| (*t, i.low));
            upper_edge.chain(lower_edge).collect()
        };
        if band.len() >= 4 {
            chart.draw_series(std::iter::once(Polygon::new(band, WALK_FORWARD.mix(0.18).filled())))?;
        }
        let accuracy = |card: &Scorecard| -> Vec<(f64, f64)> {
            card.thresholds.iter().filter_map(|r| Some((r.threshold, r.accuracy?))).collect()
        };
        curve(&mut chart, accuracy(wf), WALK_FORWARD, false, "walk-forward (pooled)")?;
        curve(&mut chart, accuracy(random), RANDOM, true, "naive random k-fold")?;
        legend(&mut chart, SeriesLabelPosition::LowerLeft)?;

        let mut chart = ChartBuilder::on(&lower)
            .caption("Coverage: share of test samples kept", (FONT, 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.02f64..0.92, 0.0f64..1.0)?;
        chart
            .configure_mesh()
            .max_light_lines(4)
            .x_desc("confidence threshold |2p − 1| ≥")
            .y_desc("coverage")
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .draw()?;
        let claim_x = [(CLAIM_CONFIDENCE, 0.0), (CLAIM_CONFIDENCE, 1.0)];
        chart.draw_series(std::iter::once(PathElement::new(claim_x, GREY.stroke_width(1))))?;
        let coverage = |card: &Scorecard| -> Vec<(f64, f64)> {
            card.thresholds.iter().map(|r| (r.threshold, r.coverage)).collect()
        };
        curve(&mut chart, coverage(wf), WALK_FORWARD, false, "walk-forward (pooled)")?;
        curve(&mut chart, coverage(random), RANDOM, true, "naive random k-fold")?;
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })
}

/// Predicted P(up) against the observed up share per bin, with the diagonal
/// and Wilson intervals, above a strip of sample counts per bin.
pub(super) fn reliability(card: &Scorecard) -> Result<Vec<u8>, ReportError> {
    render(RELIABILITY_PLOT, (760, 860), |root| {
        let (upper, lower) = root.split_vertically(640);
        let mut chart = ChartBuilder::on(&upper)
            .caption("Reliability (walk-forward test samples)", (FONT, 22))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0f64..1.0, 0.0f64..1.0)?;
        chart
            .configure_mesh()
            .max_light_lines(4)
            .x_desc("mean predicted P(up)")
            .y_desc("observed share up")
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .x_label_formatter(&|x| format!("{:.0}%", x * 100.0))
            .draw()?;
        chart
            .draw_series(std::iter::once(DashedPathElement::new([(0.0, 0.0), (1.0, 1.0)], 6, 4, GREY.stroke_width(1))))?
            .label("perfect calibration")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], GREY.stroke_width(1)));
        let points: Vec<(f64, f64, Option<Interval>)> = card
            .reliability
            .iter()
            .filter_map(|b| {
                let (p, o) = (b.mean_predicted?, b.observed_up?);
                let ups = (o * b.count as f64).round() as u64;
                Some((p, o, wilson_interval(ups, b.count)))
            })
            .collect();
        chart.draw_series(points.iter().filter_map(|(p, _, i)| {
            i.map(|i| PathElement::new([(*p, i.low), (*p, i.high)], WALK_FORWARD.stroke_width(2)))
        }))?;
        chart
            .draw_series(points.iter().map(|(p, o, _)| Circle::new((*p, *o), 5, WALK_FORWARD.filled())))?
            .label("bins, with 95% interval")
            .legend(|(x, y)| Circle::new((x + 10, y), 5, WALK_FORWARD.filled()));
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;

        let most = card.reliability.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64;
        let mut strip = ChartBuilder::on(&lower)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0f64..1.0, 0.0f64..most * 1.1)?;
        strip
            .configure_mesh()
            .max_light_lines(2)
            .disable_x_mesh()
            .x_desc("predicted P(up) bin")
            .y_desc("samples")
            .y_labels(4)
            .x_label_formatter(&|x| format!("{:.0}%", x * 100.0))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()?;
        strip.draw_series(card.reliability.iter().filter(|b| b.count > 0).map(|b| {
            Rectangle::new([(b.low + 0.005, 0.0), (b.high - 0.005, b.count as f64)], WALK_FORWARD.mix(0.6).filled())
        }))?;
        Ok(())
    })
}

/// Walk-forward accuracy per fold, over every test sample and at the claimed
/// confidence, each with its 95% interval.
pub(super) fn folds(split: &SplitScore) -> Result<Vec<u8>, ReportError> {
    render(FOLDS_PLOT, (1000, 560), |root| {
        let n = split.folds.len().max(1) as f64;
        let rows = |f: &crate::validate::FoldReport, t: f64| f.score().and_then(|s| s.at(t)).cloned();
        let intervals = split
            .folds
            .iter()
            .flat_map(|f| [rows(f, 0.0), rows(f, CLAIM_CONFIDENCE)])
            .flatten()
            .filter_map(|r| r.interval);
        let floor = accuracy_floor(intervals);
        let mut chart = ChartBuilder::on(&root)
            .caption("Walk-forward accuracy per fold (bars: 95% interval)", (FONT, 22))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.5f64..n + 0.5, floor..1.0)?;
        chart
            .configure_mesh()
            .max_light_lines(4)
            .disable_x_mesh()
            .x_desc("test fold (in time order)")
            .y_desc("accuracy")
            .x_labels(split.folds.len().max(1) * 2 + 1)
            .x_label_formatter(&|x| if (x - x.round()).abs() < 1e-6 { format!("{}", x.round()) } else { String::new() })
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .draw()?;
        reference_lines(&mut chart, floor)?;
        let series = [
            (0.0, -0.12, ALL_SAMPLES, "every test sample".to_owned()),
            (CLAIM_CONFIDENCE, 0.12, WALK_FORWARD, format!("confidence ≥ {CLAIM_CONFIDENCE:.1}")),
        ];
        for (threshold, offset, colour, label) in series {
            let points: Vec<(f64, ThresholdRow)> =
                split.folds.iter().filter_map(|f| Some((f.index as f64 + 1.0 + offset, rows(f, threshold)?))).collect();
            chart.draw_series(points.iter().filter_map(|(x, r)| {
                r.interval.map(|i| PathElement::new([(*x, i.low), (*x, i.high)], colour.stroke_width(2)))
            }))?;
            chart
                .draw_series(
                    points.iter().filter_map(|(x, r)| r.accuracy.map(|a| Circle::new((*x, a), 5, colour.filled()))),
                )?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, colour.filled()));
        }
        if let Some(pooled) = split.pooled.at(CLAIM_CONFIDENCE).and_then(|r| r.accuracy) {
            chart
                .draw_series(std::iter::once(DashedPathElement::new(
                    [(0.5, pooled), (n + 0.5, pooled)],
                    6,
                    4,
                    WALK_FORWARD.stroke_width(1),
                )))?
                .label(format!("pooled, confidence ≥ {CLAIM_CONFIDENCE:.1}"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], WALK_FORWARD.stroke_width(1)));
        }
        for f in &split.folds {
            if let FoldOutcome::Skipped(_) = f.outcome {
                let at = (f.index as f64 + 0.8, floor + 0.04 * (1.0 - floor));
                chart.draw_series(std::iter::once(Text::new("skipped", at, (FONT, 16).into_font().color(&GREY))))?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    })
}

type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// The lowest accuracy the axis must show: at most 50% (chance stays in view),
/// low enough for every interval, rounded down to 10%.
fn accuracy_floor(intervals: impl Iterator<Item = Interval>) -> f64 {
    let lowest = intervals.map(|i| i.low).fold(0.5, f64::min);
    ((lowest * 10.0).floor() / 10.0).clamp(0.0, 0.5)
}

/// The claimed accuracy and chance, as horizontal lines.
fn reference_lines(chart: &mut Chart<'_, '_>, floor: f64) -> Drawn {
    let (x0, x1) = (chart.x_range().start, chart.x_range().end);
    chart
        .draw_series(std::iter::once(DashedPathElement::new(
            [(x0, CLAIM_ACCURACY), (x1, CLAIM_ACCURACY)],
            8,
            5,
            CLAIM.stroke_width(2),
        )))?
        .label(format!("claim: {:.0}%", CLAIM_ACCURACY * 100.0))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], CLAIM.stroke_width(2)));
    if floor < 0.5 {
        chart
            .draw_series(std::iter::once(PathElement::new([(x0, 0.5), (x1, 0.5)], GREY.stroke_width(1))))?
            .label("chance: 50%")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], GREY.stroke_width(1)));
    }
    Ok(())
}

/// A labelled line with a marker on every point; dashed for the leaky split.
fn curve(chart: &mut Chart<'_, '_>, points: Vec<(f64, f64)>, colour: RGBColor, dashed: bool, label: &str) -> Drawn {
    let style = colour.stroke_width(2);
    chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, colour.filled())))?;
    let anno = if dashed {
        chart.draw_series(std::iter::once(DashedPathElement::new(points, 8, 5, style)))?
    } else {
        chart.draw_series(std::iter::once(PathElement::new(points, style)))?
    };
    anno.label(label).legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    Ok(())
}

fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, position: SeriesLabelPosition) -> Drawn {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(GREY)
        .label_font((FONT, 15))
        .draw()?;
    Ok(())
}

/// Draws with the shared renderer (`pmbot_report::plot`); its failure as this
/// report's.
fn render(plot: &'static str, size: (u32, u32), draw: impl FnOnce(Area<'_>) -> Drawn) -> Result<Vec<u8>, ReportError> {
    pmbot_report::plot::render(plot, size, draw).map_err(|e| ReportError::Plot { plot: e.plot, message: e.message })
}
