//! Followers forward actions to the leader. Of several instances on the HA store only the
//! leader acts; a state-changing request under `/api/v1/runs` (start, approve, pause, resume,
//! abort) that reaches an instance standing by is sent on to the leader it last saw in the lease
//! (`address` in the lease item, [`crate::control::LeaderSeen`]), and the leader's answer is
//! relayed as it is. The leader authenticates, authorizes, audits and acts as for any request.
//!
//! Credentials:
//! - `Authorization: Bearer` (API tokens, OIDC ID tokens, the CLI's `--server`) is forwarded
//!   unchanged: every instance has the same `[access]`, so the leader checks it itself.
//! - A console session (cookie) lives in the memory of the instance that signed it in. The
//!   follower checks the session and its CSRF token, then forwards the person's name and role as
//!   an assertion signed with HMAC-SHA256 under the key every instance shares
//!   (`--ha-forward-secret-file`), bound to the method, path, body, time and a one-time nonce.
//!   The leader accepts an assertion only if the signature is right, it is at most
//!   [`ASSERTION_MAX_AGE`] old and its nonce is new; it then acts for that person (a session
//!   for this one request). Without the key, a console session's action on a follower is
//!   refused with 503, naming the leader to act on.
//!
//! A forwarded request is never forwarded again (`x-pilotlight-forwarded-by`): an instance
//! that no longer leads answers 503, and the caller tries again once the lease has settled.

use crate::access::{Authenticator, SESSION_COOKIE};
use crate::control::Control;
use crate::{ms, now};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use pilotlight_core::access::Principal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{info, warn};

/// Set on a forwarded request: the name of the instance that forwarded it.
pub const FORWARDED_BY: &str = "x-pilotlight-forwarded-by";
/// Set on a relayed answer: the name of the leader that answered.
pub const FORWARDED_TO: &str = "x-pilotlight-forwarded-to";
/// The signed assertion of who acts (a console session's person), base64url JSON.
pub const ASSERTION: &str = "x-pilotlight-forwarded-principal";
/// The HMAC-SHA256 of the assertion bound to the request, hex.
pub const SIGNATURE: &str = "x-pilotlight-forwarded-signature";
/// How old an assertion may be when the leader receives it.
pub const ASSERTION_MAX_AGE: Duration = Duration::from_secs(30);
/// The longest body forwarded (actions carry a reason and a few options).
const MAX_BODY: usize = 1 << 20;
/// How long the leader has to answer a forwarded action.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);
/// The shortest shared key accepted.
const MIN_KEY_BYTES: usize = 32;

/// Errors of setting up forwarding.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The key file cannot be read.
    #[error("cannot read the forwarding key {path}: {detail}; create it (for example `head -c 32 /dev/urandom | base64 > FILE`) and give every instance the same file")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// The key is too short to be a secret.
    #[error("the forwarding key {path} has {len} bytes; it needs at least {MIN_KEY_BYTES} random bytes (for example `head -c 32 /dev/urandom | base64 > FILE`)")]
    Short {
        /// The file.
        path: String,
        /// Its length after trimming.
        len: usize,
    },
}

impl ForwardError {
    /// Whether trying again may help: never (the file must be fixed).
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// The secret every instance shares to sign forwarded console actions.
pub struct ForwardKey(Vec<u8>);

impl std::fmt::Debug for ForwardKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForwardKey(..)")
    }
}

