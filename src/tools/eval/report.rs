//! Renders an `eval::Report`: plain text for a terminal, and with `--report DIR` a Markdown report
//! (`report.md`) with two SVG figures: `reliability.svg` (accuracy per confidence bin against the
//! diagonal) and `confusion.svg` (gold × predicted heat map over the most confused intents).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::tools::eval::{Report, Scores};

/// Intents shown in the confusion heat map at most (those with the most off-diagonal mass).
pub const CONFUSION_MAP_INTENTS: usize = 20;

/// Files `write_report` creates in its folder.
pub const REPORT_MD: &str = "report.md";
pub const RELIABILITY_SVG: &str = "reliability.svg";
pub const CONFUSION_SVG: &str = "confusion.svg";

/// Slot precision, recall and F1 as printed: `n/a` where the data gives them no meaning (no gold
/// span: recall and F1; no predicted span: precision).
fn slot_cells(m: &Scores) -> [String; 3] {
    let cell = |x: f64, defined: bool| if defined { format!("{:.2}", pct(x)) } else { "n/a".to_string() };
    [cell(m.slot_precision, m.slot_predicted > 0), cell(m.slot_recall, m.slot_gold > 0), cell(m.slot_f1, m.slot_gold > 0)]
}

fn pct(x: f64) -> f64 {
    100.0 * x
}

fn opt_pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{:.1}", 100.0 * v))
}

/// A bin range as "0.3–0.4".
fn bin_range(lower: f64, upper: f64) -> String {
    format!("{lower:.1}–{upper:.1}")
}

fn lang_cell(m: &Scores) -> String {
    if m.language_examples == 0 {
        "n/a".into()
    } else {
        format!("{:.2}", pct(m.language_accuracy))
    }
}

fn unknown_line(what: &str, unit: &str, u: &crate::tools::eval::UnknownLabels) -> Option<String> {
    if u.names.is_empty() {
        return None;
    }
    let names: Vec<String> = u.names.iter().map(|(n, c)| format!("{n} ({c})")).collect();
    Some(format!("{} {what} the model does not know, on {} {unit}: {}; they count as misses", u.names.len(), u.count, names.join(", ")))
}

/// In-scope accuracy, rejections, off-topic recall and Matthews correlation in one line.
fn off_topic_line(o: &crate::train::oos::OffTopic) -> String {
    let recall = o.off_topic_recall.map_or("n/a (no off-topic message)".to_string(), |r| format!("{:.2} %", pct(r)));
    let reasons: Vec<String> = o.fallback_reasons.iter().map(|(why, n)| format!("{why} {n}")).collect();
    let fallbacks = if reasons.is_empty() { String::new() } else { format!("; fallbacks by reason: {}", reasons.join(", ")) };
    format!(
        "in scope: {} messages, {:.2} % answered right, {:.2} % rejected; off-topic (out-of-scope or unknown intents): {}, recall {recall}; Matthews correlation (off-topic as a class) {:.4}{fallbacks}",
        o.in_scope,
        pct(o.in_scope_accuracy),
        pct(o.in_scope_rejected),
        o.off_topic,
        o.mcc
    )
}

