/* License Manager: pages rendered from this node's JSON API, kept live by /api/events.
   Native ES modules, no build step, no network beyond this server. This module is the shell:
   the router, the top bar, and the round that loads what the page shows and draws it. */
import { $, append, clear } from "./dom.js";
import { fmtNum } from "./format.js";
import { NODE, SOURCES, getJSON, listen, loadSession, session } from "./api.js";
import { loadVocabulary } from "./vocabulary.js";
import { inPairRole, tone } from "./status.js";
import { notify } from "./dialogs.js";
import { data, refresh, setRound } from "./store.js";
import "./page-login.js";
import { renderManage } from "./page-manage.js";
import summary from "./page-summary.js";
import servers from "./page-servers.js";
import licenses from "./page-licenses.js";
import activate from "./page-activate.js";
import features from "./page-features.js";
import usage from "./page-usage.js";
import capacity from "./page-capacity.js";
import reservations from "./page-reservations.js";
import denials from "./page-denials.js";

const PAGES = [summary, servers, licenses, activate, features, usage, capacity, reservations, denials];
const pages = Object.fromEntries(PAGES.map((page) => [page.path, page]));
const PAUSE_MS = 100;            // between rounds, unless the page asks for more (minInterval)
const TICK_MS = 15000;           // relative times ("for 3 min") stay true when nothing happens

function drawHeader() {
  const s = data.servers, hl = data.health;
  if (hl) {
    const st = $("#served-status");
    st.textContent = hl.loading ? `Loading ${fmtNum(hl.loading.events_loaded)} of ${fmtNum(hl.loading.events_total)}` : hl.status || "";
    st.className = `pill ${tone(hl.status)}`;
  }
  const me = s && s.servers.find((x) => x.node === NODE);
  const role = $("#served-role");
  role.textContent = me && inPairRole(me.role) ? me.role : "";
  role.className = `badge ${me ? me.role : ""}`;
  if (hl) {
    const where = `Log position ${fmtNum(hl.offset)}${hl.caught_up ? "" : " (catching up)"}`;
    const who = hl.writer ? "this server decides" : `decisions by ${hl.writer_node || "—"}`;
    $("#nav-foot").textContent = `${where} · ${who}`;
    if (hl.unverified_messages) $("#nav-foot").textContent += ` · ${fmtNum(hl.unverified_messages)} unverified messages ignored`;
  }
}

let current = null;   // { path, page, update }
let actionsFor = null;

function route() {
  const path = pages[location.pathname] ? location.pathname : "/";
  const page = pages[path];
  document.querySelectorAll(".sidebar a")
    .forEach((a) => a.classList.toggle("active", a.getAttribute("href") === path));
  $("#page-title").textContent = page.title;
  $("#page-subtitle").textContent = page.subtitle;
  document.title = `${page.title} · License Manager · ${NODE}`;
  const view = clear($("#view"));
  view.dataset.page = path;
  delete view.dataset.ready;  // set again once this page has its data
  current = { path, page, update: page.mount(view), ready: false };
  actionsFor = null;
  drawActions();
  refresh();
}

function drawActions() {
  if (!current) return;
  const key = `${current.path}|${session.user}`;
  if (key === actionsFor) return;
  actionsFor = key;
  clear($("#page-actions"));
  append($("#page-actions"), current.page.actions ? current.page.actions() : []);
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-nav]");
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || a.target) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  e.preventDefault();
  history.pushState({}, "", url.pathname + url.search);
  route();
});
window.addEventListener("popstate", route);

const sourceOf = (name, page) =>
  (page && page.sources && page.sources[name] ? page.sources[name]() : SOURCES[name]);

let lastError = null;

async function load() {
  const target = current;
  const needs = new Set(["servers", "health", ...(target ? target.page.needs : [])]);
  try {
    const [, results] = await Promise.all([loadVocabulary(), Promise.all([...needs]
      .map((n) => getJSON(sourceOf(n, target && target.page)).then((v) => [n, v])))]);
    for (const [n, v] of results) data[n] = v;
    lastError = null;
  } catch (e) {
    if (!lastError) {
      notify("error", "Could not load this page",
        `${String(e.message || e)} — the page keeps trying.`);
    }
    lastError = e;
    setLive(false);
    return;
  }
  drawHeader();
  drawActions();
  if (target === current && target) {
    target.update();
    target.ready = true;
    $("#view").dataset.ready = "true";
  }
  renderManage();
}

setRound(async () => {
  await load();
  const pause = current && current.page.minInterval ? current.page.minInterval : PAUSE_MS;
  await new Promise((r) => setTimeout(r, pause));
});

function setLive(on) {
  $("#live").className = `live ${on ? "on" : "off"}`;
  $("#live-text").textContent = on ? "Live" : "Reconnecting…";
}

setInterval(() => { if (!document.hidden) refresh(); }, TICK_MS);

Promise.all([loadSession().catch(() => {}), loadVocabulary().catch(() => {})]).then(() => {
  route();
  listen(() => { setLive(true); refresh(); }, () => setLive(false));
});
window.licenseManager = { refresh, data, session };  // for the curious administrator's console