impl ForwardKey {
    /// The key in `path` (its bytes, surrounding whitespace trimmed); at least 32 bytes.
    pub fn from_file(path: &Path) -> Result<ForwardKey, ForwardError> {
        let text = std::fs::read(path).map_err(|e| ForwardError::Read {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        let key = text.trim_ascii().to_vec();
        if key.len() < MIN_KEY_BYTES {
            return Err(ForwardError::Short {
                path: path.display().to_string(),
                len: key.len(),
            });
        }
        Ok(ForwardKey(key))
    }

    /// The key `bytes` (tests; at least 32 bytes).
    pub fn from_bytes(bytes: &[u8]) -> Option<ForwardKey> {
        (bytes.len() >= MIN_KEY_BYTES).then(|| ForwardKey(bytes.to_vec()))
    }

    fn mac(&self, method: &str, path: &str, body: &[u8], assertion: &str) -> Hmac<Sha256> {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        for part in [
            method.as_bytes(),
            path.as_bytes(),
            &Sha256::digest(body)[..],
            assertion.as_bytes(),
        ] {
            m.update(&(part.len() as u64).to_be_bytes());
            m.update(part);
        }
        m
    }

    /// The signature of `assertion` bound to the request, hex.
    pub fn sign(&self, method: &str, path: &str, body: &[u8], assertion: &str) -> String {
        hex::encode(
            self.mac(method, path, body, assertion)
                .finalize()
                .into_bytes(),
        )
    }

    /// Whether `signature` is right for the request (constant time).
    pub fn verify(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        assertion: &str,
        signature: &str,
    ) -> bool {
        let Ok(sig) = hex::decode(signature) else {
            return false;
        };
        self.mac(method, path, body, assertion)
            .verify_slice(&sig)
            .is_ok()
    }
}

/// Who acts, as a follower asserts it to the leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assertion {
    /// The person.
    pub principal: Principal,
    /// The instance that checked their session and forwarded.
    pub via: String,
    /// When it was made, ms since the epoch (the forwarder's clock).
    pub at_ms: u64,
    /// Used once.
    pub nonce: String,
}

impl Assertion {
    /// The header value: base64url of the JSON.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// From a header value.
    pub fn decode(value: &str) -> Option<Assertion> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(value)
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// What the forwarding layer needs: this instance's role and leader, the sessions it signed
/// in, the shared key, and an HTTP client.
#[derive(Clone)]
pub struct Forwarding {
    control: Control,
    auth: Authenticator,
    key: Option<Arc<ForwardKey>>,
    client: reqwest::Client,
    /// Nonces of assertions accepted, with when they may be forgotten (ms).
    nonces: Arc<Mutex<HashMap<String, u64>>>,
}

impl Forwarding {
    /// Forwarding for `control`, checking sessions with `auth` (the API's authenticator) and
    /// signing with `key` (`None`: console sessions' actions are not forwarded).
    pub fn new(control: Control, auth: Authenticator, key: Option<ForwardKey>) -> Forwarding {
        Forwarding {
            control,
            auth,
            key: key.map(Arc::new),
            client: reqwest::Client::builder()
                .timeout(FORWARD_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            nonces: Arc::default(),
        }
    }
}

/// `router` with forwarding in front of it.
pub fn wrap(router: Router, forwarding: Forwarding) -> Router {
    router.layer(axum::middleware::from_fn_with_state(forwarding, layer))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// Whether a request is an action only the leader carries out.
fn is_action(method: &Method, path: &str) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        && (path == "/api/v1/runs" || path.starts_with("/api/v1/runs/"))
}

fn path_and_query(req: &Request) -> String {
    req.uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string())
}

/// The middleware: verify an assertion (any instance), pass actions through on the leader,
/// forward them from a follower.
async fn layer(State(f): State<Forwarding>, req: Request, next: Next) -> Response {
    if req.headers().contains_key(ASSERTION) || req.headers().contains_key(SIGNATURE) {
        return accept_assertion(&f, req, next).await;
    }
    if !is_action(req.method(), req.uri().path()) || f.control.is_leader() {
        return next.run(req).await;
    }
    if let Some(by) = req.headers().get(FORWARDED_BY) {
        let by = by.to_str().unwrap_or("?");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{by} forwarded this action here, but {} no longer leads: leadership is changing; try again in a few seconds", f.control.instance()),
        );
    }
    forward(&f, req).await
}

/// On the leader: turn a valid assertion into a session for this one request.
async fn accept_assertion(f: &Forwarding, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is too large",
        );
    };
    let h = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
    let Some(key) = &f.key else {
        warn!("a forwarded console action arrived, but this instance has no forwarding key");
        return error(StatusCode::UNAUTHORIZED, format!("{} cannot check a forwarded console action: it has no forwarding key; start every instance with the same --ha-forward-secret-file", f.control.instance()));
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let (Some(raw), Some(sig)) = (h(ASSERTION), h(SIGNATURE)) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "a forwarded action needs both the assertion and its signature",
        );
    };
    if !key.verify(parts.method.as_str(), &path, &body, raw, sig) {
        warn!(path, "a forwarded action's signature is wrong: refused");
        return error(StatusCode::UNAUTHORIZED, "the forwarded action's signature is wrong: the instances' forwarding keys differ, or the request was altered; give every instance the same --ha-forward-secret-file");
    }
    let Some(a) = Assertion::decode(raw) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "the forwarded assertion is unreadable",
        );
    };
    let now_ms = ms(now());
    let max_age = ASSERTION_MAX_AGE.as_millis() as u64;
    if a.at_ms.abs_diff(now_ms) > max_age {
        return error(StatusCode::UNAUTHORIZED, format!("the forwarded action from {} is {} ms old (or its clock is off): at most {max_age} ms; try again, and check the instances' clocks", a.via, now_ms.abs_diff(a.at_ms)));
    }
    {
        let mut seen = f.nonces.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, until| *until > now_ms);
        if seen.contains_key(&a.nonce) {
            warn!(via = %a.via, "a forwarded action was replayed: refused");
            return error(
                StatusCode::UNAUTHORIZED,
                "this forwarded action was already received (a replay): refused",
            );
        }
        seen.insert(a.nonce.clone(), now_ms + 2 * max_age);
    }
    if !f.control.is_leader() {
        return error(StatusCode::SERVICE_UNAVAILABLE, format!("{} forwarded this action here, but {} no longer leads: leadership is changing; try again in a few seconds", a.via, f.control.instance()));
    }
    // The person acts through a session that lives for this request only.
    let (id, session) = f.auth.open_session(&a.principal, now_ms);
    for name in [
        ASSERTION,
        SIGNATURE,
        header::AUTHORIZATION.as_str(),
        header::COOKIE.as_str(),
        header::ORIGIN.as_str(),
        "sec-fetch-site",
        "x-csrf-token",
    ] {
        parts.headers.remove(name);
    }
    let cookie = HeaderValue::from_str(&format!("{SESSION_COOKIE}={id}"));
    let csrf = HeaderValue::from_str(&session.csrf_token);
    if let (Ok(cookie), Ok(csrf)) = (cookie, csrf) {
        parts.headers.insert(header::COOKIE, cookie);
        parts.headers.insert("x-csrf-token", csrf);
    }
    info!(via = %a.via, user = %a.principal.name, path, "acting on an action forwarded by a follower");
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    f.auth.close_session(&id);
    response
}

