//! The renderers on one fixed report: snapshots of the Markdown, HTML and JSON
//! (`PILOTLIGHT_BLESS=1` rewrites them after an intended change), the JSON against the committed
//! schema, and the HTML's self-containment.

use pilotlight_drill::build::verdict;
use pilotlight_drill::canary::{not_measurable, store_rpo};
use pilotlight_drill::render::{render_html, render_json, render_markdown, svg_timeline, SCHEMA};
use pilotlight_drill::*;
use std::path::PathBuf;

const T0: u64 = 1_795_000_000_000;

fn step(
    runbook: &str,
    id: &str,
    kind: &str,
    start: u64,
    dur: u64,
    error: Option<&str>,
) -> StepTiming {
    StepTiming {
        run_id: format!("run-{runbook}"),
        runbook: runbook.into(),
        id: id.into(),
        kind: kind.into(),
        phase: if runbook == "failback" {
            Phase::Failback
        } else {
            Phase::of_step_kind(kind)
        },
        status: if error.is_some() {
            "failed"
        } else {
            "succeeded"
        }
        .into(),
        attempts: 1,
        start_offset_ms: Some(start),
        duration_ms: Some(dur),
        message: Some(format!("{id} done")),
        error: error.map(str::to_string),
    }
}

/// A failed isolated-style report with everything in it: two stores measured (one lost data
/// over the objective), one not measurable, a failed step, a leftover, and a trend.
fn sample() -> DrillReport {
    let steps = vec![
        step("failover", "readiness", "readiness_gate", 200, 300, None),
        step(
            "failover",
            "promote-db",
            "promote_rds_replica",
            600,
            2400,
            None,
        ),
        step("failover", "scale-api", "scale_ecs", 600, 1200, None),
        step(
            "failover",
            "dns <api>",
            "shift_traffic",
            3100,
            900,
            Some("Route 53 said \"Throttling\" & gave up"),
        ),
        step(
            "failback",
            "fence-primary",
            "fence_database",
            9000,
            500,
            None,
        ),
    ];
    let mut phases = vec![PhaseTiming {
        phase: Phase::Detection,
        start_offset_ms: Some(0),
        duration_ms: Some(150),
        counts_toward_rto: true,
        note: "failure injected → declaration".into(),
    }];
    phases.extend(pilotlight_drill::build::phases_from_steps(&steps));
    let mut r = DrillReport {
        version: REPORT_VERSION,
        id: "drill-20261119T000000Z-ab12".into(),
        mode: Mode::Isolated,
        environment: "confer-staging".into(),
        tier: "staging".into(),
        primary_region: "us-east-1".into(),
        dr_region: "us-west-2".into(),
        requested_by: "alice".into(),
        started_at_ms: T0,
        finished_at_ms: T0 + 12_000,
        failure_at_ms: Some(T0 + 100),
        objectives: Objectives {
            rto_ms: 3_000,
            rpo_ms: 1_000,
        },
        phases,
        rto: pilotlight_drill::build::rto(
            T0 + 100,
            Some(T0 + 4_000),
            3_000,
            "failure point → failover run finished",
        ),
        rpo: vec![
            store_rpo(
                "dynamodb",
                "sessions",
                vec![
                    CanaryResult {
                        key: "c0".into(),
                        written_at_ms: T0 - 900,
                        arrived: true,
                    },
                    CanaryResult {
                        key: "c1".into(),
                        written_at_ms: T0 - 400,
                        arrived: true,
                    },
                ],
                T0 + 100,
            ),
            store_rpo(
                "s3",
                "recordings",
                vec![
                    CanaryResult {
                        key: "c0".into(),
                        written_at_ms: T0 - 2_900,
                        arrived: true,
                    },
                    CanaryResult {
                        key: "c1".into(),
                        written_at_ms: T0 - 400,
                        arrived: false,
                    },
                ],
                T0 + 100,
            ),
            not_measurable(
                "rds",
                "db",
                "a database canary needs a SQL connection; the emulator has no SQL engine",
            ),
        ],
        runs: vec![RunRef {
            id: "run-failover".into(),
            runbook: "failover".into(),
            status: "failed".into(),
            started_at_ms: T0 + 150,
            finished_at_ms: Some(T0 + 4_000),
        }],
        steps,
        decisions: vec![DecisionLine {
            run_id: "run-failover".into(),
            kind: "override_readiness".into(),
            who: "alice".into(),
            why: "known <stale> metric".into(),
            at_ms: T0 + 160,
        }],
        resources: vec![
            ResourceChange {
                kind: "ecs_service".into(),
                name: "drill-ab12-api".into(),
                region: "us-west-2".into(),
                created_at_ms: T0 + 1_000,
                removed_at_ms: Some(T0 + 8_000),
                verified: "running 4/4".into(),
            },
            ResourceChange {
                kind: "autoscaling_group".into(),
                name: "drill-ab12-media".into(),
                region: "us-west-2".into(),
                created_at_ms: T0 + 1_100,
                removed_at_ms: None,
                verified: "in service 6/6".into(),
            },
        ],
        limitations: vec!["RDS: not measurable in the emulator".into()],
        verdict: Verdict {
            passed: true,
            reasons: vec![],
        },
        trend: vec![TrendPoint {
            id: "drill-20251101T000000Z-0001".into(),
            mode: Mode::Full,
            started_at_ms: T0 - 400 * 24 * 3600 * 1000,
            passed: true,
            rto_ms: Some(2_500),
            rpo_ms: Some(300),
        }],
    };
    r.verdict = verdict(&r);
    r
}

