//! Classification of AWS SDK errors into [`CapabilityError`]s: the one place that decides whether
//! an error is worth retrying ([`ErrorClass::Retryable`]), means the endpoint cannot be reached
//! ([`ErrorClass::Unreachable`]), needs a person to fix credentials ([`ErrorClass::Credentials`]),
//! or will not go away by itself ([`ErrorClass::Terminal`]), and what the operator should do next.
//!
//! The decision over error codes and HTTP statuses is the pure function [`classify_parts`]; the
//! SDK-facing [`classify`] extracts those parts (and inspects transport failures) and calls it.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::{ConnectorError, SdkError};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ErrorKind;
use pilotlight_core::{CapabilityError, ErrorClass};
use std::error::Error as StdError;

/// Error codes that mean "slow down": always retryable with backoff.
pub const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "PriorRequestNotComplete",
    "BandwidthLimitExceeded",
    "EC2ThrottledException",
    "TransactionInProgressException",
];

/// Error codes of transient service-side failures (usually sent with a 5xx status as well).
pub const TRANSIENT_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServiceError",
    "InternalServiceException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "IDPCommunicationError",
];

/// Error codes that mean the credentials are missing, invalid, expired or not allowed.
pub const CREDENTIALS_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "AuthFailure",
    "UnauthorizedOperation",
    "InvalidAccessKeyId",
    "IncompleteSignature",
    "NotAuthorized",
];

/// Error codes that mean "this resource does not exist", across the services Pilotlight reads.
/// Call sites usually pass a narrower set to [`crate::retry::Caller::call_opt`].
pub const NOT_FOUND_CODES: &[&str] = &[
    "ResourceNotFoundException",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBClusterNotFoundFault",
    "GlobalClusterNotFoundFault",
    "NoSuchBucket",
    "NotFound",
    "NotFoundException",
    "NoSuchHostedZone",
    "NoSuchHealthCheck",
    "ClusterNotFoundException",
    "ServiceNotFoundException",
    "NoSuchReplicationConfiguration",
    "ReplicationConfigurationNotFoundError",
];

/// Whether a classified error says the resource does not exist (its code is in
/// [`NOT_FOUND_CODES`]). Prefer [`crate::retry::Caller::call_opt`], which maps the exact codes of
/// one operation to `Ok(None)` before any retry.
pub fn is_not_found(err: &CapabilityError) -> bool {
    err.code
        .as_deref()
        .is_some_and(|c| NOT_FOUND_CODES.contains(&c))
}

/// Access to the HTTP status of a raw SDK response, so [`classify`] can use it.
pub trait HttpStatus {
    /// The HTTP status code, when there is one.
    fn http_status(&self) -> Option<u16>;
}

impl HttpStatus for HttpResponse {
    fn http_status(&self) -> Option<u16> {
        Some(self.status().as_u16())
    }
}

/// Whether `code` (with its `message`) is a throttling error. `LimitExceededException` counts only
/// when its message speaks of a rate (elsewhere it means a quota, which retrying cannot fix).
pub fn is_throttling(code: &str, message: Option<&str>) -> bool {
    if THROTTLING_CODES.contains(&code) {
        return true;
    }
    if code == "LimitExceededException" || code == "LimitExceeded" {
        let m = message.unwrap_or_default().to_ascii_lowercase();
        return m.contains("rate") || m.contains("throttl") || m.contains("too many requests");
    }
    false
}

/// Classifies a service's answer by its error code, message and HTTP status. Pure; this is the
/// table the unit tests pin down.
pub fn classify_parts(
    code: Option<&str>,
    message: Option<&str>,
    status: Option<u16>,
) -> ErrorClass {
    if let Some(code) = code {
        if is_throttling(code, message) || TRANSIENT_CODES.contains(&code) {
            return ErrorClass::Retryable;
        }
        if CREDENTIALS_CODES.contains(&code) {
            return ErrorClass::Credentials;
        }
    }
    match status {
        Some(s) if s >= 500 || s == 429 => ErrorClass::Retryable,
        Some(401 | 403) if code.is_none() => ErrorClass::Credentials,
        _ => ErrorClass::Terminal,
    }
}

