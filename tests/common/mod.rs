//! Helpers shared by the end-to-end scenarios: an emulator with the sandbox built in it, and a
//! way to run the real `pilotlight` binary.

#![allow(dead_code)]

use pilotlight_aws::ClientFactory;
use pilotlight_core::model::{AwsSettings, EnvironmentConfig};
use pilotlight_testkit::Emulator;
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
