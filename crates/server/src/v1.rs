//! The console's HTTP API under `/api/v1` (see `openapi.json` and docs/console.md): sessions,
//! status, readiness, runbooks and plans, runs (list, show, live events over SSE, start,
//! approve, pause, resume, abort), stored drill reports (list, download as JSON, Markdown or
//! HTML) and the audit log.
//!
//! Invariants: every route but `POST /session` and the OpenAPI document needs a session cookie
//! or a bearer credential; a state-changing request authenticated by the cookie must carry the
//! session's CSRF token in `X-CSRF-Token` and must not come from another site; the role decides
//! (`pilotlight_core::access`); every state-changing request, allowed or refused, and every
//! sign-in attempt is appended to the hash-chained audit log before the answer, and an allowed
//! action whose audit entry cannot be written is not carried out.

use crate::access::{Authenticator, Refusal, SESSION_COOKIE};
use crate::control::Control;
use crate::{ms, now, views};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pilotlight_core::access::{two_person_refusal, Permission, Principal};
use pilotlight_core::audit::{AuditLog, AuditRecord, Outcome};
use pilotlight_core::capability::{Actuator, ReadinessFacts};
use pilotlight_core::journal::{JournalError, RunOptions, RunRecord};
use pilotlight_core::model::Tier;
use pilotlight_core::plan::Plan;
use pilotlight_core::run::{Event, NodeStatus, RunState};
use pilotlight_core::runbook::Direction;
use pilotlight_drill::conduct::{self, DrillError};
use pilotlight_drill::store::{DrillReports, DrillStoreError};
use pilotlight_drill::Mode;
use pilotlight_executor::{ExecError, StartRequest};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{error, warn};

/// The OpenAPI 3.1 document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// What the API needs beyond the control service.
#[derive(Clone)]
pub struct ApiDeps {
    /// Runbooks the API may start or show, by name (`failover`, `failback`).
    pub plans: BTreeMap<String, Plan>,
    /// Reads live state (serving side, the plan's live values). Observe only.
    pub actuator: Arc<dyn Actuator>,
    /// Readiness facts (serving side, failback refusal, lag gates).
    pub facts: Arc<dyn ReadinessFacts>,
    /// The audit log.
    pub audit: Arc<dyn AuditLog>,
    /// Sign-in and sessions.
    pub auth: Authenticator,
}

#[derive(Clone)]
struct Cached {
    at: Instant,
    serving: views::Serving,
    details: Vec<String>,
}

/// The API's state.
#[derive(Clone)]
pub struct Api {
    control: Control,
    deps: ApiDeps,
    serving: Arc<tokio::sync::Mutex<Option<Cached>>>,
    refreshing: Arc<Mutex<bool>>,
    status: crate::status::StatusFeed,
    /// Stored drill reports (`None`: this service was not given them; the drill routes say so).
    drills: Option<Arc<dyn DrillReports>>,
    /// Drills this service conducts (`POST /api/v1/runs` with `"runbook": "drill"`).
    drill_runs: crate::drills::Drills,
}

impl Api {
    /// The API over `control`.
    pub fn new(control: Control, deps: ApiDeps) -> Api {
        Api {
            control,
            deps,
            serving: Arc::default(),
            refreshing: Arc::default(),
            status: crate::status::StatusFeed::default(),
            drills: None,
            drill_runs: crate::drills::Drills::default(),
        }
    }

    /// The same API serving the drill reports of `drills` (the local journal `pilotlight drill`
    /// stores them in) at `/api/v1/drills`.
    pub fn with_drills(mut self, drills: Arc<dyn DrillReports>) -> Api {
        self.drills = Some(drills);
        self
    }

    /// The same API able to conduct drills itself (`POST /api/v1/runs` with
    /// `"runbook": "drill"`), with `runner`'s adapters; reports go to the drill store
    /// ([`Api::with_drills`]).
    pub fn with_drill_runner(mut self, runner: crate::drills::DrillRunner) -> Api {
        self.drill_runs.runner = Some(Arc::new(runner));
        self
    }

    /// On shutdown: stop the running drill's waiting so that an isolated drill removes its
    /// copies and stores its report, and wait up to `within` for it. Whether no drill runs any
    /// more (a full drill's runs are journaled and resume on the next start either way).
    pub async fn stop_drills(&self, within: Duration) -> bool {
        self.drill_runs.stop(within).await
    }

    /// Ends the drills this service was conducting when its process stopped (killed, its host
    /// lost): each drill of this environment whose start was recorded by a control service and
    /// that has no report. An isolated drill's copies (found by its id) are removed; the
    /// interrupted report is stored. Waits until this instance may act (it leads, in HA mode)
    /// and no drill runs here; returns the ids ended. Drills the CLI conducts are left to
    /// `pilotlight drill --recover`.
    pub async fn recover_drills(&self) -> Vec<String> {
        let (Some(store), Some(runner)) = (self.drills.clone(), self.drill_runs.runner.clone())
        else {
            return Vec::new();
        };
        while self.control.executor().is_none() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let env = self.control.env().clone();
        let unfinished = match store.unfinished_drills(&env.environment.name).await {
            Ok(u) => u,
            Err(e) => {
                error!(error = %e, "cannot read the unfinished drills");
                return Vec::new();
            }
        };
        let mut ended = Vec::new();
        for start in unfinished
            .into_iter()
            .filter(|d| d.conductor == pilotlight_drill::store::CONDUCTOR_SERVICE)
        {
            if self.drill_runs.running().is_some_and(|d| d.id == start.id) {
                continue;
            }
            let state = crate::drills::DrillState {
                id: start.id.clone(),
                mode: start.mode.name().into(),
                requested_by: start.requested_by.clone(),
                reason: start.reason.clone(),
                started_at_ms: start.started_at_ms,
                status: "running".into(),
                progress: "recovering: the service stopped during this drill".into(),
                error: None,
                passed: None,
            };
            {
                let mut current = self
                    .drill_runs
                    .current
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if current.as_ref().is_some_and(|d| d.status == "running") {
                    // A drill runs here now: the next start of the service ends this one.
                    break;
                }
                *current = Some(state);
            }
            let drills = self.drill_runs.clone();
            let setup = conduct::DrillSetup {
                env: env.clone(),
                id: start.id.clone(),
                by: format!("control service {}", self.control.instance()),
                canaries: Vec::new(),
                canary_plan: runner.canary_plan,
                trend: Vec::new(),
                clock: Arc::new(|| ms(now())),
                progress: Arc::new(move |line: &str| {
                    tracing::info!(target: "pilotlight::drill", "{line}");
                    drills.update(|d| d.progress = line.to_string());
                }),
            };
            let report =
                conduct::recover(&setup, &start, runner.copies.as_ref(), runner.isolated).await;
            let saved = store.save_drill(&report).await;
            if let Err(e) = &saved {
                error!(drill_id = %report.id, error = %e, "cannot store the recovered drill's report");
            }
            let left = report.leftovers().len();
            self.drill_runs.update(|d| {
                d.status = "finished".into();
                d.passed = Some(false);
                d.progress = format!("recovered: interrupted, {left} resource(s) left behind");
                d.error = saved
                    .err()
                    .map(|e| format!("the report could not be stored: {e}"));
            });
            self.status_changed().await;
            ended.push(start.id);
        }
        ended
    }

    /// The control service behind this API.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Sign-in and sessions (tests move a session's expiry through it).
    pub fn auth(&self) -> &Authenticator {
        &self.deps.auth
    }
}