/// The IAM action an operation needs (`s3:HeadBucket` is authorized as `s3:ListBucket`, ...).
pub fn iam_action(service: &str, operation: &str) -> String {
    let action = match (service, operation) {
        ("s3", "HeadBucket") => "ListBucket",
        ("s3", "GetBucketReplication") => "GetReplicationConfiguration",
        ("s3", "PutBucketReplication") => "PutReplicationConfiguration",
        _ => operation,
    };
    format!("{service}:{action}")
}

/// What the operator should do next about an error of `class`.
pub fn hint(class: ErrorClass, service: &str, region: &str, operation: &str) -> String {
    match class {
        ErrorClass::Retryable => format!(
            "AWS is throttling or failing; retry later or lower `aws.requests_per_second` \
             (if it persists, check the AWS Health Dashboard for {service} in {region})"
        ),
        ErrorClass::Unreachable => format!(
            "check `aws.endpoint` and network access to {service} in {region} \
             (DNS, proxy, firewall, VPC endpoints)"
        ),
        ErrorClass::Credentials => format!(
            "check the credentials profile `aws.profile` / AWS_PROFILE and that the role allows \
             {} in {region}",
            iam_action(service, operation)
        ),
        ErrorClass::Terminal => format!(
            "{service} rejected {operation}; check the resource names and settings in the \
             environment config and that the resource exists in {region}"
        ),
    }
}

/// Iterates over `err` and each error of its source chain. After an `io::Error` the next error is
/// its payload (`get_ref`), which `source()` would skip.
fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |&e| match e.downcast_ref::<std::io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
        None => e.source(),
    })
}

/// The error and its sources, joined with `: ` (what [`DisplayErrorContext`] shows, without its
/// trailing `Debug` dump, which goes to the `debug` log instead).
fn chain_text(err: &dyn StdError) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        text.push_str(": ");
        text.push_str(&e.to_string());
        next = e.source();
    }
    text
}

/// Whether the chain shows that loading or resolving credentials failed.
fn is_credentials_failure(err: &(dyn StdError + 'static)) -> bool {
    chain(err).any(|e| {
        if e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return true;
        }
        let text = e.to_string().to_ascii_lowercase();
        text.contains("no identity resolver")
            || text.contains("credentials provider")
            || text.contains("failed to load credentials")
            || text.contains("no credentials")
    })
}

/// Whether a dispatch failure happened while connecting (refused, DNS, no route): the endpoint
/// cannot be reached at all.
fn is_connect_failure(err: &ConnectorError) -> bool {
    use std::io::ErrorKind as Io;
    chain(err).any(|e| {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                Io::ConnectionRefused
                    | Io::AddrNotAvailable
                    | Io::HostUnreachable
                    | Io::NetworkUnreachable
            ) {
                return true;
            }
        }
        if e.downcast_ref::<aws_smithy_runtime_api::client::dns::ResolveDnsError>()
            .is_some()
        {
            return true;
        }
        let text = e.to_string().to_ascii_lowercase();
        text.contains("dns error")
            || text.contains("failed to lookup address")
            || text.contains("connection refused")
            || text.contains("client error (connect)")
    })
}

/// Classifies a transport failure (no HTTP response was received).
fn classify_dispatch(err: &ConnectorError) -> ErrorClass {
    if err.is_timeout() {
        return ErrorClass::Retryable;
    }
    if is_connect_failure(err) {
        return ErrorClass::Unreachable;
    }
    if err.is_user() {
        return ErrorClass::Terminal;
    }
    if err.is_io() {
        return ErrorClass::Retryable;
    }
    match err.as_other() {
        Some(ErrorKind::ClientError) => ErrorClass::Terminal,
        Some(_) => ErrorClass::Retryable,
        None if is_credentials_failure(err) => ErrorClass::Credentials,
        // An unclassified transport failure: most likely transient.
        None => ErrorClass::Retryable,
    }
}

