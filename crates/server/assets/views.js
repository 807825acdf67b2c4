// The console's pages: sign-in, overview, run, history, drills, audit log. Every page says what it does
// not know ("unknown", "stale") instead of showing a reassuring default.

import { api, atLeast, follow, session, signIn } from "./api.js";
import { badge, errorBox, field, fmtAgo, fmtSeconds, fmtTime, h, replace, s, toneOf } from "./dom.js";
import { openDrillDialog, openStartDialog } from "./dialog.js";

/** How often the overview refreshes, and when what it shows counts as stale. */
const OVERVIEW_EVERY_MS = 3000;
const STALE_AFTER_MS = 10000;
/** A probe result older than this is flagged stale, whatever the server's state says. */
const PROBE_STALE_MS = 120000;

// ---------------------------------------------------------------------------------------------
// Sign in

export function signInPage(main) {
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "token-help",
  });
  const message = h("p", { id: "signin-error", class: "error", role: "alert" });
  const button = h("button", { type: "submit", id: "signin" }, "Sign in");
  const form = h(
    "form",
    { class: "card signin", id: "signin-form" },
    h("h1", null, "Sign in"),
    h("label", { for: "token" }, "Access token"),
    input,
    h(
      "p",
      { id: "token-help", class: "muted" },
      "Paste your Pilotlight access token, or an OIDC ID token from your identity provider. " +
        "It is exchanged for a session cookie and never stored by this page.",
    ),
    message,
    button,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    message.textContent = "";
    try {
      await signIn(token);
    } catch (err) {
      message.textContent =
        err.status === 401 || err.status === 403
          ? /refused/i.test(err.message)
            ? err.message
            : `Sign-in refused: ${err.message}`
          : `Cannot sign in: ${err.message}`;
      button.disabled = false;
      input.select();
    }
  });
  replace(main, form);
  input.focus();
}

// ---------------------------------------------------------------------------------------------
// Overview

const TERMINAL = new Set(["succeeded", "degraded", "failed", "aborted"]);

function runId(r) {
  if (!r) return null;
  return typeof r === "string" ? r : r.id || r.run_id || null;
}

function regionRole(status, region) {
  if (!region) return null;
  if (region === status.primary_region) return "primary";
  if (region === status.dr_region) return "DR";
  return null;
}

function yesNoUnknown(v, yes, no) {
  if (v === true) return badge(yes, "good");
  if (v === false) return badge(no, "bad");
  return badge("unknown", "unknown");
}

function lagMeter(rep) {
  const lag = rep?.lag_ms;
  const rpo = rep?.rpo_ms;
  if (lag === null || lag === undefined || !rpo) {
    return h("p", { class: "big unknown", id: "lag" }, "lag unknown");
  }
  const tone = rep.within_rpo === true ? "good" : rep.within_rpo === false ? "bad" : "unknown";
  const frac = Math.min(1, lag / rpo);
  return h(
    "div",
    null,
    h("p", { class: `big ${tone}`, id: "lag" }, fmtSeconds(lag / 1000)),
    s(
      "svg",
      { class: "meter", viewBox: "0 0 100 8", preserveAspectRatio: "none", role: "img", "aria-label": `lag is ${Math.round(frac * 100)}% of the RPO` },
      s("rect", { class: "meter-bg", x: 0, y: 0, width: 100, height: 8 }),
      s("rect", { class: `meter-fg ${tone}`, x: 0, y: 0, width: Math.max(1, frac * 100), height: 8 }),
    ),
    h("p", { class: "muted" }, `RPO ${fmtSeconds(rpo / 1000)} · `, yesNoUnknown(rep.within_rpo, "within RPO", "over RPO")),
  );
}

