//! The report's charts, drawn from a run's data with `plotters` into inline SVG: records along the height
//! axis (stacked by class), the class breakdown, each verifier's latency distribution (log buckets, p50
//! and p99 marked) and throughput. Text stays text (`<text>` elements the browser lays out), so no font
//! is needed to draw and the output is the same on every machine.

use dualrun_core::RecordClass;
use dualrun_rundir::{Latency, Summary};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Colours of the record classes, most severe first (the order of [`RecordClass::ALL`]).
pub(crate) fn class_colour(class: RecordClass) -> RGBColor {
    match class {
        RecordClass::Split => RGBColor(0xc6, 0x28, 0x28),
        RecordClass::Halt => RGBColor(0xef, 0x6c, 0x00),
        RecordClass::Fact => RGBColor(0x6a, 0x1b, 0x9a),
        RecordClass::Reason => RGBColor(0x15, 0x65, 0xc0),
        RecordClass::LegacyError => RGBColor(0x55, 0x8b, 0x2f),
        RecordClass::CandidateError => RGBColor(0x00, 0x83, 0x8f),
        RecordClass::Fallback => RGBColor(0x79, 0x55, 0x48),
        RecordClass::LegacyNoise => RGBColor(0xaf, 0xb4, 0x2b),
        RecordClass::CandidateNoise => RGBColor(0xad, 0x14, 0x57),
        RecordClass::StoredIdMismatch => RGBColor(0x42, 0x42, 0x42),
    }
}

/// `#rrggbb` of a class, for the page's legend and table.
pub(crate) fn class_css(class: RecordClass) -> String {
    let RGBColor(r, g, b) = class_colour(class);
    format!("#{r:02x}{g:02x}{b:02x}")
}

const WIDTH: u32 = 760;
const HEIGHT: u32 = 280;
const FONT: (&str, u32) = ("sans-serif", 13);

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Draws into an SVG string; a drawing error (none is expected: sizes are fixed) becomes a note.
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> DrawResult,
) -> String {
    let mut out = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        let r =
            root.fill(&WHITE).map_err(|e| Box::new(e) as Box<dyn std::error::Error>).and_then(|_| draw(root.clone()));
        r.and_then(|_| root.present().map_err(|e| Box::new(e) as Box<dyn std::error::Error>))
    };
    match result {
        Ok(()) => out,
        Err(e) => format!("<p class=\"chart-error\">chart not drawn: {}</p>", escape(&e.to_string())),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Records per height bin, stacked by class: where in the chain the run diverged.
pub(crate) fn along_height(from: u64, to: u64, records: &[(u64, RecordClass)]) -> String {
    let span = to.saturating_sub(from) + 1;
    let bins = span.clamp(1, 100);
    let width = span.div_ceil(bins);
    let bins = span.div_ceil(width);
    let mut counts = vec![[0u64; RecordClass::ALL.len()]; bins as usize];
    for &(h, class) in records {
        if (from..=to).contains(&h) {
            let i = RecordClass::ALL.iter().position(|c| *c == class).unwrap_or(0);
            counts[((h - from) / width) as usize][i] += 1;
        }
    }
    let max = counts.iter().map(|c| c.iter().sum::<u64>()).max().unwrap_or(0).max(1);
    svg((WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(54)
            .caption("records along the chain", FONT)
            .build_cartesian_2d(from..from + bins * width, 0u64..max + max / 10 + 1)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("height")
            .y_desc("records")
            .label_style(FONT)
            .x_labels(8)
            .y_labels(6)
            .draw()?;
        // The page's class chips above the charts are the legend.
        for (i, class) in RecordClass::ALL.iter().enumerate() {
            let colour = class_colour(*class);
            let bars = counts.iter().enumerate().filter(|(_, c)| c[i] > 0).map(|(b, c)| {
                let below: u64 = c[..i].iter().sum();
                let x0 = from + b as u64 * width;
                Rectangle::new([(x0, below), (x0 + width, below + c[i])], colour.filled())
            });
            chart.draw_series(bars)?;
        }
        Ok(())
    })
}

/// The count of each record class, most severe first.
pub(crate) fn classes(counts: &std::collections::BTreeMap<RecordClass, u64>) -> String {
    let bars: Vec<Bar> = RecordClass::ALL
        .iter()
        .map(|c| Bar {
            label: c.as_str().into(),
            value: counts.get(c).copied().unwrap_or(0) as f64,
            colour: class_colour(*c),
        })
        .collect();
    horizontal_bars("records by class", "records", &bars, 5.0)
}

/// One bar of a horizontal bar chart.
struct Bar {
    label: String,
    value: f64,
    colour: RGBColor,
}

/// Labelled horizontal bars, first on top, each with its value written at its end; the axis reaches at
/// least `at_least` (whole numbers stay whole on a chart of small counts).
fn horizontal_bars(caption: &str, unit: &str, bars: &[Bar], at_least: f64) -> String {
    let n = bars.len() as i32;
    let max = bars.iter().map(|b| b.value).fold(at_least, f64::max);
    svg((WIDTH, 70 + 26 * bars.len() as u32), |root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(140)
            .caption(caption, FONT)
            .build_cartesian_2d(0.0..max * 1.2, (0..n).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(unit)
            .label_style(FONT)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_labels(bars.len())
            .y_label_formatter(&|y| match y {
                SegmentValue::CenterOf(i) => {
                    usize::try_from(n - 1 - i).ok().and_then(|i| bars.get(i)).map_or(String::new(), |b| b.label.clone())
                }
                _ => String::new(),
            })
            .draw()?;
        chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
            let y = n - 1 - i as i32;
            Rectangle::new([(0.0, SegmentValue::Exact(y)), (b.value, SegmentValue::Exact(y + 1))], b.colour.filled())
        }))?;
        chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
            Text::new(format!(" {:.0}", b.value), (b.value, SegmentValue::CenterOf(n - 1 - i as i32)), FONT.into_font())
        }))?;
        Ok(())
    })
}

