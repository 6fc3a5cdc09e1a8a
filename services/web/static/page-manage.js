/* Manage: the seed's slide-out panel (redundancy, stop, License Server ID reset, sync), and
   act(), which carries out any Manage action and shows the answer in the administrator's words. */
import { $, append, clear, h } from "./dom.js";
import { cap } from "./format.js";
import { NODE, onSession, post, session, setSession } from "./api.js";
import { vocab } from "./vocabulary.js";
import { confirmBox, notify } from "./dialogs.js";
import { data, refresh } from "./store.js";
import { openLogin } from "./page-login.js";

const HEADINGS = { 400: "Check the form", 401: "Sign in first", 403: "Not allowed",
  404: "Unknown action", 503: "No answer" };

/** Carry out a Manage action; refusals are answers too, shown in words. */
export async function act(action, body, button) {
  if (!session.user) { openLogin(); return null; }
  if (button) button.disabled = true;
  try {
    const { status, data: answer } = await post(`/api/manage/${action}`, body);
    if (status === 401) setSession({ user: null });
    if (answer.ok) notify("ok", "Done", answer.message);
    else {
      notify("error", HEADINGS[status] || "Refused",
        answer.message || "refused without a reason");
    }
    refresh();
    return answer;
  } catch (e) {
    notify("error", "This server does not answer", String(e.message || e));
    return null;
  } finally {
    if (button) button.disabled = false;
  }
}

function openManage() {
  $("#manage").hidden = false;
  $("#scrim").hidden = false;
  renderManage(true);
  $("#manage-close").focus();
}
function closeManage() { $("#manage").hidden = true; $("#scrim").hidden = true; }
$("#manage-open").addEventListener("click", openManage);
$("#manage-close").addEventListener("click", closeManage);
$("#scrim").addEventListener("click", closeManage);
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && !$("#manage").hidden && !document.querySelector("dialog[open]")) {
    closeManage();
  }
});

const form = { enable: null, primary: null, backup: null };  // what the administrator chose
let drawn = null;

/** Draw the panel if it is open and anything it shows changed (or force). */
export function renderManage(force) {
  if ($("#manage").hidden) { drawn = null; return; }
  const s = data.servers;
  const sig = JSON.stringify([session.user, session.admins, form, s && s.pair, s && s.pair_status,
    s && s.servers.map((x) => [x.node, x.role, x.status, x.server_id])]);
  if (!force && sig === drawn) return;  // an open list box is not closed under the admin's hand
  drawn = sig;
  const body = clear($("#manage-body"));
  if (!session.user) {
    append(body, h("h3", {}, "Administrators only"), session.admins
      ? h("p", {}, "Reading is open to everyone; pairing, stopping, resetting and licensing "
        + "need an administrator.")
      : h("p", { class: "warning", id: "no-admins" },
        `Manage actions are refused: ${session.noAdmins}`),
    h("button", { class: "btn primary", type: "button", id: "manage-signin", onclick: openLogin },
      "Sign in"));
    return;
  }
  if (!s) return;
  append(body, redundancy(s), maintenance(s));
}

