//! Plan building: expansion per target, validation errors, ordering and the critical path.

use pilotlight_core::model::EnvironmentConfig;
use pilotlight_core::plan::{build_plan, Action, PlanError};
use pilotlight_core::runbook::{Runbook, Side};
use std::time::Duration;

const ENV: &str = include_str!("fixtures/confer.toml");
const FAILOVER: &str = include_str!("../../../runbooks/failover.toml");
const FAILBACK: &str = include_str!("../../../runbooks/failback.toml");

fn env() -> EnvironmentConfig {
    toml::from_str(ENV).expect("fixture env parses")
}

fn runbook(text: &str) -> Runbook {
    toml::from_str(text).expect("runbook parses")
}

#[test]
fn reference_failover_plan() {
    let plan = build_plan(&env(), &runbook(FAILOVER)).expect("plan builds");
    let ids: Vec<&str> = plan.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "readiness",
            "lag/db",
            "announce",
            "scale-services/api",
            "scale-services/signaling",
            "scale-media-routers/media-routers",
            "promote-db/db",
            "capacity",
            "shift-dns/api-dns",
            "shift-dns/media-dns",
            "shift-dns/web-dns",
            "done"
        ]
    );
    // Scale steps act on DR at the active counts.
    let api = plan.node("scale-services/api").unwrap();
    assert_eq!(
        api.action,
        Action::ScaleEcs {
            region: "us-west-2".into(),
            cluster: "confer".into(),
            service: "confer-api".into(),
            desired: 4
        }
    );
    assert_eq!(api.depends_on, ["readiness"]);
    // A step depending on a multi-target step waits for all of its nodes.
    let cap = plan.node("capacity").unwrap();
    assert_eq!(
        cap.depends_on,
        [
            "scale-services/api",
            "scale-services/signaling",
            "scale-media-routers/media-routers"
        ]
    );
    // Promotion (420 s) is the longest chain.
    assert_eq!(
        plan.critical_path,
        ["readiness", "promote-db/db", "shift-dns/api-dns", "done"]
    );
    assert_eq!(plan.critical_path_estimate.as_secs(), 10 + 420 + 60 + 1);
}

fn errors(extra_steps: &str) -> Vec<PlanError> {
    let text = format!("[runbook]\nname = \"t\"\ndirection = \"failover\"\n{extra_steps}");
    build_plan(&env(), &runbook(&text)).expect_err("plan must be refused")
}

#[test]
fn validation_rejects_with_clear_errors() {
    let cases: Vec<(&str, &str, &str)> = vec![
        ("unknown target", "[[steps]]\nid = \"s\"\nkind = \"scale_ecs\"\ntargets = [\"nope\"]\nto = \"active\"", "target `nope` is not a resource"),
        ("wrong kind", "[[steps]]\nid = \"s\"\nkind = \"scale_ecs\"\ntargets = [\"db\"]\nto = \"active\"", "cannot act on `db`, a rds resource; it takes ecs"),
        ("missing targets", "[[steps]]\nid = \"s\"\nkind = \"promote_rds_replica\"", "needs `targets`"),
        ("targets on gate", "[[steps]]\nid = \"s\"\nkind = \"readiness_gate\"\ntargets = [\"db\"]", "takes no targets"),
        ("scale without level", "[[steps]]\nid = \"s\"\nkind = \"scale_autoscaling\"\ntargets = [\"media-routers\"]", "needs `to ="),
        ("unknown dependency", "[[steps]]\nid = \"s\"\nkind = \"notify\"\ndepends_on = [\"ghost\"]", "depends on `ghost`"),
        ("duplicate", "[[steps]]\nid = \"s\"\nkind = \"notify\"\n[[steps]]\nid = \"s\"\nkind = \"notify\"", "defined twice"),
        ("cycle", "[[steps]]\nid = \"a\"\nkind = \"notify\"\ndepends_on = [\"c\"]\n[[steps]]\nid = \"b\"\nkind = \"notify\"\ndepends_on = [\"a\"]\n[[steps]]\nid = \"c\"\nkind = \"notify\"\ndepends_on = [\"b\"]", "a → c → b → a"),
        ("self cycle", "[[steps]]\nid = \"a\"\nkind = \"notify\"\ndepends_on = [\"a\"]", "a → a"),
        ("bad fraction", "[[steps]]\nid = \"w\"\nkind = \"wait_until\"\ntargets = [\"api\"]\ncapacity_at_least = 1.5", "capacity_at_least"),
        ("hook without command", "[[steps]]\nid = \"h\"\nkind = \"command_hook\"", "needs `command`"),
    ];
    for (name, steps, fragment) in cases {
        let errs = errors(steps);
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            text.iter().any(|t| t.contains(fragment)),
            "{name}: {text:?} should mention {fragment:?}"
        );
    }
}