/// Every route of this module: method and path (the OpenAPI test checks both ways).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/session"),
    ("get", "/api/v1/session"),
    ("delete", "/api/v1/session"),
    ("get", "/api/v1/status"),
    ("get", "/api/v1/readiness"),
    ("get", "/api/v1/runbooks"),
    ("get", "/api/v1/plans/{runbook}"),
    ("get", "/api/v1/runs"),
    ("post", "/api/v1/runs"),
    ("get", "/api/v1/runs/{id}"),
    ("get", "/api/v1/runs/{id}/events"),
    ("post", "/api/v1/runs/{id}/approve"),
    ("post", "/api/v1/runs/{id}/pause"),
    ("post", "/api/v1/runs/{id}/resume"),
    ("post", "/api/v1/runs/{id}/abort"),
    ("get", "/api/v1/drills"),
    ("get", "/api/v1/drills/{id}"),
    ("get", "/api/v1/audit"),
];

/// The whole service: the observation and health routes, this API, and the console.
pub fn app(api: Api) -> Router {
    let v1 = Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route(
            "/api/v1/session",
            post(sign_in).get(current_session).delete(sign_out),
        )
        .route("/api/v1/status", get(status))
        .route("/api/v1/readiness", get(readiness))
        .route("/api/v1/runbooks", get(runbooks))
        .route("/api/v1/plans/{runbook}", get(plan))
        .route("/api/v1/runs", get(list_runs).post(start_run))
        .route("/api/v1/runs/{id}", get(show_run))
        .route("/api/v1/runs/{id}/events", get(run_events))
        .route("/api/v1/runs/{id}/approve", post(approve))
        .route("/api/v1/runs/{id}/pause", post(pause))
        .route("/api/v1/runs/{id}/resume", post(resume))
        .route("/api/v1/runs/{id}/abort", post(abort))
        .route("/api/v1/drills", get(list_drills))
        .route("/api/v1/drills/{id}", get(show_drill))
        .route("/api/v1/audit", get(audit))
        .with_state(api.clone());
    crate::api::router(api.control.clone())
        .merge(v1)
        .merge(crate::console::routes())
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// The value of cookie `name` in the request's headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// How a request was authenticated.
enum Via {
    Cookie { csrf: String },
    Bearer,
}

async fn authenticate(api: &Api, headers: &HeaderMap) -> Result<(Principal, Via), Refusal> {
    let bearer = crate::auth::bearer(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    );
    if let Some(token) = bearer {
        return Ok((api.deps.auth.bearer(token).await?, Via::Bearer));
    }
    if let Some(id) = cookie(headers, SESSION_COOKIE) {
        let s = api.deps.auth.session(&id, ms(now()))?;
        return Ok((
            Principal {
                name: s.user,
                role: s.role,
            },
            Via::Cookie { csrf: s.csrf_token },
        ));
    }
    if api.deps.auth.access().is_none() {
        return Err(Refusal("this control service has no [access] section, so nobody can sign in: add [access] with tokens to the environment config (docs/console.md#access)".into()));
    }
    Err(Refusal(
        "not signed in: sign in (POST /api/v1/session) or send `Authorization: Bearer TOKEN`"
            .into(),
    ))
}

/// Why a cookie-authenticated state-changing request looks cross-site, if it does.
pub(crate) fn cross_site(headers: &HeaderMap, csrf: &str) -> Option<String> {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if h("sec-fetch-site") == Some("cross-site") {
        return Some("cross-site request refused (Sec-Fetch-Site: cross-site)".into());
    }
    if let Some(origin) = h("origin") {
        let host = h("host").unwrap_or_default();
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'))
            .unwrap_or("");
        if origin_host.is_empty() || !origin_host.eq_ignore_ascii_case(host) {
            return Some(format!(
                "cross-site request refused: Origin {origin} is not this service ({host})"
            ));
        }
    }
    match h("x-csrf-token") {
        None => Some("missing X-CSRF-Token header: a state-changing request with the session cookie must send the session's csrf_token".into()),
        Some(t) if !crate::auth::same_digest(&crate::auth::token_sha256(t), &crate::auth::token_sha256(csrf)) => {
            Some("wrong X-CSRF-Token: it must equal the session's csrf_token".into())
        }
        Some(_) => None,
    }
}

impl Api {
    async fn record(
        &self,
        who: Option<&Principal>,
        action: &str,
        target: &str,
        outcome: Outcome,
        reason: &str,
        detail: serde_json::Value,
    ) -> bool {
        let r = AuditRecord {
            at_ms: ms(now()),
            actor: who
                .map(|p| p.name.clone())
                .unwrap_or_else(|| "anonymous".into()),
            role: who.map(|p| p.role.name()).unwrap_or("none").into(),
            action: action.into(),
            target: target.into(),
            outcome,
            reason: reason.into(),
            detail,
        };
        match self.deps.audit.append_audit(&r).await {
            Ok(_) => true,
            Err(e) => {
                error!(action, error = %e, "cannot write the audit log");
                false
            }
        }
    }

    async fn deny(
        &self,
        who: Option<&Principal>,
        action: &str,
        target: &str,
        status: StatusCode,
        reason: String,
    ) -> Response {
        warn!(action, target, reason = %reason, "request refused");
        self.record(
            who,
            action,
            target,
            Outcome::Denied,
            &reason,
            serde_json::json!({ "status": status.as_u16() }),
        )
        .await;
        error(status, reason)
    }

    /// Authenticate and authorize a read.
    async fn reader(&self, headers: &HeaderMap, perm: Permission) -> Result<Principal, Response> {
        let (p, _) = authenticate(self, headers)
            .await
            .map_err(|r| error(StatusCode::UNAUTHORIZED, r.0))?;
        if !p.role.allows(perm) {
            return Err(error(
                StatusCode::FORBIDDEN,
                format!(
                    "{} has the {} role; this needs {}",
                    p.name,
                    p.role.name(),
                    perm.least_role().name()
                ),
            ));
        }
        Ok(p)
    }

    /// Authenticate, check CSRF and authorize a state-changing request; every refusal is audited.
    async fn actor(
        &self,
        headers: &HeaderMap,
        perm: Permission,
        action: &str,
        target: &str,
    ) -> Result<Principal, Response> {
        if self.deps.auth.access().is_none() {
            return Err(self
                .deny(None, action, target, StatusCode::FORBIDDEN, "nobody can act: this control service has no [access] section; add [access] with tokens to the environment config (docs/console.md#access)".into())
                .await);
        }
        let (p, via) = match authenticate(self, headers).await {
            Ok(x) => x,
            Err(r) => {
                return Err(self
                    .deny(None, action, target, StatusCode::UNAUTHORIZED, r.0)
                    .await)
            }
        };
        if let Via::Cookie { csrf } = &via {
            if let Some(why) = cross_site(headers, csrf) {
                return Err(self
                    .deny(Some(&p), action, target, StatusCode::FORBIDDEN, why)
                    .await);
            }
        }
        if !p.role.allows(perm) {
            let why = format!(
                "{} has the {} role; {action} needs {} or above",
                p.name,
                p.role.name(),
                perm.least_role().name()
            );
            return Err(self
                .deny(Some(&p), action, target, StatusCode::FORBIDDEN, why)
                .await);
        }
        Ok(p)
    }

    /// Record an allowed action before carrying it out; refuse if the log cannot be written.
    async fn allow(
        &self,
        p: &Principal,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<(), Response> {
        if self
            .record(Some(p), action, target, Outcome::Allowed, "", detail)
            .await
        {
            Ok(())
        } else {
            Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the audit log cannot be written, so nothing was done: check the journal's disk and permissions",
            ))
        }
    }

    fn env_name(&self) -> &str {
        &self.control.env().environment.name
    }

    /// The serving side, read live at most every few seconds (the status page is polled by
    /// many viewers; AWS is not).
    async fn serving(&self) -> Cached {
        const FRESH: Duration = Duration::from_secs(5);
        {
            let c = self.serving.lock().await;
            if let Some(c) = c.as_ref() {
                if c.at.elapsed() > FRESH {
                    let mut r = self.refreshing.lock().unwrap_or_else(|e| e.into_inner());
                    if !*r {
                        *r = true;
                        let me = self.clone();
                        tokio::spawn(async move {
                            me.refresh_serving().await;
                            *me.refreshing.lock().unwrap_or_else(|e| e.into_inner()) = false;
                        });
                    }
                }
                return c.clone();
            }
        }
        self.refresh_serving().await
    }

    async fn refresh_serving(&self) -> Cached {
        let env = self.control.env();
        let (serving, details) =
            views::serving(env, self.deps.facts.as_ref(), self.deps.actuator.as_ref()).await;
        let c = Cached {
            at: Instant::now(),
            serving,
            details,
        };
        *self.serving.lock().await = Some(c.clone());
        c
    }

    async fn run_of_env(&self, id: &str) -> Result<RunRecord, Response> {
        match self.control.journal().run(id).await {
            Ok(r) if r.environment == self.env_name() => Ok(r),
            Ok(_) | Err(JournalError::NotFound(_)) => Err(error(
                StatusCode::NOT_FOUND,
                format!("no run {id} in this environment"),
            )),
            Err(e) => Err(error(StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
        }
    }
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI.to_string(),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

fn session_json(s: &crate::access::Session) -> serde_json::Value {
    serde_json::json!({
        "user": s.user, "role": s.role, "csrf_token": s.csrf_token, "expires_at_ms": s.expires_at_ms,
    })
}

async fn sign_in(
    State(api): State<Api>,
    body: Result<Json<SignIn>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let action = "session.create";
    let Ok(Json(body)) = body else {
        return api
            .deny(
                None,
                action,
                "",
                StatusCode::BAD_REQUEST,
                "send {\"token\": \"...\"} or {\"id_token\": \"...\"}".into(),
            )
            .await;
    };
    let (who, method) = match (&body.token, &body.id_token) {
        (Some(t), None) => (api.deps.auth.bearer(t.trim()).await, "token"),
        (None, Some(t)) => (api.deps.auth.id_token(t.trim()).await, "id_token"),
        _ => {
            return api
                .deny(
                    None,
                    action,
                    "",
                    StatusCode::BAD_REQUEST,
                    "send exactly one of `token` and `id_token`".into(),
                )
                .await
        }
    };
    let who = match who {
        Ok(p) => p,
        Err(r) => {
            return api
                .deny(
                    None,
                    action,
                    method,
                    StatusCode::UNAUTHORIZED,
                    format!("sign-in refused: {}", r.0),
                )
                .await
        }
    };
    if let Err(resp) = api
        .allow(
            &who,
            action,
            method,
            serde_json::json!({ "method": method }),
        )
        .await
    {
        return resp;
    }
    let (id, s) = api.deps.auth.open_session(&who, ms(now()));
    let max_age = s.expires_at_ms.saturating_sub(ms(now())) / 1000;
    (
        [(
            header::SET_COOKIE,
            format!("{SESSION_COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}"),
        )],
        Json(session_json(&s)),
    )
        .into_response()
}

async fn current_session(State(api): State<Api>, headers: HeaderMap) -> Response {
    let Some(id) = cookie(&headers, SESSION_COOKIE) else {
        return error(StatusCode::UNAUTHORIZED, "not signed in");
    };
    match api.deps.auth.session(&id, ms(now())) {
        Ok(s) => Json(session_json(&s)).into_response(),
        Err(r) => error(StatusCode::UNAUTHORIZED, r.0),
    }
}

async fn sign_out(State(api): State<Api>, headers: HeaderMap) -> Response {
    let action = "session.delete";
    let Some(id) = cookie(&headers, SESSION_COOKIE) else {
        return api
            .deny(
                None,
                action,
                "",
                StatusCode::UNAUTHORIZED,
                "not signed in".into(),
            )
            .await;
    };
    let p = match api.actor(&headers, Permission::Read, action, "").await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let _ = api.allow(&p, action, "", serde_json::json!({})).await;
    api.deps.auth.close_session(&id);
    (
        StatusCode::OK,
        [(
            header::SET_COOKIE,
            format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
        )],
        Json(serde_json::json!({ "signed_out": true })),
    )
        .into_response()
}

fn run_json(r: &RunRecord) -> serde_json::Value {
    serde_json::json!({
        "id": r.id, "runbook": r.runbook, "environment": r.environment,
        "status": r.status.label(), "requested_by": r.requested_by, "reason": r.reason,
        "created_at_ms": r.created_at_ms, "finished_at_ms": r.finished_at_ms,
        "planned": r.options.planned,
    })
}

async fn status(State(api): State<Api>, headers: HeaderMap) -> Response {
    if let Err(r) = api.reader(&headers, Permission::Read).await {
        return r;
    }
    if api.status.claim_start() {
        let me = api.clone();
        tokio::spawn(async move { me.status_builder().await });
    }
    let mut latest = api.status.latest();
    if matches!(latest, crate::status::Latest::Empty) {
        // Only the very first requests wait, for the first build.
        let mut rx = api.status.subscribe();
        latest = match tokio::time::timeout(
            Duration::from_secs(30),
            rx.wait_for(|l| !matches!(l, crate::status::Latest::Empty)),
        )
        .await
        {
            Ok(Ok(l)) => l.clone(),
            _ => crate::status::Latest::Failed(
                "the status is not built yet; try again in a few seconds".into(),
            ),
        };
    }
    status_answer(latest, ms(now()))
}

/// The answer to a status request at `now_ms` from the latest build: its bytes, unless the
/// snapshot is older than [`crate::status::STALE_AFTER`] (it is rebuilt at least every second,
/// so builds fail or the builder is stuck): then 503 with the reason.
fn status_answer(latest: crate::status::Latest, now_ms: u64) -> Response {
    match latest {
        crate::status::Latest::Built(snap, _)
            if now_ms.saturating_sub(snap.at_ms) <= ms(crate::status::STALE_AFTER) =>
        {
            (
                [(header::CONTENT_TYPE, "application/json")],
                snap.body.clone(),
            )
                .into_response()
        }
        crate::status::Latest::Built(snap, None) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the status has not been rebuilt for {} s; the service's log says why (a journal or AWS call that does not return)",
                now_ms.saturating_sub(snap.at_ms) / 1000
            ),
        ),
        crate::status::Latest::Built(_, Some(e)) | crate::status::Latest::Failed(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the status cannot be read: {e}; check the journal (the service's log says more)"
            ),
        ),
        crate::status::Latest::Empty => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the status is not built yet; try again in a few seconds",
        ),
    }
}

