//! `pilotlight sandbox …` and `pilotlight demo`: the emulated two-region world.

use crate::check;
use crate::output;
use anyhow::{Context, Result};
use pilotlight_sandbox::SandboxOptions;
use pilotlight_testkit::Emulator;
use std::path::Path;

/// `pilotlight sandbox up`: build the reference deployment and write its config.
pub async fn up(endpoint: &str, out: &Path) -> Result<u8> {
    let opts = SandboxOptions {
        endpoint: endpoint.to_string(),
        ..SandboxOptions::default()
    };
    build(&opts, out).await?;
    Ok(0)
}

async fn build(
    opts: &SandboxOptions,
    out: &Path,
) -> Result<pilotlight_core::model::EnvironmentConfig> {
    let report = pilotlight_sandbox::up(opts).await?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    let mut text = pilotlight_sandbox::render_config(&report.config)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    text.push_str(&access_section(out)?);
    std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "sandbox at {}: {} created, {} already existed; config written to {}",
        opts.endpoint,
        report.created.len(),
        report.existing.len(),
        out.display()
    );
    Ok(report.config)
}

/// One token per role in files next to the config (kept when they exist, so re-running `sandbox
/// up` keeps signed-in tokens valid), and the `[access]` section that accepts them.
fn access_section(out: &Path) -> Result<String> {
    use pilotlight_core::access::Role;
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut section = String::from(
        "\n# Console and API access (sandbox): one token per role, in the token-* files next to this config.\n[access]\ntwo_person_rule = false\nsession_ttl = \"8h\"\n",
    );
    for role in Role::ALL {
        let file = dir.join(format!("token-{}", role.name()));
        let token = match std::fs::read_to_string(&file) {
            Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => {
                let t = pilotlight_server::access::random_id();
                write_secret(&file, &t)?;
                t
            }
        };
        section.push_str(&format!(
            "\n[[access.tokens]]\nname = \"sandbox-{0}\"\nrole = \"{0}\"\ntoken_sha256 = \"{1}\"\n",
            role.name(),
            pilotlight_server::auth::token_sha256(&token)
        ));
        eprintln!(
            "console token for the {:<8} role: {}",
            role.name(),
            file.display()
        );
    }
    Ok(section)
}

fn write_secret(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// `pilotlight sandbox emulator`: run moto behind the emulation proxy until Ctrl-C.
pub async fn emulator(port: u16) -> Result<u8> {
    let emu = Emulator::start_on(port)
        .await
        .context("cannot start the emulator")?;
    eprintln!("emulator listening at {} (Ctrl-C to stop)", emu.endpoint());
    tokio::signal::ctrl_c().await?;
    emu.shutdown().await;
    Ok(0)
}

/// `pilotlight demo`: emulator, sandbox, the readiness check, then Pilotlight's main job on it:
/// the control service and console (`serve`, journal in `paths`) until Ctrl-C, unless `!stay`.
pub async fn demo(
    paths: &crate::runs::Paths,
    port: u16,
    out: &Path,
    stay: bool,
    listen: std::net::SocketAddr,
) -> Result<u8> {
    let emu = Emulator::start_on(port)
        .await
        .context("cannot start the emulator")?;
    eprintln!("emulator listening at {}", emu.endpoint());
    let opts = SandboxOptions {
        endpoint: emu.endpoint(),
        ..SandboxOptions::default()
    };
    let cfg = build(&opts, out).await?;
    let report = check::readiness(&cfg).await;
    print!("{}", output::readiness_table(&report, output::use_colour()));
    if stay {
        // The emulated replication metrics are only trusted for `check.metric_window`: keep them fresh.
        let metrics_cfg = cfg.clone();
        let refresher = tokio::spawn(async move {
            let factory = pilotlight_aws::ClientFactory::new(metrics_cfg.aws.clone());
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                if let Err(e) = pilotlight_sandbox::publish_replication_metrics(
                    &factory,
                    &metrics_cfg,
                    pilotlight_sandbox::SANDBOX_REPLICA_LAG,
                    pilotlight_sandbox::SANDBOX_TABLE_LATENCY,
                )
                .await
                {
                    tracing::warn!(error = %e, "could not refresh the sandbox's replication metrics");
                }
            }
        });
        eprintln!(
            "\nThe emulator stays up at {}; the control service and console start on http://{listen} \
             (sign in with the token in {}). Try: pilotlight check --config {}\nCtrl-C to stop.",
            emu.endpoint(),
            out.with_file_name("token-operator").display(),
            out.display()
        );
        let served = crate::serve::serve(paths, out, listen, None, None).await;
        refresher.abort();
        if !matches!(served, Ok(0)) {
            emu.shutdown().await;
            return served;
        }
    }
    emu.shutdown().await;
    Ok(report.verdict.exit_code() as u8)
}
