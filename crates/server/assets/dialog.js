// The dialogs that start a failover, a failback or a drill: the right action easy, the wrong one
// hard.
// The start button stays disabled until the environment's name is typed exactly and a reason is
// given; one idempotency key is made when the dialog opens, so a double click, a retry after a
// network error or a second submit can never start two runs.

import { ApiError, api } from "./api.js";
import { fmtSeconds, h, randomKey, replace } from "./dom.js";

/**
 * A modal form that acts only once the environment's name is typed exactly and a reason is
 * given: ids `${prefix}-reason`, `-confirm`, `-submit`, `-cancel`, `-error`, dialog
 * `${prefix}-dialog`. `before` and `after` are nodes placed before and after the reason;
 * `send(reason, confirm)` carries out the action (the dialog closes when it resolves);
 * `failed(err)` is what the error box shows when it throws. A submit in flight blocks another.
 */
function confirmedDialog({ prefix, env, title, reasonLabel, reasonRows, placeholder, submitText, before = [], after = [], send, failed }) {
  let inflight = false;
  const reason = h("textarea", { id: `${prefix}-reason`, name: "reason", rows: reasonRows, required: true, placeholder });
  const confirm = h("input", { id: `${prefix}-confirm`, name: "confirm", autocomplete: "off", spellcheck: "false", required: true });
  const message = h("div", { id: `${prefix}-error`, role: "alert" });
  const submit = h("button", { type: "submit", class: "danger", id: `${prefix}-submit`, disabled: true }, submitText);
  const cancel = h("button", { type: "button", class: "secondary", id: `${prefix}-cancel` }, "Cancel");
  const ready = () => !inflight && confirm.value === env && !!reason.value.trim();
  const update = () => {
    submit.disabled = !ready();
  };
  reason.addEventListener("input", update);
  confirm.addEventListener("input", update);
  const form = h(
    "form",
    { method: "dialog", class: "start-form" },
    h("h2", null, title),
    before,
    h("label", { for: `${prefix}-reason` }, reasonLabel),
    reason,
    after,
    h("label", { for: `${prefix}-confirm` }, "Type the environment's name ", h("code", null, env), " to confirm"),
    confirm,
    message,
    h("div", { class: "actions" }, cancel, submit),
  );
  const dialog = h("dialog", { id: `${prefix}-dialog`, "aria-label": title }, form);
  document.body.append(dialog);
  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!ready()) return;
    inflight = true;
    update();
    submit.textContent = "Starting…";
    replace(message);
    try {
      await send(reason.value.trim(), confirm.value);
      dialog.close();
    } catch (err) {
      inflight = false;
      submit.textContent = submitText;
      update();
      replace(message, failed(err));
    }
  });
  dialog.showModal();
  reason.focus();
  return dialog;
}

/** Open the dialog for `runbook` ("failover" or "failback") given the current status. */
export function openStartDialog({ runbook, status }) {
  const env = status.environment ?? "";
  const key = randomKey();
  const verb = runbook === "failback" ? "Fail back" : runbook === "failover" ? "Fail over" : `Run ${runbook}`;
  const to = runbook === "failback" ? status.primary_region : status.dr_region;
  const planned = h("input", { id: "start-planned", type: "checkbox", name: "planned", checked: runbook === "failback", disabled: runbook === "failback" });
  const summary = h("p", { class: "muted", id: "start-summary" }, "Reading the plan…");
  const dialog = confirmedDialog({
    prefix: "start",
    env,
    title: `${verb} ${env}${to ? ` to ${to}` : ""}`,
    reasonLabel: "Reason (recorded in the journal and the audit log)",
    reasonRows: 3,
    placeholder: "e.g. us-east-1 outage, INC-1234",
    submitText: `${verb} now`,
    before: [summary],
    after: [
      h(
        "label",
        { class: "check" },
        planned,
        runbook === "failback"
          ? " Planned (a failback always waits for zero replication lag)"
          : " Planned: the primary is healthy, wait for zero replication lag (no data loss)",
      ),
    ],
    send: async (reason, confirm) => {
      const res = await api("/runs", {
        method: "POST",
        body: { runbook, reason, confirm, planned: planned.checked, idempotency_key: key },
      });
      location.hash = `#/runs/${encodeURIComponent(res.run_id ?? res.id)}`;
    },
    failed: (err) => {
      const active = err instanceof ApiError && err.body && (err.body.active_run || err.body.run_id);
      return h(
        "div",
        { class: "banner bad" },
        `Not started: ${err.message}`,
        active ? [" ", h("a", { href: `#/runs/${encodeURIComponent(active)}` }, `see run ${active}`)] : null,
      );
    },
  });
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
  const mode = h(
    "select",
    { id: "drill-mode", name: "mode" },
    h("option", { value: "isolated", selected: true }, "Isolated: copies in DR, verified and removed (nothing serving touched)"),
    h("option", { value: "full", disabled: production }, production ? "Full: not for a production environment" : "Full: the real failover and failback"),
  );
  confirmedDialog({
    prefix: "drill",
    env,
    title: `Drill ${env}`,
    reasonLabel: "Reason (recorded in the audit log and the report)",
    reasonRows: 2,
    placeholder: "e.g. Q4 DR drill, CHG-1234",
    submitText: "Start the drill",
    before: [
      h("p", { class: "muted" }, "Canaries are written in the primary to measure data loss. A full drill fails over and back (its runs show in History and wait for approval under the two-person rule); an isolated drill copies the DR database and compute under the drill's name and removes them."),
      h("label", { for: "drill-mode" }, "Mode"),
      mode,
    ],
    send: async (reason, confirm) => {
      const res = await api("/runs", { method: "POST", body: { runbook: "drill", mode: mode.value, reason, confirm } });
      if (onStarted) onStarted(res);
    },
    failed: (err) => h("div", { class: "banner bad" }, `Not started: ${err.message}`),
  });
}
