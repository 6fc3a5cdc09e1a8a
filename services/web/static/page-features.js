/* Features Summary: seats per feature, owned, in use, reserved and free. */
import { h } from "./dom.js";
import { fmtNum, fmtTime } from "./format.js";
import { dataTable, seatsBar } from "./tables.js";
import { data } from "./store.js";

const overTime = (r) => `/capacity?feature=${encodeURIComponent(r.name)}`
  + `&version=${encodeURIComponent(r.version)}`;

const COLUMNS = [
  { id: "name", label: "Feature", value: (r) => r.name, render: (r) => h("b", {}, r.name) },
  { id: "type", label: "Type", value: (r) => r.type || "" },
  { id: "version", label: "Version", nowrap: true, value: (r) => r.version },
  { id: "use", label: "In Use/Total", value: (r) => (r.total ? r.in_use / r.total : 0),
    render: (r) => seatsBar(r.in_use, r.total, r.reserved) },
  { id: "reserved", label: "Reserved", num: true, value: (r) => r.reserved,
    render: (r) => fmtNum(r.reserved) },
  { id: "available", label: "Available", num: true, value: (r) => r.available,
    render: (r) => fmtNum(r.available) },
  { id: "expires_at", label: "Expires", value: (r) => r.expires_at || "",
    render: (r) => (r.expires_at ? fmtTime(r.expires_at) : "never") },
  { id: "chart", label: "",
    render: (r) => h("a", { href: overTime(r), "data-nav": "" }, "Over time →") },
];

export default {
  path: "/features", title: "Features Summary",
  subtitle: "Seats per feature: owned, in use, reserved and free.",
  needs: ["features"],
  mount(view) {
    const table = dataTable({ key: (r) => `${r.name}|${r.version}`, columns: COLUMNS,
      empty: "No feature is licensed yet." });
    view.append(table.el);
    return () => table.set(data.features.features);
  },
};