function vantageTable(health) {
  const vantages = health?.vantages || [];
  if (health && health.watching === false) {
    return h("p", { class: "muted" }, "Not watched: the environment config has no [health] section, so health is unknown.");
  }
  if (!vantages.length) {
    return h("p", { class: "muted" }, "No vantage points report health (no [health] section, or nothing received yet).");
  }
  const now = Date.now();
  const rows = [];
  for (const v of vantages) {
    const probes = v.probes || [];
    if (!probes.length) {
      rows.push(h("tr", null, h("td", { "data-label": "Vantage" }, v.id), h("td", { "data-label": "State" }, badge(v.state)), h("td", { "data-label": "Probe" }, "—"), h("td", { "data-label": "Result" }, badge("unknown")), h("td", { "data-label": "When" }, "never")));
    }
    probes.forEach((p, i) => {
      const stale = p.at_ms === null || p.at_ms === undefined || now - p.at_ms > PROBE_STALE_MS;
      const outcome = typeof p.outcome === "string" ? p.outcome : p.outcome?.state || Object.keys(p.outcome || {})[0] || "unknown";
      rows.push(
        h(
          "tr",
          { class: "vantage", dataset: { vantage: v.id, probe: p.id } },
          h("td", { "data-label": "Vantage" }, i === 0 ? v.id : ""),
          h("td", { "data-label": "State" }, i === 0 ? badge(v.state) : ""),
          h("td", { "data-label": "Probe" }, p.id),
          h("td", { "data-label": "Result" }, badge(outcome), p.detail ? h("span", { class: "detail" }, ` ${p.detail}`) : null),
          h("td", { "data-label": "When" }, fmtAgo(p.at_ms, now), stale ? [" ", badge("stale", "wait")] : null),
        ),
      );
    });
  }
  return h(
    "table",
    { class: "table", id: "vantages" },
    h("thead", null, h("tr", null, ["Vantage", "State", "Probe", "Result", "When"].map((t) => h("th", null, t)))),
    h("tbody", null, rows),
  );
}

function readinessTable(readiness) {
  if (!readiness || !readiness.length) {
    return h("p", { class: "muted" }, "Readiness not evaluated yet: unknown.");
  }
  return h(
    "table",
    { class: "table", id: "readiness" },
    h("thead", null, h("tr", null, ["Resource", "Kind", "Region", "Ready", "Why"].map((t) => h("th", null, t)))),
    h(
      "tbody",
      null,
      readiness.map((r) =>
        h(
          "tr",
          { dataset: { resource: r.resource } },
          h("td", { "data-label": "Resource" }, r.resource),
          h("td", { "data-label": "Kind" }, r.kind ?? ""),
          h("td", { "data-label": "Region" }, r.region ?? ""),
          h("td", { "data-label": "Ready" }, r.status ? badge(r.status) : yesNoUnknown(r.ready, "ready", "not ready")),
          h("td", { "data-label": "Why", class: "detail" }, r.reason ?? "", r.fix ? h("div", { class: "fix" }, `Fix: ${r.fix}`) : null),
        ),
      ),
    ),
  );
}

/** "3 of 12 steps done; running: a, b; awaiting approval: c", or nothing when unknown. */
function progressLine(p) {
  if (!p || typeof p.steps_total !== "number") return null;
  const parts = [`${p.steps_done} of ${p.steps_total} steps done`];
  if (p.running?.length) parts.push(`running: ${p.running.join(", ")}`);
  if (p.awaiting_approval?.length) parts.push(`awaiting approval: ${p.awaiting_approval.join(", ")}`);
  if (p.failed?.length) parts.push(`failed: ${p.failed.join(", ")}`);
  return h("p", { id: "active-progress" }, parts.join("; "));
}

function actions(status) {
  const active = runId(status.active_run);
  if (active) {
    return h(
      "div",
      { class: "banner busy", id: "active-run" },
      "A run is in progress: ",
      h("a", { href: `#/runs/${encodeURIComponent(active)}` }, active),
      status.active_run?.runbook ? ` (${status.active_run.runbook}, ${status.active_run.status ?? "running"})` : "",
      progressLine(status.active_run?.progress),
    );
  }
  const serving = status.serving_region;
  const onDr = serving && serving === status.dr_region;
  const onPrimary = serving && serving === status.primary_region;
  const canStart = atLeast("operator");
  const start = (runbook, label, recommended) =>
    h(
      "button",
      {
        type: "button",
        id: `start-${runbook}`,
        class: recommended ? "primary" : "secondary",
        disabled: !canStart,
        title: canStart ? null : `your role (${session?.role}) cannot start runs; an operator can`,
        onclick: () => openStartDialog({ runbook, status }),
      },
      label,
    );
  return h(
    "div",
    { class: "actions" },
    start("failover", `Fail over to ${status.dr_region ?? "DR"}…`, onPrimary),
    start("failback", `Fail back to ${status.primary_region ?? "primary"}…`, onDr),
    h("a", { href: "#/plan/failover", class: "button-link" }, "Failover plan"),
    h("a", { href: "#/plan/failback", class: "button-link" }, "Failback plan"),
    canStart ? null : h("p", { class: "muted" }, `Signed in as ${session?.role}: read only.`),
  );
}