/// Turns an SDK error into a classified [`CapabilityError`] with a hint for the operator.
///
/// `service` is the IAM service prefix (`rds`, `s3`, `route53`, ...), `operation` the API
/// operation name (`DescribeDBInstances`), `region` the region the client was built for.
pub fn classify<E, R>(
    service: &str,
    region: &str,
    operation: &str,
    err: &SdkError<E, R>,
) -> CapabilityError
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: HttpStatus + std::fmt::Debug,
{
    let (class, code, message) = match err {
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            let code = e.code().map(str::to_string);
            let class = classify_parts(e.code(), e.message(), ctx.raw().http_status());
            let message = match e.message() {
                Some(m) if !m.is_empty() => m.to_string(),
                _ => chain_text(err),
            };
            (class, code, message)
        }
        SdkError::TimeoutError(_) => (ErrorClass::Retryable, None, chain_text(err)),
        SdkError::ResponseError(ctx) => {
            let class = match ctx.raw().http_status() {
                Some(401 | 403) => ErrorClass::Credentials,
                _ => ErrorClass::Retryable,
            };
            (class, None, chain_text(err))
        }
        SdkError::DispatchFailure(ctx) => {
            let class = match ctx.as_connector_error() {
                Some(conn) => classify_dispatch(conn),
                None => ErrorClass::Retryable,
            };
            (class, None, chain_text(err))
        }
        SdkError::ConstructionFailure(_) => {
            let class = if StdError::source(err).is_some_and(is_credentials_failure) {
                ErrorClass::Credentials
            } else {
                ErrorClass::Terminal
            };
            (class, None, chain_text(err))
        }
        _ => (ErrorClass::Terminal, None, chain_text(err)),
    };
    tracing::debug!(
        service, region, operation, class = ?class, code = code.as_deref().unwrap_or(""),
        error = %DisplayErrorContext(err), "classified AWS error"
    );
    CapabilityError {
        class,
        service: service.to_string(),
        region: region.to_string(),
        operation: operation.to_string(),
        code,
        message,
        hint: hint(class, service, region, operation),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    type Err = SdkError<DescribeTableError, HttpResponse>;

    fn service_error(code: Option<&str>, message: Option<&str>, status: u16) -> Err {
        let mut meta = ErrorMetadata::builder();
        if let Some(c) = code {
            meta = meta.code(c);
        }
        if let Some(m) = message {
            meta = meta.message(m);
        }
        let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        SdkError::service_error(DescribeTableError::generic(meta.build()), raw)
    }

    fn class_of(code: Option<&str>, message: Option<&str>, status: u16) -> ErrorClass {
        classify(
            "dynamodb",
            "us-east-1",
            "DescribeTable",
            &service_error(code, message, status),
        )
        .class
    }

    #[test]
    fn classification_table() {
        use ErrorClass::*;
        let table: &[(Option<&str>, Option<&str>, u16, ErrorClass)] = &[
            (Some("Throttling"), None, 400, Retryable),
            (
                Some("ThrottlingException"),
                Some("Rate exceeded"),
                400,
                Retryable,
            ),
            (Some("ThrottledException"), None, 400, Retryable),
            (Some("RequestLimitExceeded"), None, 503, Retryable),
            (Some("TooManyRequestsException"), None, 429, Retryable),
            (
                Some("ProvisionedThroughputExceededException"),
                None,
                400,
                Retryable,
            ),
            (Some("RequestThrottled"), None, 400, Retryable),
            (Some("RequestThrottledException"), None, 400, Retryable),
            (Some("SlowDown"), None, 503, Retryable),
            (Some("PriorRequestNotComplete"), None, 400, Retryable),
            (Some("BandwidthLimitExceeded"), None, 400, Retryable),
            (
                Some("LimitExceededException"),
                Some("Rate exceeded"),
                400,
                Retryable,
            ),
            (
                Some("LimitExceededException"),
                Some("Too many clusters in the account"),
                400,
                Terminal,
            ),
            (Some("InternalFailure"), None, 500, Retryable),
            (Some("SomethingNew"), None, 500, Retryable),
            (Some("SomethingNew"), None, 503, Retryable),
            (None, None, 502, Retryable),
            (None, None, 429, Retryable),
            (Some("AccessDenied"), None, 403, Credentials),
            (Some("AccessDeniedException"), None, 400, Credentials),
            (Some("UnrecognizedClientException"), None, 400, Credentials),
            (Some("InvalidClientTokenId"), None, 403, Credentials),
            (Some("ExpiredToken"), None, 400, Credentials),
            (Some("ExpiredTokenException"), None, 400, Credentials),
            (Some("InvalidSignatureException"), None, 400, Credentials),
            (Some("SignatureDoesNotMatch"), None, 403, Credentials),
            (Some("MissingAuthenticationToken"), None, 403, Credentials),
            (Some("AuthFailure"), None, 401, Credentials),
            (None, None, 403, Credentials),
            (Some("ResourceNotFoundException"), None, 400, Terminal),
            (Some("ValidationException"), None, 400, Terminal),
            (Some("NotFound"), None, 404, Terminal),
            (None, None, 400, Terminal),
        ];
        for (code, message, status, want) in table {
            assert_eq!(
                class_of(*code, *message, *status),
                *want,
                "code {code:?} status {status}"
            );
        }
    }

    #[test]
    fn service_error_keeps_code_message_and_hint() {
        let err = classify(
            "rds",
            "us-west-2",
            "DescribeDBInstances",
            &service_error(Some("AccessDenied"), Some("not allowed"), 403),
        );
        assert_eq!(err.code.as_deref(), Some("AccessDenied"));
        assert_eq!(err.message, "not allowed");
        assert!(
            err.hint.contains("rds:DescribeDBInstances in us-west-2"),
            "{}",
            err.hint
        );
        assert!(err.hint.contains("aws.profile"), "{}", err.hint);
    }

    #[test]
    fn not_found_codes() {
        let err = |code| {
            classify(
                "kms",
                "r",
                "DescribeKey",
                &service_error(Some(code), None, 400),
            )
        };
        assert!(is_not_found(&err("NotFoundException")));
        assert!(is_not_found(&err("DBClusterNotFoundFault")));
        assert!(!is_not_found(&err("ValidationException")));
    }

    #[test]
    fn hints_name_the_next_step() {
        let h = hint(ErrorClass::Unreachable, "kms", "us-west-2", "DescribeKey");
        assert!(
            h.contains("`aws.endpoint`") && h.contains("kms in us-west-2"),
            "{h}"
        );
        let h = hint(
            ErrorClass::Retryable,
            "rds",
            "us-east-1",
            "DescribeDBInstances",
        );
        assert!(h.contains("`aws.requests_per_second`"), "{h}");
        let h = hint(ErrorClass::Credentials, "s3", "us-east-1", "HeadBucket");
        assert!(h.contains("s3:ListBucket"), "{h}");
    }

    #[test]
    fn transport_failures() {
        let timeout: Err = SdkError::timeout_error("attempt timed out");
        assert_eq!(
            classify("s3", "r", "Op", &timeout).class,
            ErrorClass::Retryable
        );

        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err: Err = SdkError::dispatch_failure(ConnectorError::io(Box::new(refused)));
        assert_eq!(
            classify("s3", "r", "Op", &err).class,
            ErrorClass::Unreachable
        );

        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let err: Err = SdkError::dispatch_failure(ConnectorError::io(Box::new(reset)));
        assert_eq!(classify("s3", "r", "Op", &err).class, ErrorClass::Retryable);

        let err: Err = SdkError::dispatch_failure(ConnectorError::timeout("slow".into()));
        assert_eq!(classify("s3", "r", "Op", &err).class, ErrorClass::Retryable);

        let creds =
            aws_credential_types::provider::error::CredentialsError::not_loaded("no provider");
        let err: Err = SdkError::dispatch_failure(ConnectorError::other(Box::new(creds), None));
        assert_eq!(
            classify("s3", "r", "Op", &err).class,
            ErrorClass::Credentials
        );

        let creds =
            aws_credential_types::provider::error::CredentialsError::not_loaded("no provider");
        let err: Err = SdkError::construction_failure(creds);
        assert_eq!(
            classify("s3", "r", "Op", &err).class,
            ErrorClass::Credentials
        );

        let err: Err = SdkError::construction_failure("bad input");
        assert_eq!(classify("s3", "r", "Op", &err).class, ErrorClass::Terminal);

        let raw = HttpResponse::new(StatusCode::try_from(200).unwrap(), SdkBody::empty());
        let err: Err = SdkError::response_error("truncated body", raw);
        assert_eq!(classify("s3", "r", "Op", &err).class, ErrorClass::Retryable);
    }
}
