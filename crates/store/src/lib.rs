//! Pilotlight's durable journal of runs, their events and the decisions people made:
//! [`SqliteJournal`], the SQLite implementation of [`pilotlight_core::journal::Journal`];
//! [`DynamoJournal`], the DynamoDB implementation of the highly available store, with fencing;
//! the [`Lease`] (leader election, [`DynamoLease`]); and (with the `conformance` feature) the
//! suite every journal implementation must pass.
//!
//! ```no_run
//! use pilotlight_core::journal::Journal;
//! # async fn demo() -> Result<(), pilotlight_core::journal::JournalError> {
//! let journal = pilotlight_store::SqliteJournal::open(std::path::Path::new("journal.db"))?;
//! for run in journal.runs(None, 10).await? {
//!     println!("{} {}", run.id, run.status.label());
//! }
//! # Ok(()) }
//! ```
//!
//! Architecture invariant: the journal records, it does not decide. Events and decisions are
//! append-only; the only derived state is a run's status, which follows [`status_after`].

mod drills;
pub mod dynamodb;
mod error;
pub mod lease;
mod schema;
mod sqlite;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use dynamodb::{DynamoError, DynamoJournal, Fence};
pub use lease::{DynamoLease, Grant, Lease, LeaseError};
pub use schema::SCHEMA_VERSION;
pub use sqlite::{OpenOptions, SqliteJournal, DEFAULT_BUSY_TIMEOUT};

use pilotlight_core::run::{Event, RunStatus};

/// The run status a journal stores after appending `event` to a run whose stored status is
/// `current`, or `None` if it does not change. Mirrors [`pilotlight_core::run::RunState::apply`],
/// so the stored status always equals the status of the replayed events: `RunFinished` sets its
/// status; once a run is final nothing else changes it (so a finished run never becomes active
/// again); `Paused` pauses a running run, `Resumed` resumes a paused one, and `AbortRequested`
/// makes an active run `aborting`. Every journal implementation applies this rule.
pub fn status_after(current: RunStatus, event: &Event) -> Option<RunStatus> {
    let next = match event {
        Event::RunFinished { status, .. } => *status,
        _ if current.is_final() => return None,
        Event::Paused { .. } if current == RunStatus::Running => RunStatus::Paused,
        Event::Resumed { .. } if current == RunStatus::Paused => RunStatus::Running,
        Event::AbortRequested { .. } => RunStatus::Aborting,
        _ => return None,
    };
    (next != current).then_some(next)
}