#[test]
fn unknown_step_kind_is_a_parse_error() {
    let text = "[runbook]\nname = \"t\"\ndirection = \"failover\"\n[[steps]]\nid = \"s\"\nkind = \"reboot_everything\"";
    let err = toml::from_str::<Runbook>(text).expect_err("unknown kind");
    assert!(err.to_string().contains("reboot_everything"), "{err}");
}

#[test]
fn failback_direction_targets_the_primary() {
    let text = "[runbook]\nname = \"fb\"\ndirection = \"failback\"\n[[steps]]\nid = \"s\"\nkind = \"scale_ecs\"\ntargets = [\"api\"]\nto = \"active\"\n[[steps]]\nid = \"d\"\nkind = \"scale_ecs\"\ntargets = [\"api\"]\nto = \"pilot_light\"\nregion = \"dr\"";
    let plan = build_plan(&env(), &runbook(text)).unwrap();
    assert!(
        matches!(&plan.node("s/api").unwrap().action, Action::ScaleEcs { region, desired: 4, .. } if region == "us-east-1")
    );
    assert!(
        matches!(&plan.node("d/api").unwrap().action, Action::ScaleEcs { region, desired: 1, .. } if region == "us-west-2")
    );
}

#[test]
fn reference_failback_plan() {
    let plan = build_plan(&env(), &runbook(FAILBACK)).expect("failback plan builds");
    let node = |id: &str| plan.node(id).unwrap_or_else(|| panic!("node {id}"));
    // The old primary is fenced first (read-only parameter group), in the primary region.
    assert_eq!(
        node("fence-old-primary/db").action,
        Action::FenceRds {
            region: "us-east-1".into(),
            instance: "confer-db".into(),
            parameter_group: Some("confer-db-read-only".into()),
        }
    );
    assert!(node("fence-old-primary/db").depends_on.is_empty());
    assert_eq!(
        node("reprotect/db").action,
        Action::ReprotectRds {
            region: "us-east-1".into(),
            instance: "confer-db".into(),
            source_region: "us-west-2".into(),
            source_instance: "confer-db-replica".into(),
        }
    );
    // Zero-loss switchover: fence the DR writer, wait for lag 0 on the primary-side replica.
    assert!(matches!(
        &node("caught-up/db").action,
        Action::LagGate { budget, replica: Side::Primary, wait: true, .. } if budget.is_zero()
    ));
    assert_eq!(node("caught-up/db").depends_on, ["fence-dr-writer/db"]);
    assert_eq!(
        node("switchover-db/db").action,
        Action::PromoteRdsReplica {
            region: "us-east-1".into(),
            instance: "confer-db".into(),
        }
    );
    // The gradual return: one node per weight, chained, each remembering the weight before it.
    let weights: Vec<(Option<u8>, Option<u8>, Vec<String>)> = ["10", "50", "100"]
        .iter()
        .map(|w| {
            let n = node(&format!("return-web/web-dns@{w}"));
            match &n.action {
                Action::ShiftTraffic {
                    weight,
                    previous,
                    soak,
                    to: Side::Primary,
                    failover_routing: false,
                    ..
                } => {
                    assert_eq!(*soak, Some(Duration::from_secs(120)));
                    (*weight, *previous, n.depends_on.clone())
                }
                other => panic!("unexpected action {other:?}"),
            }
        })
        .collect();
    assert_eq!(weights[0].0, Some(10));
    assert_eq!(weights[0].1, Some(0));
    assert_eq!(
        weights[1],
        (
            Some(50),
            Some(10),
            vec![
                "return-dns/api-dns".to_string(),
                "return-dns/media-dns".to_string(),
                "return-web/web-dns@10".to_string()
            ]
        )
    );
    assert_eq!(weights[2].1, Some(50));
    // Routers drain before DR is back at pilot light; other scale steps have no drain.
    assert_eq!(
        node("scale-down-media-routers/media-routers").drain_timeout,
        Some(Duration::from_secs(1800))
    );
    assert_eq!(
        node("scale-up-media-routers/media-routers").drain_timeout,
        None
    );
    assert!(matches!(
        &node("scale-down-media-routers/media-routers").action,
        Action::ScaleAutoscaling { region, desired: 1, .. } if region == "us-west-2"
    ));
}

