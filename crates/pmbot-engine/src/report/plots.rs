//! The report's PNG plots, drawn in memory with plotters and encoded with `png`.
//!
//! Every plot draws from a plain series, so the same series gives the same
//! bytes: text comes from DejaVu Sans embedded in the binary (the `dejavu`
//! crate, rendered by ab_glyph), never from a system font, and nothing here
//! reads a clock. An empty series draws an empty frame that says why, so a
//! report always has the same files.

use chrono::{DateTime, Utc};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use pmbot_core::{TimestampMs, Usdc};
use pmbot_report::plot::{Area, Drawn, FONT};

use super::ReportError;

type Chart<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

const EQUITY: RGBColor = RGBColor(31, 119, 180);
const LOSS: RGBColor = RGBColor(214, 39, 40);
const WIN: RGBColor = RGBColor(44, 160, 44);
const FEES: RGBColor = RGBColor(255, 127, 14);
const GREY: RGBColor = RGBColor(120, 120, 120);
const SIZE: (u32, u32) = (1000, 480);

/// What a time-series plot shows.
struct SeriesPlot<'a> {
    file: &'static str,
    caption: &'a str,
    y_desc: &'a str,
    colour: RGBColor,
    /// Shade between the line and zero (drawdown).
    fill_to_zero: bool,
    /// Said instead of a plot when the series is empty.
    empty: &'a str,
    /// What one point is, for the x axis when times go back ("mark", "trade").
    point: &'a str,
}

/// Account equity (cash + positions at the best bid), runs chained.
pub(super) fn equity(file: &'static str, points: &[(TimestampMs, Usdc)]) -> Result<Vec<u8>, ReportError> {
    series(
        &SeriesPlot {
            file,
            caption: "Equity (cash + positions marked to the best bid)",
            y_desc: "equity (pUSD)",
            colour: EQUITY,
            fill_to_zero: false,
            empty: "no P&L mark in the journal",
            point: "mark",
        },
        points,
    )
}

/// Equity minus its running peak (zero or below).
pub(super) fn drawdown(file: &'static str, points: &[(TimestampMs, Usdc)]) -> Result<Vec<u8>, ReportError> {
    series(
        &SeriesPlot {
            file,
            caption: "Drawdown (equity minus its running peak)",
            y_desc: "drawdown (pUSD)",
            colour: LOSS,
            fill_to_zero: true,
            empty: "no P&L mark in the journal",
            point: "mark",
        },
        points,
    )
}

/// Fees paid so far, over time.
pub(super) fn fees(file: &'static str, points: &[(TimestampMs, Usdc)]) -> Result<Vec<u8>, ReportError> {
    series(
        &SeriesPlot {
            file,
            caption: "Cumulative fees paid",
            y_desc: "fees (pUSD)",
            colour: FEES,
            fill_to_zero: true,
            empty: "no fee paid: no closed trade in the journal",
            point: "closed trade",
        },
        points,
    )
}

/// How the x axis reads a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum XAxis {
    /// Times never go back: plot against UTC time.
    Time,
    /// Runs overlap in time (a replay of older data after a live run): plot
    /// against the point's position, so the line does not fold back.
    Sequence,
}

fn x_axis(points: &[(TimestampMs, Usdc)]) -> XAxis {
    if points.windows(2).all(|w| w[0].0 <= w[1].0) { XAxis::Time } else { XAxis::Sequence }
}

fn dollars(u: Usdc) -> f64 {
    u.micros() as f64 / 1e6
}