impl Report {
    /// Plain-text report for a terminal.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        self.text_scores(&mut s);
        self.text_diagnostics(&mut s);
        s
    }

    /// The locale table, the per-intent table and the unknown labels.
    fn text_scores(&self, s: &mut String) {
        let row = |name: &str, m: &Scores| {
            let [p, r, f] = slot_cells(m);
            format!(
                "{name:<10} {:>6} {:>8.2} {p:>8} {r:>8} {f:>8} {:>8.2} {:>7.2} {:>6}\n",
                m.examples,
                pct(m.intent_accuracy),
                pct(m.exact_match),
                pct(m.ece),
                lang_cell(m)
            )
        };
        s.push_str("locale        n   intent   slot P   slot R  slot F1    exact  ECE %  lang\n");
        for (loc, m) in &self.per_locale {
            s.push_str(&row(loc, m));
        }
        if self.per_locale.len() > 1 {
            s.push_str(&row("all", &self.overall));
        }
        let _ = writeln!(*s, "\n{}", off_topic_line(&self.off_topic));
        if let Some(t) = &self.threshold_tradeoff {
            let _ = writeln!(
                *s,
                "the same at each fallback threshold (the bundle's off-topic gate and ambiguity margin kept):\n{}",
                t.lines().join("\n")
            );
        }
        s.push_str("\nintent                       support  precision  recall     F1\n");
        for (name, m) in &self.per_intent {
            let mark = if m.known { "" } else { " (unknown to the model)" };
            let _ = writeln!(*s, "{name:<28} {:>7} {:>10.2} {:>7.2} {:>6.2}{mark}", m.support, pct(m.precision), pct(m.recall), pct(m.f1));
        }
        for line in [
            unknown_line("gold intent(s)", "example(s)", &self.unknown_intents),
            unknown_line("gold slot type(s)", "span(s)", &self.unknown_slot_types),
        ]
        .into_iter()
        .flatten()
        {
            let _ = writeln!(*s, "\n{line}");
        }
    }

    /// Confusions, reliability, latency and throughput.
    fn text_diagnostics(&self, s: &mut String) {
        s.push_str("\nmost confused intents (gold → predicted)                 count  share of gold\n");
        if self.confused_pairs.is_empty() {
            s.push_str("  none: every intent right\n");
        }
        for p in &self.confused_pairs {
            let pair = format!("{} → {}", p.gold, p.predicted);
            let _ = writeln!(*s, "  {pair:<55} {:>5} {:>12.1} %", p.count, pct(p.share_of_gold));
        }
        s.push_str("\nreliability of the intent confidence (ECE above uses 15 bins)\n");
        s.push_str("  confidence   count  mean conf %  accuracy %   gap (conf − acc)\n");
        for b in &self.reliability {
            let _ = writeln!(
                *s,
                "  {:<10} {:>7} {:>12} {:>11} {:>18}",
                bin_range(b.lower, b.upper),
                b.count,
                opt_pct(b.mean_confidence),
                opt_pct(b.accuracy),
                b.gap.map_or_else(|| "-".to_string(), |g| format!("{:+.1}", 100.0 * g))
            );
        }
        match &self.latency {
            Some(l) => {
                let _ = writeln!(
                    *s,
                    "\nlatency of one parse in process, {} texts one at a time: p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (mean {:.2} ms)",
                    l.samples, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms
                );
            }
            None => s.push_str("\nlatency not measured (--latency-samples 0)\n"),
        }
        let _ = writeln!(
            s,
            "\n{} examples in {:.1} s ({:.0} utterances/s, batched)",
            self.overall.examples,
            self.seconds,
            self.overall.examples as f64 / self.seconds.max(1e-9)
        );
    }

    /// The Markdown report; the figures are linked by their file names (`reliability.svg`,
    /// `confusion.svg`), next to `report.md`.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        self.md_scores(&mut s);
        self.md_latency(&mut s);
        self.md_calibration_and_confusions(&mut s);
        self.md_per_intent(&mut s);
        s
    }

    /// Title, data and the scores table.
    fn md_scores(&self, s: &mut String) {
        let _ = writeln!(*s, "# Evaluation of {} {}\n", self.model.name, self.model.version);
        if self.data.is_empty() {
            let _ = writeln!(*s, "Data: {} examples.\n", self.overall.examples);
        } else {
            let files: Vec<String> = self.data.iter().map(|d| format!("`{d}`")).collect();
            let _ = writeln!(*s, "Data: {} ({} examples).\n", files.join(", "), self.overall.examples);
        }
        s.push_str(
            "Intent accuracy; slot precision, recall and F1 at span level (type and both boundaries must \
             match); exact match (intent and every slot right); ECE of the intent confidence (15 bins); \
             language-detection accuracy (only for locales that name a language of the model). All in %.\n\n",
        );
        s.push_str("## Scores\n\n| locale | examples | intent | slot P | slot R | slot F1 | exact | ECE | language |\n");
        s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        let row = |name: &str, m: &Scores| {
            let [p, r, f] = slot_cells(m);
            format!(
                "| {name} | {} | {:.2} | {p} | {r} | {f} | {:.2} | {:.2} | {} |\n",
                m.examples,
                pct(m.intent_accuracy),
                pct(m.exact_match),
                pct(m.ece),
                lang_cell(m)
            )
        };
        for (loc, m) in &self.per_locale {
            s.push_str(&row(&md_escape(loc), m));
        }
        if self.per_locale.len() > 1 {
            s.push_str(&row("**all**", &self.overall));
        }
        let _ = writeln!(*s, "\n{}", md_escape(&off_topic_line(&self.off_topic)));
        if let Some(t) = &self.threshold_tradeoff {
            let _ = writeln!(
                *s,
                "\nThe same at each fallback threshold (the bundle's off-topic gate and ambiguity margin kept):\n\n```\n{}\n```",
                t.lines().join("\n")
            );
        }
        for line in [
            unknown_line("gold intent(s)", "example(s)", &self.unknown_intents),
            unknown_line("gold slot type(s)", "span(s)", &self.unknown_slot_types),
        ]
        .into_iter()
        .flatten()
        {
            let _ = writeln!(*s, "\n**Note:** {}.", md_escape(&line));
        }
    }

    /// Single-parse latency and the accuracy pass's throughput.
    fn md_latency(&self, s: &mut String) {
        s.push_str("\n## Latency\n\n");
        match &self.latency {
            Some(l) => {
                let _ = writeln!(
                    *s,
                    "One `parse` call at a time, in process (no HTTP), on {} texts: what a bot waits for one \
                     message.\n\n| p50 | p90 | p99 | max | mean |\n|---:|---:|---:|---:|---:|\n| {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
                    l.samples, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms
                );
            }
            None => s.push_str("Not measured (`--latency-samples 0`).\n"),
        }
        let _ = writeln!(
            s,
            "\nAccuracy pass: {} examples in {:.1} s, batched ({:.0} utterances/s).",
            self.overall.examples,
            self.seconds,
            self.overall.examples as f64 / self.seconds.max(1e-9)
        );
    }

    /// The reliability table and the most confused pairs, with their figures.
    fn md_calibration_and_confusions(&self, s: &mut String) {
        s.push_str("\n## Calibration\n\n");
        let _ = writeln!(*s, "![Reliability diagram]({RELIABILITY_SVG})\n");
        s.push_str("| confidence | count | mean confidence % | accuracy % | gap (conf − acc, points) |\n|---|---:|---:|---:|---:|\n");
        for b in &self.reliability {
            let _ = writeln!(
                *s,
                "| {} | {} | {} | {} | {} |",
                bin_range(b.lower, b.upper),
                b.count,
                opt_pct(b.mean_confidence),
                opt_pct(b.accuracy),
                b.gap.map_or_else(|| "-".to_string(), |g| format!("{:+.1}", 100.0 * g))
            );
        }

        s.push_str("\n## Confusions\n\n");
        let _ = writeln!(*s, "![Confusion heat map]({CONFUSION_SVG})\n");
        if self.confused_pairs.is_empty() {
            s.push_str("No confusions: every intent right.\n");
        } else {
            s.push_str("| gold | predicted | count | share of gold |\n|---|---|---:|---:|\n");
            for p in &self.confused_pairs {
                let _ = writeln!(*s, "| {} | {} | {} | {:.1} % |", md_escape(&p.gold), md_escape(&p.predicted), p.count, pct(p.share_of_gold));
            }
        }
    }

    /// One row per gold intent.
    fn md_per_intent(&self, s: &mut String) {
        s.push_str("\n## Per intent\n\n| intent | support | precision | recall | F1 |\n|---|---:|---:|---:|---:|\n");
        for (name, m) in &self.per_intent {
            let mark = if m.known { "" } else { " (unknown to the model)" };
            let _ = writeln!(*s, "| {}{mark} | {} | {:.2} | {:.2} | {:.2} |", md_escape(name), m.support, pct(m.precision), pct(m.recall), pct(m.f1));
        }
    }

    /// Writes `report.md`, `reliability.svg` and `confusion.svg` into `dir` (created if needed) and
    /// returns their paths.
    pub fn write_report(&self, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        let md = dir.join(REPORT_MD);
        let rel = dir.join(RELIABILITY_SVG);
        let conf = dir.join(CONFUSION_SVG);
        draw_reliability(self, &rel).map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", rel.display()))?;
        draw_confusion(self, &conf, CONFUSION_MAP_INTENTS).map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", conf.display()))?;
        std::fs::write(&md, self.to_markdown()).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", md.display()))?;
        Ok(vec![md, rel, conf])
    }
}

