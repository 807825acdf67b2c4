//! `pilotlight check`: load the config, gather readiness facts from both regions through the AWS
//! adapters, evaluate them in the core, and report.

use crate::output;
use crate::OutputFormat;
use anyhow::Result;
use pilotlight_aws::readiness::AwsReadiness;
use pilotlight_aws::retry::Caller;
use pilotlight_aws::ClientFactory;
use pilotlight_core::model::EnvironmentConfig;
use pilotlight_core::readiness::{run_checks, ReadinessReport};
use std::path::Path;
use std::sync::Arc;

/// Run `pilotlight check` and return the exit code.
pub async fn run(config: &Path, format: OutputFormat) -> Result<u8> {
    let cfg = match pilotlight_config::load(config) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("{e}");
            return Ok(2);
        }
    };
    let report = readiness(&cfg).await;
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Table => print!("{}", output::readiness_table(&report, output::use_colour())),
    }
    Ok(report.verdict.exit_code() as u8)
}

/// Gather and evaluate readiness for `cfg` against AWS (or the configured endpoint).
pub async fn readiness(cfg: &EnvironmentConfig) -> ReadinessReport {
    let factory = Arc::new(ClientFactory::new(cfg.aws.clone()));
    let caller = Caller::new(&cfg.aws);
    let source = AwsReadiness::new(
        factory,
        caller,
        cfg.regions.clone(),
        cfg.check.metric_window,
    );
    run_checks(cfg, &source, cfg.check.concurrency).await
}