// Redundancy: Enable Backup, the backup chosen from a list, Apply.
function redundancy(s) {
  const nodes = s.servers.filter((x) => x.server_id).map((x) => x.node);
  if (form.enable === null) form.enable = !!s.pair;
  const primary = form.primary && nodes.includes(form.primary) ? form.primary
    : s.pair ? s.pair.primary : (nodes.includes(NODE) ? NODE : nodes[0]);
  const others = nodes.filter((n) => n !== primary);
  const backup = form.backup && others.includes(form.backup) ? form.backup
    : s.pair && s.pair.primary === primary ? s.pair.backup : others[0];
  const fixed = !form.enable || !!s.pair;
  const enable = h("input", { type: "checkbox", id: "enable-backup", checked: form.enable,
    onchange: () => { form.enable = enable.checked; renderManage(true); } });
  const primarySel = h("select", { id: "primary-server", disabled: fixed,
    onchange: () => { form.primary = primarySel.value; form.backup = null; renderManage(true); } },
  nodes.map((n) => h("option", { value: n, selected: n === primary }, n)));
  const backupSel = h("select", { id: "backup-server", disabled: fixed,
    onchange: () => { form.backup = backupSel.value; } },
  others.length ? others.map((n) => h("option", { value: n, selected: n === backup }, n))
    : h("option", { value: "" }, "no other server is registered"));
  const apply = h("button", { class: "btn primary", type: "button", id: "apply-redundancy",
    onclick: async () => {
      if (form.enable) {
        if (!backupSel.value) {
          return notify("error", "Check the form",
            "Choose a backup server: start a second License Server first.");
        }
        await act("pair", { primary: primarySel.value, backup: backupSel.value }, apply);
      } else if (s.pair) {
        const sure = await confirmBox({ title: "Unpair the servers?", ok: "Unpair",
          text: `${s.pair.primary} and ${s.pair.backup} stop being a redundant pair. `
            + "This is refused while licenses are activated on the pair." });
        if (sure) await act("unpair", {}, apply);
      } else {
        notify("error", "Nothing to apply",
          "Tick Enable Backup and choose a backup server to pair the servers.");
      }
      form.enable = null; form.primary = null; form.backup = null;
    } }, "Apply");
  const hint = s.pair
    ? `Paired: ${s.pair.primary} (primary) with ${s.pair.backup} (backup) — ${s.pair_status}. `
      + "Clear Enable Backup and Apply to unpair."
    : "Not paired. Tick Enable Backup, choose the backup server and Apply.";
  return [h("h3", {}, "Redundancy"), h("p", { class: "hint" }, hint),
    h("label", { class: "check" }, enable, "Enable Backup"),
    h("label", {}, "Primary server", primarySel),
    h("label", {}, "Backup server", backupSel),
    apply];
}

// Maintenance: stop, License Server ID reset, sync; each asks first.
function maintenance(s) {
  const ordered = s.servers.filter((x) => x.server_id);
  const standalone = (srv) => srv.role === vocab.role.STANDALONE;
  const label = (srv) => (standalone(srv) ? srv.node : `${cap(srv.role)} (${srv.node})`);
  const row = (title, srv, action, button, confirm) => h("div", { class: "row" },
    h("div", { class: "what" }, title,
      h("small", {}, `${srv.node} · ${srv.status} · ${srv.server_id}`)),
    h("button", { class: "btn small", type: "button", "aria-label": `${button} ${srv.node}`,
      dataset: { action, node: srv.node },
      onclick: async (e) => {
        const btn = e.currentTarget;
        if (await confirmBox(confirm(srv))) act(action, { node: srv.node }, btn);
      } }, button));
  const stopText = (x) => `The License Server on ${x.node} shuts down.`
    + (x.node === NODE ? " This page is served by it and will stop updating." : "")
    + (s.pair ? " Its partner keeps serving licenses."
      : " Products cannot get licenses from it until it is started again.");
  return [h("h3", {}, "Maintenance"),
    ordered.map((srv) => row(
      `Stop ${standalone(srv) ? "" : cap(srv.role) + " "}License Server`,
      srv, "stop", "Stop", (x) => ({ title: `Stop ${label(x)}?`, text: stopText(x), ok: "Stop" }))),
    h("h3", {}, "License Server ID Reset"),
    h("p", { class: "hint" }, "Gives the server a new License Server ID, empties its copy and "
      + "replays the log (Recovering). Refused while it holds activated licenses."),
    ordered.map((srv) => row(`Reset ${label(srv)}`, srv, "reset", "Reset", (x) => ({
      title: `Reset the License Server ID of ${x.node}?`, ok: "Reset",
      text: `${x.node} gets a new License Server ID (now ${x.server_id}) and rebuilds everything `
        + "from the log." }))),
    h("h3", {}, "Sync"),
    h("p", { class: "hint" }, "Replays the log on a server so it holds the same history as its "
      + "partner (for Pair not synced)."),
    ordered.map((srv) => row(`Sync ${label(srv)}`, srv, "sync", "Sync", (x) => ({
      title: `Sync ${x.node}?`, ok: "Sync", danger: false,
      text: `${x.node} empties its read models and replays the log; it shows Recovering until it `
        + "matches its partner." })))];
}

onSession(() => renderManage());