/// On a follower: send the action to the leader and relay its answer.
async fn forward(f: &Forwarding, req: Request) -> Response {
    let me = f.control.instance().to_string();
    let Some(leader) = f.control.leader_seen() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, format!("{me} stands by and no instance holds the lease yet, so the action cannot be carried out now: try again in a few seconds (GET /api/v1/leader says who leads)"));
    };
    let Some(address) = leader.address.clone() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, format!("{me} stands by; {} leads but advertises no address to forward to (start it with --advertise-url): send the action to {} directly", leader.instance, leader.instance));
    };
    let path = path_and_query(&req);
    let method = req.method().clone();
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is too large",
        );
    };
    let url = format!("{}{path}", address.trim_end_matches('/'));
    let mut out = f
        .client
        .request(method.clone(), &url)
        .header(FORWARDED_BY, &me)
        .body(body.clone());
    for name in [header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(v) = parts.headers.get(&name) {
            out = out.header(name, v);
        }
    }
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        out = out.header(header::AUTHORIZATION, auth);
    } else if let Some(id) = crate::v1::cookie(&parts.headers, SESSION_COOKIE) {
        // A console session: check it here, where it lives, and assert who acts.
        let session = match f.auth.session(&id, ms(now())) {
            Ok(s) => s,
            Err(r) => return error(StatusCode::UNAUTHORIZED, r.0),
        };
        if let Some(why) = crate::v1::cross_site(&parts.headers, &session.csrf_token) {
            warn!(user = %session.user, reason = %why, "refused before forwarding");
            return error(StatusCode::FORBIDDEN, why);
        }
        let Some(key) = &f.key else {
            return error(StatusCode::SERVICE_UNAVAILABLE, format!("{me} stands by and cannot forward a console session's action: the instances share no forwarding key (--ha-forward-secret-file). Act on the leader's console at {address}, or use a bearer token"));
        };
        let assertion = Assertion {
            principal: Principal {
                name: session.user.clone(),
                role: session.role,
            },
            via: me.clone(),
            at_ms: ms(now()),
            nonce: crate::access::random_id(),
        }
        .encode();
        let sig = key.sign(method.as_str(), &path, &body, &assertion);
        out = out.header(ASSERTION, assertion).header(SIGNATURE, sig);
    }
    // No credentials at all: the leader refuses and audits it like any anonymous action.
    let answer = match out.send().await {
        Ok(a) => a,
        Err(e) => {
            warn!(leader = %leader.instance, %address, error = %e, "cannot forward an action to the leader");
            return error(StatusCode::BAD_GATEWAY, format!("{me} stands by and forwarded the action to the leader {} at {address}, which did not answer ({e}); nothing may have been done: check the run list, then try again or act on the leader directly", leader.instance));
        }
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let bytes: Bytes = answer.bytes().await.unwrap_or_default();
    info!(leader = %leader.instance, path, status = status.as_u16(), "action forwarded to the leader");
    let mut response = (status, bytes).into_response();
    if let Some(ct) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    if let Ok(v) = HeaderValue::from_str(&leader.instance) {
        response.headers_mut().insert(FORWARDED_TO, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use pilotlight_core::access::Role;

    fn key() -> ForwardKey {
        ForwardKey::from_bytes(&[7u8; 32]).unwrap()
    }

    #[test]
    fn a_signature_binds_the_method_path_body_and_assertion() {
        let k = key();
        let sig = k.sign("POST", "/api/v1/runs", b"{}", "a");
        assert!(k.verify("POST", "/api/v1/runs", b"{}", "a", &sig));
        assert!(!k.verify("PUT", "/api/v1/runs", b"{}", "a", &sig));
        assert!(!k.verify("POST", "/api/v1/runs/x/abort", b"{}", "a", &sig));
        assert!(!k.verify("POST", "/api/v1/runs", b"{ }", "a", &sig));
        assert!(!k.verify("POST", "/api/v1/runs", b"{}", "b", &sig));
        assert!(!k.verify("POST", "/api/v1/runs", b"{}", "a", "zz"));
        let other = ForwardKey::from_bytes(&[8u8; 32]).unwrap();
        assert!(!other.verify("POST", "/api/v1/runs", b"{}", "a", &sig));
        // Length-prefixed parts: moving a byte from one part to the next changes the MAC.
        assert_ne!(
            k.sign("POST", "/api/v1/runsa", b"", ""),
            k.sign("POST", "/api/v1/runs", b"", "a")
        );
    }

    #[test]
    fn a_short_key_is_refused_and_an_assertion_round_trips() {
        assert!(ForwardKey::from_bytes(&[1u8; 31]).is_none());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "too short\n").unwrap();
        let e = ForwardKey::from_file(&path).unwrap_err();
        assert!(e.to_string().contains("at least 32"), "{e}");
        assert!(!e.is_retryable());
        std::fs::write(&path, format!("{}\n", "k".repeat(44))).unwrap();
        assert!(ForwardKey::from_file(&path).is_ok());
        let a = Assertion {
            principal: Principal {
                name: "alice".into(),
                role: Role::Operator,
            },
            via: "b".into(),
            at_ms: 5,
            nonce: "n".into(),
        };
        assert_eq!(Assertion::decode(&a.encode()), Some(a));
        assert_eq!(Assertion::decode("not base64!"), None);
    }

    #[test]
    fn only_run_changes_are_actions() {
        assert!(is_action(&Method::POST, "/api/v1/runs"));
        assert!(is_action(&Method::POST, "/api/v1/runs/r1/approve"));
        assert!(!is_action(&Method::GET, "/api/v1/runs"));
        assert!(!is_action(&Method::POST, "/api/v1/session"));
        assert!(!is_action(&Method::POST, "/api/v1/observations"));
        assert!(!is_action(&Method::POST, "/api/v1/runsx"));
    }
}
