//! The journal conformance suite against the SQLite journal, in memory and on disk, on the
//! current-thread and multi-thread Tokio runtimes.

use pilotlight_store::{conformance, SqliteJournal};

#[tokio::test]
async fn in_memory_journal_conforms() {
    let j = SqliteJournal::open_in_memory().unwrap();
    conformance::run_all(&j).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_journal_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let j = SqliteJournal::open(&dir.path().join("journal.db")).unwrap();
    conformance::run_all(&j).await;
}

#[test]
fn conforms_outside_a_tokio_runtime() {
    // Without a runtime the calls run inline.
    let j = SqliteJournal::open_in_memory().unwrap();
    futures::executor::block_on(conformance::run_all(&j));
}
