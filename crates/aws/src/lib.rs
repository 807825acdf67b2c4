//! AWS adapters for Pilotlight's capability traits, and the one AWS access layer they share:
//! a client factory, a retry/backoff/rate-limit layer and the classification of SDK errors.
//!
//! Architecture invariant: every AWS call goes through [`retry::Caller`], so retries, backoff and
//! rate limits live in exactly one place; SDK-level retries are disabled in [`client`].

#![warn(missing_docs)]

pub mod actions;
pub mod canary;
pub mod client;
pub mod copies;
pub mod error;
pub mod health;
pub mod notify;
pub mod permissions;
pub mod readiness;
pub mod retry;
mod route53;

pub use actions::AwsActuator;
pub use client::ClientFactory;
pub use copies::AwsCopies;
pub use error::classify;
pub use readiness::AwsReadiness;
pub use retry::{Caller, RetryPolicy};
