//! End-to-end tests of `parse`/`load`: the documented example parses, and every kind of problem is
//! reported with the right field, line and fix.

use crate::{load, parse, validate, ConfigError, Diagnostic};
use pilotlight_core::model::{EnvironmentConfig, Routing, Tier};
use std::time::Duration;

const EXAMPLE: &str = include_str!("../../../docs/examples/environment.toml");
const FILE: &str = "confer.toml";

/// The 1-based line of the only occurrence of `needle` in `source` (panics if it is not unique,
/// so a case cannot silently point at the wrong line).
fn line_of(source: &str, needle: &str) -> usize {
    let hits: Vec<usize> = source.match_indices(needle).map(|(i, _)| i).collect();
    assert_eq!(
        hits.len(),
        1,
        "`{needle}` must occur exactly once in:\n{source}"
    );
    source[..hits[0]].matches('\n').count() + 1
}

/// The example with `from` (which must occur exactly once) replaced by `to`.
fn mutate(from: &str, to: &str) -> String {
    assert_eq!(
        EXAMPLE.matches(from).count(),
        1,
        "`{from}` must occur exactly once in the example"
    );
    EXAMPLE.replacen(from, to, 1)
}

fn problems(source: &str) -> Vec<Diagnostic> {
    match parse(source, FILE) {
        Ok(_) => panic!("expected the config to be rejected:\n{source}"),
        Err(ConfigError::Invalid { file, problems }) => {
            assert_eq!(file, FILE);
            assert!(!problems.is_empty());
            problems
        }
        Err(other) => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn documented_example_parses() {
    let cfg: EnvironmentConfig = parse(EXAMPLE, FILE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.environment.name, "confer-prod");
    assert_eq!(cfg.environment.tier, Tier::Production);
    assert_eq!(
        (cfg.regions.primary.as_str(), cfg.regions.dr.as_str()),
        ("us-east-1", "us-west-2")
    );
    assert_eq!(cfg.regions.observers, ["us-east-2", "eu-west-1"]);
    assert_eq!(cfg.objectives.rto, Duration::from_secs(15 * 60));
    assert_eq!(cfg.objectives.rpo, Duration::from_secs(60));
    assert_eq!(cfg.aws.endpoint, None);
    assert_eq!(cfg.aws.profile.as_deref(), Some("confer-dr"));
    assert_eq!(
        (cfg.aws.max_attempts, cfg.aws.requests_per_second),
        (5, 8.0)
    );
    assert_eq!(
        (cfg.check.concurrency, cfg.check.metric_window),
        (8, Duration::from_secs(300))
    );
    let names: Vec<String> = cfg
        .resources()
        .iter()
        .map(|r| format!("{}:{}", r.kind, r.name))
        .collect();
    assert_eq!(
        names,
        [
            "dynamodb:meetings",
            "dynamodb:sessions",
            "s3:recordings",
            "kms:data",
            "rds:db",
            "ecs:api",
            "ecs:signaling",
            "autoscaling:media-routers",
            "route53:api-dns",
            "route53:media-dns"
        ]
    );
    assert_eq!(
        (
            cfg.ecs_services[0].pilot_light_count,
            cfg.ecs_services[0].active_count
        ),
        (1, 4)
    );
    assert_eq!(cfg.ecs_services[0].primary_cluster(), "confer");
    assert_eq!(cfg.autoscaling_groups[0].active_capacity, 6);
    assert!(cfg.s3_buckets[0].rtc);
    let r53 = cfg.route53.as_ref().expect("route53");
    assert_eq!(r53.records[1].record_type, "A", "record_type defaults to A");
    assert_eq!(r53.records[1].routing, Routing::Failover);
    assert!(
        r53.records[1].require_health_checks,
        "require_health_checks defaults to true"
    );
    assert!(validate(&cfg).is_empty());
}

#[test]
fn serialized_config_round_trips() {
    // The sandbox writes its config with `toml::to_string_pretty`; that form must load too.
    let cfg = parse(EXAMPLE, FILE).unwrap_or_else(|e| panic!("{e}"));
    let text = toml::to_string_pretty(&cfg).expect("serialize");
    let back = parse(&text, "rendered.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back, cfg);
}

#[test]
fn defaults_apply_when_optional_tables_are_absent() {
    let src = "[environment]\nname = \"dev\"\ntier = \"development\"\n[regions]\nprimary = \"eu-west-1\"\n\
               dr = \"eu-central-1\"\n[objectives]\nrto = \"1h\"\nrpo = \"5m\"\n\
               [[dynamodb_tables]]\nname = \"t\"\ntable = \"dev-t\"\n";
    let cfg = parse(src, FILE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.aws.connect_timeout, Duration::from_secs(3));
    assert_eq!(cfg.aws.read_timeout, Duration::from_secs(20));
    assert_eq!(
        (cfg.aws.max_attempts, cfg.aws.requests_per_second),
        (5, 8.0)
    );
    assert_eq!(
        (cfg.check.concurrency, cfg.check.metric_window),
        (8, Duration::from_secs(300))
    );
    assert!(cfg.regions.observers.is_empty() && cfg.route53.is_none());
}

/// A semantic problem: replace `from` by `to` in the example; expect exactly one diagnostic, for
/// `field`, on the line of `at` (in the mutated text), whose message or fix contains `fragment`.
struct Case {
    from: &'static str,
    to: &'static str,
    field: &'static str,
    at: &'static str,
    fragment: &'static str,
}

const fn case(
    from: &'static str,
    to: &'static str,
    field: &'static str,
    at: &'static str,
    fragment: &'static str,
) -> Case {
    Case {
        from,
        to,
        field,
        at,
        fragment,
    }
}

#[rustfmt::skip]
const SEMANTIC: &[Case] = &[
    // environment
    case("name = \"confer-prod\"", "name = \"Confer_Prod\"", "environment.name", "Confer_Prod", "`name = \"confer-prod\"`"),
    case("name = \"confer-prod\"", "name = \"\"", "environment.name", "name = \"\"", "environment name is empty"),
    // regions
    case("primary = \"us-east-1\"", "primary = \"us-esat-1\"", "regions.primary", "us-esat-1", "did you mean `us-east-1`?"),
    case("dr = \"us-west-2\"", "dr = \"mars-west-1\"", "regions.dr", "mars-west-1", "`mars-west-1` is not an AWS region"),
    case("dr = \"us-west-2\"", "dr = \"us-west-2b\"", "regions.dr", "us-west-2b", "availability zone"),
    case("dr = \"us-west-2\"", "dr = \"us-east-1\"", "regions.dr", "dr = \"us-east-1\"", "the DR region is the primary region"),
    case("dr = \"us-west-2\"", "dr = \"cn-north-1\"", "regions.dr", "cn-north-1", "partition"),
    case("[\"us-east-2\", \"eu-west-1\"]", "[\"us-east-2\", \"us-east-1\"]", "regions.observers[1]", "observers =", "is the primary region"),
    case("[\"us-east-2\", \"eu-west-1\"]", "[\"eu-west-1\", \"eu-west-1\"]", "regions.observers[1]", "observers =", "listed twice"),
    case("[\"us-east-2\", \"eu-west-1\"]", "[\"us-east-2\", \"eu-wset-1\"]", "regions.observers[1]", "observers =", "did you mean `eu-west-1`?"),
    // objectives
    case("rto = \"15m\"", "rto = \"0s\"", "objectives.rto", "rto =", "greater than zero"),
    case("rpo = \"1m\"", "rpo = \"0s\"", "objectives.rpo", "rpo =", "recovery point objective is zero"),
    // aws
    case("profile = \"confer-dr\"", "endpoint = \"localhost:4566\"", "aws.endpoint", "localhost:4566", "`http://` or `https://`"),
    case("profile = \"confer-dr\"", "endpoint = \"http://:4566\"", "aws.endpoint", "http://:4566", "no host"),
    case("profile = \"confer-dr\"", "access_key_id = \"test\"", "aws.access_key_id", "access_key_id", "add `secret_access_key"),
    case("profile = \"confer-dr\"", "secret_access_key = \"test\"", "aws.secret_access_key", "secret_access_key", "add `access_key_id"),
    case("max_attempts = 5", "max_attempts = 0", "aws.max_attempts", "max_attempts", "between 1 and 10"),
    case("max_attempts = 5", "max_attempts = 11", "aws.max_attempts", "max_attempts", "must be 1 to 10"),
    case("requests_per_second = 8.0", "requests_per_second = 0.0", "aws.requests_per_second", "requests_per_second", "above 0 and at most 100"),
    case("requests_per_second = 8.0", "requests_per_second = 250", "aws.requests_per_second", "requests_per_second", "at most 100"),
    case("requests_per_second = 8.0", "requests_per_second = nan", "aws.requests_per_second", "requests_per_second", "out of range"),
    case("connect_timeout = \"3s\"", "connect_timeout = \"0s\"", "aws.connect_timeout", "connect_timeout", "connect timeout is zero"),
    // check
    case("concurrency = 8", "concurrency = 0", "check.concurrency", "concurrency", "between 1 and 64"),
    case("concurrency = 8", "concurrency = 65", "check.concurrency", "concurrency", "between 1 and 64"),
    case("metric_window = \"5m\"", "metric_window = \"0s\"", "check.metric_window", "metric_window", "metric window is zero"),
    // names
    case("name = \"sessions\"", "name = \"api\"", "dynamodb_tables[1].name", "name = \"api\"\ntable", "already used by `ecs_services[0].name`"),
    case("name = \"media-routers\"", "name = \"Media Routers\"", "autoscaling_groups[0].name", "Media Routers", "`name = \"media-routers\"`"),
    case("name = \"db\"", "name = \"_db\"", "rds_replicas[0].name", "_db", "not a valid logical name"),
    // counts and capacities
    case("active_count = 2", "active_count = 0", "ecs_services[1].active_count", "active_count = 0", "at least 1"),
    case("service = \"confer-signaling\"\npilot_light_count = 1", "service = \"confer-signaling\"\npilot_light_count = 3",
         "ecs_services[1].pilot_light_count", "pilot_light_count = 3", "at most 2"),
    case("active_capacity = 6", "active_capacity = 0", "autoscaling_groups[0].active_capacity", "active_capacity", "no instances"),
    case("pilot_light_capacity = 1", "pilot_light_capacity = 7", "autoscaling_groups[0].pilot_light_capacity", "pilot_light_capacity", "at most 6"),
    case("cluster = \"confer\"            # cluster", "cluster = \"\"            # cluster", "ecs_services[0].cluster", "cluster = \"\"", "cluster name is empty"),
    // kms
    case("key_id = \"mrk-1234abcd12ab34cd56ef1234567890ab\"", "key_id = \"1234abcd-12ab-34cd-56ef-1234567890ab\"", "kms_keys[0].key_id", "key_id", "`mrk-` followed by 32 hex digits"),
    case("key_id = \"mrk-1234abcd12ab34cd56ef1234567890ab\"", "key_id = \"arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab\"", "", "", ""),
    case("key_id = \"mrk-1234abcd12ab34cd56ef1234567890ab\"", "key_id = \"mrk-1234abcd-12ab-34cd-56ef-1234567890ab\"", "", "", ""),
    case("key_id = \"mrk-1234abcd12ab34cd56ef1234567890ab\"", "key_id = \"mrk-1234abcd-12ab34cd-56ef-1234567890ab\"", "kms_keys[0].key_id", "key_id", "32 hex digits"),
    // s3
    case("dr_bucket = \"confer-recordings-us-west-2\"", "dr_bucket = \"Confer_Recordings\"", "s3_buckets[0].dr_bucket", "Confer_Recordings", "`\"confer-recordings\"`"),
    case("dr_bucket = \"confer-recordings-us-west-2\"", "dr_bucket = \"confer-recordings-us-east-1\"", "s3_buckets[0].dr_bucket", "dr_bucket", "e.g. `\"confer-recordings-us-west-2\"`"),
    // route53
    case("zone_id = \"Z0123456789ABCDEFGHIJ\"", "zone_id = \" \"", "route53.zone_id", "zone_id", "hosted zone id is empty"),
    case("dr_set_identifier = \"media-dr\"", "dr_set_identifier = \"media-primary\"", "route53.records[1].dr_set_identifier", "dr_set_identifier = \"media-primary\"", "must be told apart"),
    case("record_type = \"A\"", "record_type = \"MX\"", "route53.records[0].record_type", "MX", "`A`, `AAAA` or `CNAME`"),
    case("record_type = \"A\"", "record_type = \"aaaa\"", "route53.records[0].record_type", "aaaa", "`record_type = \"AAAA\"`"),
];

#[test]
fn semantic_problems_are_located_and_explained() {
    for c in SEMANTIC {
        let src = mutate(c.from, c.to);
        if c.field.is_empty() {
            // A case that must stay valid.
            parse(&src, FILE).unwrap_or_else(|e| panic!("{} -> {}: {e}", c.from, c.to));
            continue;
        }
        let found = problems(&src);
        assert_eq!(
            found.len(),
            1,
            "{} -> {}: expected one problem, got:\n{found:#?}",
            c.from,
            c.to
        );
        let d = &found[0];
        assert_eq!(d.field, c.field, "{} -> {}", c.from, c.to);
        assert_eq!(d.line, line_of(&src, c.at), "{} -> {}: {d}", c.from, c.to);
        assert!(d.column >= 1);
        let text = format!("{} / {}", d.message, d.fix);
        assert!(
            text.contains(c.fragment),
            "{} -> {}: `{}` not in {text}",
            c.from,
            c.to,
            c.fragment
        );
        assert!(!d.fix.is_empty());
    }
}

#[test]
fn no_resources_is_a_problem() {
    let src = "[environment]\nname = \"confer-prod\"\ntier = \"production\"\n[regions]\nprimary = \"us-east-1\"\n\
               dr = \"us-west-2\"\n[objectives]\nrto = \"15m\"\nrpo = \"1m\"\n[route53]\nzone_id = \"Z1\"\n";
    let found = problems(src);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        (found[0].field.as_str(), found[0].line, found[0].column),
        ("(top level)", 1, 1)
    );
    assert!(
        found[0].message.contains("nothing to protect"),
        "{}",
        found[0].message
    );
    assert!(
        found[0].fix.contains("[[dynamodb_tables]]"),
        "{}",
        found[0].fix
    );
}

#[test]
fn every_problem_is_reported_in_file_order() {
    let src = mutate("primary = \"us-east-1\"", "primary = \"us-esat-1\"")
        .replacen("max_attempts = 5", "max_attempts = 0", 1)
        .replacen("name = \"sessions\"", "name = \"meetings\"", 1)
        .replacen("record_type = \"A\"", "record_type = \"TXT\"", 1);
    let found = problems(&src);
    let got: Vec<(&str, usize)> = found.iter().map(|d| (d.field.as_str(), d.line)).collect();
    assert_eq!(
        got,
        [
            ("regions.primary", line_of(&src, "us-esat-1")),
            ("aws.max_attempts", line_of(&src, "max_attempts")),
            (
                "dynamodb_tables[1].name",
                line_of(&src, "name = \"meetings\"\ntable = \"confer-sessions\"")
            ),
            ("route53.records[0].record_type", line_of(&src, "TXT")),
        ]
    );
}

#[test]
fn display_is_file_line_col_field_message_fix() {
    let src = mutate("max_attempts = 5", "max_attempts = 0");
    let err = parse(&src, FILE).expect_err("invalid");
    let line = line_of(&src, "max_attempts");
    assert_eq!(
        err.to_string(),
        format!(
            "confer.toml:{line}:1: aws.max_attempts: 0 attempts is out of range: it must be 1 to 10 (1 means no \
             retries)\n  fix: set `max_attempts` between 1 and 10; the default is 5"
        )
    );
    assert!(!err.is_retryable());
}

/// A syntax or serde error: the whole document, the expected field, line (that of `at`) and
/// column, and a fragment of the message or fix.
struct Raw {
    source: String,
    field: &'static str,
    /// Text on the expected line (unique in `source`).
    at: &'static str,
    column: usize,
    fragment: &'static str,
}

#[test]
fn syntax_and_shape_errors() {
    let cases = vec![
        // Malformed TOML.
        Raw {
            source: mutate("name = \"confer-prod\"", "name = confer-prod"),
            field: "environment.name",
            at: "confer-prod",
            column: 8,
            fragment: "string values must be quoted",
        },
        Raw {
            source: mutate("[regions]", "[regions"),
            field: "regions",
            at: "[regions",
            column: 9,
            fragment: "close the header on the same line: `[regions]`",
        },
        Raw {
            source: mutate("[check]", "[aws]"),
            field: "aws",
            at: "[aws]\nconcurrency",
            column: 2,
            fragment: "invalid TOML: `aws` is defined twice",
        },
        Raw {
            source: mutate("[[kms_keys]]", "[[kms_keys]"),
            field: "kms_keys",
            at: "[[kms_keys]",
            column: 12,
            fragment: "close the header on the same line: `[[kms_keys]]`",
        },
        Raw { source: "a = = 1\n".to_string(), field: "a", at: "a = = 1", column: 5, fragment: "invalid TOML" },
        // Unknown fields, top level and nested, with and without a suggestion.
        Raw {
            source: mutate("[check]", "[checks]"),
            field: "checks",
            at: "[checks]",
            column: 2,
            fragment: "did you mean `check`? Rename `checks` to `check`",
        },
        Raw {
            source: mutate("active_count = 4", "activ_count = 4"),
            field: "ecs_services[0].activ_count",
            at: "activ_count",
            column: 1,
            fragment: "did you mean `active_count`?",
        },
        Raw {
            source: mutate("active_count = 4", "replicas = 4"),
            field: "ecs_services[0].replicas",
            at: "replicas = 4",
            column: 1,
            fragment: "valid fields here: name, cluster, service, primary_cluster, primary_service, pilot_light_count, active_count",
        },
        Raw {
            source: mutate("dr_set_identifier = \"media-dr\"", "dr_set_identifier = \"media-dr\"\nhealth_check = true"),
            field: "route53.records[1].health_check",
            at: "health_check = true",
            column: 1,
            fragment: "unknown field `health_check` in `route53.records[1]`",
        },
        // Missing required fields and tables.
        Raw {
            source: mutate("active_capacity = 6\n", ""),
            field: "autoscaling_groups[0].active_capacity",
            at: "[[autoscaling_groups]]",
            column: 1,
            fragment: "add `active_capacity = 6`",
        },
        Raw {
            source: mutate("[objectives]\nrto = \"15m\"", "[objectives]"),
            field: "objectives.rto",
            at: "[objectives]",
            column: 1,
            fragment: "`objectives` is missing the required key `rto`",
        },
        Raw {
            source: "[environment]\nname = \"x\"\ntier = \"staging\"\n".to_string(),
            field: "regions",
            at: "[environment]",
            column: 1,
            fragment: "the required table `[regions]` is missing",
        },
        // Durations.
        Raw {
            source: mutate("rto = \"15m\"", "rto = \"15\""),
            field: "objectives.rto",
            at: "rto = ",
            column: 7,
            fragment: "use a duration such as `90s`, `15m`, `1h`",
        },
        Raw {
            source: mutate("metric_window = \"5m\"", "metric_window = 300"),
            field: "check.metric_window",
            at: "metric_window",
            column: 17,
            fragment: "integer `300` is not a duration",
        },
        // Enums and types.
        Raw {
            source: mutate("tier = \"production\"", "tier = \"producton\""),
            field: "environment.tier",
            at: "producton",
            column: 8,
            fragment: "did you mean `production`? Use one of `production`, `staging` or `development`",
        },
        Raw {
            source: mutate("max_attempts = 5", "max_attempts = \"5\""),
            field: "aws.max_attempts",
            at: "max_attempts",
            column: 16,
            fragment: "expected a whole number, not negative, found string \"5\"",
        },
        Raw {
            source: mutate("max_attempts = 5", "max_attempts = -1"),
            field: "aws.max_attempts",
            at: "max_attempts",
            column: 16,
            fragment: "from 0 to 4294967295",
        },
        Raw {
            source: mutate("rtc = true", "rtc = \"yes\""),
            field: "s3_buckets[0].rtc",
            at: "rtc = ",
            column: 7,
            fragment: "`rtc = true` or `rtc = false`",
        },
        Raw {
            source: mutate("observers = [\"us-east-2\", \"eu-west-1\"]", "observers = \"us-east-2\""),
            field: "regions.observers",
            at: "observers = ",
            column: 13,
            fragment: "write a list in square brackets",
        },
    ];
    for c in cases {
        let found = problems(&c.source);
        assert_eq!(found.len(), 1, "{found:#?}");
        let d = &found[0];
        let line = line_of(&c.source, c.at);
        assert_eq!(
            (d.field.as_str(), d.line, d.column),
            (c.field, line, c.column),
            "{d}"
        );
        let text = format!("{} / {}", d.message, d.fix);
        assert!(text.contains(c.fragment), "`{}` not in {text}", c.fragment);
    }
}

#[test]
fn load_reads_the_file_and_names_it_in_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("confer.toml");
    std::fs::write(&good, EXAMPLE).expect("write");
    assert_eq!(load(&good).expect("valid").environment.name, "confer-prod");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, mutate("dr = \"us-west-2\"", "dr = \"us-wst-2\"")).expect("write");
    let err = load(&bad).expect_err("invalid");
    let shown = bad.display().to_string();
    let source = std::fs::read_to_string(&bad).expect("read");
    let line = line_of(&source, "us-wst-2");
    assert!(
        err.to_string().starts_with(&format!(
            "{shown}:{line}:1: regions.dr: `us-wst-2` is not an AWS region"
        )),
        "{err}"
    );
}