impl Api {
    /// Rebuild the status snapshot on its cadence and whenever woken, for as long as the
    /// service runs.
    async fn status_builder(self) {
        loop {
            let active = self.rebuild_status().await;
            let every = if active {
                crate::status::ACTIVE_EVERY
            } else {
                crate::status::IDLE_EVERY
            };
            self.status.next(every).await;
        }
    }

    /// Build the status now and publish it; returns whether a run is active. A failed build
    /// keeps the previous snapshot (served until it is stale) and logs why.
    pub async fn rebuild_status(&self) -> bool {
        let mut progress = self.status.building.lock().await;
        match self.build_status(&mut progress).await {
            Ok((body, active)) => {
                self.status.publish(crate::status::Snapshot {
                    body: serde_json::to_vec(&body).unwrap_or_default().into(),
                    at_ms: ms(now()),
                    active,
                });
                active
            }
            Err(e) => {
                let e = e.to_string();
                // Once per distinct error, not on every retry.
                let repeated = matches!(
                    self.status.latest(),
                    crate::status::Latest::Built(_, Some(old)) | crate::status::Latest::Failed(old)
                        if old == e
                );
                if !repeated {
                    warn!(error = %e, "cannot build the status; serving the previous one until it is stale, then 503");
                }
                self.status.failed(e);
                true
            }
        }
    }

