//! The `pilotlight` command line: argument parsing and the wiring of the library crates.
//! Exit codes: 0 success/ready, 1 not ready or failed, 2 could not run (bad config, unreachable
//! endpoint, denied credentials, bad arguments).

pub mod check;
pub mod drill;
pub mod gameday;
pub mod output;
pub mod progress;
pub mod remote;
pub mod render;
pub use pilotlight_server::report;
pub mod runs;
pub mod sandbox;
pub mod serve;
pub mod status;

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
    /// The journal of runs (SQLite).
    #[arg(
        long,
        global = true,
        env = "PILOTLIGHT_JOURNAL",
        default_value = "pilotlight.db"
    )]
    pub journal: PathBuf,
    /// Directory of runbooks (`failover.toml`, ...).
    #[arg(
        long,
        global = true,
        env = "PILOTLIGHT_RUNBOOKS",
        default_value = "runbooks"
    )]
    pub runbooks: PathBuf,
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
    /// Show what a runbook would do: the steps in order, live value and target of each, the
    /// critical path, and the gates that would block. Changes nothing.
    Plan {
        /// Runbook name (a file `<name>.toml` in the runbooks directory).
        runbook: String,
        /// The environment config file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Fail over to the DR region (or resume the interrupted failover).
    ///
    /// Exit code 0: done; 1: failed, degraded or paused; 2: refused.
    Failover {
        /// The environment config file (TOML); not needed with --server.
        #[arg(long, short, required_unless_present = "server")]
        config: Option<PathBuf>,
        /// Talk to a running control service's API instead of running here (also PILOTLIGHT_SERVER).
        #[arg(long, env = "PILOTLIGHT_SERVER")]
        server: Option<String>,
        /// With --server: a file holding a bearer token (also PILOTLIGHT_TOKEN_FILE).
        #[arg(long, env = "PILOTLIGHT_TOKEN_FILE")]
        token_file: Option<PathBuf>,
        /// Why (recorded in the journal).
        #[arg(long)]
        reason: String,
        /// Planned failover: zero data loss expected.
        #[arg(long, conflicts_with = "unplanned")]
        planned: bool,
        /// Unplanned failover (the default).
        #[arg(long)]
        unplanned: bool,
        /// Allow an unplanned promotion with replication lag above the RPO budget; give the reason.
        #[arg(long, value_name = "REASON")]
        allow_data_loss: Option<String>,
        /// Proceed although DR readiness fails; give the reason.
        #[arg(long, value_name = "REASON")]
        override_readiness: Option<String>,
        /// Do not ask for the typed confirmation.
        #[arg(long)]
        yes: bool,
        /// The same key twice makes one run.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Who is acting (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// Output of the final report.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Fail back to the primary region after a failover (or resume the interrupted failback):
    /// fence the old primary, reprotect, switch the database back with zero data loss, return
    /// traffic gradually, and put DR back to pilot light. Refused unless DR serves.
    ///
    /// Exit code 0: done; 1: failed, degraded or paused; 2: refused.
    Failback {
        /// The environment config file (TOML); not needed with --server.
        #[arg(long, short, required_unless_present = "server")]
        config: Option<PathBuf>,
        /// Talk to a running control service's API instead of running here (also PILOTLIGHT_SERVER).
        #[arg(long, env = "PILOTLIGHT_SERVER")]
        server: Option<String>,
        /// With --server: a file holding a bearer token (also PILOTLIGHT_TOKEN_FILE).
        #[arg(long, env = "PILOTLIGHT_TOKEN_FILE")]
        token_file: Option<PathBuf>,
        /// Why (recorded in the journal).
        #[arg(long)]
        reason: String,
        /// Do not ask for the typed confirmation.
        #[arg(long)]
        yes: bool,
        /// The same key twice makes one run.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Who is acting (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// Output of the final report.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Which region serves, the environment's phase (normal, failing over, failed over, failing
    /// back, degraded), the last run, and whether DR protection is in place. Reads only.
    ///
    /// Exit code 0: protected and not degraded; 1: otherwise; 2: could not read the config.
    Status {
        /// The environment config file (TOML); not needed with --server.
        #[arg(long, short, required_unless_present = "server")]
        config: Option<PathBuf>,
        /// Talk to a running control service's API instead of running here (also PILOTLIGHT_SERVER).
        #[arg(long, env = "PILOTLIGHT_SERVER")]
        server: Option<String>,
        /// With --server: a file holding a bearer token (also PILOTLIGHT_TOKEN_FILE).
        #[arg(long, env = "PILOTLIGHT_TOKEN_FILE")]
        token_file: Option<PathBuf>,

        /// Output format.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Run the control service: watch the primary from this and remote vantage points, decide
    /// with quorum and hysteresis, re-check DR readiness on a schedule, and fail over (auto), ask
    /// (recommend) or only record (off) when a failure is declared. Stops on Ctrl-C / SIGTERM;
    /// an unfinished run resumes on the next start.
    Serve {
        /// The environment config file (TOML), with a [health] section.
        #[arg(long, short)]
        config: PathBuf,
        /// Address of the HTTP API (observer reports, health).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Several instances: the HA store's journal table (DynamoDB). With it, the instances
        /// elect a leader through --ha-lease-table; only the leader acts (docs/deploying.md).
        #[arg(long, requires = "ha_lease_table")]
        ha_journal_table: Option<String>,
        /// The HA store's lease table (DynamoDB).
        #[arg(long, requires = "ha_journal_table")]
        ha_lease_table: Option<String>,
        /// Region of the HA store's tables (default: the environment's DR region).
        #[arg(long)]
        ha_region: Option<String>,
        /// This instance's unique name, the lease holder (default: host name and process id).
        #[arg(long)]
        instance: Option<String>,
        /// How long a leader's lease lasts without renewal; a successor takes over after it.
        #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
        lease_duration: std::time::Duration,
        /// Tests only: write the lease's informational wall-clock times as if this host's clock
        /// were this many milliseconds off (the election never reads them: scenario clock_skew).
        #[arg(long, hide = true, default_value_t = 0, allow_hyphen_values = true)]
        test_wall_clock_offset_ms: i64,
        /// Several instances: the URL the others reach this instance's API at, advertised in
        /// the lease while it leads, so they forward actions to it (default: http://LISTEN
        /// unless --listen is a wildcard address).
        #[arg(long, requires = "ha_journal_table")]
        advertise_url: Option<String>,
        /// Several instances: a file with the secret (at least 32 bytes) every instance shares,
        /// to forward actions made in a follower's console to the leader. Without it, only
        /// bearer-token actions are forwarded (docs/deploying.md).
        #[arg(long, requires = "ha_journal_table")]
        ha_forward_secret_file: Option<PathBuf>,
    },
    /// Run one vantage point's probes from here and report them to the control service.
    Observer {
        /// The environment config file (TOML), with a [health] section.
        #[arg(long, short)]
        config: PathBuf,
        /// This observer's vantage point id (`[[health.vantage_points]]`).
        #[arg(long)]
        vantage: String,
        /// The control service's URL, e.g. http://10.0.0.5:8080; repeat it for several
        /// instances (every instance receives every report).
        #[arg(long, required = true)]
        control: Vec<String>,
        /// File holding this observer's bearer token (its SHA-256 is in the config).
        #[arg(long)]
        token_file: PathBuf,
    },
    /// Acknowledge an automatic run: until then, the trigger starts no other automatic run.
    Ack {
        /// Run id.
        run_id: String,
        /// Who acknowledges (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// What was found.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Resume an interrupted or paused run.
    Resume {
        /// Run id.
        run_id: String,
        /// The environment config file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Who is acting (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// Output of the final report.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// List runs, or show one.
    Runs {
        /// `show ID` for one run's timeline.
        #[command(subcommand)]
        command: Option<RunsCommand>,
        /// Talk to a running control service's API instead of running here (also PILOTLIGHT_SERVER).
        #[arg(long, env = "PILOTLIGHT_SERVER")]
        server: Option<String>,
        /// With --server: a file holding a bearer token (also PILOTLIGHT_TOKEN_FILE).
        #[arg(long, env = "PILOTLIGHT_TOKEN_FILE")]
        token_file: Option<PathBuf>,

        /// Output format.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Pause a run: running steps finish, no new step starts.
    Pause {
        /// Run id.
        run_id: String,
        /// Who is acting (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Abort a run: running steps finish, nothing new starts, the run ends aborted.
    Abort {
        /// Run id.
        run_id: String,
        /// Who is acting (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Approve a manual-approval step.
    Approve {
        /// Run id.
        run_id: String,
        /// Step (node) id.
        step: String,
        /// Who approves (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// The API's audit log: `audit verify` walks its hash chain.
    Audit {
        /// What to do with the audit log.
        #[command(subcommand)]
        command: AuditCommand,
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
        /// Exit after the readiness check instead of running the control service and console.
        #[arg(long)]
        check_only: bool,
        /// Address of the control service and console.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Accepted for compatibility: staying up is the default now.
        #[arg(long, hide = true)]
        stay: bool,
    },
    /// Run a DR drill: canaries written in the primary (RPO), then either the real failover and
    /// failback (full mode, not for production) or copies of the DR database and compute made,
    /// verified and removed (isolated mode, nothing serving touched), timed throughout; the
    /// report (HTML, Markdown, JSON) is written to DIR and kept in the journal.
    ///
    /// A drill whose process stopped before it ended (killed, its host lost) has no report and
    /// blocks the next drill; `--recover DRILL_ID` ends it: what carries its id in DR is removed
    /// and an interrupted report is stored.
    ///
    /// Exit code 0: the drill passed (with `--recover`: nothing was left behind); 1: it failed
    /// (something was left behind); 2: it could not run.
    Drill {
        /// The environment config file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// `full`: the real failover and failback (not for production); `isolated`: non-disruptive.
        #[arg(long, value_enum, required_unless_present = "recover")]
        mode: Option<drill::DrillMode>,
        /// End the unfinished drill DRILL_ID instead of starting one: remove what carries its id
        /// in the DR region and store its interrupted report.
        #[arg(long, value_name = "DRILL_ID", conflicts_with = "mode")]
        recover: Option<String>,
        /// Directory for report.html, report.md and report.json.
        #[arg(long, value_name = "DIR")]
        report: PathBuf,
        /// Do not ask for the typed confirmation.
        #[arg(long)]
        yes: bool,
        /// Who runs the drill (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// Canaries written per data store before the failure point.
        #[arg(long, default_value_t = 3)]
        canaries: u32,
        /// Time between two canaries of a store.
        #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
        canary_interval: std::time::Duration,
        /// Isolated mode: longest wait for one copy to verify (an RDS restore takes many minutes
        /// in AWS), and again for the removed copies to leave the resource lists.
        #[arg(long, default_value = "60m", value_parser = humantime::parse_duration)]
        copy_timeout: std::time::Duration,
        /// Isolated mode: time between two checks of a copy.
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        poll: std::time::Duration,
    },
    /// Game day in the sandbox: inject an outage of the primary region through the emulator
    /// (its services answer 503, the probed Route 53 health checks report unhealthy), let the
    /// health watch and the automatic trigger of `[health]` detect it and fail over, and measure
    /// detection, decision, database, compute and DNS. Injected faults are removed at the end.
    ///
    /// Exit code 0: it passed; 1: it failed; 2: it could not run (not the sandbox emulator, no
    /// `[health]` with `mode = "auto"`, an active run).
    Gameday {
        /// The environment config file (TOML): the sandbox's, with a `[health]` section.
        #[arg(long, short)]
        config: PathBuf,
        /// Directory for report.html, report.md and report.json.
        #[arg(long, value_name = "DIR")]
        report: PathBuf,
        /// Who runs the game day (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// How long to wait, from the injection, for the declaration and the failover's end.
        #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
        /// Canaries written per data store before the injection.
        #[arg(long, default_value_t = 3)]
        canaries: u32,
        /// Time between two canaries of a store.
        #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
        canary_interval: std::time::Duration,
    },
    /// List stored drills (date, mode, pass/fail, RTO, RPO) and when the next annual drill is due.
    ///
    /// Exit code 0: every environment listed has a passing drill within 12 months; 1: a drill is due.
    Drills {
        /// Only this environment (its config file).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Runbooks for people: `runbook render` prints the procedure of a runbook with the exact
    /// AWS CLI commands, for when Pilotlight itself cannot run.
    Runbook {
        /// What to do with the runbook.
        #[command(subcommand)]
        command: render::RunbookCommand,
    },
}

/// `runs` subcommands.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// One run's step timeline with durations.
    Show {
        /// Run id.
        run_id: String,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

/// `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the audit log's hash chain (in the journal given by --journal, or with
    /// --ha-journal-table in the HA store every instance writes) and name the first broken
    /// entry. Exit code 0: intact; 1: broken; 2: could not read.
    Verify {
        /// The HA store's journal table (DynamoDB) holding the audit log of several instances.
        #[arg(long, requires = "config")]
        ha_journal_table: Option<String>,
        /// Region of the HA store's tables (default: the environment's DR region).
        #[arg(long, requires = "ha_journal_table")]
        ha_region: Option<String>,
        /// The environment config (TOML), for the AWS settings and region of the HA store.
        #[arg(long, short)]
        config: Option<PathBuf>,
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
    let paths = runs::Paths {
        journal: cli.journal,
        runbooks: cli.runbooks,
    };
    let code = runtime.block_on(dispatch(&paths, cli.command));
    ExitCode::from(code)
}

async fn dispatch(paths: &runs::Paths, command: Command) -> u8 {
    use pilotlight_core::run::Event;
    let now = runs::now_ms;
    let result = match command {
        Command::Plan {
            runbook,
            config,
            output,
        } => runs::plan(paths, &config, &runbook, output).await,
        Command::Failover {
            config,
            server: Some(server),
            token_file,
            reason,
            planned,
            allow_data_loss,
            override_readiness,
            yes,
            idempotency_key,
            ..
        } => {
            let _ = config;
            remote::start(
                &remote::Remote { server, token_file },
                remote::StartArgs {
                    runbook: "failover",
                    reason,
                    planned,
                    yes,
                    idempotency_key,
                    allow_data_loss,
                    override_readiness,
                },
            )
            .await
        }
        Command::Failback {
            server: Some(server),
            token_file,
            reason,
            yes,
            idempotency_key,
            ..
        } => {
            remote::start(
                &remote::Remote { server, token_file },
                remote::StartArgs {
                    runbook: "failback",
                    reason,
                    planned: true,
                    yes,
                    idempotency_key,
                    allow_data_loss: None,
                    override_readiness: None,
                },
            )
            .await
        }
        Command::Status {
            server: Some(server),
            token_file,
            output,
            ..
        } => remote::status(&remote::Remote { server, token_file }, output).await,
        Command::Runs {
            server: Some(server),
            token_file,
            command,
            output,
        } => {
            let r = remote::Remote { server, token_file };
            match command {
                None => remote::runs(&r, None, output).await,
                Some(RunsCommand::Show { run_id, output }) => {
                    remote::runs(&r, Some(&run_id), output).await
                }
            }
        }
        Command::Failover {
            config: Some(config),
            reason,
            planned,
            unplanned: _,
            allow_data_loss,
            override_readiness,
            yes,
            idempotency_key,
            by,
            output,
            ..
        } => {
            let args = runs::FailoverArgs {
                config,
                reason,
                planned,
                allow_data_loss,
                override_readiness,
                yes,
                idempotency_key,
                by: runs::operator(by),
                output,
            };
            runs::failover(paths, args).await
        }
        Command::Failback {
            config: Some(config),
            reason,
            yes,
            idempotency_key,
            by,
            output,
            ..
        } => {
            let args = runs::FailoverArgs {
                config,
                reason,
                planned: true,
                allow_data_loss: None,
                override_readiness: None,
                yes,
                idempotency_key,
                by: runs::operator(by),
                output,
            };
            runs::failback(paths, args).await
        }
        Command::Status {
            config: Some(config),
            output,
            ..
        } => status::run(paths, &config, output).await,
        Command::Failover { config: None, .. }
        | Command::Failback { config: None, .. }
        | Command::Status { config: None, .. } => {
            eprintln!("pass --config FILE, or --server URL to use a running control service");
            Ok(2)
        }
        Command::Serve {
            config,
            listen,
            ha_journal_table,
            ha_lease_table,
            ha_region,
            instance,
            lease_duration,
            test_wall_clock_offset_ms,
            advertise_url,
            ha_forward_secret_file,
        } => {
            let ha = ha_journal_table
                .zip(ha_lease_table)
                .map(|(journal_table, lease_table)| serve::Ha {
                    journal_table,
                    lease_table,
                    region: ha_region,
                    lease_duration,
                    wall_clock_offset_ms: test_wall_clock_offset_ms,
                    advertise_url,
                    forward_secret_file: ha_forward_secret_file,
                });
            serve::serve(paths, &config, listen, instance, ha).await
        }
        Command::Observer {
            config,
            vantage,
            control,
            token_file,
        } => serve::observer(&config, &vantage, &control, &token_file).await,
        Command::Ack { run_id, by, note } => {
            serve::ack(paths, &run_id, &runs::operator(by), &note).await
        }
        Command::Resume {
            run_id,
            config,
            by,
            output,
        } => runs::resume(paths, &config, &run_id, &runs::operator(by), output).await,
        Command::Runs {
            command: None,
            output,
            ..
        } => runs::list(paths, output).await,
        Command::Runs {
            command: Some(RunsCommand::Show { run_id, output }),
            ..
        } => runs::show(paths, &run_id, output).await,
        Command::Pause { run_id, by } => {
            runs::control(
                paths,
                &run_id,
                Event::Paused {
                    by: runs::operator(by),
                    at_ms: now(),
                },
            )
            .await
        }
        Command::Abort { run_id, by } => {
            runs::control(
                paths,
                &run_id,
                Event::AbortRequested {
                    by: runs::operator(by),
                    at_ms: now(),
                },
            )
            .await
        }
        Command::Approve { run_id, step, by } => {
            runs::control(
                paths,
                &run_id,
                Event::Approved {
                    node: step,
                    by: runs::operator(by),
                    at_ms: now(),
                },
            )
            .await
        }
        Command::Check { config, output } => check::run(&config, output).await,
        Command::Audit {
            command:
                AuditCommand::Verify {
                    ha_journal_table,
                    ha_region,
                    config,
                },
        } => match (ha_journal_table, config) {
            (Some(table), Some(config)) => {
                audit_verify_ha(&config, &table, ha_region.as_deref()).await
            }
            _ => audit_verify(paths).await,
        },
        Command::Drill {
            config,
            mode,
            recover,
            report,
            yes,
            by,
            canaries,
            canary_interval,
            copy_timeout,
            poll,
        } => {
            let args = drill::DrillArgs {
                config,
                mode: mode.unwrap_or(drill::DrillMode::Isolated),
                report,
                yes,
                by: runs::operator(by),
                canaries,
                canary_interval,
                copy_timeout,
                poll,
            };
            match recover {
                Some(id) => drill::recover(paths, args, &id).await,
                None => drill::drill(paths, args).await,
            }
        }
        Command::Drills { config, output } => drill::list(paths, config.as_deref(), output).await,
        Command::Gameday {
            config,
            report,
            by,
            timeout,
            canaries,
            canary_interval,
        } => {
            let args = gameday::GamedayArgs {
                config,
                report,
                by: runs::operator(by),
                timeout,
                canaries,
                canary_interval,
            };
            gameday::gameday(paths, args).await
        }
        Command::Sandbox {
            command: SandboxCommand::Up { endpoint, out },
        } => sandbox::up(&endpoint, &out).await,
        Command::Sandbox {
            command: SandboxCommand::Emulator { port },
        } => sandbox::emulator(port).await,
        Command::Demo {
            port,
            out,
            check_only,
            listen,
            stay: _,
        } => sandbox::demo(paths, port, &out, !check_only, listen).await,
        Command::Runbook {
            command:
                render::RunbookCommand::Render {
                    config,
                    runbook,
                    format,
                },
        } => render::run(paths, &config, &runbook, format),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    }
}

/// `pilotlight audit verify --ha-journal-table T --config F`: the HA store's audit log.
async fn audit_verify_ha(
    config: &std::path::Path,
    table: &str,
    region: Option<&str>,
) -> anyhow::Result<u8> {
    use pilotlight_core::audit::AuditLog;
    let env = match runs::load_config(config) {
        Ok(e) => e,
        Err(code) => return Ok(code),
    };
    let region = region.unwrap_or(&env.regions.dr).to_string();
    let w = runs::wire(&env);
    let journal =
        pilotlight_store::DynamoJournal::connect(&w.factory, w.caller.clone(), &region, table)
            .await;
    let entries = match journal.audit_entries(0, usize::MAX).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot read the audit log in {table} ({region}): {e}");
            return Ok(2);
        }
    };
    Ok(verdict(
        &entries,
        &format!("the HA store's table {table} ({region})"),
    ))
}

/// Print the chain's state; the exit code (0 intact, 1 broken).
fn verdict(entries: &[pilotlight_core::audit::AuditEntry], place: &str) -> u8 {
    match pilotlight_core::audit::verify_chain(entries) {
        Ok(()) => {
            println!("audit log intact: {} entries in {place}", entries.len());
            0
        }
        Err(b) => {
            println!("audit log BROKEN at entry {}: {}", b.seq, b.problem);
            println!(
                "keep a copy of {place} for investigation; entries after {} cannot be trusted",
                b.seq
            );
            1
        }
    }
}

/// `pilotlight audit verify`.
async fn audit_verify(paths: &runs::Paths) -> anyhow::Result<u8> {
    use pilotlight_core::audit::AuditLog;
    if !paths.journal.exists() {
        eprintln!(
            "no journal at {}: pass --journal (or PILOTLIGHT_JOURNAL)",
            paths.journal.display()
        );
        return Ok(2);
    }
    let journal = pilotlight_store::SqliteJournal::open(&paths.journal)?;
    let entries = journal.audit_entries(0, usize::MAX).await?;
    Ok(verdict(&entries, &paths.journal.display().to_string()))
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
