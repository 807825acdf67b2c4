// The plan view: the runbook's DAG in levels (a step's level is the longest chain of
// dependencies before it), drawn as SVG with the critical path highlighted, then each step's
// diff: the live value now against the target the step will reach.

import { api, atLeast } from "./api.js";
import { badge, errorBox, fmtSeconds, h, replace, s } from "./dom.js";
import { openStartDialog } from "./dialog.js";

/** Group steps into levels by their longest dependency chain (dependencies first). */
export function levels(steps) {
  const byId = new Map(steps.map((st) => [st.id, st]));
  const level = new Map();
  const visiting = new Set();
  const depth = (id) => {
    if (level.has(id)) return level.get(id);
    if (visiting.has(id)) return 0; // a cycle: the server refuses such plans; never loop here
    visiting.add(id);
    const deps = (byId.get(id)?.depends_on || []).filter((d) => byId.has(d));
    const d = deps.length ? 1 + Math.max(...deps.map(depth)) : 0;
    visiting.delete(id);
    level.set(id, d);
    return d;
  };
  const out = [];
  for (const st of steps) {
    const d = depth(st.id);
    (out[d] ||= []).push(st);
  }
  return out.filter(Boolean);
}

const NODE_W = 170;
const NODE_H = 44;
const GAP_X = 16;
const GAP_Y = 44;

function short(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

function graph(plan, rows) {
  const critical = plan.critical_path || [];
  const critEdges = new Set(critical.slice(1).map((id, i) => `${critical[i]}→${id}`));
  const widest = Math.max(...rows.map((r) => r.length));
  const width = widest * NODE_W + (widest - 1) * GAP_X + 8;
  const height = rows.length * NODE_H + (rows.length - 1) * GAP_Y + 8;
  const pos = new Map();
  rows.forEach((row, y) => {
    const rowW = row.length * NODE_W + (row.length - 1) * GAP_X;
    const x0 = (width - rowW) / 2;
    row.forEach((st, x) => pos.set(st.id, { x: x0 + x * (NODE_W + GAP_X), y: 4 + y * (NODE_H + GAP_Y) }));
  });
  const edges = [];
  for (const st of plan.steps) {
    for (const d of st.depends_on || []) {
      const a = pos.get(d);
      const b = pos.get(st.id);
      if (!a || !b) continue;
      const x1 = a.x + NODE_W / 2;
      const y1 = a.y + NODE_H;
      const x2 = b.x + NODE_W / 2;
      const y2 = b.y;
      const my = (y1 + y2) / 2;
      edges.push(s("path", { class: `edge${critEdges.has(`${d}→${st.id}`) ? " critical" : ""}`, d: `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2}`, "marker-end": "url(#arrow)" }));
    }
  }
  const nodes = plan.steps.map((st) => {
    const p = pos.get(st.id);
    return s(
      "g",
      { class: `node${st.critical ? " critical" : ""}`, transform: `translate(${p.x},${p.y})`, dataset: { step: st.id } },
      s("title", null, `${st.id} (${st.kind})\nnow: ${st.live}\ntarget: ${st.target}\nabout ${fmtSeconds(st.estimate_s)}`),
      s("rect", { width: NODE_W, height: NODE_H, rx: 6 }),
      s("text", { x: 8, y: 18, class: "node-id" }, short(st.id, 24)),
      s("text", { x: 8, y: 35, class: "node-kind" }, `${short(st.kind, 17)} · ${fmtSeconds(st.estimate_s)}`),
    );
  });
  return s(
    "svg",
    { class: "dag", id: "dag", viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": "plan graph; the critical path is highlighted" },
    s("defs", null, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }))),
    edges,
    nodes,
  );
}

function stepCard(st) {
  const same = st.live !== undefined && st.live === st.target;
  return h(
    "li",
    { class: `step${st.critical ? " critical" : ""}`, dataset: { step: st.id } },
    h(
      "div",
      { class: "step-head" },
      h("strong", null, st.id),
      " ",
      h("span", { class: "muted" }, st.kind),
      st.critical ? [" ", badge("critical path", "crit")] : null,
      h("span", { class: "muted right" }, `about ${fmtSeconds(st.estimate_s)}`),
    ),
    h(
      "div",
      { class: "diff" },
      h("div", { class: "diff-live" }, h("span", { class: "diff-sign" }, "now"), h("span", null, st.live ?? "unknown")),
      h("div", { class: "diff-target" }, h("span", { class: "diff-sign" }, "target"), h("span", null, st.target ?? "")),
      same ? h("p", { class: "muted" }, "already at the target") : null,
    ),
    st.depends_on?.length ? h("p", { class: "muted" }, `after ${st.depends_on.join(", ")}`) : null,
  );
}

export async function planPage(main, runbook) {
  replace(main, h("h1", null, `Plan: ${runbook}`), h("p", { class: "muted" }, "Reading live state for every step…"));
  const [plan, status] = await Promise.all([api(`/plans/${encodeURIComponent(runbook)}`), api("/status").catch(() => null)]);
  const steps = plan.steps || [];
  const rows = levels(steps);
  const blocking = plan.blocking || [];
  const others = ["failover", "failback"].filter((r) => r !== runbook);
  replace(
    main,
    h(
      "div",
      { class: "page-head" },
      h("h1", null, "Plan: ", h("span", { id: "plan-runbook" }, plan.runbook ?? runbook)),
      h("p", { class: "muted" }, others.map((r) => h("a", { href: `#/plan/${r}` }, `${r} plan`))),
    ),
    h(
      "section",
      { class: "card wide" },
      h(
        "p",
        null,
        `${steps.length} steps in ${rows.length} levels for `,
        h("strong", null, plan.environment ?? "?"),
        ". Critical path ",
        h("span", { id: "critical-path" }, (plan.critical_path || []).join(" → ")),
        `, about ${fmtSeconds(plan.critical_path_estimate_s)}.`,
      ),
      blocking.length
        ? errorBox(`Blocking now: ${blocking.map((b) => (typeof b === "string" ? b : b.message || b.id || JSON.stringify(b))).join("; ")}`)
        : null,
      status && atLeast("operator") && !status.active_run
        ? h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: `plan-start-${runbook}`, onclick: () => openStartDialog({ runbook, status }) }, `Start ${runbook}…`))
        : null,
    ),
    h("section", { class: "card wide" }, h("h2", null, "Graph"), h("div", { class: "dag-wrap" }, graph(plan, rows))),
    h(
      "section",
      { class: "card wide" },
      h("h2", null, "Steps by level: live value against target"),
      rows.map((row, i) => h("div", { class: "level" }, h("h3", null, `Level ${i + 1}`), h("ul", { class: "steps" }, row.map(stepCard)))),
    ),
  );
}

