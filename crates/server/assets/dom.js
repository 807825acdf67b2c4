// Small DOM helpers. Everything is built with createElement and textContent: no HTML strings,
// so nothing the API returns can ever become markup (and the CSP forbids inline script anyway).

/** Create an element: h("p", {class: "x", onclick: f}, "text", child, [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** Create an SVG element the same way. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "dataset") {
      Object.assign(el.dataset, v);
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** A local date and time with seconds, or "unknown". */
export function fmtTime(ms) {
  if (ms === undefined || ms === null) return "unknown";
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "12 s ago", "3 min ago", or "unknown". */
export function fmtAgo(ms, now = Date.now()) {
  if (ms === undefined || ms === null) return "unknown";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/** A duration in seconds as "850 ms", "12.3 s", "4 min 10 s". */
export function fmtSeconds(sec) {
  if (sec === undefined || sec === null || Number.isNaN(sec)) return "unknown";
  if (sec < 1) return `${Math.round(sec * 1000)} ms`;
  if (sec < 60) return `${sec.toFixed(1)} s`;
  const m = Math.floor(sec / 60);
  const r = Math.round(sec % 60);
  if (m < 60) return r ? `${m} min ${r} s` : `${m} min`;
  const hh = Math.floor(m / 60);
  return `${hh} h ${m % 60} min`;
}

/** A status word as a badge; the class says how good it is (never green unless it is). */
export function badge(text, tone) {
  return h("span", { class: `badge ${tone || toneOf(text)}` }, text ?? "unknown");
}

const GOOD = new Set(["up", "ready", "pass", "succeeded", "ok", "healthy", "within", "normal", "live"]);
const BAD = new Set(["down", "fail", "failed", "not_ready", "aborted", "error", "outside", "unhealthy", "refused", "failing", "mixed", "denied", "could_not_check"]);
const BUSY = new Set(["running", "in_progress", "pending", "started", "queued", "failing_over", "failing_back"]);
const WAIT = new Set(["awaiting_approval", "paused", "warn", "degraded", "recommend", "hold", "failed_over", "stale"]);

/** The tone of a status word: good, bad, busy, wait or unknown. */
export function toneOf(word) {
  const w = String(word ?? "unknown").toLowerCase();
  if (GOOD.has(w)) return "good";
  if (BAD.has(w)) return "bad";
  if (BUSY.has(w)) return "busy";
  if (WAIT.has(w)) return "wait";
  return "unknown";
}

/** A labelled value for a definition list. */
export function field(label, ...value) {
  return [h("dt", null, label), h("dd", null, ...value)];
}

/** An error banner. */
export function errorBox(message) {
  return h("div", { class: "banner bad", role: "alert" }, message);
}

/** A random idempotency key (crypto.randomUUID where available). */
export function randomKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
