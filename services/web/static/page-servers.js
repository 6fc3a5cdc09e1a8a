/* Server Details: the seed's Figure 13 table, sync and writer, status strips and the timeline. */
import { append, clear, h } from "./dom.js";
import { cap, fmtDuration, fmtNum, fmtTime, secondsSince, timeCell } from "./format.js";
import { vocab } from "./vocabulary.js";
import { pill, tone } from "./status.js";
import { dataTable } from "./tables.js";
import { data } from "./store.js";

const KIND_WORDS = {
  ServerRegistered: "Registered", ServerStatusChanged: "Status changed",
  PairSyncChanged: "Pair sync changed", ServersPaired: "Paired", ServersUnpaired: "Unpaired",
  ServerIdReset: "License Server ID reset", StopRequested: "Stop requested",
  SyncRequested: "Sync requested", ServerUninstalled: "Uninstalled",
};

const lasted = (r) => (r.lasted_seconds === null ? secondsSince(r.at) : r.lasted_seconds);
const faint = (text) => h("span", { class: "faint" }, text);

const TIMELINE = [
  { id: "at", label: "When", value: (r) => r.at, render: (r) => timeCell(r.at) },
  { id: "node", label: "Server", value: (r) => r.node || "pair" },
  { id: "kind", label: "What happened", value: (r) => KIND_WORDS[r.kind] || r.kind },
  { id: "server_status", label: "Server status", value: (r) => r.server_status || "",
    render: (r) => (r.server_status ? pill(r.server_status) : "—") },
  { id: "pair_status", label: "Pair status", value: (r) => r.pair_status || "",
    render: (r) => (r.pair_status ? pill(r.pair_status) : faint("not paired")) },
  { id: "lasted", label: "Lasted", value: (r) => lasted(r),
    render: (r) => (r.lasted_seconds === null
      ? h("span", {}, fmtDuration(lasted(r)), h("span", { class: "sub" }, "still so"))
      : fmtDuration(r.lasted_seconds)) },
  { id: "reason", label: "Reason", wrap: true, value: (r) => r.reason || "",
    render: (r) => (r.reason ? r.reason : faint("—")) },
];

export default {
  path: "/servers", title: "Server Details",
  subtitle: "Each server's License Server ID and status, and what happened to the pair.",
  needs: ["servers", "timeline"],
  mount(view) {
    const fig = h("div", { class: "panel" }, h("h2", {}, "Servers and pair status"));
    const figBody = h("div", { class: "table-wrap" });
    fig.append(figBody);
    const sync = h("div", { class: "panel" });
    const strips = h("div", { class: "panel" });
    const table = dataTable({ key: (r) => `${r.at}|${r.kind}|${r.node}`,
      empty: "Nothing has happened yet.", filterLabel: "Filter the timeline", columns: TIMELINE });
    append(view, fig, sync, strips, table.el);
    table.el.prepend(h("h2", {}, "Status timeline"));
    return () => {
      const s = data.servers;
      clear(figBody).append(figure13(s));
      clear(sync).append(h("h2", {}, "Sync and writer"),
        h("div", { class: "panel-body" }, h("p", {}, syncText(s)),
          h("p", { class: "muted" }, writerText(s))));
      drawStrips(strips, data.timeline.timeline);
      table.set(data.timeline.timeline);
    };
  },
};

function figure13(s) {
  const heads = ["", "Server", "License Server ID", "Status", "Pair Status", "For", "Reason"];
  const member = (srv) => s.pair && (s.pair.primary === srv.node || s.pair.backup === srv.node);
  return h("table", { id: "figure13" },
    h("thead", {}, h("tr", {}, heads.map((t) => h("th", {}, t)))),
    h("tbody", {}, s.servers.map((srv) => h("tr", { dataset: { node: srv.node } },
      h("th", { scope: "row" }, cap(srv.role)), h("td", {}, srv.node),
      h("td", { class: "mono" }, srv.server_id || "—"),
      h("td", {}, pill(srv.status)),
      h("td", {}, member(srv) ? pill(s.pair_status) : "Not paired"),
      h("td", { title: fmtTime(srv.since) },
        srv.since ? fmtDuration(secondsSince(srv.since)) : "—"),
      h("td", {}, srv.reason || "—")))));
}

function syncText(s) {
  if (!s.pair) return "Not paired: there is nothing to keep in sync.";
  if (s.sync.synced) return "The two servers hold the same history (same log position and digest).";
  const behind = Number(s.sync.lag_seconds || 0).toFixed(1);
  const lag = s.sync.lag_events ? ` — ${fmtNum(s.sync.lag_events)} events, ${behind} s behind` : "";
  return `Not synced: ${s.sync.reason || "the servers differ"}${lag}.`;
}

function writerText(s) {
  if (!(s.writer && s.writer.node)) return "No writer yet.";
  const w = s.writer;
  return `Decisions are made by ${w.node} (${w.server_id}), writer epoch ${w.epoch}.`;
}

/** One strip for the pair and one per server: each status as long as it lasted, oldest left. */
function drawStrips(el, timeline) {
  clear(el).append(h("h2", {}, "Status over time"));
  const body = h("div", { class: "panel-body" });
  el.append(body);
  if (!timeline.length) {
    body.append(h("p", { class: "muted" }, "No status changes recorded yet."));
    return;
  }
  const rows = timeline.slice().reverse();  // oldest first
  const t0 = new Date(rows[0].at).getTime(), t1 = Date.now(), span = Math.max(t1 - t0, 1);
  const lanes = [...new Set(rows.filter((r) => r.node).map((r) => r.node))];
  const strip = (label, items) => {
    const bar = h("div", { class: "strip" });
    items.forEach((it, i) => {
      const end = i + 1 < items.length ? items[i + 1].t : t1;
      const from = fmtTime(new Date(it.t).toISOString());
      const seg = h("span", { class: `s-${tone(it.word)}`,
        title: `${it.word || "not paired"} from ${from} for ${fmtDuration((end - it.t) / 1000)}` });
      seg.style.width = `${((end - it.t) / span) * 100}%`;
      bar.append(seg);
    });
    return h("div", { class: "strip-row" }, h("span", {}, label), bar);
  };
  const pairItems = rows.map((r) => ({ t: new Date(r.at).getTime(), word: r.pair_status }));
  body.append(strip("Pair", pairItems));
  for (const node of lanes) {
    const mine = rows.filter((r) => r.node === node && r.server_status)
      .map((r) => ({ t: new Date(r.at).getTime(), word: r.server_status }));
    if (mine.length) {
      const lead = mine[0].t > t0 ? [{ t: t0, word: null }] : [];
      body.append(strip(node, lead.concat(mine)));
    }
  }
  const server = vocab.server_status, pair = vocab.pair_status;
  const legend = [["ok", `${server.RUNNING} / ${pair.PAIRED}`], ["info", server.RECOVERING],
    ["warn", pair.NOT_SYNCED],
    ["bad", `${server.STOPPED}, ${server.DISCONNECTED} or not available`],
    ["idle", "Not known / not paired"]];
  body.append(h("div", { class: "legend" }, `From ${fmtTime(rows[0].at)} to now. `,
    legend.map(([c, w]) => h("span", {}, h("i", { class: `s-${c}` }), w))));
}
