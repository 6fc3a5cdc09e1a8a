/* Denials: acquisitions that were refused, newest first, each reason in words. */
import { h } from "./dom.js";
import { fmtNum, timeCell } from "./format.js";
import { vocab } from "./vocabulary.js";
import { denialTone } from "./status.js";
import { dataTable } from "./tables.js";
import { data } from "./store.js";

/** The words for each denial reason of the vocabulary. */
function reasonWords() {
  const why = vocab.denial_reason;
  return { [why.NO_SEATS]: "No free seats", [why.RESERVED]: "Seats reserved for others",
    [why.EXPIRED]: "License expired", [why.UNKNOWN_FEATURE]: "Feature not licensed" };
}
let words = null;  // built on first use: the vocabulary is loaded before anything is drawn
const inWords = (reason) => (words ??= reasonWords())[reason] || reason;

const COLUMNS = [
  { id: "at", label: "When", value: (r) => r.at, render: (r) => timeCell(r.at) },
  { id: "feature", label: "Feature", value: (r) => r.feature,
    render: (r) => h("b", {}, r.feature) },
  { id: "version", label: "Version", nowrap: true, value: (r) => r.version },
  { id: "device", label: "Device", value: (r) => r.device },
  { id: "user", label: "User", value: (r) => r.user },
  { id: "count", label: "Seats", num: true, value: (r) => r.count, render: (r) => fmtNum(r.count) },
  { id: "reason", label: "Reason", value: (r) => inWords(r.reason),
    text: (r) => `${r.reason} ${r.message}`,
    render: (r) => h("span", { class: `pill ${denialTone(r.reason)}`, title: r.message },
      inWords(r.reason)) },
];

export default {
  path: "/denials", title: "Denials",
  subtitle: "Acquisitions that were refused, newest first: the clearest sign of too few seats.",
  needs: ["denials"],
  mount(view) {
    const table = dataTable({ key: (r) => r.command_id, columns: COLUMNS, sort: "at", dir: -1,
      empty: "No acquisition has been refused." });
    view.append(table.el);
    return () => table.set(data.denials.denials);
  },
};