/// Keeps table cells intact: `|` would end a cell.
fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The intents of the confusion heat map: at most `k`, those with the most off-diagonal mass (gold
/// misses + wrong predictions), ties by name, then sorted by name so that related intents sit
/// together. When nothing was confused, the `k` gold intents with the most support (an all-diagonal
/// map).
pub fn most_confused_intents(report: &Report, k: usize) -> Vec<String> {
    let mut mass: std::collections::BTreeMap<&str, usize> = Default::default();
    for (gold, row) in &report.confusion {
        for (pred, &n) in row {
            if pred != gold {
                *mass.entry(gold).or_default() += n;
                *mass.entry(pred).or_default() += n;
            }
        }
    }
    if mass.is_empty() {
        for (name, s) in &report.per_intent {
            mass.insert(name, s.support);
        }
    }
    let mut ranked: Vec<(&str, usize)> = mass.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut names: Vec<String> = ranked.into_iter().take(k).map(|(n, _)| n.to_string()).collect();
    names.sort();
    names
}

/// Reliability diagram: accuracy per confidence bin (bars, count above each) against the diagonal.
pub fn draw_reliability(report: &Report, path: &Path) -> anyhow::Result<()> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let root = SVGBackend::new(path, (720, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!("{} {} — reliability of the intent confidence", report.model.name, report.model.version);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..1.0f64, 0.0..1.08f64)?;
    chart
        .configure_mesh()
        .x_desc("intent confidence")
        .y_desc("accuracy")
        .x_labels(11)
        .y_labels(11)
        .light_line_style(WHITE)
        .y_label_formatter(&|y| format!("{y:.1}"))
        .x_label_formatter(&|x| format!("{x:.1}"))
        .draw()?;
    let bar = RGBColor(70, 110, 200);
    chart
        .draw_series(report.reliability.iter().filter_map(|b| {
            let acc = b.accuracy?;
            Some(Rectangle::new([(b.lower + 0.005, 0.0), (b.upper - 0.005, acc)], bar.mix(0.75).filled()))
        }))?
        .label("accuracy per bin")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], bar.mix(0.75).filled()));
    chart
        .draw_series(report.reliability.iter().filter_map(|b| {
            let c = b.mean_confidence?;
            Some(Circle::new(((b.lower + b.upper) / 2.0, c), 4, RED.filled()))
        }))?
        .label("mean confidence per bin")
        .legend(|(x, y)| Circle::new((x + 7, y), 4, RED.filled()));
    chart
        .draw_series(LineSeries::new(vec![(0.0, 0.0), (1.0, 1.0)], BLACK.stroke_width(1)))?
        .label("perfect calibration")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], BLACK));
    // counts along the bottom of each bin, clear of the bars' tops and the dots
    let label_style = TextStyle::from(("sans-serif", 12).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    chart.draw_series(
        report
            .reliability
            .iter()
            .filter(|b| b.count > 0)
            .map(|b| Text::new(format!("n={}", b.count), ((b.lower + b.upper) / 2.0, 0.012), label_style.clone())),
    )?;
    chart.configure_series_labels().position(SeriesLabelPosition::UpperLeft).border_style(BLACK).background_style(WHITE.mix(0.9)).draw()?;
    root.present()?;
    Ok(())
}

