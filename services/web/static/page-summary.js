/* Server Summary: the pair's banner, one tile per server, and the licensing figures at a glance. */
import { append, clear, h } from "./dom.js";
import { fmtAgo, fmtDuration, fmtNum, fmtTime, secondsSince } from "./format.js";
import { NODE } from "./api.js";
import { vocab } from "./vocabulary.js";
import { pill, roleBadge, tone } from "./status.js";
import { data } from "./store.js";

const ICONS = { ok: "✓", bad: "!", warn: "≠", info: "↻", idle: "–" };
const TIGHT = 0.85;  // a feature this full is near capacity

export default {
  path: "/", title: "Server Summary",
  subtitle: "The license servers of this site and their pair, at a glance.",
  needs: ["servers", "features", "licenses", "denials"],
  mount(view) {
    const banner = h("div", { id: "pair-banner" });
    const tiles = h("div", { class: "tiles", id: "tiles" });
    const kpis = h("div", { class: "kpis", id: "kpis" });
    append(view, banner, tiles, kpis);
    return () => {
      const s = data.servers;
      drawBanner(banner, s);
      clear(tiles);
      for (const srv of s.servers) tiles.append(tile(srv, s));
      if (!s.servers.length) {
        tiles.append(h("div", { class: "empty" }, "No server has registered yet."));
      }
      drawKpis(kpis);
    };
  },
};

function bannerText(s) {
  const word = s.pair_status, pair = vocab.pair_status;
  if (!s.pair) {
    return "These servers are not paired. Open Manage and use Enable Backup to choose a backup "
      + "server.";
  }
  if (word === pair.PAIRED) {
    return `${s.pair.primary} serves licenses; ${s.pair.backup} holds the same licenses and takes `
      + "over if the primary fails.";
  }
  if (word === pair.RECOVERING) {
    return "A server of the pair is replaying the log to catch up; it will be available again "
      + "when it matches its partner.";
  }
  if (word === pair.NOT_SYNCED) {
    const why = s.sync && s.sync.reason ? ` (${s.sync.reason})` : "";
    return `The two servers do not hold the same history${why}. Sync the one that is behind `
      + "(Manage → Sync).";
  }
  return "Licenses are still served by the server that is running; the pair has no redundancy "
    + "until both are back.";
}

function drawBanner(el, s) {
  clear(el);
  const t = s.pair ? tone(s.pair_status) : "idle";
  el.className = `banner ${t}`;
  append(el, h("div", { class: "icon", "aria-hidden": "true" }, ICONS[t]),
    h("div", {},
      h("div", { class: "big", id: "pair-status" }, s.pair ? s.pair_status : "Not paired"),
      h("div", { class: "muted" }, bannerText(s))));
}

function tile(srv, s) {
  const member = s.pair && (s.pair.primary === srv.node || s.pair.backup === srv.node);
  const since = srv.since
    ? h("span", { title: `since ${fmtTime(srv.since)}` }, fmtDuration(secondsSince(srv.since)))
    : "—";
  const licenses = srv.licenses && srv.licenses.length ? srv.licenses.join(", ") : "none activated";
  let where;
  if (srv.node === NODE) where = h("span", {}, "● This server");
  else if (srv.api_url) {
    where = h("a", { href: srv.api_url, target: "_blank", rel: "noopener" },
      "Open its License Manager ↗");
  } else where = h("span", {}, "No address known");
  const registered = srv.registered_at
    ? h("span", { title: fmtTime(srv.registered_at) }, `registered ${fmtAgo(srv.registered_at)}`)
    : null;
  return h("article", { class: `tile ${tone(srv.status)}`, dataset: { node: srv.node },
    "aria-label": `Server ${srv.node}` },
  h("div", { class: "tile-head" }, h("h3", {}, srv.node), roleBadge(srv.role),
    h("span", { class: "spacer" }), pill(srv.status, { "data-field": "status" })),
  h("dl", {},
    h("dt", {}, "License Server ID"),
    h("dd", { class: "mono", "data-field": "server_id" }, srv.server_id || "—"),
    h("dt", {}, "Pair Status"),
    h("dd", { "data-field": "pair_status" }, member ? s.pair_status : "Not paired"),
    h("dt", {}, "For"),
    h("dd", {}, since, srv.reason ? h("span", { class: "faint" }, ` · ${srv.reason}`) : null),
    h("dt", {}, "Licenses"), h("dd", {}, licenses)),
  h("div", { class: "tile-foot" }, where, h("span", { class: "spacer" }), registered));
}

function drawKpis(el) {
  clear(el);
  const feats = data.features.features;
  const used = feats.reduce((a, f) => a + f.in_use, 0);
  const total = feats.reduce((a, f) => a + f.total, 0);
  const tight = feats.filter((f) => f.total && f.in_use / f.total >= TIGHT).length;
  const dayAgo = Date.now() - 86400e3;
  const denied = data.denials.denials.filter((d) => new Date(d.at).getTime() >= dayAgo).length;
  const kpi = (label, value, cls, href) =>
    h("a", { class: `kpi ${cls || ""}`, href, "data-nav": "" },
      h("div", { class: "label" }, label), h("div", { class: "value" }, value));
  append(el,
    kpi("Activated licenses", fmtNum(data.licenses.licenses.length), "", "/licenses"),
    kpi("Seats in use", [fmtNum(used), h("small", {}, ` of ${fmtNum(total)}`)], "", "/usage"),
    kpi("Features at 85% or more", fmtNum(tight), tight ? "warn" : "", "/capacity"),
    kpi("Denials in the last 24 h", fmtNum(denied), denied ? "bad" : "", "/denials"));
}