fn series(plot: &SeriesPlot<'_>, points: &[(TimestampMs, Usdc)]) -> Result<Vec<u8>, ReportError> {
    render(plot.file, SIZE, |root| {
        if points.is_empty() {
            return nothing(&root, plot.caption, plot.empty);
        }
        let axis = x_axis(points);
        let xy: Vec<(f64, f64)> = points
            .iter()
            .enumerate()
            .map(|(i, (t, v))| {
                let x = match axis {
                    XAxis::Time => t.millis() as f64,
                    XAxis::Sequence => i as f64,
                };
                (x, dollars(*v))
            })
            .collect();
        let (x0, x1) = padded(xy.iter().map(|p| p.0), false);
        let (y0, y1) = padded(xy.iter().map(|p| p.1).chain(plot.fill_to_zero.then_some(0.0)), true);
        let mut chart = frame(&root, plot.caption, (x0, x1), (y0, y1))?;
        let span_ms = x1 - x0;
        let time_label = move |x: &f64| time_label(*x, span_ms);
        // Points are whole numbers: a tick between two says nothing.
        let seq_label = |x: &f64| if (x - x.round()).abs() < 1e-6 { format!("{x:.0}") } else { String::new() };
        let seq_desc = format!("{}, in run order (runs overlap in time)", plot.point);
        let mut mesh = chart.configure_mesh();
        let decimals = decimals_for(y1 - y0);
        let y_label = move |y: &f64| money_label(*y, decimals);
        mesh.max_light_lines(4).y_desc(plot.y_desc).y_label_formatter(&y_label);
        match axis {
            XAxis::Time => mesh.x_desc("time (UTC)").x_labels(8).x_label_formatter(&time_label),
            XAxis::Sequence => mesh.x_desc(seq_desc).x_label_formatter(&seq_label),
        };
        mesh.draw()?;
        if plot.fill_to_zero {
            // The line, then back along zero: a closed shape between them.
            let (first, last) = (xy[0].0, xy[xy.len() - 1].0);
            let shape: Vec<(f64, f64)> = xy.iter().copied().chain([(last, 0.0), (first, 0.0)]).collect();
            chart.draw_series(std::iter::once(Polygon::new(shape, plot.colour.mix(0.25).filled())))?;
        }
        chart.draw_series(std::iter::once(PathElement::new(xy.clone(), plot.colour.stroke_width(2))))?;
        if xy.len() == 1 {
            chart.draw_series(xy.iter().map(|&p| Circle::new(p, 4, plot.colour.filled())))?;
        }
        Ok(())
    })
}

/// Histogram of P&L per closed trade (after fees); wins green, the rest red.
pub(super) fn pnl_histogram(file: &'static str, pnl: &[Usdc]) -> Result<Vec<u8>, ReportError> {
    const CAPTION: &str = "P&L per trade, after fees";
    render(file, SIZE, |root| {
        let Some(bins) = Bins::of(pnl) else {
            return nothing(&root, CAPTION, "no closed trade in the journal");
        };
        let counts = bins.counts(pnl);
        let most = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
        let (x0, x1) = (bins.edge(0), bins.edge(bins.count));
        let mut chart = frame(&root, CAPTION, (x0, x1), (0.0, most * 1.1))?;
        chart
            .configure_mesh()
            .max_light_lines(4)
            .disable_x_mesh()
            .x_desc("P&L of the trade (pUSD); a bin holds (low, high]")
            .y_desc("trades")
            .x_label_formatter(&|x| money_label(*x, decimals_for(x1 - x0)))
            .y_label_formatter(&|y| if (y - y.round()).abs() < 1e-9 { format!("{y:.0}") } else { String::new() })
            .draw()?;
        chart.draw_series(counts.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| {
            let (low, high) = (bins.edge(i), bins.edge(i + 1));
            // A bin whose high edge is at or below zero holds no win (a win is pnl > 0).
            let colour = if high <= 0.0 { LOSS } else { WIN };
            let gap = (high - low) * 0.04;
            Rectangle::new([(low + gap, 0.0), (high - gap, *n as f64)], colour.mix(0.75).filled())
        }))?;
        chart.draw_series(std::iter::once(PathElement::new([(0.0, 0.0), (0.0, most * 1.1)], GREY.stroke_width(1))))?;
        Ok(())
    })
}

/// P&L per UTC day as bars.
pub(super) fn daily_pnl(file: &'static str, days: &[(String, Usdc)]) -> Result<Vec<u8>, ReportError> {
    const CAPTION: &str = "P&L per UTC day (equity change)";
    render(file, SIZE, |root| {
        if days.is_empty() {
            return nothing(&root, CAPTION, "no full day of P&L marks");
        }
        let (y0, y1) = padded(days.iter().map(|d| dollars(d.1)).chain([0.0]), true);
        let n = days.len() as f64;
        let mut chart = frame(&root, CAPTION, (-0.5, n - 0.5), (y0, y1))?;
        let label = |x: &f64| {
            let i = x.round();
            if (x - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            days.get(i as usize).map(|d| d.0.clone()).unwrap_or_default()
        };
        chart
            .configure_mesh()
            .max_light_lines(4)
            .disable_x_mesh()
            .x_labels(days.len().min(12) * 2 + 1)
            .x_desc("day (UTC)")
            .y_desc("P&L (pUSD)")
            .x_label_formatter(&label)
            .y_label_formatter(&|y| money_label(*y, decimals_for(y1 - y0)))
            .draw()?;
        chart.draw_series(days.iter().enumerate().map(|(i, (_, pnl))| {
            let colour = if pnl.micros() > 0 { WIN } else { LOSS };
            let x = i as f64;
            Rectangle::new([(x - 0.35, 0.0), (x + 0.35, dollars(*pnl))], colour.mix(0.75).filled())
        }))?;
        Ok(())
    })
}

/// Equal-width histogram bins with zero on an edge, so no bin mixes wins and
/// losses. Integer micros, so a value on an edge always lands in the same bin;
/// widths are 1, 2 or 5 times a power of ten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bins {
    /// The first bin's index: bin k holds (k x width, (k + 1) x width].
    first: i64,
    width_micros: i64,
    count: usize,
}