fn snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("PILOTLIGHT_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with PILOTLIGHT_BLESS=1 to create it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{name} differs from {}; if the change is intended, run with PILOTLIGHT_BLESS=1\n--- actual ---\n{actual}",
        path.display()
    );
}

#[test]
fn verdict_lists_every_reason() {
    let r = sample();
    assert!(!r.verdict.passed);
    let reasons = r.verdict.reasons.join("\n");
    for needle in [
        "RTO 3.9s is over the objective of 3.0s",
        "s3 recordings: data-loss window 3.0s is over the RPO objective of 1.0s (1 of 2 canaries arrived in DR)",
        "run run-failover (failover) ended failed",
        "step dns <api> of failover failed",
        "LEFT BEHIND: autoscaling_group drill-ab12-media in us-west-2",
    ] {
        assert!(reasons.contains(needle), "missing `{needle}` in:\n{reasons}");
    }
    assert!(
        !reasons.contains("dynamodb sessions"),
        "within the objective: {reasons}"
    );
    assert!(
        !reasons.contains("rds db"),
        "not measurable is a limitation, not a failure: {reasons}"
    );
    assert_eq!(r.verdict.reasons.len(), 5, "{reasons}");
}

#[test]
fn markdown_snapshot() {
    let md = render_markdown(&sample());
    assert!(md.contains("# DR drill drill-20261119T000000Z-ab12 — FAILED"));
    assert!(
        md.contains("| s3 recordings | yes | 1/2 | at most (between) 3.0s |"),
        "{md}"
    );
    assert!(md.contains("**LEFT BEHIND**"));
    snapshot("report.md", &md);
}

#[test]
fn html_snapshot_is_self_contained_and_escaped() {
    let html = render_html(&sample());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    // No external assets: the only URL is the SVG namespace.
    let urls = html.matches("http://").count() + html.matches("https://").count();
    assert_eq!(urls, 1, "only the SVG namespace may be a URL");
    for bad in ["<script", "<link", "<img", "src=", "@import", "url("] {
        assert!(!html.contains(bad), "external or active content `{bad}`");
    }
    assert!(html.contains("dns &lt;api&gt;"), "labels are escaped");
    assert!(html.contains("known &lt;stale&gt; metric"));
    assert!(!html.contains("<api>"));
    snapshot("report.html", &html);
}

#[test]
fn svg_has_one_bar_per_step_and_marks_failures() {
    let r = sample();
    let svg = svg_timeline(&r);
    // Steps plus the detection phase, plus eight legend swatches.
    assert_eq!(svg.matches("<rect").count(), r.steps.len() + 1 + 8);
    assert_eq!(
        svg.matches("stroke=\"#e00\"").count(),
        1,
        "the one failed step is outlined"
    );
}

#[test]
fn json_round_trips_and_matches_snapshot() {
    let r = sample();
    let json = render_json(&r);
    let back: DrillReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    snapshot("report.json", &json);
}

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

#[test]
fn json_validates_against_the_schema() {
    let v = validator();
    for r in [sample(), {
        let mut p = sample();
        p.resources.clear();
        p.trend.clear();
        p.failure_at_ms = None;
        p.verdict = verdict(&p);
        p
    }] {
        let value: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
        let errors: Vec<String> = v
            .iter_errors(&value)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
}

#[test]
fn the_schema_rejects_what_is_not_a_report() {
    let v = validator();
    let good: serde_json::Value = serde_json::from_str(&render_json(&sample())).unwrap();
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("rto");
    assert!(!v.is_valid(&missing), "a report without its RTO");
    let mut extra = good.clone();
    extra["rpo"][0]["guessed_ms"] = serde_json::json!(5);
    assert!(
        !v.is_valid(&extra),
        "an unknown field (the schema and the model drifted)"
    );
    let mut bad_phase = good.clone();
    bad_phase["phases"][0]["phase"] = serde_json::json!("coffee");
    assert!(!v.is_valid(&bad_phase));
    let mut negative = good;
    negative["rto"]["measured_ms"] = serde_json::json!(-1);
    assert!(!v.is_valid(&negative));
}
