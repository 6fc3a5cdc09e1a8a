/* Usage Details: every acquisition held now, and force-release for one that is stuck; or,
   with the time picker, every acquisition held at a moment of the past (from the node's log). */
import { h } from "./dom.js";
import { fmtNum, fmtTime, timeCell } from "./format.js";
import { getJSON } from "./api.js";
import { confirmBox } from "./dialogs.js";
import { dataTable } from "./tables.js";
import { data } from "./store.js";
import { act } from "./page-manage.js";

async function forceRelease(r, btn) {
  const answer = await confirmBox({ title: "Force-release this acquisition?",
    text: `${r.feature} ${r.version} held by ${r.user} on ${r.device} since ${fmtTime(r.since)}. `
      + "Do this only for a product that is gone and still holds its seat.",
    ok: "Force release", reason: true });
  if (answer) act("release", { lease_id: r.lease_id, reason: answer.reason }, btn);
}

function held(r) {
  const title = `this acquisition holds ${fmtNum(r.count)}; `
    + `${fmtNum(r.in_use)} of ${fmtNum(r.total)} in use in all`;
  return h("span", { title }, `${fmtNum(r.count)}/${fmtNum(r.total)}`);
}

// The answer of /api/usage?at= while the picker shows a moment of the past; null: now, live.
// A past moment's answer does not change, so it is asked once, not on every live round.
let asOf = null;

const reservation = (r) => (r.reservation_id
  ? h("span", { class: "chip", title: `uses a seat of reservation ${r.reservation_id}` },
    "reserved")
  : h("span", { class: "faint" }, "—"));

const COLUMNS = [
  { id: "feature", label: "Feature", value: (r) => r.feature,
    render: (r) => h("b", {}, r.feature) },
  { id: "type", label: "Type", value: (r) => r.type || "" },
  { id: "version", label: "Version", nowrap: true, value: (r) => r.version },
  { id: "count", label: "In Use/Total", num: true, value: (r) => r.count, text: () => "",
    render: held },
  { id: "device", label: "Device", value: (r) => r.device },
  { id: "user", label: "User", value: (r) => r.user },
  { id: "since", label: "Since", value: (r) => r.since, render: (r) => timeCell(r.since) },
  { id: "reservation", label: "Reservation", value: (r) => r.reservation_id || "",
    render: reservation },
  { id: "act", label: "", admin: true, render: (r) => (asOf ? null : h("button", {
    class: "btn small", type: "button", "aria-label": `Force release ${r.feature} on ${r.device}`,
    onclick: (e) => forceRelease(r, e.currentTarget), title: "Force-release this acquisition" },
  "Release…")) },
];

export default {
  path: "/usage", title: "Usage Details",
  subtitle: "Every acquisition held now: which device and user hold which seats, since when.",
  needs: ["usage"],
  mount(view) {
    asOf = null;
    const at = h("input", { type: "datetime-local", step: "0.001", id: "usage-at",
      "aria-label": "Seats held at", title: "Show the seats held at this moment (local time)",
      onchange: () => pick() });
    const now = h("button", { class: "btn small", type: "button", id: "usage-now",
      title: "Back to the seats held now", onclick: () => { at.value = ""; asOf = null; draw(); } },
    "Now");
    const note = h("span", { class: "muted", id: "usage-as-of" });
    const table = dataTable({ key: (r) => r.lease_id, columns: COLUMNS, empty: "No seat is in use.",
      filterLabel: "Filter by feature, device, user", sort: "since", dir: -1,
      tools: [h("label", { class: "at-pick" }, "At ", at), now, note] });
    view.append(table.el);
    async function pick() {
      const when = at.value ? new Date(at.value) : null;
      if (!when || isNaN(when)) { asOf = null; draw(); return; }
      const asked = when.toISOString();
      try {
        const answer = await getJSON(`/api/usage?at=${encodeURIComponent(asked)}`);
        if (!answer.usage) throw new Error(answer.message || "no answer");
        if (at.value && new Date(at.value).toISOString() === asked) asOf = answer;  // still asked
      } catch (e) {
        asOf = null;
        note.textContent = `Could not read the log at ${fmtTime(asked)}: ${e.message || e}`;
        return;
      }
      draw();
    }
    function draw() {
      note.textContent = asOf
        ? `Held at ${fmtTime(asOf.at)}: the log up to position ${fmtNum(asOf.offset)}`
        : "Now";
      table.set(asOf ? asOf.usage : data.usage.usage);
    }
    return draw;
  },
};
