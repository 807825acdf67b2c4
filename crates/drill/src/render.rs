//! The report's three renderings: JSON (the stored form; schema in
//! `schema/drill-report.schema.json`), Markdown, and one self-contained HTML page with an inline
//! SVG timeline of the steps (no scripts, fonts, images or styles from elsewhere). Pure: the same
//! report gives the same text.

use crate::model::*;
use std::fmt::Write;
use std::time::{Duration, UNIX_EPOCH};

/// The JSON Schema of [`render_json`]'s output.
pub const SCHEMA: &str = include_str!("../schema/drill-report.schema.json");

/// The report as pretty JSON.
pub fn render_json(r: &DrillReport) -> String {
    serde_json::to_string_pretty(r).expect("a report always serializes")
}

/// A time as RFC 3339 UTC, to the second.
pub fn utc(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// Milliseconds as seconds with one decimal (`12.3s`), or `-`.
pub fn secs(ms: Option<u64>) -> String {
    ms.map(|m| format!("{:.1}s", m as f64 / 1000.0))
        .unwrap_or_else(|| "-".into())
}

fn verdict_word(r: &DrillReport) -> &'static str {
    if r.verdict.passed {
        "PASSED"
    } else {
        "FAILED"
    }
}

fn bound_word(b: Option<Bound>) -> &'static str {
    match b {
        Some(Bound::AtMost) => "at most",
        Some(Bound::Between) => "at most (between)",
        Some(Bound::AtLeast) => "at least",
        None => "",
    }
}

/// Escape text for a Markdown table cell.
fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The report as Markdown.
pub fn render_markdown(r: &DrillReport) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# DR drill {} — {}\n", r.id, verdict_word(r));
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(
        o,
        "| Environment | {} ({}) |\n| Mode | {} |\n| Regions | {} → {} |\n| Run by | {} |\n| Started | {} |\n| Finished | {} |",
        r.environment,
        r.tier,
        r.mode.name(),
        r.primary_region,
        r.dr_region,
        md_cell(&r.requested_by),
        utc(r.started_at_ms),
        utc(r.finished_at_ms)
    );
    if let Some(f) = r.failure_at_ms {
        let _ = writeln!(o, "| Failure point | {} |", utc(f));
    }
    let _ = writeln!(o, "\n## Verdict: {}\n", verdict_word(r));
    if r.verdict.reasons.is_empty() {
        let _ = writeln!(
            o,
            "Every measured objective was met and nothing was left behind."
        );
    }
    for reason in &r.verdict.reasons {
        let _ = writeln!(o, "- {reason}");
    }
    let _ = writeln!(
        o,
        "\n## RTO: {} (objective {})\n",
        secs(r.rto.measured_ms),
        secs(Some(r.objectives.rto_ms))
    );
    let _ = writeln!(o, "{}\n", r.rto.note);
    let _ = writeln!(
        o,
        "| Phase | Start | Duration | Counts toward RTO | How |\n|---|---:|---:|---|---|"
    );
    for p in &r.phases {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            p.phase.name(),
            secs(p.start_offset_ms),
            secs(p.duration_ms),
            if p.counts_toward_rto { "yes" } else { "no" },
            md_cell(&p.note)
        );
    }
    let _ = writeln!(
        o,
        "\n## RPO per store (objective {})\n",
        secs(Some(r.objectives.rpo_ms))
    );
    let _ = writeln!(
        o,
        "| Store | Measured | Canaries arrived | Data-loss window | How |\n|---|---|---:|---:|---|"
    );
    for s in &r.rpo {
        let _ = writeln!(
            o,
            "| {} {} | {} | {}/{} | {} {} | {} |",
            s.kind,
            s.name,
            if s.measured { "yes" } else { "no" },
            s.canaries.iter().filter(|c| c.arrived).count(),
            s.canaries.len(),
            bound_word(s.bound),
            secs(s.loss_window_ms),
            md_cell(&s.note)
        );
    }
    let canaries: Vec<_> = r
        .rpo
        .iter()
        .flat_map(|s| s.canaries.iter().map(move |c| (s, c)))
        .collect();
    if !canaries.is_empty() {
        let _ = writeln!(
            o,
            "\n### Canaries\n\n| Store | Key | Written | Arrived in DR |\n|---|---|---|---|"
        );
        for (s, c) in canaries {
            let _ = writeln!(
                o,
                "| {} {} | `{}` | {} | {} |",
                s.kind,
                s.name,
                c.key,
                utc(c.written_at_ms),
                if c.arrived { "yes" } else { "**no**" }
            );
        }
    }
    let _ = writeln!(o, "\n## Steps\n\n| Run | Step | Kind | Phase | Status | Attempts | Start | Took | Detail |\n|---|---|---|---|---|---:|---:|---:|---|");
    for s in &r.steps {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.runbook,
            s.id,
            s.kind,
            s.phase.name(),
            s.status,
            s.attempts,
            secs(s.start_offset_ms),
            secs(s.duration_ms),
            md_cell(s.error.as_deref().or(s.message.as_deref()).unwrap_or(""))
        );
    }
    if !r.runs.is_empty() {
        let _ = writeln!(o, "\n## Runs\n");
        for run in &r.runs {
            let _ = writeln!(
                o,
                "- `{}` {}: {} (started {}; `pilotlight runs show {}`)",
                run.id,
                run.runbook,
                run.status,
                utc(run.started_at_ms),
                run.id
            );
        }
    }
    let _ = writeln!(o, "\n## Approvals, overrides and decisions\n");
    if r.decisions.is_empty() {
        let _ = writeln!(o, "None recorded.");
    }
    for d in &r.decisions {
        let _ = writeln!(
            o,
            "- {} `{}` by {}: {}",
            utc(d.at_ms),
            d.kind,
            md_cell(&d.who),
            md_cell(&d.why)
        );
    }
    if r.mode == Mode::Isolated || !r.resources.is_empty() {
        let _ = writeln!(o, "\n## Resources created and removed\n\n| Kind | Name | Region | Created | Removed | Verified |\n|---|---|---|---|---|---|");
        for x in &r.resources {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |",
                x.kind,
                x.name,
                x.region,
                utc(x.created_at_ms),
                x.removed_at_ms
                    .map(utc)
                    .unwrap_or_else(|| "**LEFT BEHIND**".into()),
                md_cell(&x.verified)
            );
        }
    }
    if !r.limitations.is_empty() {
        let _ = writeln!(o, "\n## What this drill could not measure\n");
        for l in &r.limitations {
            let _ = writeln!(o, "- {l}");
        }
    }
    let _ = writeln!(o, "\n## Trend\n");
    if r.trend.is_empty() {
        let _ = writeln!(o, "First drill of this environment on record.");
    } else {
        let _ = writeln!(
            o,
            "| Drill | Date | Mode | Result | RTO | RPO |\n|---|---|---|---|---:|---:|"
        );
        for t in r.trend.iter().chain(std::iter::once(&r.trend_point())) {
            let _ = writeln!(
                o,
                "| {}{} | {} | {} | {} | {} | {} |",
                t.id,
                if t.id == r.id { " (this)" } else { "" },
                utc(t.started_at_ms),
                t.mode.name(),
                if t.passed { "pass" } else { "fail" },
                secs(t.rto_ms),
                secs(t.rpo_ms)
            );
        }
    }
    o
}

