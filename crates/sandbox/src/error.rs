//! The sandbox's one error type, and [`Call`]: every AWS call of the sandbox goes through the
//! shared retry layer (`pilotlight_aws::Caller`, which classifies SDK errors) and comes back
//! naming the resource, the call and what to do next.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use pilotlight_aws::Caller;
use pilotlight_core::{CapabilityError, ErrorClass};
use std::future::Future;

/// Everything that can stop `pilotlight sandbox up` or the metric publisher.
///
/// Every message says what was being done (the resource and the call, or the option) and ends
/// with what the operator can do. Re-running `up` is always safe: it only creates what is missing.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The endpoint's host is not a loopback address: the sandbox would talk to something that
    /// might be real AWS and create billable resources.
    #[error(
        "refusing endpoint `{endpoint}`: its host is not a loopback address (127.0.0.0/8, localhost, ::1); \
         the sandbox only builds its world in a local emulator so it can never create billable AWS resources. \
         start an emulator locally (`pilotlight sandbox emulator`, or `moto_server -H 127.0.0.1 -p 5000`) \
         and pass its loopback endpoint (e.g. `--endpoint http://127.0.0.1:4566`)"
    )]
    NonLoopbackEndpoint {
        /// The endpoint as given.
        endpoint: String,
    },

    /// The endpoint is not a usable `http(s)://host:port` URL.
    #[error("invalid emulator endpoint `{endpoint}`: {reason}; pass a URL such as `http://127.0.0.1:5000`")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The sandbox options cannot produce valid resource names.
    #[error("invalid sandbox option {option} = `{value}`: {reason}")]
    InvalidOptions {
        /// Which option (`name`, `primary`, `dr`).
        option: &'static str,
        /// The value given.
        value: String,
        /// Why it is rejected and what to use instead.
        reason: String,
    },

    /// An AWS API call (against the emulator) failed.
    #[error(transparent)]
    Aws(Box<AwsCallError>),

    /// A request could not be built (a required field was missing). A bug in the sandbox.
    #[error("could not build the {operation} request for {resource}: {source}; this is a bug in pilotlight-sandbox, please report it")]
    Request {
        /// The resource the request was for.
        resource: String,
        /// The API operation.
        operation: &'static str,
        /// The builder's complaint.
        #[source]
        source: aws_smithy_types::error::operation::BuildError,
    },

    /// A call succeeded but its answer lacked a field the sandbox needs (an id or an ARN).
    #[error(
        "{operation} for {resource} in {region} answered without {field}; the emulator's answer is incomplete. \
         Check that the emulator is moto 5.x (or the pilotlight testkit emulator) and re-run"
    )]
    MissingField {
        /// The resource concerned.
        resource: String,
        /// The API operation.
        operation: &'static str,
        /// Region of the call.
        region: String,
        /// The missing field (e.g. `DBInstanceArn`).
        field: &'static str,
    },

    /// A resource with the sandbox's name exists but is not what the sandbox builds. The sandbox
    /// never changes or deletes existing resources, so it stops.
    #[error(
        "{resource} exists but {detail}; the sandbox never modifies or deletes existing resources. \
         Delete it in the emulator (or reset the emulator: `POST /moto-api/reset`) and re-run"
    )]
    Conflict {
        /// The resource concerned (with its region).
        resource: String,
        /// Region of the resource.
        region: String,
        /// How it differs from what the sandbox builds.
        detail: String,
    },

    /// The environment config could not be rendered as TOML.
    #[error("could not render the environment config as TOML: {0}; this is a bug in pilotlight-sandbox, please report it")]
    Render(#[from] toml::ser::Error),
}

impl SandboxError {
    /// Whether running the same thing again may succeed without anyone changing anything
    /// (throttling or a failing emulator, after the retry layer gave up).
    pub fn is_retryable(&self) -> bool {
        matches!(self, SandboxError::Aws(e) if e.source.is_retryable())
    }
}

/// A failed AWS API call (against the emulator): the resource it was for, the classified error
/// from the shared retry layer (`pilotlight_aws::Caller`), and what to do about it in the sandbox.
#[derive(Debug, thiserror::Error)]
#[error("{resource}: {source}. In the sandbox: {next}")]
pub struct AwsCallError {
    /// The resource being created or inspected (e.g. `ecs service confer/confer-api in us-east-1`).
    pub resource: String,
    /// The classified error: service, operation, region, code, message, class and hint.
    pub source: CapabilityError,
    /// What to do next, in sandbox terms.
    pub next: &'static str,
}

/// What to do next about an error of `class`, in sandbox terms.
fn next_step(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::Retryable => {
            "the emulator was busy or failing; re-run `pilotlight sandbox up` (it only creates what is missing)"
        }
        ErrorClass::Unreachable => {
            "is the emulator running on the endpoint given? Start it (e.g. `moto_server -H 127.0.0.1 -p 5000`) \
             and re-run `pilotlight sandbox up`"
        }
        ErrorClass::Credentials => {
            "the sandbox signs with static `test` credentials, which an emulator accepts; check that the \
             endpoint really is an emulator"
        }
        ErrorClass::Terminal => {
            "the emulator rejected the request; check its version (moto 5.x is expected) and its log. If the \
             resource was changed by hand, delete it in the emulator (or reset it) and re-run"
        }
    }
}

