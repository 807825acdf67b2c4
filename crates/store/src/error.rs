//! Mapping of SQLite failures onto [`JournalError`]: busy → `Locked`, damaged → `Corrupt`,
//! no space → `Full`, anything else → `Other`; every error names the journal's path.

use pilotlight_core::journal::JournalError;
use rusqlite::{Connection, ErrorCode};

/// A failure inside one journal operation, before it is given the journal's path.
#[derive(Debug)]
pub(crate) enum Fail {
    /// SQLite (or rusqlite) refused.
    Sql(rusqlite::Error),
    /// A stored value cannot be decoded (bad JSON, unknown status, negative time).
    Corrupt(String),
    /// Anything else that is not the database's fault (e.g. a value too large to store).
    Other(String),
    /// Already a journal error (`NotFound`, `ActiveRunExists`).
    Journal(JournalError),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Sql(e)
    }
}

impl From<JournalError> for Fail {
    fn from(e: JournalError) -> Self {
        Fail::Journal(e)
    }
}

/// What kind of journal error a SQLite failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Locked,
    Corrupt,
    Full,
    Other,
}

/// Classify a SQLite primary result code; `sys_errno` is the OS error behind an I/O error.
pub(crate) fn classify(code: ErrorCode, sys_errno: Option<i32>) -> Class {
    match code {
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => Class::Locked,
        ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => Class::Corrupt,
        ErrorCode::DiskFull => Class::Full,
        ErrorCode::SystemIoFailure
            if sys_errno.is_some_and(|n| {
                n != 0
                    && std::io::Error::from_raw_os_error(n).kind()
                        == std::io::ErrorKind::StorageFull
            }) =>
        {
            Class::Full
        }
        _ => Class::Other,
    }
}

/// The OS error number SQLite recorded for the connection's last I/O error (0 when none).
fn system_errno(conn: &Connection) -> i32 {
    // SAFETY: `handle` is the live connection's own pointer, used only for the duration of
    // this call while `conn` is borrowed; `sqlite3_system_errno` only reads a field of it.
    unsafe { rusqlite::ffi::sqlite3_system_errno(conn.handle()) }
}

impl Fail {
    /// Whether another connection holds a lock this one needs (`SQLITE_BUSY`/`SQLITE_LOCKED`).
    pub(crate) fn is_busy(&self) -> bool {
        matches!(self, Fail::Sql(rusqlite::Error::SqliteFailure(f, _))
            if classify(f.code, None) == Class::Locked)
    }

    /// The journal error for this failure at `path`; `conn` (when there is one) supplies the
    /// OS error behind an I/O failure (a failed fsync with ENOSPC is a full disk).
    pub(crate) fn into_journal(self, conn: Option<&Connection>, path: &str) -> JournalError {
        let path = path.to_string();
        match self {
            Fail::Journal(e) => e,
            Fail::Corrupt(detail) => JournalError::Corrupt { path, detail },
            Fail::Other(detail) => JournalError::Other { path, detail },
            Fail::Sql(e) => {
                let detail = e.to_string();
                let class = match &e {
                    rusqlite::Error::SqliteFailure(f, _) => {
                        let errno = (f.code == ErrorCode::SystemIoFailure)
                            .then(|| conn.map(system_errno))
                            .flatten();
                        classify(f.code, errno)
                    }
                    // A row whose columns do not have the types the schema promises.
                    rusqlite::Error::FromSqlConversionFailure(..)
                    | rusqlite::Error::InvalidColumnType(..)
                    | rusqlite::Error::IntegralValueOutOfRange(..)
                    | rusqlite::Error::Utf8Error(..) => Class::Corrupt,
                    _ => Class::Other,
                };
                match class {
                    Class::Locked => JournalError::Locked { path, detail },
                    Class::Corrupt => JournalError::Corrupt { path, detail },
                    Class::Full => JournalError::Full { path, detail },
                    Class::Other => JournalError::Other { path, detail },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes_map_onto_journal_errors() {
        use Class::*;
        let cases = [
            (ErrorCode::DatabaseBusy, None, Locked),
            (ErrorCode::DatabaseLocked, None, Locked),
            (ErrorCode::DatabaseCorrupt, None, Corrupt),
            (ErrorCode::NotADatabase, None, Corrupt),
            (ErrorCode::DiskFull, None, Full),
            // ENOSPC behind an I/O error (e.g. a failed fsync) is a full disk.
            (ErrorCode::SystemIoFailure, Some(28), Full),
            (ErrorCode::SystemIoFailure, Some(5), Other),
            (ErrorCode::SystemIoFailure, Some(0), Other),
            (ErrorCode::SystemIoFailure, None, Other),
            (ErrorCode::ConstraintViolation, None, Other),
            (ErrorCode::CannotOpen, None, Other),
            (ErrorCode::ReadOnly, None, Other),
        ];
        for (code, errno, want) in cases {
            assert_eq!(classify(code, errno), want, "{code:?} errno {errno:?}");
        }
    }

    #[test]
    fn every_error_names_the_path() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("database is locked".into()),
        );
        let e = Fail::Sql(busy).into_journal(None, "/var/lib/pilotlight/journal.db");
        assert!(matches!(e, JournalError::Locked { .. }), "{e:?}");
        assert!(e.is_retryable());
        assert!(
            e.to_string().contains("/var/lib/pilotlight/journal.db"),
            "{e}"
        );
        let bad = Fail::Corrupt("bad JSON".into()).into_journal(None, "j.db");
        assert!(bad.to_string().contains("j.db") && bad.to_string().contains("bad JSON"));
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let e = Fail::Sql(full).into_journal(None, "j.db");
        assert!(matches!(e, JournalError::Full { .. }), "{e:?}");
    }
}