/// Confusion heat map over the `k` most confused intents: gold on the rows, predicted on the
/// columns, counts in the cells; right answers in green, confusions in red, shaded by count.
pub fn draw_confusion(report: &Report, path: &Path, k: usize) -> anyhow::Result<()> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let names = most_confused_intents(report, k);
    let n = names.len();
    let cell: i32 = if n <= 10 { 34 } else { 26 };
    let label_w: i32 = 10 + 6 * names.iter().map(|s| s.chars().count()).max().unwrap_or(10) as i32;
    let (left, top) = (label_w + 40, 60);
    let grid = cell * n as i32;
    let title = if report.confused_pairs.is_empty() {
        format!("{} {} — no intent confusions ({n} intents with the most examples)", report.model.name, report.model.version)
    } else {
        format!("{} {} — confusions among the {n} most confused intents", report.model.name, report.model.version)
    };
    let title_w = 20 + 8 * title.chars().count() as i32;
    let width = (left + grid + 30).max(title_w).max(520) as u32;
    let height = (top + grid + label_w + 40).max(160) as u32;
    let root = SVGBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE)?;
    root.draw(&Text::new(title, (10, 12), ("sans-serif", 16).into_font()))?;
    if n == 0 {
        root.present()?;
        return Ok(());
    }
    let count = |g: &str, p: &str| report.confusion.get(g).and_then(|r| r.get(p)).copied().unwrap_or(0);
    let max_off = names.iter().flat_map(|g| names.iter().filter(move |p| *p != g).map(move |p| count(g, p))).max().unwrap_or(0).max(1);
    let small = ("sans-serif", 11).into_font();
    for (i, g) in names.iter().enumerate() {
        let support = report.per_intent.get(g).map_or(0, |s| s.support).max(1);
        for (j, p) in names.iter().enumerate() {
            let c = count(g, p);
            let (x0, y0) = (left + j as i32 * cell, top + i as i32 * cell);
            let fill = if c == 0 {
                RGBColor(250, 250, 250)
            } else if i == j {
                let t = c as f64 / support as f64;
                RGBColor((230.0 - 150.0 * t) as u8, (245.0 - 75.0 * t) as u8, (230.0 - 150.0 * t) as u8)
            } else {
                let t = c as f64 / max_off as f64;
                RGBColor(250, (225.0 - 185.0 * t) as u8, (215.0 - 185.0 * t) as u8)
            };
            root.draw(&Rectangle::new([(x0, y0), (x0 + cell, y0 + cell)], fill.filled()))?;
            root.draw(&Rectangle::new([(x0, y0), (x0 + cell, y0 + cell)], RGBColor(200, 200, 200)))?;
            if c > 0 {
                let style = TextStyle::from(small.clone()).pos(Pos::new(HPos::Center, VPos::Center));
                root.draw(&Text::new(c.to_string(), (x0 + cell / 2, y0 + cell / 2), style))?;
            }
        }
        // row label (gold), right-aligned against the grid
        let style = TextStyle::from(small.clone()).pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(g.clone(), (left - 6, top + i as i32 * cell + cell / 2), style))?;
        // column label (predicted), rotated, reading upwards, ending at the grid
        let style = TextStyle::from(small.clone().transform(FontTransform::Rotate270)).pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(g.clone(), (left + i as i32 * cell + cell / 2, top + grid + 6), style))?;
    }
    let axis = ("sans-serif", 13).into_font();
    let style = TextStyle::from(axis.clone().transform(FontTransform::Rotate270)).pos(Pos::new(HPos::Center, VPos::Center));
    root.draw(&Text::new("gold intent".to_string(), (14, top + grid / 2), style))?;
    root.draw(&Text::new(
        "predicted intent".to_string(),
        (left + grid / 2, top + grid + label_w + 20),
        TextStyle::from(axis).pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    root.draw(&Text::new(
        "green: right (shade = share of the gold intent); red: confused (shade = count)".to_string(),
        (10, 34),
        ("sans-serif", 11).into_font(),
    ))?;
    root.present()?;
    Ok(())
}