impl Bins {
    const TARGET: i64 = 20;
    /// One cent: finer bins would only split rounding.
    const FINEST_MICROS: i64 = 10_000;

    fn of(values: &[Usdc]) -> Option<Bins> {
        let lo = values.iter().min()?.micros();
        let hi = values.iter().max()?.micros();
        let raw = ((hi - lo) / Self::TARGET).max(Self::FINEST_MICROS);
        let width_micros = nice_step(raw);
        let (first, last) = (Self::index(lo, width_micros), Self::index(hi, width_micros));
        Some(Bins { first, width_micros, count: (last - first + 1) as usize })
    }

    /// Right-closed bins: a P&L of exactly zero (not a win) sits in (-w, 0].
    fn index(micros: i64, width: i64) -> i64 {
        (micros - 1).div_euclid(width)
    }

    fn edge(&self, i: usize) -> f64 {
        ((self.first + i as i64) * self.width_micros) as f64 / 1e6
    }

    fn counts(&self, values: &[Usdc]) -> Vec<u64> {
        let mut counts = vec![0u64; self.count];
        for v in values {
            let i = Self::index(v.micros(), self.width_micros) - self.first;
            counts[i.clamp(0, self.count as i64 - 1) as usize] += 1;
        }
        counts
    }
}

/// The smallest of 1, 2, 5 x 10^k at or above `raw` (> 0).
fn nice_step(raw: i64) -> i64 {
    let mut power = 1i64;
    loop {
        for m in [1, 2, 5] {
            if m * power >= raw {
                return m * power;
            }
        }
        power = power.saturating_mul(10);
    }
}

/// A range around the values, widened a little so lines clear the frame;
/// a single value gets a range of its own. `None`-free: callers pass at
/// least one value.
fn padded(values: impl Iterator<Item = f64>, pad: bool) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        let half = (lo.abs() * 0.05).max(if pad { 1.0 } else { 60_000.0 });
        return (lo - half, hi + half);
    }
    let margin = if pad { (hi - lo) * 0.06 } else { 0.0 };
    (lo - margin, hi + margin)
}

/// Decimals an axis over `span` needs so that about ten ticks all read
/// differently (at least 2, the cent; at most 6, the micro).
fn decimals_for(span: f64) -> usize {
    if !(span.is_finite() && span > 0.0) {
        return 2;
    }
    (-(span / 10.0).log10().floor()).clamp(2.0, 6.0) as usize
}

/// A pUSD tick label with `decimals`; never "-0.00".
fn money_label(y: f64, decimals: usize) -> String {
    let text = format!("{y:.decimals$}");
    if text.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
        text.trim_start_matches('-').to_owned()
    } else {
        text
    }
}

/// UTC time of `ms`; the date is shown when the plot spans more than a day.
fn time_label(ms: f64, span_ms: f64) -> String {
    let Some(t) = DateTime::<Utc>::from_timestamp_millis(ms.round() as i64) else {
        return String::new();
    };
    if span_ms > 86_400_000.0 { t.format("%m-%d %H:%M").to_string() } else { t.format("%H:%M:%S").to_string() }
}

