//! The durable executor. It runs a plan's DAG with bounded parallelism; for every node it
//! persists intent, reads the live state, acts only if needed, verifies, and persists the
//! result. A run's state is always the replay of its journal, so a process killed at any point
//! resumes by replaying and re-entering interrupted nodes, reading live state before acting and
//! never re-sending a one-shot action (a promotion) that the journal records as sent.

pub mod clock;
pub mod crashpoint;
pub mod executor;
mod node;

pub use clock::{Clock, SystemClock};
pub use executor::{
    control, new_run_id, Capabilities, ExecError, Executor, ExecutorSettings, LogNotifier,
    StartRequest, Started,
};