/// Error codes that mean "it is already there" (a repeated or racing create).
pub(crate) const ALREADY_EXISTS_CODES: &[&str] = &[
    "AlreadyExists",
    "AlreadyExistsFault",
    "AlreadyExistsException",
    "ResourceInUseException",
    "DBInstanceAlreadyExists",
    "DBParameterGroupAlreadyExists",
    "DBInstanceAlreadyExistsFault",
    "BucketAlreadyOwnedByYou",
    "InvalidLaunchTemplateName.AlreadyExistsException",
    "HostedZoneAlreadyExists",
    "HealthCheckAlreadyExists",
    "ReplicaAlreadyExistsException",
];

/// One AWS call of the sandbox: which service, operation, resource and region. Every call goes
/// through the shared retry layer ([`Caller`]): rate-limited, classified, retried with backoff.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    caller: &'a Caller,
    service: &'static str,
    operation: &'static str,
    resource: &'a str,
    region: &'a str,
}

impl<'a> Call<'a> {
    /// `operation` of `service` in `region`, about `resource`.
    pub fn new(
        caller: &'a Caller,
        service: &'static str,
        operation: &'static str,
        resource: &'a str,
        region: &'a str,
    ) -> Self {
        Call {
            caller,
            service,
            operation,
            resource,
            region,
        }
    }

    /// Make the call; any error (after retries) becomes a [`SandboxError::Aws`].
    pub async fn send<T, E, F, Fut>(&self, f: F) -> Result<T, SandboxError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    {
        self.caller
            .call(self.service, self.region, self.operation, f)
            .await
            .map_err(|e| self.wrap(e))
    }

    /// Make a create call; `Ok(None)` when the service answers that the resource already exists.
    pub async fn create<T, E, F, Fut>(&self, f: F) -> Result<Option<T>, SandboxError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    {
        let exists = |code: Option<&str>, _: Option<&str>| {
            code.is_some_and(|c| ALREADY_EXISTS_CODES.contains(&c))
        };
        self.caller
            .call_opt_if(self.service, self.region, self.operation, exists, f)
            .await
            .map_err(|e| self.wrap(e))
    }

    fn wrap(&self, source: CapabilityError) -> SandboxError {
        let next = next_step(source.class);
        SandboxError::Aws(Box::new(AwsCallError {
            resource: self.resource.to_string(),
            source,
            next,
        }))
    }

    /// Turn a request-builder error into a [`SandboxError::Request`].
    pub fn build_failed(
        &self,
        source: aws_smithy_types::error::operation::BuildError,
    ) -> SandboxError {
        SandboxError::Request {
            resource: self.resource.to_string(),
            operation: self.operation,
            source,
        }
    }

    /// A [`SandboxError::MissingField`] for this call.
    pub fn missing(&self, field: &'static str) -> SandboxError {
        SandboxError::MissingField {
            resource: self.resource.to_string(),
            operation: self.operation,
            region: self.region.to_string(),
            field,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(class: ErrorClass) -> SandboxError {
        SandboxError::Aws(Box::new(AwsCallError {
            resource: "rds instance confer-db in us-east-1".into(),
            source: CapabilityError {
                class,
                service: "rds".into(),
                region: "us-east-1".into(),
                operation: "CreateDBInstance".into(),
                code: Some("InvalidParameterValue".into()),
                message: "bad".into(),
                hint: "check the environment config".into(),
            },
            next: next_step(class),
        }))
    }

    #[test]
    fn only_retryable_aws_errors_are_retryable() {
        assert!(aws(ErrorClass::Retryable).is_retryable());
        for class in [
            ErrorClass::Unreachable,
            ErrorClass::Credentials,
            ErrorClass::Terminal,
        ] {
            assert!(!aws(class).is_retryable(), "{class:?}");
        }
        assert!(!SandboxError::NonLoopbackEndpoint {
            endpoint: "https://example.com".into()
        }
        .is_retryable());
    }

    #[test]
    fn aws_error_message_names_resource_call_region_and_next_step() {
        let text = aws(ErrorClass::Terminal).to_string();
        assert!(
            text.starts_with(
                "rds instance confer-db in us-east-1: rds CreateDBInstance in us-east-1 failed"
            ),
            "{text}"
        );
        assert!(text.contains("bad"), "{text}");
        assert!(
            text.contains("In the sandbox: the emulator rejected the request"),
            "{text}"
        );
        let text = aws(ErrorClass::Unreachable).to_string();
        assert!(text.contains("is the emulator running"), "{text}");
    }
}