fn frame<'a, 'b>(
    root: &'a Area<'b>,
    caption: &str,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Result<Chart<'a, 'b>, Box<dyn std::error::Error>> {
    Ok(ChartBuilder::on(root)
        .caption(caption, (FONT, 22))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(x0..x1, y0..y1)?)
}

/// An empty frame with the caption and the reason there is nothing to draw.
fn nothing(root: &Area<'_>, caption: &str, why: &str) -> Drawn {
    let inner = root.titled(caption, (FONT, 22))?;
    let (w, h) = inner.dim_in_pixel();
    let style = TextStyle::from((FONT, 20).into_font()).color(&GREY).pos(Pos::new(HPos::Center, VPos::Center));
    inner.draw_text(&format!("Nothing to plot: {why}."), &style, (w as i32 / 2, h as i32 / 2))?;
    Ok(())
}

/// Draws with the shared renderer (`pmbot_report::plot`); its failure as this
/// report's.
fn render(plot: &'static str, size: (u32, u32), draw: impl FnOnce(Area<'_>) -> Drawn) -> Result<Vec<u8>, ReportError> {
    pmbot_report::plot::render(plot, size, draw).map_err(|e| ReportError::Plot { plot: e.plot, message: e.message })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usdc(v: &[i64]) -> Vec<Usdc> {
        v.iter().map(|c| Usdc::from_micros(c * 10_000)).collect()
    }

    #[test]
    fn bins_put_zero_on_an_edge_and_count_every_value_once() {
        // -1.50, -0.20, -0.10, 0.00, 0.20, 2.00 pUSD
        let values = usdc(&[-150, -20, -10, 0, 20, 200]);
        let bins = Bins::of(&values).unwrap();
        assert_eq!(bins.width_micros, 200_000, "(2.00 - -1.50) / 20 = 0.175, rounded up to 0.2");
        let counts = bins.counts(&values);
        assert_eq!(counts.iter().sum::<u64>(), 6);
        let zero_edge = (0..=bins.count).find(|&i| bins.edge(i) == 0.0).expect("zero is an edge");
        // 0.00 is not a win: it sits with -0.10 in (-0.2, 0]; -0.20 in (-0.4, -0.2].
        assert_eq!(counts[zero_edge - 1], 2, "{counts:?}");
        assert_eq!(counts[zero_edge - 2], 1, "{counts:?}");
        assert_eq!(counts[zero_edge], 1, "0.20 in (0, 0.2]: {counts:?}");
        assert_eq!(bins.edge(0), -1.6);
        assert_eq!(bins.edge(bins.count), 2.0);
    }

    #[test]
    fn one_value_gets_one_bin() {
        let bins = Bins::of(&usdc(&[250])).unwrap();
        assert_eq!(bins.counts(&usdc(&[250])), vec![1]);
        assert!(Bins::of(&[]).is_none());
    }

    #[test]
    fn tick_labels_read_differently_and_never_negative_zero() {
        assert_eq!(decimals_for(0.4), 2);
        assert_eq!(decimals_for(0.04), 3);
        assert_eq!(decimals_for(300.0), 2);
        assert_eq!(money_label(-0.0001, 2), "0.00");
        assert_eq!(money_label(-0.25, 2), "-0.25");
        assert_eq!(money_label(299.875, 3), "299.875");
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(175_000), 200_000);
        assert_eq!(nice_step(300_000), 500_000);
        assert_eq!(nice_step(10_000), 10_000);
        assert_eq!(nice_step(7), 10);
        assert_eq!(nice_step(1), 1);
    }

    #[test]
    fn a_series_that_goes_back_in_time_is_plotted_in_order() {
        let t = TimestampMs::from_millis;
        let forward = [(t(1), Usdc::ZERO), (t(1), Usdc::ZERO), (t(5), Usdc::ZERO)];
        assert_eq!(x_axis(&forward), XAxis::Time);
        assert_eq!(x_axis(&[(t(5), Usdc::ZERO), (t(1), Usdc::ZERO)]), XAxis::Sequence);
    }

    #[test]
    fn plots_are_png_and_the_same_series_gives_the_same_bytes() {
        let t = TimestampMs::from_millis;
        let points = [
            (t(1_700_000_000_000), Usdc::from_whole(100)),
            (t(1_700_000_060_000), Usdc::from_micros(101_250_000)),
            (t(1_700_000_120_000), Usdc::from_micros(99_500_000)),
        ];
        let a = equity("equity.png", &points).unwrap();
        let b = equity("equity.png", &points).unwrap();
        assert!(a.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(a, b);
        let empty = equity("equity.png", &[]).unwrap();
        assert!(empty.starts_with(b"\x89PNG") && empty != a);
        for bytes in [
            drawdown("drawdown.png", &points).unwrap(),
            fees("fees.png", &points[..1]).unwrap(),
            pnl_histogram("pnl_histogram.png", &usdc(&[-150, -20, 0, 30, 200])).unwrap(),
            pnl_histogram("pnl_histogram.png", &[]).unwrap(),
            daily_pnl("daily_pnl.png", &[("2024-01-01".into(), Usdc::from_whole(-2))]).unwrap(),
        ] {
            let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
            let reader = decoder.read_info().unwrap();
            assert_eq!((reader.info().width, reader.info().height), SIZE);
        }
    }
}