/// Escape text for HTML (element content and attribute values).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn phase_colour(p: Phase) -> &'static str {
    match p {
        Phase::Detection => "#8e44ad",
        Phase::Decision => "#2c3e50",
        Phase::Gates => "#7f8c8d",
        Phase::Database => "#c0392b",
        Phase::Compute => "#2980b9",
        Phase::Dns => "#27ae60",
        Phase::Other => "#95a5a6",
        Phase::Failback => "#d35400",
    }
}

/// The SVG timeline: one row per phase bar (detection, decision) and per step, on a common
/// time axis from the drill's start; failed steps are outlined in red.
pub fn svg_timeline(r: &DrillReport) -> String {
    struct Bar<'a> {
        label: String,
        start: u64,
        dur: u64,
        phase: Phase,
        failed: bool,
        title: &'a str,
    }
    let mut bars: Vec<Bar> = Vec::new();
    for p in r
        .phases
        .iter()
        .filter(|p| matches!(p.phase, Phase::Detection | Phase::Decision))
    {
        if let (Some(s), Some(d)) = (p.start_offset_ms, p.duration_ms) {
            bars.push(Bar {
                label: p.phase.name().to_string(),
                start: s,
                dur: d,
                phase: p.phase,
                failed: false,
                title: &p.note,
            });
        }
    }
    for s in &r.steps {
        if let Some(start) = s.start_offset_ms {
            bars.push(Bar {
                label: format!("{}: {}", s.runbook, s.id),
                start,
                dur: s.duration_ms.unwrap_or(0),
                phase: s.phase,
                failed: s.error.is_some(),
                title: s.error.as_deref().or(s.message.as_deref()).unwrap_or(""),
            });
        }
    }
    let end = bars
        .iter()
        .map(|b| b.start + b.dur)
        .max()
        .unwrap_or(0)
        .max(r.finished_at_ms.saturating_sub(r.started_at_ms))
        .max(1);
    let (label_w, plot_w, row_h, top) = (300.0, 820.0, 22.0, 30.0);
    let height = top + row_h * bars.len() as f64 + 30.0;
    let width = label_w + plot_w + 20.0;
    let x = |ms: u64| label_w + plot_w * ms as f64 / end as f64;
    let mut o = String::new();
    let _ = write!(
        o,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="Timeline of the drill's steps" font-family="sans-serif" font-size="12">"##
    );
    // Axis with five ticks.
    for i in 0..=5u64 {
        let t = end * i / 5;
        let xt = x(t);
        let _ = write!(
            o,
            r##"<line x1="{xt:.1}" y1="{y1}" x2="{xt:.1}" y2="{y2:.1}" stroke="#ddd"/><text x="{xt:.1}" y="{ty}" text-anchor="middle" fill="#555">{}</text>"##,
            secs(Some(t)),
            y1 = top - 8.0,
            y2 = height - 25.0,
            ty = top - 12.0,
        );
    }
    for (i, b) in bars.iter().enumerate() {
        let y = top + row_h * i as f64;
        let w = (x(b.start + b.dur) - x(b.start)).max(2.0);
        let stroke = if b.failed {
            r##" stroke="#e00" stroke-width="2""##
        } else {
            ""
        };
        let _ = write!(
            o,
            r##"<text x="{lx}" y="{ty:.1}" text-anchor="end">{}</text><rect x="{rx:.1}" y="{ry:.1}" width="{w:.1}" height="{h}" fill="{}"{stroke}><title>{} — {} from {}: {}</title></rect>"##,
            esc(&b.label),
            phase_colour(b.phase),
            esc(&b.label),
            secs(Some(b.dur)),
            secs(Some(b.start)),
            esc(b.title),
            lx = label_w - 8.0,
            ty = y + 15.0,
            rx = x(b.start),
            ry = y + 3.0,
            h = row_h - 6.0,
        );
    }
    // Legend.
    let mut lx = label_w;
    let ly = height - 12.0;
    for p in [
        Phase::Detection,
        Phase::Decision,
        Phase::Gates,
        Phase::Database,
        Phase::Compute,
        Phase::Dns,
        Phase::Other,
        Phase::Failback,
    ] {
        let _ = write!(
            o,
            r##"<rect x="{lx:.1}" y="{ry:.1}" width="10" height="10" fill="{}"/><text x="{tx:.1}" y="{ly:.1}">{}</text>"##,
            phase_colour(p),
            p.name(),
            ry = ly - 9.0,
            tx = lx + 14.0,
        );
        lx += 90.0;
    }
    o.push_str("</svg>");
    o
}