#[test]
fn missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nope.toml");
    let err = load(&path).expect_err("missing");
    match &err {
        ConfigError::Io { path: p, source } => {
            assert_eq!(p, &path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Io, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "{}: cannot read the environment config",
            path.display()
        )),
        "{text}"
    );
    assert!(text.contains("fix: check the path"), "{text}");
    assert!(!err.is_retryable());

    let err = load(dir.path()).expect_err("directory");
    assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("is a directory"), "{err}");
}

const DOC: &str = include_str!("../../../docs/configuration.md");

/// The example with the six mistakes shown in docs/configuration.md.
fn doc_sample_with_six_mistakes() -> String {
    mutate("dr = \"us-west-2\"", "dr = \"us-wset-2\"")
        .replacen(
            "profile = \"confer-dr\"",
            "endpoint = \"localhost:4566\"\naccess_key_id = \"test\"",
            1,
        )
        .replacen("pilot_light_capacity = 1", "pilot_light_capacity = 8", 1)
        .replacen("name = \"sessions\"", "name = \"meetings\"", 1)
        .replacen(
            "key_id = \"mrk-1234abcd12ab34cd56ef1234567890ab\"",
            "key_id = \"alias/confer-data\"",
            1,
        )
        .replacen("record_type = \"A\"", "record_type = \"MX\"", 1)
}