/// One verifier's latency distribution over logarithmic buckets, p50 and p99 marked.
pub(crate) fn latency(role: &str, l: &Latency) -> String {
    if l.histogram.is_empty() {
        return "<p class=\"muted\">no latency distribution in this run (made before dualrun kept it)</p>".into();
    }
    let lo = l.histogram.first().map_or(1.0, |b| b.from_us).max(0.01);
    let hi = l.histogram.last().map_or(2.0, |b| b.to_us).max(lo * 2.0);
    let max = l.histogram.iter().map(|b| b.count).max().unwrap_or(1);
    let caption = format!("{role}: time per block (µs, log scale), {} calls", l.count);
    svg((WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(54)
            .caption(caption, FONT)
            .build_cartesian_2d((lo..hi).log_scale(), 0u64..max + max / 10 + 1)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("µs")
            .y_desc("blocks")
            .label_style(FONT)
            .x_label_formatter(&|x| if *x >= 10.0 { format!("{x:.0}") } else { format!("{x:.2}") })
            .draw()?;
        let colour = if role == "legacy" { RGBColor(0x55, 0x8b, 0x2f) } else { RGBColor(0x15, 0x65, 0xc0) };
        chart.draw_series(
            l.histogram
                .iter()
                .map(|b| Rectangle::new([(b.from_us.max(lo), 0), (b.to_us, b.count)], colour.mix(0.8).filled())),
        )?;
        let middle = (lo * hi).sqrt();
        for (name, at, y) in [("p50", l.p50_us, max), ("p99", l.p99_us, max - max / 8)] {
            let at = at.clamp(lo, hi);
            chart.draw_series(LineSeries::new([(at, 0), (at, max)], BLACK.stroke_width(2)))?;
            // A label right of the axis's middle is written leftwards, so it stays inside the chart.
            let anchor = if at > middle { HPos::Right } else { HPos::Left };
            let style = TextStyle::from(FONT.into_font()).pos(Pos::new(anchor, VPos::Top));
            chart.draw_series([Text::new(format!(" {name} {at:.1} µs "), (at, y), style)])?;
        }
        Ok(())
    })
}

/// One stretch of heights of [`latency_along_height`]: per verifier (legacy, candidate), the mean and
/// the slowest time of its blocks, microseconds (none: no block of it timed for that verifier).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct HeightBin {
    pub(crate) mean_max_us: [Option<(f64, f64)>; 2],
}

/// Each verifier's time per block along the heights: for each stretch of `width` heights from `from`, the
/// mean (solid) and the slowest block (faint), on a log scale.
pub(crate) fn latency_along_height(from: u64, width: u64, bins: &[HeightBin]) -> String {
    let values = bins.iter().flat_map(|b| b.mean_max_us.iter().flatten().flat_map(|&(m, x)| [m, x]));
    let (lo, hi) = values.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi <= 0.0 {
        return "<p class=\"muted\">no block was timed</p>".into();
    }
    let (lo, hi) = ((lo * 0.8).max(0.5), (hi * 1.25).max(lo * 2.0));
    let end = from + width * bins.len().max(1) as u64;
    svg((WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(64)
            .caption("time per block along the chain (µs, log scale): mean, and slowest faint", FONT)
            .build_cartesian_2d(from..end, (lo..hi).log_scale())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("height")
            .y_desc("µs")
            .label_style(FONT)
            .x_labels(8)
            .y_label_formatter(&|y| if *y >= 10.0 { format!("{y:.0}") } else { format!("{y:.1}") })
            .draw()?;
        for (role, colour) in [(0, RGBColor(0x55, 0x8b, 0x2f)), (1, RGBColor(0x15, 0x65, 0xc0))] {
            let at = |b: usize| from + b as u64 * width + width / 2;
            let points = |pick: fn((f64, f64)) -> f64| -> Vec<(u64, f64)> {
                bins.iter().enumerate().filter_map(|(b, bin)| bin.mean_max_us[role].map(|v| (at(b), pick(v)))).collect()
            };
            chart.draw_series(LineSeries::new(points(|(_, max)| max), colour.mix(0.35).stroke_width(1)))?;
            chart.draw_series(LineSeries::new(points(|(mean, _)| mean), colour.stroke_width(2)))?;
        }
        Ok(())
    })
}

/// Throughput: the replay's blocks per second, and each verifier's blocks per second of its own time.
pub(crate) fn throughput(summary: &Summary) -> String {
    let mut bars =
        vec![Bar { label: "replay".into(), value: summary.blocks_per_second, colour: RGBColor(0x42, 0x42, 0x42) }];
    for (role, l, colour) in [
        ("legacy", &summary.latency.legacy, RGBColor(0x55, 0x8b, 0x2f)),
        ("candidate", &summary.latency.candidate, RGBColor(0x15, 0x65, 0xc0)),
    ] {
        if let Some(l) = l.as_ref().filter(|l| l.busy_seconds > 0.0) {
            bars.push(Bar { label: format!("{role} alone"), value: l.count as f64 / l.busy_seconds, colour });
        }
    }
    horizontal_bars("throughput (blocks per second)", "blocks/s", &bars, 1.0)
}
