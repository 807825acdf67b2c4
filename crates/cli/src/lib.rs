//! The `pilotlight` command line: argument parsing and the wiring of the library crates.
//! Exit codes: 0 success/ready, 1 not ready or failed, 2 could not run (bad config, unreachable
//! endpoint, denied credentials, bad arguments).

pub mod check;
pub mod output;
pub mod sandbox;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Pilotlight: a multi-region disaster-recovery orchestrator for AWS.
#[derive(Debug, Parser)]
#[command(name = "pilotlight", version, about, long_about = None)]
pub struct Cli {
    /// Log filter (e.g. `info`, `pilotlight_aws=debug`); also read from PILOTLIGHT_LOG.
    #[arg(long, global = true, env = "PILOTLIGHT_LOG", default_value = "warn")]
    pub log: String,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Output format for commands that report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// A human-readable table (coloured on a terminal unless NO_COLOR is set).
    Table,
    /// JSON for machines.
    Json,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check, resource by resource, that the DR region is ready to take over.
    ///
    /// Exit code 0: ready; 1: not ready; 2: could not check (bad config, unreachable endpoint,
    /// denied credentials).
    Check {
        /// The environment config file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// The emulated two-region world for trying Pilotlight without AWS.
    Sandbox {
        /// What to do with the sandbox.
        #[command(subcommand)]
        command: SandboxCommand,
    },
    /// Start the emulator, build the sandbox in it, and run Pilotlight on it (the README's first command).
    Demo {
        /// Port for the emulator endpoint on 127.0.0.1.
        #[arg(long, default_value_t = 4566)]
        port: u16,
        /// Where to write the sandbox's environment config.
        #[arg(long, default_value = ".sandbox/environment.toml")]
        out: PathBuf,
        /// Keep the emulator running after the check, until Ctrl-C.
        #[arg(long)]
        stay: bool,
    },
}

/// Sandbox commands.
#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Create the reference pilot-light deployment in an emulator and write its config. Re-running is harmless.
    Up {
        /// Emulator endpoint (loopback only), e.g. http://127.0.0.1:4566.
        #[arg(long)]
        endpoint: String,
        /// Where to write the environment config.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run the emulator (moto behind Pilotlight's emulation and fault proxy) until Ctrl-C.
    Emulator {
        /// Port on 127.0.0.1.
        #[arg(long, default_value_t = 4566)]
        port: u16,
    },
}

/// Parse the process arguments, run the command, and return its exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(dispatch(cli.command));
    ExitCode::from(code)
}

async fn dispatch(command: Command) -> u8 {
    let result = match command {
        Command::Check { config, output } => check::run(&config, output).await,
        Command::Sandbox { command: SandboxCommand::Up { endpoint, out } } => {
            sandbox::up(&endpoint, &out).await
        }
        Command::Sandbox { command: SandboxCommand::Emulator { port } } => {
            sandbox::emulator(port).await
        }
        Command::Demo { port, out, stay } => sandbox::demo(port, &out, stay).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
