//! Loads and validates Pilotlight's environment config (TOML): syntax and shape through serde,
//! then semantic checks, with every problem reported as `FILE:LINE:COL: FIELD: MESSAGE` and a
//! concrete fix. The reference of the format is `docs/configuration.md`.
//!
//! ```no_run
//! let cfg = pilotlight_config::load(std::path::Path::new("environment.toml"))?;
//! println!("{} resources", cfg.resources().len());
//! # Ok::<(), pilotlight_config::ConfigError>(())
//! ```

#![warn(missing_docs)]

mod decode;
mod error;
mod locate;
mod regions;
mod suggest;
mod validate;

#[cfg(test)]
mod tests;

pub use error::{ConfigError, Diagnostic};
pub use regions::AWS_REGIONS;
pub use validate::{validate, Problem};

use locate::SpanIndex;
use pilotlight_core::model::EnvironmentConfig;
use pilotlight_core::runbook::Runbook;
use std::path::Path;

/// Read and parse the runbook at `path` (shape and types; the plan builder validates it against
/// an environment). Errors name the file, line, column and field, like the environment config's.
pub fn load_runbook(path: &Path) -> Result<Runbook, ConfigError> {
    let source = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_runbook(&source, &path.display().to_string())
}

/// Parse runbook text; `file` is the name shown in diagnostics.
pub fn parse_runbook(source: &str, file: &str) -> Result<Runbook, ConfigError> {
    let index = SpanIndex::build(source);
    toml::from_str(source).map_err(|err| ConfigError::Invalid {
        file: file.to_string(),
        problems: vec![decode::diagnostic(&err, source, file, &index)],
    })
}

/// Read the environment config at `path` and [`parse`] it; diagnostics name the file as `path`
/// was given.
pub fn load(path: &Path) -> Result<EnvironmentConfig, ConfigError> {
    let source = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&source, &path.display().to_string())
}

/// Parse and [`validate`] the environment config `source`; `file` is the name shown in
/// diagnostics. On error, every semantic problem is reported (a syntax or type error stops
/// parsing at the first one), sorted by position in the file.
pub fn parse(source: &str, file: &str) -> Result<EnvironmentConfig, ConfigError> {
    let index = SpanIndex::build(source);
    let cfg: EnvironmentConfig = match toml::from_str(source) {
        Ok(cfg) => cfg,
        Err(err) => {
            let problems = vec![decode::diagnostic(&err, source, file, &index)];
            return Err(ConfigError::Invalid {
                file: file.to_string(),
                problems,
            });
        }
    };
    let mut problems: Vec<Diagnostic> = validate(&cfg)
        .into_iter()
        .map(|p| {
            let (line, column) = locate::line_col(source, index.offset_of(&p.field));
            Diagnostic {
                file: file.to_string(),
                line,
                column,
                field: p.field,
                message: p.message,
                fix: p.fix,
            }
        })
        .collect();
    if problems.is_empty() {
        return Ok(cfg);
    }
    problems.sort_by_key(|d| (d.line, d.column));
    Err(ConfigError::Invalid {
        file: file.to_string(),
        problems,
    })
}
