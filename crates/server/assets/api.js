// The console's client of the HTTP API (/api/v1). The session lives in an HttpOnly cookie the
// script cannot read; what the script keeps is the session's user, role and CSRF token, which
// every state-changing request sends as X-CSRF-Token.

/** The signed-in session ({user, role, csrf_token, expires_at_ms}), or null. */
export let session = null;

const listeners = new Set();

/** Be told when the session changes (sign-in, sign-out, expiry). */
export function onSession(f) {
  listeners.add(f);
}

function setSession(s) {
  session = s;
  for (const f of listeners) f(s);
}

/** An API error: the HTTP status and the server's message. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

const ROLES = ["viewer", "operator", "approver", "admin"];

/** Whether the session's role is at least `role` (roles are ordered). */
export function atLeast(role) {
  if (!session) return false;
  return ROLES.indexOf(session.role) >= ROLES.indexOf(role);
}

/** Call the API; JSON in and out. Throws ApiError on a non-2xx answer. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") {
    if (session?.csrf_token) headers["X-CSRF-Token"] = session.csrf_token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
  }
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      signal,
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, `cannot reach the Pilotlight service (${e.message}); check that it runs`);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: text.trim() };
    }
  }
  if (!res.ok) {
    const message = (data && (data.error || data.message)) || `${res.status} ${res.statusText}`;
    if (res.status === 401 && path !== "/session" && session) setSession(null);
    throw new ApiError(res.status, message, data);
  }
  return data;
}

/** Sign in with a bearer token or an OIDC ID token. */
export async function signIn(token) {
  const s = await api("/session", { method: "POST", body: { token } });
  setSession(s);
  return s;
}

/** The current session from the cookie, or null when signed out. */
export async function restore() {
  try {
    setSession(await api("/session"));
  } catch (e) {
    if (e.status === 401) setSession(null);
    else throw e;
  }
  return session;
}

/** Sign out (ends the session on the server too). */
export async function signOut() {
  try {
    await api("/session", { method: "DELETE" });
  } finally {
    setSession(null);
  }
}

/**
 * Follow a run's server-sent events. `onEvent(kind, data)` is called for each `step` and `run`
 * event, `onState("open" | "reconnecting")` when the stream's state changes. Returns a
 * function that closes the stream.
 */
export function follow(runId, onEvent, onState) {
  const es = new EventSource(`/api/v1/runs/${encodeURIComponent(runId)}/events`);
  const parse = (e) => {
    try {
      return JSON.parse(e.data);
    } catch {
      return e.data;
    }
  };
  es.addEventListener("step", (e) => onEvent("step", parse(e)));
  es.addEventListener("run", (e) => onEvent("run", parse(e)));
  es.addEventListener("message", (e) => onEvent("message", parse(e)));
  es.onopen = () => onState && onState("open");
  es.onerror = () => onState && onState(es.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
  return () => es.close();
}
