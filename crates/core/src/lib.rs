//! Pilotlight's pure core: the environment model, readiness facts and their evaluation, and the
//! capability traits that adapters implement.
//!
//! Architecture invariant: nothing in this crate performs I/O (no tokio, no AWS SDK, no files,
//! no clocks). Every function here is a pure function over data and can be tested exhaustively
//! without a network or an emulator.

pub mod access;
pub mod audit;
pub mod backoff;
pub mod capability;
pub mod error;
pub mod health;
pub mod journal;
pub mod model;
pub mod plan;
pub mod readiness;
pub mod run;
pub mod runbook;

pub use error::{CapabilityError, ErrorClass};