fn failback_errors(steps: &str) -> Vec<String> {
    let text = format!("[runbook]\nname = \"fb\"\ndirection = \"failback\"\n{steps}");
    build_plan(&env(), &runbook(&text))
        .expect_err("plan must be refused")
        .iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn failback_refuses_unplanned_promotion_and_bad_gradual_shifts() {
    let promote = "[[steps]]\nid = \"p\"\nkind = \"promote_rds_replica\"\ntargets = [\"db\"]";
    let gate = "[[steps]]\nid = \"g\"\nkind = \"replication_lag_gate\"\ntargets = [\"db\"]\nmax_lag = \"0s\"";
    let fence =
        "[[steps]]\nid = \"f\"\nkind = \"fence_database\"\ntargets = [\"db\"]\nregion = \"dr\"";
    let cases: Vec<(&str, String, &str)> = vec![
        ("promotion alone", promote.to_string(), "only by a planned, zero-loss switchover"),
        ("gate without fence", format!("{gate}\n{promote}\ndepends_on = [\"g\"]"), "fence_database"),
        ("fence without zero gate", format!("{fence}\n{promote}\ndepends_on = [\"f\"]"), "max_lag = \"0s\""),
        ("fence of the wrong side", format!("[[steps]]\nid = \"f\"\nkind = \"fence_database\"\ntargets = [\"db\"]\nregion = \"primary\"\n{gate}\ndepends_on = [\"f\"]\n{promote}\ndepends_on = [\"g\"]"), "zero-loss"),
        ("aurora failover", "[[steps]]\nid = \"a\"\nkind = \"aurora_failover\"\ntargets = [\"db\"]".to_string(), "cannot act on `db`"),
        ("fence without region", "[[steps]]\nid = \"f\"\nkind = \"fence_database\"\ntargets = [\"db\"]".to_string(), "needs `region"),
        ("weights on failover records", "[[steps]]\nid = \"s\"\nkind = \"shift_traffic\"\ntargets = [\"api-dns\"]\nweights = [50, 100]".to_string(), "need weighted records"),
        ("weights not ending at 100", "[[steps]]\nid = \"s\"\nkind = \"shift_traffic\"\ntargets = [\"web-dns\"]\nweights = [10, 50]".to_string(), "end at 100"),
        ("weights decreasing", "[[steps]]\nid = \"s\"\nkind = \"shift_traffic\"\ntargets = [\"web-dns\"]\nweights = [50, 10, 100]".to_string(), "must increase"),
        ("weights on scale", "[[steps]]\nid = \"s\"\nkind = \"scale_ecs\"\ntargets = [\"api\"]\nto = \"active\"\nweights = [100]".to_string(), "apply to `shift_traffic` only"),
    ];
    for (name, steps, fragment) in cases {
        let errs = failback_errors(&steps);
        assert!(
            errs.iter().any(|t| t.contains(fragment)),
            "{name}: {errs:?} should mention {fragment:?}"
        );
    }
    // The complete planned sequence is accepted.
    let ok = format!("{fence}\n{gate}\ndepends_on = [\"f\"]\n{promote}\ndepends_on = [\"g\"]");
    let text = format!("[runbook]\nname = \"fb\"\ndirection = \"failback\"\n{ok}");
    build_plan(&env(), &runbook(&text))
        .expect("fence, zero-lag gate, promotion is a planned switchover");
}

#[test]
fn a_plan_gated_by_approval_waits_for_it_first() {
    let plan = build_plan(&env(), &runbook(FAILOVER)).unwrap();
    let gated = plan.gated_by_approval("approve-failover", "fail over confer?");
    assert_eq!(gated.nodes.len(), plan.nodes.len() + 1);
    assert_eq!(gated.nodes[0].id, "approve-failover");
    assert!(
        matches!(gated.nodes[0].action, Action::ManualApproval { ref message } if message == "fail over confer?")
    );
    for (before, after) in plan.nodes.iter().zip(&gated.nodes[1..]) {
        if before.depends_on.is_empty() {
            assert_eq!(after.depends_on, ["approve-failover"], "{}", after.id);
        } else {
            assert_eq!(after.depends_on, before.depends_on, "{}", after.id);
        }
    }
    assert_eq!(gated.critical_path[0], "approve-failover");
}
