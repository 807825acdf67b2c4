//! The forwarding path: classify, count, inject faults, run emulation layers, forward to moto,
//! and hand moto's answer back (streamed unless a layer rewrites it).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode, Version};

use super::call::Call;
use super::layers::Layer;
use super::responses::{bad_gateway, fault_response};
use super::upstream::strip_hop_by_hop;
use super::Shared;

/// Paths of moto's own API (`/moto-api/reset`, ...): forwarded, but never counted or faulted.
const MOTO_API_PREFIX: &str = "/moto-api";

/// moto's reset endpoint: after it, the layers' state about moto's resources is forgotten too.
const MOTO_RESET_PATH: &str = "/moto-api/reset";

/// Request content types whose bodies are small and needed for classification or emulation
/// (JSON and query protocols). Other bodies (S3 objects) are streamed without buffering.
fn should_buffer(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("application/x-amz-json")
                || ct.starts_with("application/x-www-form-urlencoded")
                || ct.starts_with("application/json")
        })
}

fn plain(status: StatusCode, message: String) -> Response<Body> {
    let mut response = Response::new(Body::from(message));
    *response.status_mut() = status;
    response
}

/// The fallback handler: every request that is not for `/__emulator/...`.
pub(crate) async fn proxy(
    State(shared): State<Arc<Shared>>,
    request: Request<Body>,
) -> Response<Body> {
    // Like AWS, finish a request whatever the client does: if the client goes away mid-request
    // (a test kills the process), the forwarded call and the layers' bookkeeping still complete,
    // so the emulated state matches what moto did.
    match tokio::spawn(handle(shared, request)).await {
        Ok(response) => response,
        Err(e) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("emulator proxy task failed: {e}"),
        ),
    }
}

async fn handle(shared: Arc<Shared>, request: Request<Body>) -> Response<Body> {
    // A `delay_answer` fault holds the answer after the request was applied.
    let mut hold = Duration::ZERO;
    let response = route(shared, request, &mut hold).await;
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
    response
}

async fn route(shared: Arc<Shared>, request: Request<Body>, hold: &mut Duration) -> Response<Body> {
    let (mut parts, body) = request.into_parts();
    let mut streamed = None;
    let mut buffered = None;
    if should_buffer(&parts.headers) {
        match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => buffered = Some(bytes),
            Err(e) => return plain(StatusCode::BAD_REQUEST, format!("reading body: {e}")),
        }
    } else {
        streamed = Some(body);
    }
    let call = Call::classify(&parts.method, &parts.uri, &parts.headers, buffered.as_ref());
    tracing::debug!(
        service = call.service.as_deref(),
        region = call.region.as_deref(),
        operation = call.operation.as_deref(),
        "emulator: request"
    );

    if !parts.uri.path().starts_with(MOTO_API_PREFIX) {
        shared.stats.record_request(&call);
        let decision = shared.faults.decide(&call);
        for action in &decision.applied {
            shared.stats.record_fault(&call, *action);
        }
        if decision.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(decision.delay_ms)).await;
        }
        *hold = Duration::from_millis(decision.answer_delay_ms);
        if let Some(action) = decision.terminal {
            let n = shared.request_ids.fetch_add(1, Ordering::Relaxed);
            let request_id = format!("pilotlight-emulator-{n:08}");
            tracing::info!(
                service = call.service.as_deref(),
                region = call.region.as_deref(),
                operation = call.operation.as_deref(),
                fault = action.kind(),
                "emulator: fault injected"
            );
            return fault_response(&call, action, &request_id);
        }
    }

    let layers: Vec<Arc<dyn Layer>> = shared
        .layers
        .iter()
        .filter(|l| l.wants(&call))
        .cloned()
        .collect();
    if !layers.is_empty() && buffered.is_none() {
        let body = streamed.take().unwrap_or_default();
        match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => buffered = Some(bytes),
            Err(e) => return plain(StatusCode::BAD_REQUEST, format!("reading body: {e}")),
        }
    }
    if let Some(request_body) = buffered.as_mut() {
        for layer in &layers {
            if let Some(answer) = layer.before(&call, request_body, &shared.upstream).await {
                return answer;
            }
        }
    }

    // Forward: same method, path, query and headers; hop-by-hop headers are this hop's only.
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(header::EXPECT);
    let body = match &buffered {
        Some(bytes) => {
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            Body::from(bytes.clone())
        }
        None => streamed.take().unwrap_or_default(),
    };
    let reset = parts.method == http::Method::POST && parts.uri.path() == MOTO_RESET_PATH;
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    parts.uri = match shared.upstream.uri(&path_and_query) {
        Ok(uri) => uri,
        Err(e) => return plain(StatusCode::BAD_REQUEST, e.to_string()),
    };
    parts.version = Version::HTTP_11;
    // moto answers once it has applied the request: holding the gate until the head arrives
    // serializes DynamoDB requests (see `Shared::dynamodb_gate`).
    let gate = match call.service.as_deref() {
        Some("dynamodb") => Some(shared.dynamodb_gate.lock().await),
        _ => None,
    };
    let response = match shared.upstream.send(Request::from_parts(parts, body)).await {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(error = %e, "emulator: moto unreachable");
            return bad_gateway(&e.to_string());
        }
    };
    drop(gate);
    let (mut head, body) = response.into_parts();
    strip_hop_by_hop(&mut head.headers);
    if reset && head.status.is_success() {
        // moto forgot every resource: so do the layers.
        shared.control.forget_resources();
    }
    if layers.is_empty() {
        return Response::from_parts(head, body);
    }

    let mut answer = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => return bad_gateway(&e.to_string()),
    };
    let request_body = buffered.unwrap_or_else(Bytes::new);
    let mut rewritten = false;
    for layer in &layers {
        rewritten |= layer
            .after(
                &call,
                &request_body,
                head.status,
                &mut answer,
                &shared.upstream,
            )
            .await;
    }
    if rewritten {
        head.headers.remove("x-amz-crc32");
        head.headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(answer.len()));
    }
    Response::from_parts(head, Body::from(answer))
}