#[test]
fn docs_show_the_example_verbatim() {
    assert!(
        DOC.contains(&format!("```toml\n{EXAMPLE}```")),
        "docs/configuration.md must embed docs/examples/environment.toml verbatim"
    );
}

#[test]
fn docs_show_the_real_error_output() {
    let samples = [
        doc_sample_with_six_mistakes(),
        mutate("active_count = 4", "activ_count = 4"),
        mutate("rpo = \"1m\"", "rpo = 60"),
    ];
    for source in samples {
        let err = parse(&source, "confer.toml").expect_err("invalid");
        let text = err.to_string();
        assert!(
            DOC.contains(&format!("```text\n{text}\n```")),
            "docs/configuration.md must show:\n{text}"
        );
    }
    assert_eq!(problems(&doc_sample_with_six_mistakes()).len(), 7);
    let err = load(std::path::Path::new("no-such-dir/confer.toml")).expect_err("missing");
    let first = err
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .replace("no-such-dir/", "");
    assert!(
        DOC.contains(&first),
        "docs/configuration.md must show:\n{first}"
    );
}

#[test]
fn docs_list_every_region_and_key() {
    for region in crate::AWS_REGIONS {
        assert!(
            DOC.contains(&format!("`{region}`")),
            "region {region} missing from docs/configuration.md"
        );
    }
    // Every key the example uses (serialized, so defaults appear too), plus the optional ones it leaves out.
    let cfg = parse(EXAMPLE, FILE).unwrap_or_else(|e| panic!("{e}"));
    let value = toml::Value::try_from(&cfg).expect("to toml");
    let (mut keys, mut headers) = (Vec::new(), Vec::new());
    collect_keys(&value, "", &mut keys, &mut headers);
    keys.extend(
        [
            "endpoint",
            "access_key_id",
            "secret_access_key",
            "primary_cluster",
            "primary_service",
            "primary_group",
        ]
        .map(String::from),
    );
    keys.extend(["global_cluster", "dr_cluster", "records"].map(String::from));
    for key in keys {
        assert!(
            DOC.contains(&format!("| `{key}` |")),
            "key `{key}` has no row in docs/configuration.md"
        );
    }
    assert!(headers.len() >= 14, "{headers:?}");
    for header in headers {
        assert!(
            DOC.contains(&format!("### `{header}`")),
            "no section for `{header}` in docs/configuration.md"
        );
    }
}

