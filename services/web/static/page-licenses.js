/* License Summary: the activated licenses; deactivating one offers its receipt for the vendor. */
import { $, h } from "./dom.js";
import { fmtNum, fmtTime, timeCell } from "./format.js";
import { session } from "./api.js";
import { confirmBox } from "./dialogs.js";
import { dataTable } from "./tables.js";
import { data } from "./store.js";
import { act } from "./page-manage.js";

const firstExpiry = (r) => r.features.map((f) => f.expires_at).filter(Boolean).sort()[0];
const seats = (r) => r.features.reduce((a, f) => a + f.seats, 0);

async function deactivate(r, btn) {
  const sure = await confirmBox({ title: `Deactivate ${r.license_id}?`, ok: "Deactivate",
    text: "Its seats are removed from both servers of the pair. Seats in use must be released "
      + "first." });
  if (!sure) return;
  const answer = await act("deactivate", { license_id: r.license_id }, btn);
  if (answer && answer.ok) offerReceipt(r.license_id, answer);
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
  actions: () => (session.user ? [h("a", { class: "btn primary", href: "/activate",
    "data-nav": "", id: "activate-open" }, "Activate license…")] : []),
  mount(view) {
    const table = dataTable({ key: (r) => r.license_id, columns: COLUMNS,
      empty: "No license is activated. An administrator can activate one from an entitlement "
        + "file." });
    view.append(table.el);
    return () => table.set(data.licenses.licenses);
  },
};

// ---- Deactivate's receipt: the site's signed word for the vendor, kept as a file -------------
let receiptUrl = null;

function offerReceipt(licenseId, answer) {
  const receipt = answer.result && answer.result.receipt;
  const link = $("#receipt-download");
  if (receiptUrl) URL.revokeObjectURL(receiptUrl);
  receiptUrl = null;
  link.hidden = !receipt;
  if (receipt) {
    const text = `${JSON.stringify(receipt, null, 2)}\n`;
    receiptUrl = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    link.href = receiptUrl;
    link.download = `receipt-${licenseId}.json`;
  }
  $("#receipt-title").textContent = `License ${licenseId} is deactivated`;
  $("#receipt-text").textContent = receipt
    ? "Download the deactivation receipt, signed with this site's key, and send it to the "
      + "vendor: it checks the receipt before it issues the license for other servers."
    : "This site has no site key (LICENSING_SITE_KEY), so the servers gave no receipt; tell the "
      + "vendor the license is deactivated some other way.";
  $("#receipt-dialog").showModal();
}