function overview(status, fetchedAt) {
  const serving = status.serving_region;
  const role = regionRole(status, serving);
  const last = status.last_run;
  return [
    h(
      "div",
      { class: "page-head" },
      h("h1", { id: "environment" }, status.environment ?? "unknown environment"),
      h("p", { class: "muted", id: "as-of" }, `as of ${fmtTime(status.observed_at_ms ?? fetchedAt)}`),
    ),
    h(
      "div",
      { class: "cards" },
      h(
        "section",
        { class: "card" },
        h("h2", null, "Serving region"),
        h("p", { class: `big ${serving ? "" : status.serving === "mixed" ? "bad" : "unknown"}`, id: "serving-region" }, serving ?? status.serving ?? "unknown"),
        h(
          "p",
          { class: "muted", id: "serving-role" },
          role
            ? `the ${role} region`
            : status.serving === "mixed"
              ? "mixed: some resources serve from each side"
              : "could not tell which region serves",
        ),
        h("p", { class: "muted" }, `primary ${status.primary_region ?? "?"} · DR ${status.dr_region ?? "?"}`),
        status.protected === true
          ? h("p", { id: "protected" }, badge("DR protection in place", "good"))
          : status.protected === false
            ? h("p", { id: "protected" }, badge("DR protection not in place", "wait"))
            : null,
        !serving && status.serving_details?.length ? h("ul", { class: "details" }, status.serving_details.map((d) => h("li", null, d))) : null,
      ),
      h("section", { class: "card" }, h("h2", null, "Phase"), h("p", { class: "big", id: "phase", dataset: { phase: status.phase ?? "unknown" } }, badge(status.phase_label ?? status.phase ?? "unknown", toneOf(status.phase))),
        last ? h("p", { class: "muted" }, "last run ", h("a", { href: `#/runs/${encodeURIComponent(runId(last))}` }, runId(last)), last.status ? [" ", badge(last.status)] : null) : h("p", { class: "muted" }, "no runs yet")),
      h("section", { class: "card" }, h("h2", null, "Health"), h("p", { class: "big", id: "health-state" }, badge(status.health?.state ?? "unknown")),
        h("p", { class: "muted" }, `${(status.health?.vantages || []).length} vantage point(s)`)),
      h("section", { class: "card" }, h("h2", null, "Replication lag"), lagMeter(status.replication)),
    ),
    h("section", { class: "card wide" }, h("h2", null, "Act"), actions(status),
      status.two_person_rule ? h("p", { class: "muted", id: "two-person" }, "Two-person rule: a failover or failback waits for a different approver.") : null),
    h("section", { class: "card wide" }, h("h2", null, "Health per vantage point"), vantageTable(status.health)),
    h(
      "section",
      { class: "card wide" },
      h("h2", null, "DR readiness ", badge(status.readiness_verdict ?? "unknown")),
      readinessTable(status.readiness),
    ),
  ];
}

export function overviewPage(main) {
  const banner = h("div", { id: "refresh" });
  const body = h("div", { id: "overview" }, h("p", { class: "muted" }, "Loading status…"));
  replace(main, banner, body);
  let fetchedAt = null;
  let timer = null;
  let stopped = false;
  let controller = null;
  const tick = async () => {
    controller = new AbortController();
    try {
      const status = await api("/status", { signal: controller.signal });
      if (stopped) return;
      fetchedAt = Date.now();
      replace(body, overview(status, fetchedAt));
      body.classList.remove("stale");
      replace(banner);
    } catch (e) {
      if (stopped || e.name === "AbortError") return;
      const age = fetchedAt ? Date.now() - fetchedAt : null;
      if (age === null) {
        replace(body, errorBox(`Cannot read the status: ${e.message}`));
      } else {
        if (age > STALE_AFTER_MS) body.classList.add("stale");
        replace(banner, h("div", { class: "banner wait", role: "status" }, `Stale: could not refresh (${e.message}). Showing what was true ${fmtAgo(fetchedAt)}.`));
      }
    }
    if (!stopped) timer = setTimeout(tick, OVERVIEW_EVERY_MS);
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (controller) controller.abort();
  };
}

