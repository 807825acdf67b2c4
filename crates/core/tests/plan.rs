//! Plan building: expansion per target, validation errors, ordering and the critical path.

use pilotlight_core::model::EnvironmentConfig;
use pilotlight_core::plan::{build_plan, Action, PlanError};
use pilotlight_core::runbook::Runbook;

const ENV: &str = include_str!("fixtures/confer.toml");
const FAILOVER: &str = include_str!("../../../runbooks/failover.toml");

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
