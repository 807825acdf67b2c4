//! Drill reports in the SQLite journal and in the HA store (DynamoDB on moto): stored whole and
//! read back equal, listed newest first per environment with the columns `pilotlight drills`
//! shows, a report stored again listed once, kept across a reopen (SQLite), and an unknown id is
//! `NotFound`; a drill's recorded start is unfinished until its report is stored.

mod common;

use pilotlight_drill::store::{DrillReports, DrillStart, DrillStoreError};
use pilotlight_drill::*;
use pilotlight_store::SqliteJournal;

fn report(id: &str, env: &str, started: u64, passed: bool) -> DrillReport {
    DrillReport {
        version: REPORT_VERSION,
        id: id.into(),
        mode: Mode::Full,
        environment: env.into(),
        tier: "staging".into(),
        primary_region: "us-east-1".into(),
        dr_region: "us-west-2".into(),
        requested_by: "alice".into(),
        started_at_ms: started,
        finished_at_ms: started + 10_000,
        failure_at_ms: Some(started + 2_000),
        objectives: Objectives {
            rto_ms: 900_000,
            rpo_ms: 60_000,
        },
        phases: vec![],
        rto: build::rto(started + 2_000, Some(started + 7_000), 900_000, "n"),
        rpo: vec![canary::store_rpo(
            "s3",
            "b",
            vec![CanaryResult {
                key: "k".into(),
                written_at_ms: started + 1_500,
                arrived: passed,
            }],
            started + 2_000,
        )],
        runs: vec![],
        steps: vec![],
        decisions: vec![],
        resources: vec![],
        limitations: vec![],
        verdict: Verdict {
            passed,
            reasons: if passed { vec![] } else { vec!["x".into()] },
        },
        trend: vec![],
    }
}

fn start(id: &str, env: &str, at: u64) -> DrillStart {
    DrillStart {
        id: id.into(),
        environment: env.into(),
        mode: Mode::Isolated,
        requested_by: "alice".into(),
        reason: "quarterly drill".into(),
        started_at_ms: at,
        conductor: "cli".into(),
    }
}

/// Store three reports in `j`, then `reopen` and check what is listed and read back.
async fn conforms<J: DrillReports>(j: J, reopen: impl FnOnce(J) -> J) {
    // Starts: unfinished until a report is stored; per environment, oldest first.
    let (s1, s2, s3) = (
        start("drill-a", "confer", 1_000),
        start("drill-z", "confer", 500),
        start("drill-o", "other", 700),
    );
    for s in [&s1, &s2, &s3] {
        j.drill_started(s).await.unwrap();
    }
    // A refused drill is not unfinished.
    j.drill_started(&start("drill-refused", "confer", 600))
        .await
        .unwrap();
    j.drill_not_run("drill-refused").await.unwrap();
    assert_eq!(
        j.unfinished_drills("confer").await.unwrap(),
        vec![s2.clone(), s1.clone()]
    );
    let a = report("drill-a", "confer", 1_000, true);
    let b = report("drill-b", "confer", 5_000, false);
    let other = report("drill-c", "other", 9_000, true);
    for r in [&a, &b, &other] {
        j.save_drill(r).await.unwrap();
    }
    // Stored again (same id): replaced, listed once.
    j.save_drill(&b).await.unwrap();
    let j = reopen(j);
    let listed = j.drills(Some("confer"), 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["drill-b", "drill-a"],
        "newest first, one environment"
    );
    assert_eq!(listed[1].rto_ms, Some(5_000));
    assert_eq!(listed[1].rpo_ms, Some(500));
    assert!(listed[1].passed && !listed[0].passed);
    assert_eq!(j.drills(None, 10).await.unwrap().len(), 3);
    assert_eq!(j.drills(None, 1).await.unwrap()[0].id, "drill-c");
    assert_eq!(j.drill("drill-b").await.unwrap(), b);
    match j.drill("nope").await {
        Err(DrillStoreError::NotFound(id)) => assert_eq!(id, "nope"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    // drill-a's report ended it; drill-z never got one (kept across the reopen).
    assert_eq!(j.unfinished_drills("confer").await.unwrap(), vec![s2]);
    assert_eq!(j.unfinished_drills("other").await.unwrap(), vec![s3]);
    assert!(j.unfinished_drills("nowhere").await.unwrap().is_empty());
}

#[tokio::test]
async fn reports_are_stored_listed_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let j = SqliteJournal::open(&path).unwrap();
    conforms(j, |j| {
        drop(j);
        SqliteJournal::open(&path).unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ha_store_keeps_drill_reports_too() {
    let store = common::store().await;
    conforms(store.journal(), |j| j).await;
}
