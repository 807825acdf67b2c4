//! Protocol-correct error answers for injected faults, shaped so that the AWS SDKs parse the
//! error code (and classify throttling and 5xx as retryable) exactly as they would from AWS.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use http::{header, HeaderValue, Response, StatusCode};

use super::call::{Call, Protocol};
use super::faults::FaultAction;

/// Header marking an answer as injected by the emulator (value: the fault kind).
pub(crate) const FAULT_HEADER: &str = "x-pilotlight-fault";

/// Header marking an answer written by an emulation layer instead of moto (value: the layer).
pub(crate) const EMULATED_HEADER: &str = "x-pilotlight-emulated";

/// Request ids of answers written by emulation layers.
static LAYER_REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

/// A query-protocol (`awsQuery`) error answer as AWS writes it, e.g. RDS's
/// `<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type>
/// <Code>InvalidDBInstanceState</Code>...`, marked with [`EMULATED_HEADER`]`: layer`.
pub(crate) fn query_error(
    status: StatusCode,
    namespace: &str,
    code: &'static str,
    message: &str,
    layer: &'static str,
) -> Response<Body> {
    let n = LAYER_REQUEST_IDS.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("pilotlight-emulator-layer-{n:08}");
    let fault_type = if status.is_client_error() {
        "Sender"
    } else {
        "Receiver"
    };
    let body = format!(
        "<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{fault_type}</Type><Code>{code}</Code>\
         <Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        super::xml::escape(message)
    );
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    headers.insert("x-amzn-errortype", HeaderValue::from_static(code));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    headers.insert(EMULATED_HEADER, HeaderValue::from_static(layer));
    response
}

/// What an error answer says: HTTP status, error code, SOAP-ish fault type, message.
struct ErrorSpec {
    status: StatusCode,
    code: &'static str,
    sender: bool,
    message: &'static str,
}

fn spec(call: &Call, action: FaultAction) -> ErrorSpec {
    let dynamodb = call.service.as_deref() == Some("dynamodb");
    match (action, call.protocol) {
        (FaultAction::Throttle, Protocol::S3) => ErrorSpec {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "SlowDown",
            sender: false,
            message: "Please reduce your request rate.",
        },
        (FaultAction::Throttle, Protocol::Ec2Query) => ErrorSpec {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "RequestLimitExceeded",
            sender: true,
            message: "Request limit exceeded.",
        },
        (FaultAction::Throttle, Protocol::AwsQuery | Protocol::RestXml) => ErrorSpec {
            status: StatusCode::BAD_REQUEST,
            code: "Throttling",
            sender: true,
            message: "Rate exceeded",
        },
        (FaultAction::Throttle, _) => ErrorSpec {
            status: StatusCode::BAD_REQUEST,
            code: "ThrottlingException",
            sender: true,
            message: "Rate exceeded",
        },
        (FaultAction::ServerError, Protocol::S3 | Protocol::Ec2Query) => ErrorSpec {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalError",
            sender: false,
            message: "We encountered an internal error. Please try again.",
        },
        (FaultAction::ServerError, Protocol::AwsJson) if dynamodb => ErrorSpec {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalServerError",
            sender: false,
            message: "Internal server error",
        },
        (FaultAction::ServerError, _) => ErrorSpec {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalFailure",
            sender: false,
            message: "The request processing has failed because of an unknown error.",
        },
        (
            FaultAction::Outage | FaultAction::Delay { .. } | FaultAction::DelayAnswer { .. },
            Protocol::Ec2Query,
        ) => ErrorSpec {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "Unavailable",
            sender: false,
            message: "The server is overloaded and can't handle the request.",
        },
        (FaultAction::Outage | FaultAction::Delay { .. } | FaultAction::DelayAnswer { .. }, _) => {
            ErrorSpec {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "ServiceUnavailable",
                sender: false,
                message: "Service is unavailable (regional outage injected by the emulator).",
            }
        }
    }
}

/// The answer to a request hit by a terminal fault (`Throttle`, `ServerError`, `Outage`).
pub(crate) fn fault_response(call: &Call, action: FaultAction, request_id: &str) -> Response<Body> {
    let s = spec(call, action);
    let fault_type = if s.sender { "Sender" } else { "Receiver" };
    let (content_type, body) = match call.protocol {
        Protocol::AwsJson => {
            let type_name = if call.service.as_deref() == Some("dynamodb") {
                format!("com.amazonaws.dynamodb.v20120810#{}", s.code)
            } else {
                s.code.to_owned()
            };
            let ct = call
                .content_type
                .clone()
                .filter(|ct| ct.starts_with("application/x-amz-json"))
                .unwrap_or_else(|| "application/x-amz-json-1.0".to_owned());
            let body = serde_json::json!({"__type": type_name, "message": s.message});
            (ct, body.to_string())
        }
        Protocol::RestJson => (
            "application/json".to_owned(),
            serde_json::json!({"__type": s.code, "message": s.message}).to_string(),
        ),
        Protocol::AwsQuery | Protocol::RestXml => {
            let ns = if call.service.as_deref() == Some("route53") {
                " xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\""
            } else {
                ""
            };
            (
                "text/xml".to_owned(),
                format!(
                    "<ErrorResponse{ns}><Error><Type>{fault_type}</Type><Code>{}</Code>\
                     <Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                    s.code, s.message
                ),
            )
        }
        Protocol::Ec2Query => (
            "text/xml".to_owned(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code>\
                 <Message>{}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>",
                s.code, s.message
            ),
        ),
        Protocol::S3 => (
            "application/xml".to_owned(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>\
                 <RequestId>{request_id}</RequestId></Error>",
                s.code, s.message
            ),
        ),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = s.status;
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert("x-amzn-errortype", HeaderValue::from_static(s.code));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v.clone());
        headers.insert("x-amz-request-id", v);
    }
    headers.insert(FAULT_HEADER, HeaderValue::from_static(action.kind()));
    response
}

/// The answer when moto itself cannot be reached (HTTP 502, plain text).
pub(crate) fn bad_gateway(detail: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(format!(
        "pilotlight emulator: moto did not answer: {detail}"
    )));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
