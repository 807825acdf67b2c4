// The dialog that starts a failover or failback: the right action easy, the wrong one hard.
// The start button stays disabled until the environment's name is typed exactly and a reason is
// given; one idempotency key is made when the dialog opens, so a double click, a retry after a
// network error or a second submit can never start two runs.

import { ApiError, api } from "./api.js";
import { fmtSeconds, h, randomKey, replace } from "./dom.js";

/** Open the dialog for `runbook` ("failover" or "failback") given the current status. */
export function openStartDialog({ runbook, status }) {
  const env = status.environment ?? "";
  const key = randomKey();
  const verb = runbook === "failback" ? "Fail back" : runbook === "failover" ? "Fail over" : `Run ${runbook}`;
  const to = runbook === "failback" ? status.primary_region : status.dr_region;
  let inflight = false;

  const reason = h("textarea", { id: "start-reason", name: "reason", rows: 3, required: true, placeholder: "e.g. us-east-1 outage, INC-1234" });
  const confirm = h("input", { id: "start-confirm", name: "confirm", autocomplete: "off", spellcheck: "false", required: true });
  const planned = h("input", { id: "start-planned", type: "checkbox", name: "planned", checked: runbook === "failback", disabled: runbook === "failback" });
  const message = h("div", { id: "start-error", role: "alert" });
  const summary = h("p", { class: "muted", id: "start-summary" }, "Reading the plan…");
  const start = h("button", { type: "submit", class: "danger", id: "start-submit", disabled: true }, `${verb} now`);
  const cancel = h("button", { type: "button", class: "secondary", id: "start-cancel" }, "Cancel");

  const update = () => {
    start.disabled = inflight || confirm.value !== env || !reason.value.trim();
  };
  reason.addEventListener("input", update);
  confirm.addEventListener("input", update);

  const form = h(
    "form",
    { method: "dialog", class: "start-form" },
    h("h2", null, `${verb} ${env}${to ? ` to ${to}` : ""}`),
    summary,
    h("label", { for: "start-reason" }, "Reason (recorded in the journal and the audit log)"),
    reason,
    h(
      "label",
      { class: "check" },
      planned,
      runbook === "failback"
        ? " Planned (a failback always waits for zero replication lag)"
        : " Planned: the primary is healthy, wait for zero replication lag (no data loss)",
    ),
    h("label", { for: "start-confirm" }, "Type the environment's name ", h("code", null, env), " to confirm"),
    confirm,
    message,
    h("div", { class: "actions" }, cancel, start),
  );
  const dialog = h("dialog", { id: "start-dialog", "aria-label": `${verb} ${env}` }, form);
  document.body.append(dialog);
  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (inflight || confirm.value !== env || !reason.value.trim()) return;
    inflight = true;
    update();
    start.textContent = "Starting…";
    replace(message);
    try {
      const res = await api("/runs", {
        method: "POST",
        body: { runbook, reason: reason.value.trim(), confirm: confirm.value, planned: planned.checked, idempotency_key: key },
      });
      const id = res.run_id ?? res.id;
      dialog.close();
      location.hash = `#/runs/${encodeURIComponent(id)}`;
    } catch (err) {
      inflight = false;
      start.textContent = `${verb} now`;
      update();
      const active = err instanceof ApiError && err.body && (err.body.active_run || err.body.run_id);
      replace(
        message,
        h(
          "div",
          { class: "banner bad" },
          `Not started: ${err.message}`,
          active ? [" ", h("a", { href: `#/runs/${encodeURIComponent(active)}` }, `see run ${active}`)] : null,
        ),
      );
    }
  });

  dialog.showModal();
  reason.focus();
  api(`/plans/${encodeURIComponent(runbook)}`)
    .then((plan) => {
      const n = (plan.steps || []).length;
      const blocking = plan.blocking || [];
      replace(
        summary,
        `${n} steps; critical path about ${fmtSeconds(plan.critical_path_estimate_s)}. `,
        h("a", { href: `#/plan/${encodeURIComponent(runbook)}`, onclick: () => dialog.close() }, "See the plan"),
        blocking.length ? h("span", { class: "error" }, ` Blocking now: ${blocking.map((b) => (typeof b === "string" ? b : b.id || JSON.stringify(b))).join("; ")}`) : null,
      );
    })
    .catch((err) => replace(summary, `Plan unavailable: ${err.message}`));
}

/**
 * Open the dialog that starts a drill conducted by the service. Isolated is the default (it
 * touches nothing that serves); full fails the environment over and back for real and is
 * refused for production. Same typed confirmation and reason as a failover.
 */
export function openDrillDialog({ status, onStarted }) {
  const env = status.environment ?? "";
  const production = status.tier === "production";
  let inflight = false;
  const mode = h(
    "select",
    { id: "drill-mode", name: "mode" },
    h("option", { value: "isolated", selected: true }, "Isolated: copies in DR, verified and removed (nothing serving touched)"),
    h("option", { value: "full", disabled: production }, production ? "Full: not for a production environment" : "Full: the real failover and failback"),
  );
  const reason = h("textarea", { id: "drill-reason", name: "reason", rows: 2, required: true, placeholder: "e.g. Q4 DR drill, CHG-1234" });
  const confirm = h("input", { id: "drill-confirm", name: "confirm", autocomplete: "off", spellcheck: "false", required: true });
  const message = h("div", { id: "drill-error", role: "alert" });
  const start = h("button", { type: "submit", class: "danger", id: "drill-submit", disabled: true }, "Start the drill");
  const cancel = h("button", { type: "button", class: "secondary", id: "drill-cancel" }, "Cancel");
  const update = () => {
    start.disabled = inflight || confirm.value !== env || !reason.value.trim();
  };
  reason.addEventListener("input", update);
  confirm.addEventListener("input", update);
  const form = h(
    "form",
    { method: "dialog", class: "start-form" },
    h("h2", null, `Drill ${env}`),
    h("p", { class: "muted" }, "Canaries are written in the primary to measure data loss. A full drill fails over and back (its runs show in History and wait for approval under the two-person rule); an isolated drill copies the DR database and compute under the drill's name and removes them."),
    h("label", { for: "drill-mode" }, "Mode"),
    mode,
    h("label", { for: "drill-reason" }, "Reason (recorded in the audit log and the report)"),
    reason,
    h("label", { for: "drill-confirm" }, "Type the environment's name ", h("code", null, env), " to confirm"),
    confirm,
    message,
    h("div", { class: "actions" }, cancel, start),
  );
  const dialog = h("dialog", { id: "drill-dialog", "aria-label": `Drill ${env}` }, form);
  document.body.append(dialog);
  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (inflight || confirm.value !== env || !reason.value.trim()) return;
    inflight = true;
    update();
    start.textContent = "Starting…";
    replace(message);
    try {
      const res = await api("/runs", {
        method: "POST",
        body: { runbook: "drill", mode: mode.value, reason: reason.value.trim(), confirm: confirm.value },
      });
      dialog.close();
      if (onStarted) onStarted(res);
    } catch (err) {
      inflight = false;
      start.textContent = "Start the drill";
      update();
      replace(message, h("div", { class: "banner bad" }, `Not started: ${err.message}`));
    }
  });
  dialog.showModal();
  reason.focus();
}
