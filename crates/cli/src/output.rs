//! Human-readable rendering of reports for the terminal.

use pilotlight_core::readiness::{ReadinessReport, Status, Verdict};
use std::io::IsTerminal;

/// Whether to colour output: stdout is a terminal and NO_COLOR is unset.
pub fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn paint(text: &str, code: &str, colour: bool) -> String {
    if colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn status_cell(s: Status, colour: bool) -> String {
    let (label, code) = match s {
        Status::Pass => ("PASS", "32"),
        Status::Warn => ("WARN", "33"),
        Status::Fail => ("FAIL", "31;1"),
        Status::Error => ("ERROR", "35;1"),
    };
    let padded = format!("{label:<5}");
    paint(&padded, code, colour)
}

/// Render a readiness report as a table with the fix under each non-passing row, and a summary.
pub fn readiness_table(report: &ReadinessReport, colour: bool) -> String {
    let mut out = format!(
        "Readiness of {} (primary {}, DR {})\n\n",
        report.environment, report.primary, report.dr
    );
    let kind_w = report
        .results
        .iter()
        .map(|r| r.resource.kind.label().len())
        .max()
        .unwrap_or(4)
        .max(4);
    let name_w = report
        .results
        .iter()
        .map(|r| r.resource.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    out.push_str(&format!(
        "{:<5}  {:<kind_w$}  {:<name_w$}  REASON\n",
        "", "KIND", "NAME"
    ));
    for r in &report.results {
        out.push_str(&format!(
            "{}  {:<kind_w$}  {:<name_w$}  {}\n",
            status_cell(r.status, colour),
            r.resource.kind.label(),
            r.resource.name,
            r.reason
        ));
        if r.status != Status::Pass && !r.fix.is_empty() {
            out.push_str(&format!(
                "{:<5}  {:<kind_w$}  {:<name_w$}  fix: {}\n",
                "", "", "", r.fix
            ));
        }
    }
    let summary = format!(
        "\n{} pass, {} warn, {} fail, {} error: ",
        report.count(Status::Pass),
        report.count(Status::Warn),
        report.count(Status::Fail),
        report.count(Status::Error)
    );
    out.push_str(&summary);
    out.push_str(&match report.verdict {
        Verdict::Ready => paint("READY", "32;1", colour),
        Verdict::NotReady => paint("NOT READY", "31;1", colour),
        Verdict::Unknown => paint("COULD NOT CHECK", "35;1", colour),
    });
    out.push('\n');
    out
}