const CSS: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:1200px}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f4f4f4}.pass{color:#1e7e34}.fail{color:#c00}.verdict{font-size:1.4em;font-weight:bold}\
.left{background:#fdd;font-weight:bold}code{font-size:.9em}";

/// The report as one self-contained HTML page.
pub fn render_html(r: &DrillReport) -> String {
    let mut o = String::new();
    let cls = if r.verdict.passed { "pass" } else { "fail" };
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>DR drill {id} — {v}</title><style>{CSS}</style></head><body>\n",
        id = esc(&r.id),
        v = verdict_word(r)
    );
    let _ = writeln!(
        o,
        "<h1>DR drill {}</h1><p class=\"verdict {cls}\">{}</p>",
        esc(&r.id),
        verdict_word(r)
    );
    let _ = write!(o, "<table><tr><th>Environment</th><td>{} ({})</td></tr><tr><th>Mode</th><td>{}</td></tr><tr><th>Regions</th><td>{} → {}</td></tr><tr><th>Run by</th><td>{}</td></tr><tr><th>Started</th><td>{}</td></tr><tr><th>Finished</th><td>{}</td></tr>",
        esc(&r.environment), esc(&r.tier), r.mode.name(), esc(&r.primary_region), esc(&r.dr_region), esc(&r.requested_by), utc(r.started_at_ms), utc(r.finished_at_ms));
    if let Some(f) = r.failure_at_ms {
        let _ = write!(o, "<tr><th>Failure point</th><td>{}</td></tr>", utc(f));
    }
    o.push_str("</table>\n");
    if !r.verdict.reasons.is_empty() {
        o.push_str("<h2>Why it failed</h2><ul>");
        for reason in &r.verdict.reasons {
            let _ = write!(o, "<li class=\"fail\">{}</li>", esc(reason));
        }
        o.push_str("</ul>\n");
    }
    let _ = write!(
        o,
        "<h2>RTO: {} <small>(objective {})</small></h2><p>{}</p>",
        secs(r.rto.measured_ms),
        secs(Some(r.objectives.rto_ms)),
        esc(&r.rto.note)
    );
    o.push_str("<table><tr><th>Phase</th><th>Start</th><th>Duration</th><th>Counts toward RTO</th><th>How</th></tr>");
    for p in &r.phases {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            p.phase.name(),
            secs(p.start_offset_ms),
            secs(p.duration_ms),
            if p.counts_toward_rto { "yes" } else { "no" },
            esc(&p.note)
        );
    }
    o.push_str("</table>\n<h2>Timeline</h2>\n");
    o.push_str(&svg_timeline(r));
    let _ = write!(
        o,
        "\n<h2>RPO per store <small>(objective {})</small></h2><table><tr><th>Store</th><th>Measured</th><th>Canaries arrived</th><th>Data-loss window</th><th>How</th></tr>",
        secs(Some(r.objectives.rpo_ms))
    );
    for s in &r.rpo {
        let _ = write!(
            o,
            "<tr><td>{} {}</td><td>{}</td><td>{}/{}</td><td>{} {}</td><td>{}</td></tr>",
            esc(&s.kind),
            esc(&s.name),
            if s.measured { "yes" } else { "no" },
            s.canaries.iter().filter(|c| c.arrived).count(),
            s.canaries.len(),
            bound_word(s.bound),
            secs(s.loss_window_ms),
            esc(&s.note)
        );
    }
    o.push_str("</table>\n<h3>Canaries</h3><table><tr><th>Store</th><th>Key</th><th>Written</th><th>Arrived in DR</th></tr>");
    for s in &r.rpo {
        for c in &s.canaries {
            let _ = write!(
                o,
                "<tr><td>{} {}</td><td><code>{}</code></td><td>{}</td><td class=\"{}\">{}</td></tr>",
                esc(&s.kind),
                esc(&s.name),
                esc(&c.key),
                utc(c.written_at_ms),
                if c.arrived { "pass" } else { "fail" },
                if c.arrived { "yes" } else { "no" }
            );
        }
    }
    o.push_str("</table>\n<h2>Steps</h2><table><tr><th>Run</th><th>Step</th><th>Kind</th><th>Phase</th><th>Status</th><th>Attempts</th><th>Start</th><th>Took</th><th>Detail</th></tr>");
    for s in &r.steps {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.runbook),
            esc(&s.id),
            esc(&s.kind),
            s.phase.name(),
            if s.error.is_some() { "fail" } else { "" },
            esc(&s.status),
            s.attempts,
            secs(s.start_offset_ms),
            secs(s.duration_ms),
            esc(s.error.as_deref().or(s.message.as_deref()).unwrap_or(""))
        );
    }
    o.push_str("</table>\n<h2>Runs</h2><ul>");
    for run in &r.runs {
        let _ = write!(
            o,
            "<li><code>{}</code> {}: {} (started {})</li>",
            esc(&run.id),
            esc(&run.runbook),
            esc(&run.status),
            utc(run.started_at_ms)
        );
    }
    o.push_str("</ul>\n<h2>Approvals, overrides and decisions</h2><table><tr><th>When</th><th>Kind</th><th>Who</th><th>Why</th></tr>");
    for d in &r.decisions {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            utc(d.at_ms),
            esc(&d.kind),
            esc(&d.who),
            esc(&d.why)
        );
    }
    o.push_str("</table>\n");
    if r.mode == Mode::Isolated || !r.resources.is_empty() {
        o.push_str("<h2>Resources created and removed</h2><table><tr><th>Kind</th><th>Name</th><th>Region</th><th>Created</th><th>Removed</th><th>Verified</th></tr>");
        for x in &r.resources {
            let left = x.removed_at_ms.is_none();
            let _ = write!(
                o,
                "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if left { " class=\"left\"" } else { "" },
                esc(&x.kind),
                esc(&x.name),
                esc(&x.region),
                utc(x.created_at_ms),
                x.removed_at_ms
                    .map(utc)
                    .unwrap_or_else(|| "LEFT BEHIND".into()),
                esc(&x.verified)
            );
        }
        o.push_str("</table>\n");
    }
    if !r.limitations.is_empty() {
        o.push_str("<h2>What this drill could not measure</h2><ul>");
        for l in &r.limitations {
            let _ = write!(o, "<li>{}</li>", esc(l));
        }
        o.push_str("</ul>\n");
    }
    o.push_str("<h2>Trend</h2>");
    if r.trend.is_empty() {
        o.push_str("<p>First drill of this environment on record.</p>");
    } else {
        o.push_str("<table><tr><th>Drill</th><th>Date</th><th>Mode</th><th>Result</th><th>RTO</th><th>RPO</th></tr>");
        for t in r.trend.iter().chain(std::iter::once(&r.trend_point())) {
            let _ = write!(
                o,
                "<tr><td>{}{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&t.id),
                if t.id == r.id { " (this)" } else { "" },
                utc(t.started_at_ms),
                t.mode.name(),
                if t.passed { "pass" } else { "fail" },
                if t.passed { "pass" } else { "fail" },
                secs(t.rto_ms),
                secs(t.rpo_ms)
            );
        }
        o.push_str("</table>");
    }
    o.push_str("\n</body></html>\n");
    o
}
