/* A table with a filter box and sortable columns, and the seats bar the tables show.
   Rows new since the last draw are marked "fresh", so a live change catches the eye. */
import { clear, h } from "./dom.js";
import { fmtNum } from "./format.js";
import { session } from "./api.js";

const classes = (...names) => names.filter(Boolean).join(" ") || null;

function compare(x, y) {
  if (typeof x === "number" && typeof y === "number") return x - y;
  return String(x ?? "").localeCompare(String(y ?? ""), undefined, { numeric: true });
}

/**
 * columns: { id, label, value(row), render?(row), text?(row) for the filter, num, wrap, nowrap,
 * admin (shown to administrators only), sortable }. Returns { el, set(rows), input }.
 */
export function dataTable({ columns, key, empty, filterLabel = "Filter", tools = [], sort = null,
  dir = 1 }) {
  const st = { q: "", sort, dir, rows: [], seen: null };
  const input = h("input", { type: "search", placeholder: `${filterLabel}…`,
    "aria-label": filterLabel,
    oninput: () => { st.q = input.value.trim().toLowerCase(); draw(); } });
  const count = h("span", { class: "count" });
  const head = h("tr");
  const body = h("tbody");
  const el = h("div", { class: "panel" },
    h("div", { class: "table-tools" }, input, count, h("span", { class: "spacer" }), tools),
    h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, head), body)));
  const visible = () => columns.filter((c) => !(c.admin && !session.user));

  function drawHead() {
    clear(head);
    for (const c of visible()) {
      const sortable = c.value && c.sortable !== false;
      const sorted = st.sort === c.id;
      const onclick = () => { st.dir = st.sort === c.id ? -st.dir : 1; st.sort = c.id; draw(); };
      head.append(h("th", { class: [sortable ? "sortable" : "", c.num ? "num" : ""].join(" "),
        scope: "col", "aria-sort": sorted ? (st.dir > 0 ? "ascending" : "descending") : null,
        onclick: sortable ? onclick : null },
      c.label, sorted ? h("span", { class: "arrow" }, st.dir > 0 ? "▲" : "▼") : null));
    }
  }
  function text(row) {
    return columns.map((c) => (c.text ? c.text(row) : c.value ? c.value(row) : ""))
      .join(" ").toLowerCase();
  }
  function draw() {
    drawHead();
    let rows = st.rows.filter((r) => !st.q || text(r).includes(st.q));
    const col = columns.find((c) => c.id === st.sort);
    if (col) rows = rows.slice().sort((a, b) => compare(col.value(a), col.value(b)) * st.dir);
    clear(body);
    const shown = visible();
    if (!rows.length) {
      body.append(h("tr", {}, h("td", { class: "empty", colspan: String(shown.length) },
        st.rows.length ? "Nothing matches the filter." : empty)));
    }
    for (const r of rows) {
      const k = key(r);
      const fresh = st.seen && !st.seen.has(k);
      body.append(h("tr", { class: fresh ? "fresh" : null, dataset: { key: k } },
        shown.map((c) => h("td", { class: classes(c.num && "num", c.wrap && "wrap",
          c.nowrap && "nowrap") }, c.render ? c.render(r) : c.value(r)))));
    }
    st.seen = new Set(st.rows.map(key));
    const n = st.rows.length;
    count.textContent = st.q ? `${rows.length} of ${n}` : `${n} ${n === 1 ? "row" : "rows"}`;
  }
  return { el, set(rows) { st.rows = rows || []; draw(); }, input };
}

/** In use against total as a bar, with the reserved seats shaded after the used ones. */
export function seatsBar(inUse, total, reserved) {
  const t = Math.max(total || 0, 1);
  const ratio = (inUse || 0) / t;
  const cls = total && ratio >= 1 ? "bad" : ratio >= 0.85 ? "warn" : "";
  const use = h("span", { class: "use" });
  use.style.width = `${Math.min(100, ratio * 100)}%`;  // the CSSOM: the CSP forbids style=""
  let res = null;
  if (reserved) {
    res = h("span", { class: "res" });
    res.style.width = `${Math.min(100, (((inUse || 0) + reserved) / t) * 100)}%`;
  }
  const title = `${fmtNum(inUse)} in use of ${fmtNum(total)}`
    + (reserved ? `, ${fmtNum(reserved)} reserved` : "");
  return h("div", { class: "seats", title },
    h("div", { class: `bar ${cls}` }, res, use),
    h("span", { class: "txt" }, `${fmtNum(inUse)}/${fmtNum(total)}`));
}
