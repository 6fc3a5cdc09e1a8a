/* License Summary: the activated licenses, and the Activate dialog (an entitlement file). */
import { $, append, clear, h } from "./dom.js";
import { fmtNum, fmtTime, timeCell } from "./format.js";
import { session } from "./api.js";
import { confirmBox } from "./dialogs.js";
import { dataTable } from "./tables.js";
import { data } from "./store.js";
import { openLogin } from "./page-login.js";
import { act } from "./page-manage.js";

const firstExpiry = (r) => r.features.map((f) => f.expires_at).filter(Boolean).sort()[0];
const seats = (r) => r.features.reduce((a, f) => a + f.seats, 0);

async function deactivate(r, btn) {
  const sure = await confirmBox({ title: `Deactivate ${r.license_id}?`, ok: "Deactivate",
    text: "Its seats are removed from both servers of the pair. Seats in use must be released "
      + "first." });
  if (sure) act("deactivate", { license_id: r.license_id }, btn);
}

const COLUMNS = [
  { id: "license_id", label: "License ID", value: (r) => r.license_id,
    render: (r) => h("b", {}, r.license_id) },
  { id: "activated_at", label: "Activated", value: (r) => r.activated_at,
    render: (r) => timeCell(r.activated_at) },
  { id: "features", label: "Features", wrap: true,
    text: (r) => r.features.map((f) => `${f.name} ${f.version} ${f.type}`).join(" "),
    render: (r) => h("div", { class: "chips" }, r.features.map((f) => h("span",
      { class: "chip", title: f.type || "" }, `${f.name} ${f.version} × ${fmtNum(f.seats)}`))) },
  { id: "seats", label: "Seats", num: true, value: seats, render: (r) => fmtNum(seats(r)) },
  { id: "expires", label: "Expires", value: (r) => firstExpiry(r) || "",
    render: (r) => (firstExpiry(r) ? fmtTime(firstExpiry(r)) : "never") },
  { id: "act", label: "", admin: true, render: (r) => h("button", { class: "btn small",
    type: "button", "aria-label": `Deactivate ${r.license_id}`,
    onclick: (e) => deactivate(r, e.currentTarget) }, "Deactivate") },
];

export default {
  path: "/licenses", title: "License Summary",
  subtitle: "Licenses activated on this site. Once paired, both servers hold the same licenses.",
  needs: ["licenses"],
  actions: () => (session.user ? [h("button", { class: "btn primary", type: "button",
    id: "activate-open", onclick: openActivate }, "Activate license…")] : []),
  mount(view) {
    const table = dataTable({ key: (r) => r.license_id, columns: COLUMNS,
      empty: "No license is activated. An administrator can activate one from an entitlement "
        + "file." });
    view.append(table.el);
    return () => table.set(data.licenses.licenses);
  },
};

// ---- Activate: read the entitlement file, show what it holds, then send it ----------------
let entitlement = null;

function preview(parsed) {
  const heads = ["Feature", "Type", "Version", "Seats", "Expires"];
  return [h("p", {}, "License ", h("b", {}, parsed.license_id),
    ` with ${parsed.features.length} feature(s):`),
  h("table", {}, h("thead", {}, h("tr", {}, heads.map((t) => h("th", {}, t)))),
    h("tbody", {}, parsed.features.map((f) => h("tr", {}, h("td", {}, f.name),
      h("td", {}, f.type || ""), h("td", {}, f.version),
      h("td", { class: "num" }, fmtNum(f.seats)),
      h("td", {}, f.expires_at ? fmtTime(f.expires_at) : "never")))))];
}

$("#activate-file").addEventListener("change", async (e) => {
  entitlement = null;
  $("#activate-submit").disabled = true;
  $("#activate-error").textContent = "";
  const box = clear($("#activate-preview"));
  const file = e.target.files[0];
  if (!file) return;
  try {
    const parsed = JSON.parse(await file.text());
    if (!parsed || typeof parsed.license_id !== "string" || !Array.isArray(parsed.features)
      || !parsed.features.length) {
      throw new Error('expected {"license_id": "...", "features": '
        + '[{"name", "type", "version", "seats"}, ...]}');
    }
    entitlement = parsed;
    append(box, preview(parsed));
    $("#activate-submit").disabled = false;
  } catch (err) {
    $("#activate-error").textContent = `This is not an entitlement file: ${err.message}`;
  }
});

$("#activate-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!entitlement) return;
  const answer = await act("activate", entitlement, $("#activate-submit"));
  if (answer && answer.ok) $("#activate-dialog").close();
  else if (answer) $("#activate-error").textContent = answer.message;
});

function openActivate() {
  if (!session.user) return openLogin();
  $("#activate-form").reset();
  entitlement = null;
  clear($("#activate-preview"));
  $("#activate-error").textContent = "";
  $("#activate-submit").disabled = true;
  $("#activate-dialog").showModal();
}
