//! The errors of loading a config: the file could not be read, or it is invalid (with one
//! [`Diagnostic`] per problem, each naming file, line, column and field, and saying how to fix it).

use serde::Serialize;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// One problem in a config file, located and explained.
///
/// Displays as `FILE:LINE:COL: FIELD: MESSAGE` followed by `  fix: FIX` on the next line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file, as the operator named it.
    pub file: String,
    /// 1-based line of the offending key (or table header, or value).
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Dotted path of the field, e.g. `ecs_services[1].active_count`; `(syntax)` when the TOML
    /// itself is malformed and no field can be named, `(top level)` for the file as a whole.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to change, concretely.
    pub fix: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}\n  fix: {}",
            self.file, self.line, self.column, self.field, self.message, self.fix
        )
    }
}

/// Why a config could not be loaded. Every variant is terminal: a person must change the file
/// (or the path) before trying again.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is missing or unreadable.
    #[error("{}", render_io(path, source))]
    Io {
        /// The path that was read.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file was read but is not a valid environment config.
    #[error("{}", render_problems(problems))]
    Invalid {
        /// The file, as the operator named it.
        file: String,
        /// Every problem found, in file order (at least one).
        problems: Vec<Diagnostic>,
    },
}

impl ConfigError {
    /// Whether trying again could succeed without a person changing something: never, for a
    /// config error.
    pub fn is_retryable(&self) -> bool {
        false
    }

    /// The diagnostics of an [`ConfigError::Invalid`] error; empty for an I/O error.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Io { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

fn render_problems(problems: &[Diagnostic]) -> String {
    problems
        .iter()
        .map(Diagnostic::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn render_io(path: &Path, source: &io::Error) -> String {
    let shown = path.display();
    let fix = match source.kind() {
        io::ErrorKind::NotFound => {
            let cwd = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "?".to_string());
            format!(
                "check the path (a relative path is resolved from {cwd}), or create the file: \
                 docs/examples/environment.toml is a complete example to start from"
            )
        }
        io::ErrorKind::PermissionDenied => {
            format!("make the file readable by this user, e.g. `chmod u+r {shown}`")
        }
        io::ErrorKind::IsADirectory => {
            format!("`{shown}` is a directory: pass the path of the TOML file inside it")
        }
        io::ErrorKind::InvalidData => format!("save `{shown}` as UTF-8 text"),
        _ => format!("make sure `{shown}` is a readable TOML file, then run the command again"),
    };
    format!("{shown}: cannot read the environment config: {source}\n  fix: {fix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnostic(line: usize) -> Diagnostic {
        Diagnostic {
            file: "env.toml".to_string(),
            line,
            column: 1,
            field: "regions.dr".to_string(),
            message: "bad".to_string(),
            fix: "change it".to_string(),
        }
    }

    #[test]
    fn invalid_displays_every_diagnostic() {
        let err = ConfigError::Invalid {
            file: "env.toml".to_string(),
            problems: vec![diagnostic(3), diagnostic(7)],
        };
        assert_eq!(
            err.to_string(),
            "env.toml:3:1: regions.dr: bad\n  fix: change it\nenv.toml:7:1: regions.dr: bad\n  fix: change it"
        );
        assert_eq!(err.diagnostics().len(), 2);
        assert!(!err.is_retryable());
    }

    #[test]
    fn io_names_the_file_and_the_fix() {
        let cases = [
            (io::ErrorKind::NotFound, "check the path"),
            (io::ErrorKind::PermissionDenied, "chmod u+r conf/env.toml"),
            (io::ErrorKind::IsADirectory, "is a directory"),
            (io::ErrorKind::InvalidData, "UTF-8"),
            (io::ErrorKind::Other, "readable TOML file"),
        ];
        for (kind, fix) in cases {
            let err = ConfigError::Io {
                path: PathBuf::from("conf/env.toml"),
                source: io::Error::from(kind),
            };
            let text = err.to_string();
            assert!(
                text.starts_with("conf/env.toml: cannot read the environment config: "),
                "{text}"
            );
            assert!(
                text.contains("\n  fix: ") && text.contains(fix),
                "{kind:?}: {text}"
            );
            assert!(!err.is_retryable());
            assert!(err.diagnostics().is_empty());
        }
    }
}