    /// Rebuild the status before answering an action, so the actor's next read sees it.
    async fn status_changed(&self) {
        if self.status.claim_start() {
            let me = self.clone();
            tokio::spawn(async move { me.status_builder().await });
        }
        self.rebuild_status().await;
        // The builder picks the cadence of an active run at once.
        self.status.wake();
    }

    async fn build_status(
        &self,
        progress: &mut crate::status::Progress,
    ) -> Result<(serde_json::Value, bool), JournalError> {
        let api = self;
        let env = api.control.env();
        let journal = api.control.journal();
        let active = journal.active_run(&env.environment.name).await?;
        let runs = journal.runs(Some(&env.environment.name), 20).await?;
        let last = runs.into_iter().find(|r| r.status.is_final());
        let mut active_json = active.as_ref().map(run_json);
        match &active {
            Some(a) => {
                progress.follow(&a.id, &a.plan);
                for e in journal.events_since(&a.id, progress.last_seq()).await? {
                    progress.apply(&a.plan, e.seq, &e.event);
                }
                if let Some(j) = active_json.as_mut() {
                    j["progress"] = progress.json();
                }
            }
            None => progress.clear(),
        }
        let serving = api.serving().await;
        let phase = views::phase(active.as_ref(), last.as_ref(), serving.serving);
        let view = api.control.view();
        let health_state = match view.assessment.as_ref().map(|a| a.state) {
            None => "unknown",
            Some(pilotlight_core::health::HealthState::Healthy) => "healthy",
            Some(pilotlight_core::health::HealthState::Failing { .. }) => "failing",
        };
        let vantages: Vec<serde_json::Value> = api
            .control
            .explain()
            .map(|x| {
                x.vantage_points
                    .iter()
                    .map(|v| {
                        serde_json::json!({
                            "id": v.vantage.as_str(),
                            "state": v.verdict,
                            "probes": v.probes.iter().map(|p| serde_json::json!({
                                "id": p.probe.as_str(),
                                "outcome": p.verdict,
                                "detail": p.last_reason.clone().unwrap_or_else(|| format!(
                                    "{} consecutive failures (threshold {}), {} consecutive successes",
                                    p.consecutive_failures, p.failure_threshold, p.consecutive_successes)),
                                "at_ms": p.last_at.map(ms),
                            })).collect::<Vec<_>>(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let rpo = env.objectives.rpo;
        let lags: Vec<Option<Duration>> = view.replication.iter().map(|l| l.lag).collect();
        let lag = if lags.is_empty() || lags.iter().any(Option::is_none) {
            None
        } else {
            lags.iter().flatten().max().copied()
        };
        let verdict = view.readiness.as_ref().map(|r| r.verdict);
        let protected = serving.serving == views::Serving::Primary
            && verdict == Some(pilotlight_core::readiness::Verdict::Ready);
        let body = serde_json::json!({
            "environment": env.environment.name,
            "tier": conduct::tier_name(env.environment.tier),
            "primary_region": env.regions.primary,
            "dr_region": env.regions.dr,
            "serving": serving.serving,
            "serving_region": views::serving_region(env, serving.serving),
            "serving_details": serving.details,
            "phase": phase,
            "phase_label": phase.label(),
            "active_run": active_json,
            "last_run": last.as_ref().map(run_json),
            "health": { "state": health_state, "vantages": vantages, "watching": env.health.is_some() },
            "readiness": readiness_rows(api),
            "readiness_verdict": verdict,
            "replication": {
                "lag_ms": lag.map(ms),
                "rpo_ms": ms(rpo),
                "within_rpo": lag.map(|l| l <= rpo),
                "databases": view.replication,
            },
            "protected": protected,
            "two_person_rule": api.deps.auth.two_person_rule(),
            "observed_at_ms": ms(now()),
        });
        Ok((body, active.is_some()))
    }
}

fn readiness_rows(api: &Api) -> Vec<serde_json::Value> {
    use pilotlight_core::readiness::Status;
    let env = api.control.env();
    api.control
        .view()
        .checks
        .iter()
        .map(|c| {
            serde_json::json!({
                "resource": c.resource.name,
                "kind": c.resource.kind,
                "region": env.regions.dr,
                "ready": matches!(c.status, Status::Pass | Status::Warn),
                "status": c.status,
                "reason": c.reason,
                "fix": c.fix,
            })
        })
        .collect()
}

async fn readiness(State(api): State<Api>, headers: HeaderMap) -> Response {
    if let Err(r) = api.reader(&headers, Permission::Read).await {
        return r;
    }
    let view = api.control.view();
    Json(serde_json::json!({
        "verdict": view.readiness.as_ref().map(|r| r.verdict),
        "summary": view.readiness.as_ref().map(|r| r.summary.clone()),
        "evaluated_at_ms": view.readiness.as_ref().map(|r| ms(r.evaluated_at)),
        "resources": readiness_rows(&api),
    }))
    .into_response()
}

async fn runbooks(State(api): State<Api>, headers: HeaderMap) -> Response {
    if let Err(r) = api.reader(&headers, Permission::Read).await {
        return r;
    }
    Json(serde_json::json!({ "runbooks": api.deps.plans.keys().collect::<Vec<_>>() }))
        .into_response()
}

async fn plan(State(api): State<Api>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    if let Err(r) = api.reader(&headers, Permission::Read).await {
        return r;
    }
    let Some(plan) = api.deps.plans.get(&name) else {
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "no runbook {name}; known: {}",
                api.deps
                    .plans
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    };
    Json(
        views::plan_view(
            api.control.env(),
            plan,
            api.deps.facts.as_ref(),
            api.deps.actuator.as_ref(),
        )
        .await,
    )
    .into_response()
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

async fn list_runs(
    State(api): State<Api>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(r) = api.reader(&headers, Permission::Read).await {
        return r;
    }
    match api
        .control
        .journal()
        .runs(Some(api.env_name()), q.limit.unwrap_or(100).min(1000))
        .await
    {
        Ok(runs) => {
            Json(serde_json::json!({ "runs": runs.iter().map(run_json).collect::<Vec<_>>() }))
                .into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn show_run(State(api): State<Api>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = api.reader(&headers, Permission::Read).await {
        return r;
    }
    let run = match api.run_of_env(&id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let j = api.control.journal();
    let (events, decisions) = match (j.events(&id).await, j.decisions(&id).await) {
        (Ok(e), Ok(d)) => (e, d),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let report = crate::report::build(&run, &events, decisions);
    let state = RunState::replay(&run.plan, events.iter().map(|e| &e.event)).ok();
    let mut v = serde_json::to_value(&report).unwrap_or_default();
    if let Some(state) = state {
        // Absolute times, live values and approvals per step, and what waits for a person.
        if let Some(steps) = v["steps"].as_array_mut() {
            for s in steps {
                let id = s["id"].as_str().unwrap_or_default().to_string();
                if let Some(n) = state.nodes.get(&id) {
                    s["started_at_ms"] = serde_json::json!(n.started_at_ms);
                    s["finished_at_ms"] = serde_json::json!(n.finished_at_ms);
                    s["live"] = serde_json::json!(n.live);
                    s["approved_by"] = serde_json::json!(n.approved_by);
                }
                if let Some(node) = run.plan.node(&id) {
                    s["depends_on"] = serde_json::json!(node.depends_on);
                    s["target"] = serde_json::json!(node.action.target_text());
                }
            }
        }
        v["awaiting_approval"] = serde_json::json!(state
            .nodes
            .iter()
            .filter(|(_, n)| n.status == NodeStatus::AwaitingApproval)
            .map(|(k, _)| k.clone())
            .collect::<Vec<_>>());
    }
    v["run"]["planned"] = serde_json::json!(run.options.planned);
    Json(v).into_response()
}

async fn run_events(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = api.reader(&headers, Permission::Read).await {
        return r;
    }
    let run = match api.run_of_env(&id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let after: u64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let journal = api.control.journal().clone();
    let plan = run.plan.clone();
    struct Tail {
        state: RunState,
        last: u64,
        after: u64,
        pending: std::collections::VecDeque<SseEvent>,
        done: bool,
    }
    let start = Tail {
        state: RunState::new(&plan),
        last: 0,
        after,
        pending: Default::default(),
        done: false,
    };
    let stream = futures::stream::unfold(start, move |mut t| {
        let (journal, plan, id) = (journal.clone(), plan.clone(), id.clone());
        async move {
            loop {
                if let Some(e) = t.pending.pop_front() {
                    return Some((Ok::<_, std::convert::Infallible>(e), t));
                }
                if t.done {
                    return None;
                }
                let events = match journal.events_since(&id, t.last).await {
                    Ok(e) => e,
                    Err(e) => {
                        warn!(run_id = %id, error = %e, "cannot read the run's events");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                for e in events {
                    t.last = e.seq;
                    let _ = t.state.apply(&plan, &e.event);
                    if matches!(e.event, Event::RunFinished { .. }) {
                        t.done = true;
                    }
                    if e.seq <= t.after {
                        continue;
                    }
                    let node = match &e.event {
                        Event::NodeStarted { node, .. }
                        | Event::NodeObserved { node, .. }
                        | Event::ActionSent { node, .. }
                        | Event::NodeSucceeded { node, .. }
                        | Event::NodeFailed { node, .. }
                        | Event::ApprovalRequested { node, .. }
                        | Event::Approved { node, .. } => Some(node.clone()),
                        _ => None,
                    };
                    let (kind, data) = match &node {
                        Some(n) => (
                            "step",
                            serde_json::json!({
                                "seq": e.seq, "node": n,
                                "status": t.state.nodes.get(n).map(|s| s.status),
                                "run_status": t.state.status.label(),
                                "event": e.event,
                            }),
                        ),
                        None => (
                            "run",
                            serde_json::json!({
                                "seq": e.seq, "status": t.state.status.label(), "event": e.event,
                            }),
                        ),
                    };
                    t.pending.push_back(
                        SseEvent::default()
                            .event(kind)
                            .id(e.seq.to_string())
                            .data(data.to_string()),
                    );
                }
                if t.pending.is_empty() && !t.done {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    runbook: String,
    reason: String,
    confirm: String,
    #[serde(default)]
    planned: bool,
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(default)]
    allow_data_loss: Option<String>,
    #[serde(default)]
    override_readiness: Option<String>,
    /// For `"runbook": "drill"`: `full` or `isolated`.
    #[serde(default)]
    mode: Option<String>,
}

/// A run started by [`Api::launch`].
struct Launched {
    run: RunRecord,
    created: bool,
    approval_step: Option<String>,
}

impl Api {
    /// Start one run of `runbook` for `by` (gated by the two-person rule when it is on) and let
    /// the control service drive it; with `check_failback`, a failback the environment refuses
    /// is not started.
    async fn launch(
        &self,
        by: &str,
        runbook: &str,
        reason: &str,
        key: &str,
        options: RunOptions,
        check_failback: bool,
    ) -> Result<Launched, (StatusCode, String)> {
        let env_name = self.env_name().to_string();
        let Some(plan) = self.deps.plans.get(runbook).cloned() else {
            return Err((
                StatusCode::NOT_FOUND,
                format!("the {runbook} runbook is not loaded by this service (runbooks directory)"),
            ));
        };
        if check_failback && plan.direction == Direction::Failback {
            if let Some(why) =
                views::failback_refusal(self.control.env(), self.deps.facts.as_ref()).await
            {
                return Err((
                    StatusCode::CONFLICT,
                    format!("refusing to fail back: {why}"),
                ));
            }
        }
        let approval_step = format!("approve-{runbook}");
        let plan = if self.deps.auth.two_person_rule() {
            plan.gated_by_approval(
                &approval_step,
                &format!(
                    "{by} requested a {runbook} of {env_name}: {reason}. A second person with the approver role approves."
                ),
            )
        } else {
            plan
        };
        let Some(executor) = self.control.executor() else {
            return Err((StatusCode::SERVICE_UNAVAILABLE, STANDING_BY.into()));
        };
        let started = executor
            .start(StartRequest {
                plan,
                requested_by: by.to_string(),
                reason: reason.to_string(),
                idempotency_key: key.to_string(),
                options,
            })
            .await
            .map_err(|e| match e {
                ExecError::Journal(e @ JournalError::ActiveRunExists { .. }) => {
                    (StatusCode::CONFLICT, e.to_string())
                }
                e => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            })?;
        let run = started.run;
        if !run.status.is_final() {
            self.control.drive(run.id.clone());
        }
        self.status_changed().await;
        let gated = run.plan.node(&approval_step).is_some();
        Ok(Launched {
            run,
            created: started.created,
            approval_step: gated.then_some(approval_step),
        })
    }
}

async fn start_run(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Result<Json<StartBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let action = "run.start";
    let target_guess = "";
    let p = match api
        .actor(&headers, Permission::StartRun, action, target_guess)
        .await
    {
        Ok(p) => p,
        Err(r) => return r,
    };
    let b = match body {
        Ok(Json(b)) => b,
        Err(e) => {
            return api
                .deny(
                    Some(&p),
                    action,
                    "",
                    StatusCode::BAD_REQUEST,
                    format!("bad request: {e}; send {{\"runbook\", \"reason\", \"confirm\", \"planned\", \"idempotency_key\"}}"),
                )
                .await
        }
    };
    let env_name = api.env_name().to_string();
    let target = b.runbook.clone();
    let bad = |msg: String| (StatusCode::BAD_REQUEST, msg);
    let problem = if !matches!(b.runbook.as_str(), "failover" | "failback" | "drill") {
        Some(bad(format!(
            "runbook must be `failover`, `failback` or `drill`, not `{}`",
            b.runbook
        )))
    } else if b.runbook != "drill" && !api.deps.plans.contains_key(&b.runbook) {
        Some((
            StatusCode::NOT_FOUND,
            format!(
                "the {} runbook is not loaded by this service (runbooks directory)",
                b.runbook
            ),
        ))
    } else if b.reason.trim().is_empty() {
        Some(bad("give a reason: it is recorded in the journal".into()))
    } else if b.confirm != env_name {
        Some(bad(format!(
            "confirmation does not match: type the environment's name `{env_name}` exactly"
        )))
    } else {
        None
    };
    if let Some((status, msg)) = problem {
        return api.deny(Some(&p), action, &target, status, msg).await;
    }
    if b.runbook == "drill" {
        return start_drill(api, p, b).await;
    }
    if b.mode.is_some() {
        return api
            .deny(
                Some(&p),
                action,
                &target,
                StatusCode::BAD_REQUEST,
                "`mode` is for `\"runbook\": \"drill\"` only".into(),
            )
            .await;
    }
    if b.runbook == "failback" {
        if let Some(why) = views::failback_refusal(api.control.env(), api.deps.facts.as_ref()).await
        {
            return api
                .deny(
                    Some(&p),
                    action,
                    &target,
                    StatusCode::CONFLICT,
                    format!("refusing to fail back: {why}"),
                )
                .await;
        }
    }
    let two_person = api.deps.auth.two_person_rule();
    let key = b
        .idempotency_key
        .clone()
        .filter(|k| !k.trim().is_empty())
        .unwrap_or_else(crate::access::random_id);
    let detail = serde_json::json!({
        "reason": b.reason, "planned": b.planned, "idempotency_key": key,
        "two_person_rule": two_person,
        "allow_data_loss": b.allow_data_loss, "override_readiness": b.override_readiness,
    });
    if let Err(r) = api.allow(&p, action, &target, detail).await {
        return r;
    }
    let launched = api
        .launch(
            &p.name,
            &b.runbook,
            &b.reason,
            &format!("api-{key}"),
            RunOptions {
                planned: b.planned,
                allow_data_loss: b.allow_data_loss.clone(),
                override_readiness: b.override_readiness.clone(),
            },
            false,
        )
        .await;
    let l = match launched {
        Ok(l) => l,
        Err((status, msg)) => return error(status, msg),
    };
    let status = if l.approval_step.is_some() && !l.run.status.is_final() {
        "awaiting_approval"
    } else {
        l.run.status.label()
    };
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "run_id": l.run.id, "status": status, "created": l.created,
            "approval_step": l.approval_step,
        })),
    )
        .into_response()
}

/// `POST /api/v1/runs` with `"runbook": "drill"`: start a drill conducted by this service. The
/// drill's state is at `GET /api/v1/drills` (`current`), its report there when it ends.
async fn start_drill(api: Api, p: Principal, b: StartBody) -> Response {
    let (action, target) = ("run.start", "drill");
    let env = api.control.env().clone();
    let deny = |status: StatusCode, msg: String| {
        let api = api.clone();
        let p = p.clone();
        async move { api.deny(Some(&p), action, target, status, msg).await }
    };
    let mode = match b.mode.as_deref() {
        Some("full") => Mode::Full,
        Some("isolated") => Mode::Isolated,
        other => {
            return deny(
                StatusCode::BAD_REQUEST,
                format!(
                    "a drill needs \"mode\": \"full\" (the real failover and failback, not for production) or \"isolated\" (copies in DR, nothing serving touched), not {other:?}"
                ),
            )
            .await
        }
    };
    let Some(store) = api.drills.clone() else {
        return deny(StatusCode::SERVICE_UNAVAILABLE, "this control service was started without a drill store, so it cannot run a drill: run `pilotlight drill` on a host".into()).await;
    };
    let Some(runner) = api.drill_runs.runner.clone() else {
        return deny(StatusCode::SERVICE_UNAVAILABLE, "this control service was started without the drill's adapters: run `pilotlight drill` on a host".into()).await;
    };
    if mode == Mode::Full {
        if env.environment.tier == Tier::Production {
            return deny(
                StatusCode::CONFLICT,
                DrillError::Production(env.environment.name.clone()).to_string(),
            )
            .await;
        }
        for runbook in ["failover", "failback"] {
            if !api.deps.plans.contains_key(runbook) {
                return deny(StatusCode::NOT_FOUND, format!("a full drill needs the {runbook} runbook, which this service has not loaded (runbooks directory)")).await;
            }
        }
    }
    if let Some(d) = api.drill_runs.running() {
        return deny(
            StatusCode::CONFLICT,
            format!(
                "drill {} ({}) is running: wait for its report (GET /api/v1/drills)",
                d.id, d.mode
            ),
        )
        .await;
    }
    match api
        .control
        .journal()
        .active_run(&env.environment.name)
        .await
    {
        Ok(Some(r)) => {
            return deny(
                StatusCode::CONFLICT,
                format!(
                    "run {} ({}) is active: finish, resume or abort it before a drill",
                    r.id, r.runbook
                ),
            )
            .await
        }
        Ok(None) => {}
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
    if api.control.executor().is_none() {
        return standing_by();
    }
    match store.unfinished_drills(&env.environment.name).await {
        Ok(unfinished) => {
            if let Some(d) = unfinished.first() {
                let msg = if d.conductor == pilotlight_drill::store::CONDUCTOR_SERVICE {
                    let me = api.clone();
                    tokio::spawn(async move { me.recover_drills().await });
                    format!(
                        "drill {} ({}) has no report: the control service stopped during it. It is being ended now (its copies removed, its report stored): watch GET /api/v1/drills and start again once its report is listed",
                        d.id,
                        d.mode.name()
                    )
                } else {
                    format!(
                        "drill {} ({}, started by {} with the CLI) has no report: it still runs on that host, or its process stopped before it ended. Once it is not running, end it there with `pilotlight drill --recover {}`",
                        d.id,
                        d.mode.name(),
                        d.requested_by,
                        d.id
                    )
                };
                return deny(StatusCode::CONFLICT, msg).await;
            }
        }
        Err(e) => return drill_error(e),
    }
    let started = ms(now());
    let id = conduct::drill_id(&pilotlight_executor::new_run_id(started));
    let detail = serde_json::json!({ "reason": b.reason, "mode": mode.name(), "drill_id": id });
    if let Err(r) = api.allow(&p, action, target, detail).await {
        return r;
    }
    let trend = match conduct::trend(store.as_ref(), &env.environment.name).await {
        Ok(t) => t,
        Err(e) => return drill_error(e),
    };
    // Recorded before anything changes, so a drill this process does not finish is found and
    // ended later (`Api::recover_drills`).
    let recorded = store
        .drill_started(&pilotlight_drill::store::DrillStart {
            id: id.clone(),
            environment: env.environment.name.clone(),
            mode,
            requested_by: p.name.clone(),
            reason: b.reason.clone(),
            started_at_ms: started,
            conductor: pilotlight_drill::store::CONDUCTOR_SERVICE.into(),
        })
        .await;
    if let Err(e) = recorded {
        return drill_error(e);
    }
    let state = crate::drills::DrillState {
        id: id.clone(),
        mode: mode.name().into(),
        requested_by: p.name.clone(),
        reason: b.reason.clone(),
        started_at_ms: started,
        status: "running".into(),
        progress: "starting".into(),
        error: None,
        passed: None,
    };
    *api.drill_runs
        .current
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(state);
    let drills = api.drill_runs.clone();
    let progress_drills = drills.clone();
    let setup = conduct::DrillSetup {
        env,
        id: id.clone(),
        by: p.name.clone(),
        canaries: runner.canaries.clone(),
        canary_plan: runner.canary_plan,
        trend,
        clock: Arc::new(|| ms(now())),
        progress: Arc::new(move |line: &str| {
            tracing::info!(target: "pilotlight::drill", "{line}");
            progress_drills.update(|d| d.progress = line.to_string());
        }),
    };
    let me = api.clone();
    let by = p.name.clone();
    let start: crate::drills::StartRun = Arc::new(move |runbook, key, reason| {
        let me = me.clone();
        let by = by.clone();
        Box::pin(async move {
            me.launch(&by, &runbook, &reason, &key, RunOptions::default(), true)
                .await
                .map(|l| l.run.id)
                .map_err(|(_, msg)| msg)
        })
    });
    let runs = crate::drills::ServiceRuns {
        start,
        journal: api.control.journal().clone(),
        poll: Duration::from_millis(250),
    };
    let (stop, cancel) = tokio::sync::watch::channel(false);
    *api.drill_runs
        .cancel
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(stop);
    let me = api.clone();
    tokio::spawn(async move {
        let report = match mode {
            Mode::Isolated => {
                Ok(
                    conduct::isolated(&setup, runner.copies.as_ref(), runner.isolated, cancel)
                        .await,
                )
            }
            _ => conduct::full(&setup, &runs).await,
        };
        match report {
            Ok(r) => {
                let passed = r.verdict.passed;
                let saved = store.save_drill(&r).await;
                if let Err(e) = &saved {
                    error!(drill_id = %r.id, error = %e, "cannot store the drill report");
                }
                drills.update(|d| {
                    d.status = "finished".into();
                    d.passed = Some(passed);
                    d.progress = format!("finished: {}", if passed { "passed" } else { "FAILED" });
                    d.error = saved
                        .err()
                        .map(|e| format!("the report could not be stored: {e}"));
                });
            }
            Err(e) => {
                if let Err(err) = store.drill_not_run(&setup.id).await {
                    error!(drill_id = %setup.id, error = %err, "cannot record that the drill did not run");
                }
                drills.update(|d| {
                    d.status = "not_run".into();
                    d.error = Some(e.to_string());
                })
            }
        }
        me.status_changed().await;
    });
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "drill_id": id, "mode": mode.name(), "status": "running",
            "links": drill_links(&id),
        })),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    #[serde(default)]
    step: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    #[serde(default)]
    reason: Option<String>,
}

fn exec_error(e: ExecError) -> Response {
    match e {
        ExecError::Refused(m) => error(StatusCode::CONFLICT, m),
        ExecError::Journal(JournalError::NotFound(m)) => error(StatusCode::NOT_FOUND, m),
        other => error(StatusCode::CONFLICT, other.to_string()),
    }
}

async fn approve(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<ApproveBody>>,
) -> Response {
    let action = "run.approve";
    let p = match api.actor(&headers, Permission::Approve, action, &id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let run = match api.run_of_env(&id).await {
        Ok(r) => r,
        Err(_) => {
            return api
                .deny(
                    Some(&p),
                    action,
                    &id,
                    StatusCode::NOT_FOUND,
                    format!("no run {id} in this environment"),
                )
                .await
        }
    };
    let step = match body.and_then(|b| b.0.step) {
        Some(s) => s,
        None => {
            let events = api.control.journal().events(&id).await.unwrap_or_default();
            let waiting = RunState::replay(&run.plan, events.iter().map(|e| &e.event))
                .ok()
                .and_then(|s| {
                    s.nodes
                        .iter()
                        .find(|(_, n)| n.status == NodeStatus::AwaitingApproval)
                        .map(|(k, _)| k.clone())
                });
            match waiting {
                Some(s) => s,
                None => {
                    return api
                        .deny(
                            Some(&p),
                            action,
                            &id,
                            StatusCode::CONFLICT,
                            format!("no step of run {id} waits for approval; name one with {{\"step\": \"...\"}}"),
                        )
                        .await
                }
            }
        }
    };
    let target = format!("{id}/{step}");
    if let Some(why) =
        two_person_refusal(api.deps.auth.two_person_rule(), &run.requested_by, &p.name)
    {
        return api
            .deny(Some(&p), action, &target, StatusCode::FORBIDDEN, why)
            .await;
    }
    if let Err(r) = api
        .allow(&p, action, &target, serde_json::json!({ "step": step }))
        .await
    {
        return r;
    }
    let ev = Event::Approved {
        node: step.clone(),
        by: p.name.clone(),
        at_ms: ms(now()),
    };
    let Some(executor) = api.control.executor() else {
        return standing_by();
    };
    match executor.control(&id, ev).await {
        Ok(()) => {
            api.control.drive(id.clone());
            api.status_changed().await;
            Json(serde_json::json!({ "run_id": id, "approved": step, "by": p.name }))
                .into_response()
        }
        Err(e) => exec_error(e),
    }
}

async fn control_run(
    api: Api,
    headers: HeaderMap,
    id: String,
    body: Option<Json<ReasonBody>>,
    verb: &'static str,
) -> Response {
    let action = match verb {
        "pause" => "run.pause",
        "resume" => "run.resume",
        _ => "run.abort",
    };
    let p = match api
        .actor(&headers, Permission::ControlRun, action, &id)
        .await
    {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = api.run_of_env(&id).await {
        return r;
    }
    let reason = body.and_then(|b| b.0.reason).unwrap_or_default();
    if let Err(r) = api
        .allow(&p, action, &id, serde_json::json!({ "reason": reason }))
        .await
    {
        return r;
    }
    let (by, at_ms) = (p.name.clone(), ms(now()));
    let ev = match verb {
        "pause" => Event::Paused { by, at_ms },
        "resume" => Event::Resumed { by, at_ms },
        _ => Event::AbortRequested { by, at_ms },
    };
    let Some(executor) = api.control.executor() else {
        return standing_by();
    };
    match executor.control(&id, ev).await {
        Ok(()) => {
            if verb != "pause" {
                // A paused run's driver has returned: drive it again (no-op if it runs).
                api.control.drive(id.clone());
            }
            let status = api
                .control
                .journal()
                .run(&id)
                .await
                .map(|r| r.status.label())
                .unwrap_or("unknown");
            api.status_changed().await;
            Json(serde_json::json!({ "run_id": id, "status": status })).into_response()
        }
        Err(e) => exec_error(e),
    }
}

async fn pause(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<ReasonBody>>,
) -> Response {
    control_run(api, headers, id, body, "pause").await
}

async fn resume(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<ReasonBody>>,
) -> Response {
    control_run(api, headers, id, body, "resume").await
}

async fn abort(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<ReasonBody>>,
) -> Response {
    control_run(api, headers, id, body, "abort").await
}

#[derive(Deserialize)]
struct AuditQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

/// The answer of the drill routes when the service was given no drill store.
fn no_drill_store() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "this control service does not serve drill reports (it was started without its drill store); list them on the host with `pilotlight drills`",
    )
}

fn drill_error(e: DrillStoreError) -> Response {
    match e {
        DrillStoreError::NotFound(id) => error(
            StatusCode::NOT_FOUND,
            format!("no drill {id} in this environment; list them with GET /api/v1/drills"),
        ),
        e => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// Where a stored drill's report is downloaded, per format.
fn drill_links(id: &str) -> serde_json::Value {
    let base = format!("/api/v1/drills/{id}");
    serde_json::json!({
        "json": format!("{base}?format=json"),
        "markdown": format!("{base}?format=markdown"),
        "html": format!("{base}?format=html"),
    })
}

async fn list_drills(
    State(api): State<Api>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(r) = api.reader(&headers, Permission::Read).await {
        return r;
    }
    let Some(store) = api.drills.as_ref() else {
        return no_drill_store();
    };
    // Started, no report, and not the drill running here now.
    let running = api.drill_runs.running().map(|d| d.id);
    let unfinished: Vec<_> = match store.unfinished_drills(api.env_name()).await {
        Ok(u) => u
            .into_iter()
            .filter(|d| running.as_deref() != Some(d.id.as_str()))
            .collect(),
        Err(e) => return drill_error(e),
    };
    match store
        .drills(Some(api.env_name()), q.limit.unwrap_or(100).min(1000))
        .await
    {
        Ok(drills) => Json(serde_json::json!({
            "current": api.drill_runs.current(),
            "can_start": api.drill_runs.runner.is_some(),
            "unfinished": unfinished,
            "drills": drills
                .iter()
                .map(|d| {
                    let mut v = serde_json::to_value(d).unwrap_or_default();
                    v["links"] = drill_links(&d.id);
                    v
                })
                .collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => drill_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DrillQuery {
    #[serde(default)]
    format: Option<String>,
}

async fn show_drill(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<DrillQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(r) = api.reader(&headers, Permission::Read).await {
        return r;
    }
    let format = match q {
        Ok(Query(q)) => q.format.unwrap_or_else(|| "json".into()),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("{e}; the only parameter is format=json|markdown|html"),
            )
        }
    };
    if !matches!(format.as_str(), "json" | "markdown" | "html") {
        return error(
            StatusCode::BAD_REQUEST,
            format!("unknown format `{format}`: use format=json, format=markdown or format=html"),
        );
    }
    let Some(store) = api.drills.as_ref() else {
        return no_drill_store();
    };
    let report = match store.drill(&id).await {
        Ok(r) if r.environment == api.env_name() => r,
        Ok(_) => return drill_error(DrillStoreError::NotFound(id)),
        Err(e) => return drill_error(e),
    };
    // The id is the file name: keep it to characters that need no quoting.
    let file: String = report
        .id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    match format.as_str() {
        "markdown" => (
            [
                (
                    header::CONTENT_TYPE,
                    "text/markdown; charset=utf-8".to_string(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file}.md\""),
                ),
            ],
            pilotlight_drill::render::render_markdown(&report),
        )
            .into_response(),
        "html" => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file}.html\""),
                ),
                // The report is self-contained (inline style and SVG, no script): even opened
                // on this origin it runs nothing and loads nothing.
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
                        .to_string(),
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            ],
            pilotlight_drill::render::render_html(&report),
        )
            .into_response(),
        _ => (
            [(header::CONTENT_TYPE, "application/json".to_string())],
            pilotlight_drill::render::render_json(&report),
        )
            .into_response(),
    }
}

async fn audit(
    State(api): State<Api>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    if let Err(r) = api.reader(&headers, Permission::ReadAudit).await {
        return r;
    }
    let all = match api.deps.audit.audit_entries(0, usize::MAX).await {
        Ok(a) => a,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let chain = match pilotlight_core::audit::verify_chain(&all) {
        Ok(()) => serde_json::json!({ "intact": true, "entries": all.len() }),
        Err(b) => serde_json::json!({ "intact": false, "broken_at": b.seq, "problem": b.problem }),
    };
    let after = q.after.unwrap_or(0);
    let limit = q.limit.unwrap_or(200).min(5000);
    // Newest first.
    let entries: Vec<serde_json::Value> = all
        .iter()
        .rev()
        .filter(|e| e.seq > after)
        .take(limit)
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            v["detail"] = serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null);
            v
        })
        .collect();
    Json(serde_json::json!({ "entries": entries, "chain": chain })).into_response()
}

/// The answer of an instance that stands by to an action (several instances on the HA store).
const STANDING_BY: &str = "this instance stands by: another instance leads and acts; send the request to the leader (GET /api/v1/leader on each instance says which one leads)";

fn standing_by() -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, STANDING_BY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// `(method, path)` of every `.route(...)` in a router's source.
    fn routes_in(source: &str) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for chunk in source.split(".route(").skip(1) {
            let chunk = chunk.split(".with_state").next().unwrap_or(chunk);
            let path = chunk.split('"').nth(1).expect("a quoted path").to_string();
            let mut found = false;
            for m in ["get", "post", "delete", "put", "patch"] {
                for pre in ["(", " ", "."] {
                    if chunk.contains(&format!("{pre}{m}(")) {
                        out.insert((m.to_string(), path.clone()));
                        found = true;
                    }
                }
            }
            assert!(found, "no method found for {path}");
        }
        out
    }

    #[test]
    fn openapi_documents_every_route_and_nothing_else() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("valid JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for m in item.as_object().unwrap().keys() {
                documented.insert((m.clone(), path.clone()));
            }
        }
        let mut served = routes_in(include_str!("v1.rs").split("#[cfg(test)]").next().unwrap());
        served.extend(routes_in(include_str!("api.rs")));
        assert_eq!(documented, served, "openapi.json and the routers differ");
        let listed: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert!(
            listed.is_subset(&served),
            "ROUTES lists a route that is not served"
        );
        assert_eq!(
            listed,
            routes_in(include_str!("v1.rs").split("#[cfg(test)]").next().unwrap()),
            "ROUTES must list every route of this module"
        );
        // Every $ref resolves.
        let text = OPENAPI;
        for r in text.split("\"$ref\": \"#/").skip(1) {
            let target = r.split('"').next().unwrap();
            let mut v = &doc;
            for part in target.split('/') {
                v = &v[part];
            }
            assert!(!v.is_null(), "unresolved $ref #/{target}");
        }
    }

    #[tokio::test]
    async fn a_stale_status_is_not_served_as_current() {
        use crate::status::{Latest, Snapshot};
        use http_body_util::BodyExt;
        let snap = Arc::new(Snapshot {
            body: "{\"phase\":\"normal\"}".into(),
            at_ms: 100_000,
            active: false,
        });
        let body = |r: Response| async {
            let status = r.status();
            let b = r.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(b.to_vec()).unwrap())
        };
        let fresh = status_answer(Latest::Built(snap.clone(), None), 110_000);
        assert_eq!(
            body(fresh).await,
            (StatusCode::OK, "{\"phase\":\"normal\"}".into()),
        );
        let (code, text) = body(status_answer(Latest::Built(snap.clone(), None), 130_000)).await;
        assert_eq!(
            code,
            StatusCode::SERVICE_UNAVAILABLE,
            "not rebuilt for 30 s"
        );
        assert!(text.contains("not been rebuilt for 30 s"), "{text}");
        let failing = Latest::Built(snap, Some("database is locked".into()));
        let recent = status_answer(failing.clone(), 105_000);
        assert_eq!(body(recent).await.0, StatusCode::OK, "within 10 s");
        let (code, text) = body(status_answer(failing, 110_001)).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            text.contains("database is locked") && text.contains("check the journal"),
            "{text}"
        );
        let (code, text) = body(status_answer(Latest::Failed("disk full".into()), 0)).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert!(text.contains("disk full"), "{text}");
        let (code, _) = body(status_answer(Latest::Empty, 0)).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn cross_site_requests_are_named() {
        let mut h = HeaderMap::new();
        h.insert("host", "127.0.0.1:8080".parse().unwrap());
        assert!(cross_site(&h, "c")
            .unwrap()
            .contains("missing X-CSRF-Token"));
        h.insert("x-csrf-token", "x".parse().unwrap());
        assert!(cross_site(&h, "c").unwrap().contains("wrong X-CSRF-Token"));
        h.insert("x-csrf-token", "c".parse().unwrap());
        assert_eq!(cross_site(&h, "c"), None);
        h.insert("origin", "http://127.0.0.1:8080".parse().unwrap());
        assert_eq!(cross_site(&h, "c"), None, "same origin");
        h.insert("origin", "https://evil.example".parse().unwrap());
        assert!(cross_site(&h, "c").unwrap().contains("evil.example"));
        h.insert("origin", "null".parse().unwrap());
        assert!(cross_site(&h, "c").is_some(), "an opaque origin is refused");
        h.remove("origin");
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(cross_site(&h, "c").unwrap().contains("Sec-Fetch-Site"));
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert_eq!(cross_site(&h, "c"), None);
    }
}
