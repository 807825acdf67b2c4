//! Helpers shared by the end-to-end scenarios: an emulator with the sandbox built in it, and a
//! way to run the real `pilotlight` binary.

#![allow(dead_code)]

use pilotlight_aws::ClientFactory;
use pilotlight_core::model::{AwsSettings, EnvironmentConfig};
use pilotlight_testkit::Emulator;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Output;

/// The outcome of one run of the binary.
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// The signal that killed it, if any.
    pub signal: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// The repository's runbooks directory.
pub const RUNBOOKS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../runbooks");

/// Run `pilotlight ARGS` to completion.
pub async fn pilotlight(args: &[&str]) -> Run {
    pilotlight_env(args, &[]).await
}

/// `pilotlight runs show ID --output json` on `journal`: the run with its steps.
pub async fn show_run(journal: &str, id: &str) -> serde_json::Value {
    let shown = pilotlight(&["--journal", journal, "runs", "show", id, "--output", "json"]).await;
    assert_eq!(shown.code, 0, "runs show {id}: {}", shown.stderr);
    shown.json()
}

/// Run `pilotlight ARGS` with extra environment variables.
pub async fn pilotlight_env(args: &[&str], vars: &[(&str, &str)]) -> Run {
    let out: Output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pilotlight"))
        .args(args)
        .envs(vars.iter().copied())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env_remove("PILOTLIGHT_LOG")
        .output()
        .await
        .expect("run pilotlight");
    use std::os::unix::process::ExitStatusExt;
    Run {
        signal: out.status.signal(),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// An emulator with the sandbox built in it by `pilotlight sandbox up`.
pub struct World {
    /// The emulator (moto behind the proxy).
    pub emu: Emulator,
    /// Temporary directory holding the config.
    pub dir: tempfile::TempDir,
    /// Path of the environment config written by `sandbox up`.
    pub config_path: PathBuf,
    /// The parsed config.
    pub config: EnvironmentConfig,
}

impl World {
    /// A copy of the repository's runbooks with the failback's gradual-return soak shortened
    /// from two minutes to a second, so a scenario does not wait minutes on it. Returns the
    /// directory, for `--runbooks`.
    pub fn quick_runbooks(&self) -> String {
        let dir = self.dir.path().join("runbooks");
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["failover.toml", "failback.toml"] {
            let text = std::fs::read_to_string(format!("{RUNBOOKS}/{name}")).unwrap();
            let quick = text.replace("soak = \"2m\"", "soak = \"1s\"");
            if name == "failback.toml" {
                assert_ne!(quick, text, "the failback runbook has a soak to shorten");
            }
            std::fs::write(dir.join(name), quick).unwrap();
        }
        dir.to_str().unwrap().to_string()
    }

    /// Start an emulator and build the sandbox in it with the real binary.
    pub async fn up() -> World {
        let emu = Emulator::start().await.expect("start emulator");
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("environment.toml");
        let run = pilotlight(&[
            "sandbox",
            "up",
            "--endpoint",
            &emu.endpoint(),
            "--out",
            config_path.to_str().unwrap(),
        ])
        .await;
        assert_eq!(
            run.code, 0,
            "sandbox up failed:\n{}\n{}",
            run.stdout, run.stderr
        );
        let config = pilotlight_config::load(&config_path).expect("sandbox config loads");
        World {
            emu,
            dir,
            config_path,
            config,
        }
    }

    /// A client factory talking to moto directly (bypassing the proxy), for breaking things.
    pub fn direct(&self) -> ClientFactory {
        ClientFactory::new(AwsSettings {
            endpoint: Some(self.emu.moto_endpoint()),
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
            ..AwsSettings::default()
        })
    }

    /// The journal path for runs in this world.
    pub fn journal(&self) -> String {
        self.dir
            .path()
            .join("journal.db")
            .to_str()
            .unwrap()
            .to_string()
    }

    /// Run `pilotlight failover` on this world, non-interactively.
    pub async fn failover(&self, extra: &[&str], vars: &[(&str, &str)]) -> Run {
        let journal = self.journal();
        let mut args = vec![
            "--journal",
            journal.as_str(),
            "--runbooks",
            RUNBOOKS,
            "failover",
            "--config",
            self.config_path.to_str().unwrap(),
            "--reason",
            "e2e test",
            "--yes",
        ];
        args.extend_from_slice(extra);
        pilotlight_env(&args, vars).await
    }

    /// A client factory talking through the emulator proxy (sees emulated promotion, replicas).
    pub fn proxied(&self) -> ClientFactory {
        ClientFactory::new(AwsSettings {
            endpoint: Some(self.emu.endpoint()),
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
            ..AwsSettings::default()
        })
    }

    /// Run `pilotlight check --output json` on this world.
    pub async fn check(&self) -> Run {
        pilotlight(&[
            "check",
            "--config",
            self.config_path.to_str().unwrap(),
            "--output",
            "json",
        ])
        .await
    }

    /// Primary region.
    pub fn primary(&self) -> &str {
        &self.config.regions.primary
    }

    /// DR region.
    pub fn dr(&self) -> &str {
        &self.config.regions.dr
    }
}

/// The `(kind/name, status, reason)` of every result of a JSON readiness report.
pub fn results(report: &serde_json::Value) -> Vec<(String, String, String)> {
    report["results"]
        .as_array()
        .expect("results array")
        .iter()
        .map(|r| {
            (
                format!(
                    "{}/{}",
                    r["resource"]["kind"].as_str().unwrap(),
                    r["resource"]["name"].as_str().unwrap()
                ),
                r["status"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The state of every resource a failover or failback touches, without the ids that differ
/// between two sandboxes (health check ids, ARNs' accounts are the same; instance ids are not
/// read).
pub async fn snapshot(world: &World) -> BTreeMap<String, Value> {
    let cfg = &world.config;
    let f = world.proxied();
    let mut out = BTreeMap::new();
    for region in [world.primary(), world.dr()] {
        let ecs = f.ecs(region).await;
        for s in &cfg.ecs_services {
            let svc = ecs
                .describe_services()
                .cluster(&s.cluster)
                .services(&s.service)
                .send()
                .await
                .unwrap();
            let svc = &svc.services()[0];
            out.insert(
                format!("ecs {region} {}", s.service),
                json!({"desired": svc.desired_count(), "running": svc.running_count()}),
            );
        }
        let asg = f.autoscaling(region).await;
        for g in &cfg.autoscaling_groups {
            let grp = asg
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(&g.group)
                .send()
                .await
                .unwrap();
            let grp = &grp.auto_scaling_groups()[0];
            let in_service = grp
                .instances()
                .iter()
                .filter(|i| i.lifecycle_state().map(|s| s.as_str()) == Some("InService"))
                .count();
            out.insert(
                format!("asg {region} {}", g.group),
                json!({"desired": grp.desired_capacity(), "min": grp.min_size(), "max": grp.max_size(), "in_service": in_service}),
            );
        }
    }
    for db in &cfg.rds_replicas {
        for (region, id) in [
            (world.primary(), &db.primary_instance),
            (world.dr(), &db.replica_instance),
        ] {
            let inst = f
                .rds(region)
                .await
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await
                .unwrap();
            let inst = &inst.db_instances()[0];
            let source = inst
                .read_replica_source_db_instance_identifier()
                .map(|s| s.rsplit(':').next().unwrap_or(s).to_string());
            let fenced = inst
                .db_parameter_groups()
                .iter()
                .any(|g| g.db_parameter_group_name() == db.fence_parameter_group.as_deref());
            out.insert(
                format!("rds {region} {id}"),
                json!({"status": inst.db_instance_status(), "replica_of": source, "fenced": fenced,
                       "class": inst.db_instance_class()}),
            );
        }
    }
    let r53 = f.route53(world.primary()).await;
    let zone = cfg.route53.as_ref().unwrap();
    let sets = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zone.zone_id)
        .send()
        .await
        .unwrap();
    for rec in &zone.records {
        for set_id in [&rec.primary_set_identifier, &rec.dr_set_identifier] {
            let set = sets
                .resource_record_sets()
                .iter()
                .find(|s| s.set_identifier() == Some(set_id.as_str()))
                .expect("record set");
            let inverted = match set.health_check_id() {
                Some(hc) => r53
                    .get_health_check()
                    .health_check_id(hc)
                    .send()
                    .await
                    .unwrap()
                    .health_check()
                    .and_then(|h| h.health_check_config())
                    .and_then(|c| c.inverted()),
                None => None,
            };
            let values: Vec<&str> = set.resource_records().iter().map(|r| r.value()).collect();
            out.insert(
                format!("route53 {} {set_id}", rec.record_name),
                json!({"weight": set.weight(), "failover": set.failover().map(|f| f.as_str().to_string()),
                       "health_check": set.health_check_id().is_some(), "inverted": inverted,
                       "ttl": set.ttl(), "values": values}),
            );
        }
    }
    out
}

/// The entries that differ between two snapshots, for an assertion message.
pub fn diff(a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>) -> Vec<String> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            format!(
                "{k}: {} vs {}",
                a.get(k).unwrap_or(&Value::Null),
                b.get(k).unwrap_or(&Value::Null)
            )
        })
        .collect()
}

/// A primary endpoint that answers 200 while `up`, 503 otherwise.
pub async fn endpoint(up: std::sync::Arc<std::sync::atomic::AtomicBool>) -> String {
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let up = up.clone();
            async move {
                if up.load(std::sync::atomic::Ordering::SeqCst) {
                    (axum::http::StatusCode::OK, "ok")
                } else {
                    (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/health")
}

/// The `pilotlight` binary as a long-running child process (killed when dropped).
pub fn bin() -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_pilotlight"));
    c.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env("PILOTLIGHT_LOG", "info")
        .kill_on_drop(true);
    c
}

/// Send signal `sig` to process `pid`.
pub fn send_signal(pid: u32, sig: i32) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// Side effects must happen exactly once across all crashes and resumes.
pub fn assert_no_duplicate_side_effects(world: &World) {
    let s = world.emu.stats();
    let dr = world.dr();
    assert_eq!(
        s.request_count("rds", dr, "PromoteReadReplica"),
        1,
        "promotion sent exactly once"
    );
    assert_eq!(
        s.request_count("ecs", dr, "UpdateService"),
        2,
        "each service scaled once"
    );
    assert_eq!(
        s.request_count("autoscaling", dr, "SetDesiredCapacity"),
        1,
        "routers scaled once"
    );
    // The sandbox's two records share the primary health check: the two parallel shift steps may
    // both set `Inverted` (idempotent), but never more than once each.
    let hc = s.request_count("route53", world.primary(), "UpdateHealthCheck");
    assert!((1..=2).contains(&hc), "health check updates: {hc}");
}