// ---------------------------------------------------------------------------------------------
// Run

function normalizeRun(data) {
  const run = data.run ?? data;
  return { run, steps: data.steps ?? run.steps ?? [], data };
}

function timeline(steps, run) {
  const rows = steps.filter((st) => st.start_s !== null && st.start_s !== undefined);
  if (!rows.length) return h("p", { class: "muted" }, "No step has started yet.");
  const nowS = run.created_at_ms ? (Date.now() - run.created_at_ms) / 1000 : 0;
  const end = (st) => st.start_s + (st.duration_s ?? Math.max(0, nowS - st.start_s));
  const total = Math.max(0.001, ...rows.map(end));
  const rowH = 22;
  const labelW = 190;
  const barW = 400;
  return s(
    "svg",
    { class: "timeline", id: "timeline", viewBox: `0 0 ${labelW + barW + 10} ${rows.length * rowH + 4}`, role: "img", "aria-label": "step timeline" },
    rows.map((st, i) => {
      const x = labelW + (st.start_s / total) * barW;
      const w = Math.max(2, ((end(st) - st.start_s) / total) * barW);
      return s(
        "g",
        { class: `tl-row ${toneOf(st.status)}${st.critical ? " critical" : ""}` },
        s("text", { x: 0, y: i * rowH + 15 }, st.id),
        s("rect", { x, y: i * rowH + 4, width: w, height: rowH - 8, rx: 3 }, s("title", null, `${st.id}: ${st.status}, ${fmtSeconds(st.duration_s)}`)),
      );
    }),
  );
}

function stepTable(steps) {
  return h(
    "table",
    { class: "table", id: "steps" },
    h("thead", null, h("tr", null, ["Step", "Status", "Tries", "Took", "Message"].map((t) => h("th", null, t)))),
    h(
      "tbody",
      null,
      steps.map((st) =>
        h(
          "tr",
          { class: st.critical ? "critical" : null, dataset: { step: st.id, status: st.status } },
          h("td", { "data-label": "Step" }, st.id, st.critical ? h("span", { class: "crit-mark", title: "on the critical path" }, " ◆") : null),
          h("td", { "data-label": "Status" }, badge(st.status)),
          h("td", { "data-label": "Tries" }, st.attempts ?? ""),
          h("td", { "data-label": "Took" }, st.duration_s === null || st.duration_s === undefined ? "" : fmtSeconds(st.duration_s)),
          h("td", { "data-label": "Message", class: "detail" }, st.message ?? "", st.approved_by ? ` (approved by ${st.approved_by})` : ""),
        ),
      ),
    ),
  );
}

async function act(runIdValue, verb, body, out) {
  try {
    await api(`/runs/${encodeURIComponent(runIdValue)}/${verb}`, { method: "POST", body });
    replace(out);
  } catch (e) {
    replace(out, errorBox(`${verb} refused: ${e.message}`));
  }
}

function controls(run, steps, out, refresh, data) {
  const status = run.status;
  const finished = TERMINAL.has(status);
  const named = new Set(data.awaiting_approval || []);
  const waiting = steps.filter((st) => st.status === "awaiting_approval" || named.has(st.id));
  const parts = [];
  if (waiting.length || status === "awaiting_approval") {
    const own = session && run.requested_by === session.user;
    const can = atLeast("approver");
    const targets = waiting.length ? waiting.map((st) => st.id) : [null];
    parts.push(
      h(
        "div",
        { class: "banner wait", id: "awaiting-approval" },
        h("strong", null, "Awaiting approval"),
        waiting.length ? `: ${waiting.map((st) => st.id).join(", ")}` : "",
        own ? h("p", null, `You (${session.user}) requested this run: a different approver must approve it.`) : null,
        !can ? h("p", null, `Your role (${session?.role}) cannot approve; an approver can.`) : null,
        targets.map((step) =>
          h(
            "button",
            {
              type: "button",
              class: "primary approve",
              disabled: !can || own,
              dataset: { step: step ?? "" },
              onclick: async (e) => {
                e.currentTarget.disabled = true;
                await act(run.id, "approve", step ? { step } : {}, out);
                refresh();
              },
            },
            step ? `Approve ${step}` : "Approve",
          ),
        ),
      ),
    );
  }
  if (!finished && atLeast("operator")) {
    const button = (verb, label, cls) =>
      h(
        "button",
        {
          type: "button",
          class: cls,
          id: `run-${verb}`,
          onclick: async (e) => {
            if (verb === "abort" && !window.confirm("Abort this run? Steps already done stay done; nothing further starts.")) return;
            e.currentTarget.disabled = true;
            await act(run.id, verb, {}, out);
            refresh();
          },
        },
        label,
      );
    parts.push(
      h(
        "div",
        { class: "actions" },
        status === "paused" ? button("resume", "Resume", "secondary") : button("pause", "Pause", "secondary"),
        button("abort", "Abort…", "danger"),
      ),
    );
  }
  return parts;
}

