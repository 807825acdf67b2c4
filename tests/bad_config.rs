//! Scenario 16 (`bad_config`): malformed TOML, unknown fields, missing resources, a region that
//! does not exist, an unreachable endpoint, a missing file. Each gives a clear error naming the
//! file, field and fix, a non-zero exit code, and changes nothing in AWS.

mod common;

use common::pilotlight;
use pilotlight_testkit::Emulator;
use std::path::Path;

fn config(endpoint: &str, extra: &str) -> String {
    format!(
        r#"[environment]
name = "bad-config"
tier = "development"

[regions]
primary = "us-east-1"
dr = "us-west-2"

[objectives]
rto = "15m"
rpo = "1m"

[aws]
endpoint = "{endpoint}"
access_key_id = "test"
secret_access_key = "test"
max_attempts = 2
connect_timeout = "1s"
read_timeout = "5s"

[[dynamodb_tables]]
name = "meetings"
table = "no-such-table"
{extra}"#
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_config() {
    let emu = Emulator::start().await.expect("emulator");
    let dir = tempfile::tempdir().unwrap();
    let ep = emu.endpoint();

    // (file name, config text, fragments stderr must contain)
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("malformed.toml", config(&ep, "[[s3_buckets]\nname = 1"), vec!["malformed.toml:24:"]),
        ("unknown.toml", config(&ep, "active_cuont = 3"), vec!["unknown.toml:", "active_cuont"]),
        (
            "region.toml",
            config(&ep, "").replace("dr = \"us-west-2\"", "dr = \"us-wset-2\""),
            vec!["region.toml:", "regions.dr", "us-wset-2", "us-west-2"],
        ),
        (
            "missing-field.toml",
            config(&ep, "").replace("rpo = \"1m\"\n", ""),
            vec!["missing-field.toml:", "rpo"],
        ),
        (
            "counts.toml",
            config(&ep, "[[ecs_services]]\nname = \"api\"\ncluster = \"c\"\nservice = \"s\"\npilot_light_count = 5\nactive_count = 2\n"),
            vec!["counts.toml:", "ecs_services[0]", "pilot_light_count"],
        ),
    ];
    for (name, text, fragments) in cases {
        let path = write(dir.path(), name, &text);
        let run = pilotlight(&["check", "--config", &path]).await;
        assert_eq!(
            run.code, 2,
            "{name}: exit code\nstdout:{}\nstderr:{}",
            run.stdout, run.stderr
        );
        for f in fragments {
            assert!(
                run.stderr.contains(f),
                "{name}: stderr should contain {f:?}:\n{}",
                run.stderr
            );
        }
        assert!(
            run.stderr.contains("fix:"),
            "{name}: every config error says how to fix it:\n{}",
            run.stderr
        );
        assert!(
            run.stdout.is_empty(),
            "{name}: no report on a bad config: {}",
            run.stdout
        );
    }
    assert_eq!(
        emu.stats().total_requests(),
        0,
        "a bad config must never reach AWS"
    );

    // A missing file.
    let run = pilotlight(&["check", "--config", "/nonexistent/env.toml"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("/nonexistent/env.toml"),
        "{}",
        run.stderr
    );

    // A resource that does not exist: the config is valid, the check says exactly what is missing.
    let path = write(dir.path(), "missing-resource.toml", &config(&ep, ""));
    let run = pilotlight(&["check", "--config", &path, "--output", "json"]).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["results"][0]["status"], "fail");
    assert!(report["results"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("no-such-table does not exist"));

    // Wrong credentials (a profile that does not exist): exit 2, and the error says credentials.
    let empty = dir.path().join("empty-aws-config");
    std::fs::write(&empty, "").unwrap();
    let no_creds = config(&ep, "").replace(
        "access_key_id = \"test\"\nsecret_access_key = \"test\"\n",
        "profile = \"no-such-profile\"\n",
    );
    let path = write(dir.path(), "credentials.toml", &no_creds);
    let run = common::pilotlight_env(
        &["check", "--config", &path, "--output", "json"],
        &[
            ("AWS_CONFIG_FILE", empty.to_str().unwrap()),
            ("AWS_SHARED_CREDENTIALS_FILE", empty.to_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(
        report["results"][0]["error"]["class"], "credentials",
        "{report:#}"
    );

    // An unreachable endpoint: exit 2, "could not check", and a hint about the endpoint.
    let closed = pilotlight_testkit::moto::free_port().unwrap();
    let path = write(
        dir.path(),
        "unreachable.toml",
        &config(&format!("http://127.0.0.1:{closed}"), ""),
    );
    let run = pilotlight(&["check", "--config", &path, "--output", "json"]).await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["verdict"], "unknown");
    let r = &report["results"][0];
    assert_eq!(r["status"], "error");
    assert_eq!(r["error"]["class"], "unreachable");
    assert!(r["fix"].as_str().unwrap().contains("endpoint"), "{r}");
}