/// Plain keys into `keys`; tables as `[path]` and lists of tables as `[[path]]` into `headers`.
fn collect_keys(
    value: &toml::Value,
    path: &str,
    keys: &mut Vec<String>,
    headers: &mut Vec<String>,
) {
    let toml::Value::Table(table) = value else {
        return;
    };
    for (key, v) in table {
        let child = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        match v {
            toml::Value::Table(_) => {
                headers.push(format!("[{child}]"));
                collect_keys(v, &child, keys, headers);
            }
            toml::Value::Array(items) if items.is_empty() || items[0].is_table() => {
                headers.push(format!("[[{child}]]"));
                items
                    .iter()
                    .for_each(|item| collect_keys(item, &child, keys, headers));
            }
            _ => keys.push(key.clone()),
        }
    }
}

#[test]
fn documented_duration_forms_parse() {
    for (text, secs) in [
        ("90s", 90),
        ("15m", 900),
        ("1h", 3600),
        ("1h 30m", 5400),
        ("2d", 172_800),
        ("500ms", 0),
    ] {
        let src = mutate("rto = \"15m\"", &format!("rto = \"{text}\""));
        let cfg = parse(&src, FILE).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(cfg.objectives.rto.as_secs(), secs, "{text}");
    }
}

#[test]
fn windows_line_endings_and_bom_are_accepted() {
    let crlf = EXAMPLE.replace('\n', "\r\n");
    assert_eq!(
        parse(&crlf, FILE).unwrap_or_else(|e| panic!("{e}")),
        parse(EXAMPLE, FILE).expect("valid")
    );
    let bad = mutate("max_attempts = 5", "max_attempts = 0").replace('\n', "\r\n");
    let found = problems(&bad);
    assert_eq!(
        (found[0].line, found[0].column),
        (line_of(&bad, "max_attempts"), 1)
    );
    let bom = format!("\u{feff}{EXAMPLE}");
    parse(&bom, FILE).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_reference_runbooks_parse_and_runbook_errors_name_line_and_field() {
    let rb = crate::parse_runbook(
        include_str!("../../../runbooks/failover.toml"),
        "failover.toml",
    )
    .expect("runbooks/failover.toml parses");
    assert_eq!(rb.runbook.name, "failover");
    let bad = "[runbook]\nname = \"x\"\ndirection = \"failover\"\n\n[[steps]]\nid = \"a\"\nkind = \"reboot_everything\"\n";
    let err = crate::parse_runbook(bad, "bad.toml").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("bad.toml:7:"), "{text}");
    assert!(text.contains("reboot_everything"), "{text}");
    let typo = "[runbook]\nname = \"x\"\ndirection = \"failover\"\n\n[[steps]]\nid = \"a\"\nkind = \"notify\"\ndepend_on = [\"b\"]\n";
    let text = crate::parse_runbook(typo, "typo.toml")
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("typo.toml:8:") && text.contains("depends_on"),
        "{text}"
    );
}