export function runPage(main, id) {
  const live = h("span", { id: "live", class: "badge unknown" }, "connecting");
  const out = h("div");
  const body = h("div", { id: "run" }, h("p", { class: "muted" }, "Loading the run…"));
  replace(main, h("div", { class: "page-head" }, h("h1", null, "Run ", h("code", { id: "run-id" }, id)), live), out, body);
  let stopped = false;
  let pending = null;
  let close = null;
  let poll = null;
  let finished = false;

  const load = async () => {
    try {
      const { run, steps, data } = normalizeRun(await api(`/runs/${encodeURIComponent(id)}`));
      if (stopped) return;
      finished = TERMINAL.has(run.status);
      const done = steps.filter((st) => st.status === "succeeded" || st.status === "skipped").length;
      replace(
        body,
        h(
          "section",
          { class: "card wide" },
          h(
            "dl",
            { class: "facts" },
            field("Runbook", h("span", { id: "run-runbook" }, run.runbook ?? "?")),
            field("Status", h("span", { id: "run-status", dataset: { status: run.status } }, badge(run.status))),
            field("Progress", h("span", { id: "run-progress" }, `${done} of ${steps.length} steps done`)),
            field("Requested by", run.requested_by ?? "unknown"),
            field("Reason", run.reason ?? ""),
            field("Started", fmtTime(run.created_at_ms)),
            field("Finished", run.finished_at_ms ? fmtTime(run.finished_at_ms) : "not yet"),
            data.total_s !== undefined ? field("Took", fmtSeconds(data.total_s)) : null,
            data.rpo_estimate_s !== undefined && data.rpo_estimate_s !== null ? field("RPO estimate", fmtSeconds(data.rpo_estimate_s)) : null,
          ),
          controls(run, steps, out, schedule, data),
        ),
        h("section", { class: "card wide" }, h("h2", null, "Timeline"), timeline(steps, run)),
        h("section", { class: "card wide" }, h("h2", null, "Steps"), stepTable(steps)),
      );
      if (finished) {
        if (close) close();
        close = null;
        live.className = "badge unknown";
        live.textContent = "finished";
        clearInterval(poll);
      }
    } catch (e) {
      if (!stopped) replace(out, errorBox(`Cannot read the run: ${e.message}`));
    }
  };
  // Events say "something changed"; the run's state is always read back from the API.
  function schedule() {
    if (pending || stopped) return;
    pending = setTimeout(async () => {
      pending = null;
      await load();
    }, 100);
  }
  load().then(() => {
    if (stopped || finished) return;
    close = follow(
      id,
      () => {
        live.dataset.events = String(Number(live.dataset.events || 0) + 1);
        schedule();
      },
      (state) => {
        if (finished) return;
        live.className = `badge ${state === "open" ? "good" : "wait"}`;
        live.textContent = state === "open" ? "live" : state;
      },
    );
  });
  // A slow safety net in case the event stream is cut by a proxy.
  poll = setInterval(schedule, 10000);
  return () => {
    stopped = true;
    if (close) close();
    clearTimeout(pending);
    clearInterval(poll);
  };
}

// ---------------------------------------------------------------------------------------------
// History

