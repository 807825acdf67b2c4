//! DR drills: the report a drill produces and everything around it that does not touch AWS.
//!
//! - [`model`]: the report ([`DrillReport`]): phases with durations and the RTO against the
//!   environment's objective, RPO per store measured with canaries, every step with its timings
//!   and errors, approvals and overrides, resources an isolated drill created and removed, the
//!   verdict with its reasons, and the trend against earlier drills;
//! - [`build`]: pure functions that fill it from journal records (phases from steps, the verdict);
//! - [`canary`]: the narrow [`canary::CanaryStore`] trait (write a timestamped canary in the
//!   primary, look for it in DR) and the RPO measurement over a set of stores;
//! - [`render`]: JSON (validated against `schema/drill-report.schema.json`), Markdown and one
//!   self-contained HTML page with an inline SVG timeline;
//! - [`store`]: the [`store::DrillReports`] trait (save, list, get), kept apart from the run
//!   `Journal` so that journals that do not keep drills need not implement it;
//! - [`schedule`]: when the next annual drill is due;
//! - [`isolated`]: the [`isolated::DrillCopies`] trait of an isolated drill and the copies it makes.
//!
//! Invariants: nothing here calls AWS or reads a clock (times are passed in); a number in a
//! report is either measured or absent, with a note saying why (never estimated silently); the
//! verdict lists every reason it failed.
//!
//! This crate is the library API for drills: the CLI (`pilotlight drill`, `pilotlight drills`)
//! uses it, and a console or HTTP API can list and fetch reports through [`store::DrillReports`]
//! and render them with [`render`] the same way.

pub mod build;
pub mod canary;
pub mod conduct;
pub mod isolated;
pub mod model;
pub mod render;
pub mod schedule;
pub mod store;

pub use model::*;