#[test]
fn health_and_notification_problems_are_located_and_explained() {
    let cases = [
        (
            "url = \"https://api.confer.example/health\"",
            "url = \"api.confer.example/health\"",
            "health.probes[0].url",
            "not an http(s) URL",
        ),
        (
            "token_sha256 = \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"",
            "token_sha256 = \"s3cret\"",
            "health.vantage_points[1].token_sha256",
            "64 hex digits",
        ),
        ("quorum = 2 ", "quorum = 5 ", "health.quorum", "5"),
        (
            "runs_in = \"control\"",
            "runs_in = \"control\"\nprobes = [\"nope\"]",
            "health.vantage_points[0].probes",
            "`nope` is not defined",
        ),
        (
            "expect_status = 200",
            "expect_status = 200\naddress = \"api:443\"",
            "health.probes[0].address",
            "does not apply to a `http` probe",
        ),
        (
            "webhooks = [\"https://hooks.slack.com/services/T0000/B0000/XXXXXXXX\"]",
            "webhooks = [\"hooks.slack.com\"]",
            "notifications.webhooks[0]",
            "not an http(s) URL",
        ),
        (
            "readiness_interval = \"5m\"",
            "readiness_interval = \"0s\"",
            "health.readiness_interval",
            "zero",
        ),
    ];
    for (from, to, field, fragment) in cases {
        let found = problems(&mutate(from, to));
        let hit = found
            .iter()
            .find(|d| d.field == field)
            .unwrap_or_else(|| panic!("{from} -> {to}: no problem on {field}:\n{found:#?}"));
        let text = format!("{} / {}", hit.message, hit.fix);
        assert!(
            text.contains(fragment),
            "{field}: `{fragment}` not in {text}"
        );
        assert!(hit.line > 1, "{field} is located in the file: {hit}");
    }
    // An observer without a token, and a probe missing the field its kind needs.
    let src = mutate(
        "token_sha256 = \"60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752\"",
        "",
    )
    .replacen("kind = \"http\"", "kind = \"tcp\"", 1);
    let found = problems(&src);
    let fields: Vec<&str> = found.iter().map(|d| d.field.as_str()).collect();
    for f in [
        "health.vantage_points[2].token_sha256",
        "health.probes[0].address",
        "health.probes[0].url",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
}

#[test]
fn access_problems_are_located_and_explained() {
    let good = "a".repeat(64);
    let ok = format!(
        "{EXAMPLE}\n[access]\ntwo_person_rule = true\nsession_ttl = \"1h\"\n[[access.tokens]]\nname = \"alice\"\nrole = \"operator\"\ntoken_sha256 = \"{good}\"\n"
    );
    let cfg = parse(&ok, FILE).unwrap_or_else(|e| panic!("{e}"));
    let access = cfg.access.expect("[access] parsed");
    assert!(access.two_person_rule);
    assert_eq!(access.session_ttl, Duration::from_secs(3600));
    for (text, field, fragment) in [
        (
            "[access]\n[[access.tokens]]\nname = \"a\"\nrole = \"viewer\"\ntoken_sha256 = \"s3cret\"\n".to_string(),
            "access.tokens[0].token_sha256",
            "never the token itself",
        ),
        (
            format!("[access]\n[[access.tokens]]\nname = \"a\"\nrole = \"viewer\"\ntoken_sha256 = \"{good}\"\n[[access.tokens]]\nname = \"a\"\nrole = \"admin\"\ntoken_sha256 = \"{}\"\n", "b".repeat(64)),
            "access.tokens[1].name",
            "already used",
        ),
        (
            "[access]\ntwo_person_rule = true\n".to_string(),
            "access",
            "nobody could sign in",
        ),
        (
            "[access.oidc]\nissuer = \"https://idp.example.com\"\naudience = \"pilotlight\"\n".to_string(),
            "access.oidc",
            "jwks_file",
        ),
    ] {
        let found = problems(&format!("{EXAMPLE}\n{text}"));
        assert!(
            found.iter().any(|d| d.field == field && format!("{} {}", d.message, d.fix).contains(fragment)),
            "{field}: {found:#?}"
        );
    }
    let found = problems(&format!(
        "{EXAMPLE}\n[access]\n[[access.tokens]]\nname = \"a\"\nrole = \"root\"\ntoken_sha256 = \"{good}\"\n"
    ));
    assert!(
        found[0].message.contains("root") || found[0].fix.contains("viewer"),
        "{found:#?}"
    );
}