export async function historyPage(main) {
  replace(main, h("h1", null, "History"), h("p", { class: "muted" }, "Loading runs…"));
  const data = await api("/runs");
  const runs = Array.isArray(data) ? data : data.runs || [];
  replace(
    main,
    h("h1", null, "History"),
    runs.length
      ? h(
          "table",
          { class: "table", id: "history" },
          h("thead", null, h("tr", null, ["Run", "Runbook", "Status", "Started", "Took", "By", "Reason"].map((t) => h("th", null, t)))),
          h(
            "tbody",
            null,
            runs.map((r) =>
              h(
                "tr",
                { dataset: { run: r.id, runbook: r.runbook, status: r.status } },
                h("td", { "data-label": "Run" }, h("a", { href: `#/runs/${encodeURIComponent(r.id)}` }, r.id)),
                h("td", { "data-label": "Runbook" }, r.runbook),
                h("td", { "data-label": "Status" }, badge(r.status)),
                h("td", { "data-label": "Started" }, fmtTime(r.created_at_ms)),
                h("td", { "data-label": "Took" }, r.finished_at_ms ? fmtSeconds((r.finished_at_ms - r.created_at_ms) / 1000) : "running"),
                h("td", { "data-label": "By" }, r.requested_by ?? ""),
                h("td", { "data-label": "Reason", class: "detail" }, r.reason ?? ""),
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, "No runs yet."),
  );
}

// ---------------------------------------------------------------------------------------------
// Drills

function drillLinks(d) {
  const links = d.links || {};
  return [
    ["JSON", links.json],
    ["Markdown", links.markdown],
    ["HTML", links.html],
  ]
    .filter(([, href]) => href)
    .flatMap(([label, href], i) => [i ? " · " : null, h("a", { href, download: "", dataset: { format: label.toLowerCase() } }, label)]);
}

function currentDrill(d) {
  if (!d) return null;
  const tone = d.status === "running" ? "busy" : d.status === "finished" && d.passed ? "good" : "bad";
  const what =
    d.status === "running" ? "running" : d.status === "finished" ? (d.passed ? "passed" : "FAILED") : "could not run";
  return h(
    "section",
    { class: "card", id: "current-drill", dataset: { drill: d.id, status: d.status } },
    h("h2", null, `Drill ${d.id} (${d.mode}) `, badge(what, tone)),
    h("p", null, `Started ${fmtTime(d.started_at_ms)} by ${d.requested_by}: ${d.reason}`),
    h("p", { id: "drill-progress", class: "mono" }, d.progress || ""),
    d.error ? h("div", { class: "banner bad", role: "alert" }, d.error) : null,
    d.status === "running"
      ? h("p", { class: "muted" }, "A full drill's failover and failback are runs: follow them (and approve them, under the two-person rule) in ", h("a", { href: "#/history" }, "History"), ".")
      : null,
  );
}

// Drills that started and have no report: their process stopped before they ended. New drills
// are refused until each is ended (the service ends its own; a CLI drill needs `--recover`).
function unfinishedDrills(list) {
  if (!list.length) return null;
  return h(
    "section",
    { class: "card", id: "unfinished-drills" },
    h("h2", null, "Unfinished drills ", badge(String(list.length), "bad")),
    h("p", { class: "muted" }, "Started, never reported: the process conducting each stopped before it ended. A new drill is refused until each is ended."),
    h(
      "ul",
      null,
      list.map((d) =>
        h(
          "li",
          { dataset: { drill: d.id } },
          `${d.id} (${d.mode}), started ${fmtTime(d.started_at_ms)} by ${d.requested_by}: `,
          d.conductor === "service"
            ? "the control service ends it (removes its copies, stores its report) once it runs again."
            : h("span", null, "conducted by the CLI: once it is not running, end it there with ", h("code", null, `pilotlight drill --config FILE --recover ${d.id} --report DIR`), "."),
        ),
      ),
    ),
  );
}

export async function drillsPage(main) {
  replace(main, h("h1", null, "Drills"), h("p", { class: "muted" }, "Loading drill reports…"));
  let timer = null;
  let stopped = false;
  const ms = (v) => (v === null || v === undefined ? "not measured" : fmtSeconds(v / 1000));
  const draw = async () => {
    const [data, status] = await Promise.all([api("/drills"), api("/status").catch(() => ({}))]);
    if (stopped) return;
    const drills = data.drills || [];
    const running = data.current && data.current.status === "running";
    const canStart = data.can_start && atLeast("operator") && !running;
    replace(
      main,
      h("h1", null, "Drills"),
      h("p", { class: "muted" }, "DR drills of this environment, newest first: start one here or with ", h("code", null, "pilotlight drill"), " on the host; download a report to keep or share it."),
      canStart
        ? h("p", null, h("button", { type: "button", id: "start-drill", onclick: () => openDrillDialog({ status, onStarted: () => draw() }) }, "Start a drill…"))
        : null,
      currentDrill(data.current),
      unfinishedDrills(data.unfinished || []),
      drills.length
        ? h(
            "table",
            { class: "table", id: "drills" },
            h("thead", null, h("tr", null, ["Drill", "Mode", "Started", "Took", "Verdict", "RTO", "Data loss (RPO)", "Report"].map((t) => h("th", null, t)))),
            h(
              "tbody",
              null,
              drills.map((d) =>
                h(
                  "tr",
                  { dataset: { drill: d.id, passed: String(d.passed) } },
                  h("td", { "data-label": "Drill" }, d.id),
                  h("td", { "data-label": "Mode" }, d.mode ?? ""),
                  h("td", { "data-label": "Started" }, fmtTime(d.started_at_ms)),
                  h("td", { "data-label": "Took" }, fmtSeconds((d.finished_at_ms - d.started_at_ms) / 1000)),
                  h("td", { "data-label": "Verdict" }, badge(d.passed ? "passed" : "failed", d.passed ? "good" : "bad")),
                  h("td", { "data-label": "RTO" }, ms(d.rto_ms)),
                  h("td", { "data-label": "Data loss (RPO)" }, ms(d.rpo_ms)),
                  h("td", { "data-label": "Report" }, drillLinks(d)),
                ),
              ),
            ),
          )
        : h("p", { class: "muted", id: "no-drills" }, "No drill reports yet. Start one above or with pilotlight drill (see docs/drills.md)."),
    );
    // While a drill runs, its progress line and the list follow it.
    if (running && !stopped) timer = setTimeout(() => draw().catch((e) => replace(main, errorBox(e.message))), 1000);
  };
  await draw();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

// ---------------------------------------------------------------------------------------------
// Audit log

function chainBanner(chain) {
  if (!chain) return h("p", { class: "muted" }, "Chain not checked by the server.");
  if (chain.intact === true) {
    return h("p", { id: "audit-chain" }, badge("chain intact", "good"), ` ${chain.entries ?? ""} entries, each hashing the one before.`);
  }
  return h("div", { class: "banner bad", id: "audit-chain", role: "alert" },
    `The audit chain is broken at entry ${chain.broken_at ?? "?"}: ${chain.problem ?? "unknown problem"}. Run pilotlight audit verify and investigate.`);
}

export async function auditPage(main) {
  if (!atLeast("admin")) {
    replace(main, h("h1", null, "Audit log"), errorBox(`Your role (${session?.role}) cannot read the audit log; an admin can.`));
    return;
  }
  replace(main, h("h1", null, "Audit log"), h("p", { class: "muted" }, "Loading…"));
  const data = await api("/audit");
  const entries = Array.isArray(data) ? data : data.entries || [];
  replace(
    main,
    h("h1", null, "Audit log"),
    h("p", { class: "muted" }, "Every sign-in and action, allowed or denied. Append-only and hash-chained; check it offline with ", h("code", null, "pilotlight audit verify"), "."),
    chainBanner(data.chain),
    entries.length
      ? h(
          "table",
          { class: "table", id: "audit" },
          h("thead", null, h("tr", null, ["#", "When", "Who", "Action", "Target", "Outcome", "Why", "Detail"].map((t) => h("th", null, t)))),
          h(
            "tbody",
            null,
            entries.map((e) =>
              h(
                "tr",
                { dataset: { action: e.action ?? "", outcome: String(e.outcome ?? "") } },
                h("td", { "data-label": "#" }, e.seq ?? ""),
                h("td", { "data-label": "When" }, fmtTime(e.at_ms)),
                h("td", { "data-label": "Who" }, e.actor || "(anonymous)", e.role ? h("span", { class: "muted" }, ` ${e.role}`) : null),
                h("td", { "data-label": "Action" }, e.action ?? ""),
                h("td", { "data-label": "Target" }, e.target ?? ""),
                h("td", { "data-label": "Outcome" }, badge(String(e.outcome ?? "unknown"), e.outcome === "allowed" ? "good" : e.outcome === "denied" ? "bad" : undefined)),
                h("td", { "data-label": "Why", class: "detail" }, e.reason ?? ""),
                h("td", { "data-label": "Detail", class: "detail mono" }, typeof e.detail === "string" ? e.detail : JSON.stringify(e.detail ?? "")),
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, "No entries."),
  );
}
