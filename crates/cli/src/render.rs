//! `pilotlight runbook render`: the printable runbook of a plan (Markdown or self-contained
//! HTML) for a person with the AWS CLI, generated from the same plan `failover` / `failback`
//! execute. Reads the config and the runbook only: no AWS call, no journal.

use crate::runs;
use anyhow::Result;
use pilotlight_render::{render, Format, Options};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `runbook` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RunbookCommand {
    /// Print a runbook for a person: every step in order with what it does and why, its gates,
    /// the exact AWS CLI commands with the environment's names and regions, how to verify each
    /// step and how to roll it back. Generated from the plan `failover` / `failback` execute.
    /// Reads the config and the runbook only: no AWS call.
    ///
    /// Exit code 0: rendered; 2: the config or the runbook is invalid.
    Render {
        /// The environment config file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Runbook name: `failover` or `failback` (a file `<name>.toml` in the runbooks
        /// directory).
        #[arg(long)]
        runbook: String,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = RunbookFormat::Md)]
        format: RunbookFormat,
    },
}

/// Output format of `runbook render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RunbookFormat {
    /// Markdown, with one fenced `sh` block per command (see docs/runbook-render.md).
    Md,
    /// One self-contained HTML page (inline style, no scripts, no external assets), to print.
    Html,
}

/// Render runbook `name` for the environment config at `config` to standard output.
/// Exit code 0: rendered; 2: the config or the runbook is invalid.
pub fn run(paths: &runs::Paths, config: &Path, name: &str, format: RunbookFormat) -> Result<u8> {
    let env = match runs::load_config(config) {
        Ok(env) => env,
        Err(code) => return Ok(code),
    };
    let plan = match runs::load_plan(paths, &env, name) {
        Ok(plan) => plan,
        Err(code) => return Ok(code),
    };
    let description = pilotlight_config::load_runbook(&paths.runbooks.join(format!("{name}.toml")))
        .ok()
        .map(|r| r.runbook.description);
    let options = Options {
        description,
        config_file: Some(config.display().to_string()),
    };
    let format = match format {
        RunbookFormat::Md => Format::Markdown,
        RunbookFormat::Html => Format::Html,
    };
    let text = render(&plan, &env, &options, format);
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(0)
}
