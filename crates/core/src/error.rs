//! The error every capability (AWS adapter or fake) returns, classified so that the one retry
//! layer and the operator both know what to do with it.

use serde::{Deserialize, Serialize};

/// How an error should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Throttling, 5xx, timeouts, a conflicting change still in progress: retry with backoff.
    Retryable,
    /// The endpoint could not be reached at all (DNS, connection refused) after retries.
    Unreachable,
    /// Credentials missing, expired, invalid or without permission: a person must fix them.
    Credentials,
    /// Anything else the service rejected: retrying will not help.
    Terminal,
}

impl ErrorClass {
    /// Whether the retry layer may try again.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::Retryable)
    }
}

/// An error from an external capability, with the context an operator needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{service} {operation} in {region} failed: {message} (next: {hint})")]
pub struct CapabilityError {
    /// Classification for retries and exit codes.
    pub class: ErrorClass,
    /// AWS service (e.g. `rds`).
    pub service: String,
    /// Region of the call.
    pub region: String,
    /// API operation (e.g. `DescribeDBInstances`).
    pub operation: String,
    /// The service's error code, when it sent one (e.g. `ThrottlingException`).
    pub code: Option<String>,
    /// What went wrong, as the service said it.
    pub message: String,
    /// What the operator should do next.
    pub hint: String,
}

impl CapabilityError {
    /// Whether the retry layer may try again.
    pub fn is_retryable(&self) -> bool {
        self.class.is_retryable()
    }
}
