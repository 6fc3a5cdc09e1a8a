/* Reservations: seats set aside for one device or one user, and the Reserve dialog. */
import { $, clear, h } from "./dom.js";
import { fmtNum, timeCell } from "./format.js";
import { SOURCES, getJSON, session } from "./api.js";
import { confirmBox } from "./dialogs.js";
import { dataTable } from "./tables.js";
import { data } from "./store.js";
import { openLogin } from "./page-login.js";
import { act } from "./page-manage.js";

async function cancel(r, btn) {
  const sure = await confirmBox({ title: "Cancel this reservation?", ok: "Cancel reservation",
    text: `${fmtNum(r.count)} seat(s) of ${r.feature} ${r.version} for ${r.device || r.user} `
      + "go back to everyone." });
  if (sure) act("unreserve", { reservation_id: r.reservation_id }, btn);
}

const shortId = (id) => (id.length > 14 ? `${id.slice(0, 12)}…` : id);

const COLUMNS = [
  { id: "feature", label: "Feature", value: (r) => r.feature,
    render: (r) => h("b", {}, r.feature) },
  { id: "version", label: "Version", nowrap: true, value: (r) => r.version },
  { id: "holder", label: "Reserved for", value: (r) => r.device || r.user,
    render: (r) => h("span", {}, r.device ? "Device " : "User ", h("b", {}, r.device || r.user)) },
  { id: "count", label: "In Use/Reserved", num: true, value: (r) => r.count,
    render: (r) => `${fmtNum(r.in_use)}/${fmtNum(r.count)}` },
  { id: "created_at", label: "Since", value: (r) => r.created_at,
    render: (r) => timeCell(r.created_at) },
  { id: "id", label: "Reservation", value: (r) => r.reservation_id,
    render: (r) => h("span", { class: "mono", title: r.reservation_id },
      shortId(r.reservation_id)) },
  { id: "act", label: "", admin: true, render: (r) => h("button", { class: "btn small",
    type: "button", "aria-label": `Cancel reservation ${r.reservation_id}`,
    onclick: (e) => cancel(r, e.currentTarget) }, "Cancel") },
];

export default {
  path: "/reservations", title: "Reservations",
  subtitle: "Seats set aside for one device or one user.",
  needs: ["reservations", "features"],
  actions: () => (session.user ? [h("button", { class: "btn primary", type: "button",
    id: "reserve-open", onclick: openReserve }, "Reserve seats…")] : []),
  mount(view) {
    const table = dataTable({ key: (r) => r.reservation_id, columns: COLUMNS,
      empty: "No seats are reserved." });
    view.append(table.el);
    return () => table.set(data.reservations.reservations);
  },
};

// ---- Reserve: a feature from the list, a device or a user, how many seats -----------------
const features = () => (data.features && data.features.features) || [];

async function openReserve() {
  if (!session.user) return openLogin();
  // the freshest free seats, not those of the last round
  data.features = await getJSON(SOURCES.features).catch(() => data.features);
  const select = clear($("#reserve-feature"));
  features().forEach((f, i) => select.append(h("option", { value: String(i) },
    `${f.name} ${f.version} (${fmtNum(f.available)} free)`)));
  $("#reserve-form").reset();
  $("#reserve-error").textContent = "";
  $("#reserve-dialog").showModal();
}

$("#reserve-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  const f = features()[Number(form.feature.value)];
  if (!f) {
    $("#reserve-error").textContent =
      "Choose a feature; activate a license first if there is none.";
    return;
  }
  const answer = await act("reserve", { feature: f.name, version: f.version,
    holder_type: form.holder_type.value, holder: form.holder.value,
    count: Number(form.count.value) }, $("#reserve-submit"));
  if (answer && answer.ok) $("#reserve-dialog").close();
  else if (answer) $("#reserve-error").textContent = answer.message;
});
