/* License Manager: pages rendered from this node's JSON API, kept live by /api/events.
   Plain JavaScript, no build step, no network beyond this server. */
"use strict";
(() => {
  const NODE = document.body.dataset.node;
  const SITE = document.body.dataset.site;
  const $ = (sel, root = document) => root.querySelector(sel);

  // ---- tiny DOM helper: text is always set as text, never parsed as HTML ---------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    append(el, children);
    return el;
  }
  function append(el, ...children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const clear = (el) => { while (el.firstChild) el.removeChild(el.firstChild); return el; };

  // ---- words and numbers --------------------------------------------------------------
  const pad = (n) => String(n).padStart(2, "0");
  function fmtTime(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return "—";
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
    const hrs = Math.floor(m / 60);
    if (hrs < 48) return m % 60 ? `${hrs} h ${m % 60} min` : `${hrs} h`;
    const d = Math.floor(hrs / 24);
    return hrs % 24 ? `${d} d ${hrs % 24} h` : `${d} d`;
  }
  const secondsSince = (iso) => (Date.now() - new Date(iso).getTime()) / 1000;
  const fmtAgo = (iso) => (iso ? `${fmtDuration(secondsSince(iso))} ago` : "—");
  const fmtNum = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US"));
  function timeCell(iso) {
    return h("span", { class: "when", title: fmtTime(iso) }, fmtTime(iso), h("span", { class: "sub" }, fmtAgo(iso)));
  }
  const KIND_WORDS = {
    ServerRegistered: "Registered", ServerStatusChanged: "Status changed", PairSyncChanged: "Pair sync changed",
    ServersPaired: "Paired", ServersUnpaired: "Unpaired", ServerIdReset: "License Server ID reset",
    StopRequested: "Stop requested", SyncRequested: "Sync requested", ServerUninstalled: "Uninstalled",
  };
  const REASON_WORDS = {
    no_seats: "No free seats", reserved: "Seats reserved for others", expired: "License expired",
    unknown_feature: "Feature not licensed",
  };
  function tone(word) {
    if (!word) return "idle";
    if (word === "Running" || word === "Paired and Available") return "ok";
    if (word === "Recovering") return "info";
    if (word === "Pair not synced") return "warn";
    if (word === "Stopped" || word === "Disconnected" || word === "Halted" || /not available/.test(word)) return "bad";
    return "idle";
  }
  const pill = (word, extra) => h("span", { class: `pill ${tone(word)}`, ...(extra || {}) }, word || "—");
  const roleBadge = (role) => (role && role !== "standalone" ? h("span", { class: `badge ${role}` }, role) : null);
  const cap = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);

  // ---- talking to this node ------------------------------------------------------------
  async function getJSON(path) {
    const r = await fetch(path, { credentials: "same-origin", cache: "no-store" });
    const text = await r.text();
    try { return JSON.parse(text); } catch (e) { throw new Error(`${path} answered ${r.status} ${r.statusText}`); }
  }
  const session = { user: null, csrf: null, admins: true, noAdmins: null };
  async function loadSession() {
    const s = await getJSON("/api/session");
    Object.assign(session, { user: s.user, csrf: s.csrf, admins: s.admins_configured, noAdmins: s.no_admins_message });
    renderAccount();
  }
  async function post(path, body) {
    const send = () => fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": session.csrf || "" },
      body: JSON.stringify(body || {}),
    });
    let r = await send();
    let data = await r.json().catch(() => ({ ok: false, message: `this server answered ${r.status}` }));
    if (r.status === 403 && data.error && data.error.code === "csrf") {  // a stale page: fetch a fresh token once
      await loadSession();
      r = await send();
      data = await r.json().catch(() => ({ ok: false, message: `this server answered ${r.status}` }));
    }
    return { status: r.status, data };
  }

  // ---- notices: every answer in words ----------------------------------------------------
  function notify(kind, title, text) {
    const box = h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" },
      h("div", { class: "text" }, h("b", {}, title), text),
      h("button", { class: "icon-btn", type: "button", "aria-label": "Dismiss", onclick: () => box.remove() }, "×"));
    $("#notices").prepend(box);
    if (kind !== "error") setTimeout(() => box.remove(), 8000);
    while ($("#notices").children.length > 4) $("#notices").lastChild.remove();
  }
  const HEADINGS = { 400: "Check the form", 401: "Sign in first", 403: "Not allowed", 404: "Unknown action", 503: "No answer" };

  /** Carry out a Manage action; the answer (refusals included) is shown in the administrator's words. */
  async function act(action, body, button) {
    if (!session.user) { openLogin(); return null; }
    if (button) button.disabled = true;
    try {
      const { status, data } = await post(`/api/manage/${action}`, body);
      if (status === 401) { session.user = null; renderAccount(); }
      if (data.ok) notify("ok", "Done", data.message);
      else notify("error", HEADINGS[status] || "Refused", data.message || "refused without a reason");
      refresh();
      return data;
    } catch (e) {
      notify("error", "This server does not answer", String(e.message || e));
      return null;
    } finally {
      if (button) button.disabled = false;
    }
  }

  // ---- dialogs --------------------------------------------------------------------------
  document.querySelectorAll("dialog [data-close]").forEach((b) => b.addEventListener("click", () => b.closest("dialog").close()));

  function confirmBox({ title, text, ok = "Confirm", danger = true, reason = false }) {
    const dlg = $("#confirm-dialog");
    $("#confirm-title").textContent = title;
    $("#confirm-text").textContent = text;
    $("#confirm-ok").textContent = ok;
    $("#confirm-ok").className = `btn ${danger ? "danger" : "primary"}`;
    $("#confirm-reason-label").hidden = !reason;
    $("#confirm-reason").value = "";
    $("#confirm-error").textContent = "";
    return new Promise((resolve) => {
      const form = dlg.querySelector("form");
      const onSubmit = (e) => {
        const why = $("#confirm-reason").value.trim();
        if (reason && !why) { e.preventDefault(); $("#confirm-error").textContent = "Say why; the reason is recorded with your name."; return; }
        done({ reason: why });
      };
      const onClose = () => done(null);
      let settled = false;
      function done(value) {
        if (settled) return;
        settled = true;
        form.removeEventListener("submit", onSubmit);
        dlg.removeEventListener("close", onClose);
        if (dlg.open) dlg.close();
        resolve(value);
      }
      form.addEventListener("submit", onSubmit);
      dlg.addEventListener("close", onClose);
      dlg.showModal();
      (reason ? $("#confirm-reason") : $("#confirm-ok")).focus();
    });
  }

  // login
  function openLogin() {
    const dlg = $("#login-dialog");
    $("#login-error").textContent = "";
    const warn = $("#login-noadmins");
    warn.hidden = session.admins;
    warn.textContent = session.noAdmins || "";
    dlg.showModal();
    $("#login-form").username.focus();
  }
  $("#login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    $("#login-submit").disabled = true;
    try {
      const { data } = await post("/login", { username: form.username.value, password: form.password.value });
      if (data.ok) {
        session.user = data.user;
        session.csrf = data.csrf;
        form.password.value = "";
        $("#login-dialog").close();
        renderAccount();
        renderManage(true);
        notify("ok", "Signed in", data.message);
        refresh();
      } else {
        $("#login-error").textContent = data.message || "could not sign in";
      }
    } catch (err) {
      $("#login-error").textContent = `this server does not answer: ${err.message || err}`;
    } finally {
      $("#login-submit").disabled = false;
    }
  });
  async function logout() {
    const { data } = await post("/logout", {});
    session.user = null;
    if (data.csrf) session.csrf = data.csrf;
    renderAccount();
    renderManage(true);
    notify("ok", "Signed out", "Reading stays open; sign in again to manage.");
    refresh();
  }
  function renderAccount() {
    const box = clear($("#account"));
    if (session.user) {
      append(box, [h("span", {}, "Administrator ", h("b", { id: "whoami" }, session.user)),
        h("button", { class: "btn small", type: "button", id: "signout", onclick: logout }, "Sign out")]);
    } else {
      append(box, h("button", { class: "btn small", type: "button", id: "signin", onclick: openLogin }, "Sign in"));
    }
    document.body.classList.toggle("is-admin", !!session.user);
  }

  // activate: an entitlement file
  let entitlement = null;
  $("#activate-file").addEventListener("change", async (e) => {
    entitlement = null;
    $("#activate-submit").disabled = true;
    $("#activate-error").textContent = "";
    const preview = clear($("#activate-preview"));
    const file = e.target.files[0];
    if (!file) return;
    try {
      const parsed = JSON.parse(await file.text());
      if (!parsed || typeof parsed.license_id !== "string" || !Array.isArray(parsed.features) || !parsed.features.length)
        throw new Error('expected {"license_id": "...", "features": [{"name", "type", "version", "seats"}, ...]}');
      entitlement = parsed;
      append(preview, h("p", {}, "License ", h("b", {}, parsed.license_id), ` with ${parsed.features.length} feature(s):`),
        h("table", {}, h("thead", {}, h("tr", {}, ["Feature", "Type", "Version", "Seats", "Expires"].map((t) => h("th", {}, t)))),
          h("tbody", {}, parsed.features.map((f) => h("tr", {}, h("td", {}, f.name), h("td", {}, f.type || ""),
            h("td", {}, f.version), h("td", { class: "num" }, fmtNum(f.seats)), h("td", {}, f.expires_at ? fmtTime(f.expires_at) : "never"))))));
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

  // reserve
  async function openReserve() {
    if (!session.user) return openLogin();
    data.features = await getJSON(SOURCES.features).catch(() => data.features);  // the freshest free seats
    const select = clear($("#reserve-feature"));
    ((data.features && data.features.features) || []).forEach((f, i) => select.append(h("option", { value: String(i) }, `${f.name} ${f.version} (${fmtNum(f.available)} free)`)));
    $("#reserve-form").reset();
    $("#reserve-error").textContent = "";
    $("#reserve-dialog").showModal();
  }
  $("#reserve-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    const f = ((data.features && data.features.features) || [])[Number(form.feature.value)];
    if (!f) { $("#reserve-error").textContent = "Choose a feature; activate a license first if there is none."; return; }
    const answer = await act("reserve", { feature: f.name, version: f.version, holder_type: form.holder_type.value,
      holder: form.holder.value, count: Number(form.count.value) }, $("#reserve-submit"));
    if (answer && answer.ok) $("#reserve-dialog").close();
    else if (answer) $("#reserve-error").textContent = answer.message;
  });

  // ---- a table with a filter box and sortable columns ------------------------------------
  function dataTable({ columns, key, empty, filterLabel = "Filter", tools = [], sort = null, dir = 1 }) {
    const st = { q: "", sort, dir, rows: [], seen: null };
    const input = h("input", { type: "search", placeholder: `${filterLabel}…`, "aria-label": filterLabel,
      oninput: () => { st.q = input.value.trim().toLowerCase(); draw(); } });
    const count = h("span", { class: "count" });
    const head = h("tr");
    const body = h("tbody");
    const el = h("div", { class: "panel" }, h("div", { class: "table-tools" }, input, count, h("span", { class: "spacer" }), tools),
      h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, head), body)));
    function drawHead() {
      clear(head);
      for (const c of columns) {
        if (c.admin && !session.user) continue;
        const sortable = c.value && c.sortable !== false;
        const th = h("th", { class: [sortable ? "sortable" : "", c.num ? "num" : ""].join(" "), scope: "col",
          "aria-sort": st.sort === c.id ? (st.dir > 0 ? "ascending" : "descending") : null,
          onclick: sortable ? () => { st.dir = st.sort === c.id ? -st.dir : 1; st.sort = c.id; draw(); } : null },
        c.label, st.sort === c.id ? h("span", { class: "arrow" }, st.dir > 0 ? "▲" : "▼") : null);
        head.append(th);
      }
    }
    function text(row) {
      return columns.map((c) => (c.text ? c.text(row) : c.value ? c.value(row) : "")).join(" ").toLowerCase();
    }
    function draw() {
      drawHead();
      let rows = st.rows.filter((r) => !st.q || text(r).includes(st.q));
      const col = columns.find((c) => c.id === st.sort);
      if (col) {
        rows = rows.slice().sort((a, b) => {
          const x = col.value(a), y = col.value(b);
          const r = typeof x === "number" && typeof y === "number" ? x - y : String(x ?? "").localeCompare(String(y ?? ""), undefined, { numeric: true });
          return r * st.dir;
        });
      }
      clear(body);
      const visible = columns.filter((c) => !(c.admin && !session.user));
      if (!rows.length) {
        body.append(h("tr", {}, h("td", { class: "empty", colspan: String(visible.length) }, st.rows.length ? "Nothing matches the filter." : empty)));
      }
      for (const r of rows) {
        const k = key(r);
        const tr = h("tr", { class: st.seen && !st.seen.has(k) ? "fresh" : null, dataset: { key: k } },
          visible.map((c) => h("td", { class: [c.num ? "num" : "", c.wrap ? "wrap" : "", c.nowrap ? "nowrap" : ""].join(" ").trim() || null }, c.render ? c.render(r) : c.value(r))));
        body.append(tr);
      }
      st.seen = new Set(st.rows.map(key));
      count.textContent = st.q ? `${rows.length} of ${st.rows.length}` : `${st.rows.length} ${st.rows.length === 1 ? "row" : "rows"}`;
    }
    return { el, set(rows) { st.rows = rows || []; draw(); }, input };
  }

  function seatsBar(inUse, total, reserved) {
    const t = Math.max(total || 0, 1);
    const ratio = (inUse || 0) / t;
    const cls = total && ratio >= 1 ? "bad" : ratio >= 0.85 ? "warn" : "";
    const use = h("span", { class: "use" });
    use.style.width = `${Math.min(100, ratio * 100)}%`;  // the CSSOM, allowed by the page's CSP (style="" is not)
    let res = null;
    if (reserved) {
      res = h("span", { class: "res" });
      res.style.width = `${Math.min(100, (((inUse || 0) + reserved) / t) * 100)}%`;
    }
    return h("div", { class: "seats", title: `${fmtNum(inUse)} in use of ${fmtNum(total)}${reserved ? `, ${fmtNum(reserved)} reserved` : ""}` },
      h("div", { class: `bar ${cls}` }, res, use), h("span", { class: "txt" }, `${fmtNum(inUse)}/${fmtNum(total)}`));
  }

  // ---- the data this page shows ----------------------------------------------------------
  const data = {};
  const SOURCES = {
    servers: "/api/servers", health: "/api/health", usage: "/api/usage", features: "/api/features",
    licenses: "/api/licenses", reservations: "/api/reservations", denials: "/api/denials?limit=1000",
    timeline: "/api/timeline?limit=500",
  };
  let capacityPeriod = localStorage.getItem("lm.period") || "day";

  // ---- pages ---------------------------------------------------------------------------
  const pages = {};

  pages["/"] = {
    title: "Server Summary", subtitle: "The license servers of this site and their pair, at a glance.",
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
        if (!s.servers.length) tiles.append(h("div", { class: "empty" }, "No server has registered yet."));
        drawKpis(kpis);
      };
    },
  };
  function drawBanner(el, s) {
    clear(el);
    const word = s.pair_status;
    const t = s.pair ? tone(word) : "idle";
    const icon = { ok: "✓", bad: "!", warn: "≠", info: "↻", idle: "–" }[t];
    let text;
    if (!s.pair) text = "These servers are not paired. Open Manage and use Enable Backup to choose a backup server.";
    else if (word === "Paired and Available") text = `${s.pair.primary} serves licenses; ${s.pair.backup} holds the same licenses and takes over if the primary fails.`;
    else if (word === "Recovering") text = "A server of the pair is replaying the log to catch up; it will be available again when it matches its partner.";
    else if (word === "Pair not synced") text = `The two servers do not hold the same history${s.sync && s.sync.reason ? ` (${s.sync.reason})` : ""}. Sync the one that is behind (Manage → Sync).`;
    else text = "Licenses are still served by the server that is running; the pair has no redundancy until both are back.";
    el.className = `banner ${t}`;
    append(el, h("div", { class: "icon", "aria-hidden": "true" }, icon),
      h("div", {}, h("div", { class: "big", id: "pair-status" }, s.pair ? word : "Not paired"), h("div", { class: "muted" }, text)));
  }
  function tile(srv, s) {
    const member = s.pair && (s.pair.primary === srv.node || s.pair.backup === srv.node);
    const here = srv.node === NODE;
    const el = h("article", { class: `tile ${tone(srv.status)}`, dataset: { node: srv.node }, "aria-label": `Server ${srv.node}` },
      h("div", { class: "tile-head" }, h("h3", {}, srv.node), roleBadge(srv.role), h("span", { class: "spacer" }),
        pill(srv.status, { "data-field": "status" })),
      h("dl", {},
        h("dt", {}, "License Server ID"), h("dd", { class: "mono", "data-field": "server_id" }, srv.server_id || "—"),
        h("dt", {}, "Pair Status"), h("dd", { "data-field": "pair_status" }, member ? s.pair_status : "Not paired"),
        h("dt", {}, "For"), h("dd", {}, srv.since ? h("span", { title: `since ${fmtTime(srv.since)}` }, fmtDuration(secondsSince(srv.since))) : "—",
          srv.reason ? h("span", { class: "faint" }, ` · ${srv.reason}`) : null),
        h("dt", {}, "Licenses"), h("dd", {}, srv.licenses && srv.licenses.length ? srv.licenses.join(", ") : "none activated")),
      h("div", { class: "tile-foot" }, here ? h("span", {}, "● This server") :
        srv.api_url ? h("a", { href: srv.api_url, target: "_blank", rel: "noopener" }, "Open its License Manager ↗") : h("span", {}, "No address known"),
      h("span", { class: "spacer" }), srv.registered_at ? h("span", { title: fmtTime(srv.registered_at) }, `registered ${fmtAgo(srv.registered_at)}`) : null));
    return el;
  }
  function drawKpis(el) {
    clear(el);
    const feats = data.features.features;
    const used = feats.reduce((a, f) => a + f.in_use, 0), total = feats.reduce((a, f) => a + f.total, 0);
    const tight = feats.filter((f) => f.total && f.in_use / f.total >= 0.85).length;
    const dayAgo = Date.now() - 86400e3;
    const denied = data.denials.denials.filter((d) => new Date(d.at).getTime() >= dayAgo).length;
    const kpi = (label, value, cls, href) => h("a", { class: `kpi ${cls || ""}`, href, "data-nav": "" },
      h("div", { class: "label" }, label), h("div", { class: "value" }, value));
    append(el,
      kpi("Activated licenses", fmtNum(data.licenses.licenses.length), "", "/licenses"),
      kpi("Seats in use", [fmtNum(used), h("small", {}, ` of ${fmtNum(total)}`)], "", "/usage"),
      kpi("Features at 85% or more", fmtNum(tight), tight ? "warn" : "", "/capacity"),
      kpi("Denials in the last 24 h", fmtNum(denied), denied ? "bad" : "", "/denials"));
  }

  pages["/servers"] = {
    title: "Server Details", subtitle: "Each server's License Server ID and status, and what happened to the pair.",
    needs: ["servers", "timeline"],
    mount(view) {
      const fig = h("div", { class: "panel" }, h("h2", {}, "Servers and pair status"));
      const figBody = h("div", { class: "table-wrap" });
      fig.append(figBody);
      const sync = h("div", { class: "panel" });
      const strips = h("div", { class: "panel" });
      const table = dataTable({
        key: (r) => `${r.at}|${r.kind}|${r.node}`, empty: "Nothing has happened yet.", filterLabel: "Filter the timeline",
        columns: [
          { id: "at", label: "When", value: (r) => r.at, render: (r) => timeCell(r.at) },
          { id: "node", label: "Server", value: (r) => r.node || "pair" },
          { id: "kind", label: "What happened", value: (r) => KIND_WORDS[r.kind] || r.kind },
          { id: "server_status", label: "Server status", value: (r) => r.server_status || "", render: (r) => (r.server_status ? pill(r.server_status) : "—") },
          { id: "pair_status", label: "Pair status", value: (r) => r.pair_status || "", render: (r) => (r.pair_status ? pill(r.pair_status) : h("span", { class: "faint" }, "not paired")) },
          { id: "lasted", label: "Lasted", value: (r) => lasted(r), render: (r) => (r.lasted_seconds === null ? h("span", {}, fmtDuration(lasted(r)), h("span", { class: "sub" }, "still so")) : fmtDuration(r.lasted_seconds)) },
          { id: "reason", label: "Reason", wrap: true, value: (r) => r.reason || "", render: (r) => (r.reason ? r.reason : h("span", { class: "faint" }, "—")) },
        ],
      });
      append(view, fig, sync, strips, table.el);
      table.el.prepend(h("h2", {}, "Status timeline"));
      return () => {
        const s = data.servers;
        clear(figBody).append(h("table", { id: "figure13" },
          h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", {}, "Server"), h("th", {}, "License Server ID"), h("th", {}, "Status"), h("th", {}, "Pair Status"), h("th", {}, "For"), h("th", {}, "Reason"))),
          h("tbody", {}, s.servers.map((srv) => h("tr", { dataset: { node: srv.node } },
            h("th", { scope: "row" }, cap(srv.role)), h("td", {}, srv.node), h("td", { class: "mono" }, srv.server_id || "—"),
            h("td", {}, pill(srv.status)), h("td", {}, s.pair && (s.pair.primary === srv.node || s.pair.backup === srv.node) ? pill(s.pair_status) : "Not paired"),
            h("td", { title: fmtTime(srv.since) }, srv.since ? fmtDuration(secondsSince(srv.since)) : "—"),
            h("td", {}, srv.reason || "—"))))));
        clear(sync).append(h("h2", {}, "Sync and writer"), h("div", { class: "panel-body" },
          h("p", {}, s.pair ? (s.sync.synced ? "The two servers hold the same history (same log position and digest)."
            : `Not synced: ${s.sync.reason || "the servers differ"}${s.sync.lag_events ? ` — ${fmtNum(s.sync.lag_events)} events, ${Number(s.sync.lag_seconds || 0).toFixed(1)} s behind` : ""}.`)
            : "Not paired: there is nothing to keep in sync."),
          h("p", { class: "muted" }, s.writer && s.writer.node ? `Decisions are made by ${s.writer.node} (${s.writer.server_id}), writer epoch ${s.writer.epoch}.` : "No writer yet.")));
        drawStrips(strips, data.timeline.timeline, s);
        table.set(data.timeline.timeline);
      };
    },
  };
  const lasted = (r) => (r.lasted_seconds === null ? secondsSince(r.at) : r.lasted_seconds);
  function drawStrips(el, timeline, s) {
    clear(el).append(h("h2", {}, "Status over time"));
    const body = h("div", { class: "panel-body" });
    el.append(body);
    if (!timeline.length) { body.append(h("p", { class: "muted" }, "No status changes recorded yet.")); return; }
    const rows = timeline.slice().reverse();  // oldest first
    const t0 = new Date(rows[0].at).getTime(), t1 = Date.now(), span = Math.max(t1 - t0, 1);
    const lanes = [...new Set(rows.filter((r) => r.node).map((r) => r.node))];
    const strip = (label, items) => {
      const bar = h("div", { class: "strip" });
      items.forEach((it, i) => {
        const end = i + 1 < items.length ? items[i + 1].t : t1;
        const seg = h("span", { class: `s-${tone(it.word)}`, title: `${it.word || "not paired"} from ${fmtTime(new Date(it.t).toISOString())} for ${fmtDuration((end - it.t) / 1000)}` });
        seg.style.width = `${((end - it.t) / span) * 100}%`;
        bar.append(seg);
      });
      return h("div", { class: "strip-row" }, h("span", {}, label), bar);
    };
    const pairItems = rows.map((r) => ({ t: new Date(r.at).getTime(), word: r.pair_status }));
    body.append(strip("Pair", pairItems));
    for (const node of lanes) {
      const mine = rows.filter((r) => r.node === node && r.server_status).map((r) => ({ t: new Date(r.at).getTime(), word: r.server_status }));
      if (mine.length) {
        const lead = mine[0].t > t0 ? [{ t: t0, word: null }] : [];
        body.append(strip(node, lead.concat(mine)));
      }
    }
    body.append(h("div", { class: "legend" }, `From ${fmtTime(rows[0].at)} to now. `,
      [["ok", "Running / Paired and Available"], ["info", "Recovering"], ["warn", "Pair not synced"], ["bad", "Stopped, Disconnected or not available"], ["idle", "Not known / not paired"]]
        .map(([c, w]) => h("span", {}, h("i", { class: `s-${c}` }), w))));
  }

  pages["/licenses"] = {
    title: "License Summary", subtitle: "Licenses activated on this site. Once paired, both servers hold the same licenses.",
    needs: ["licenses"],
    actions: () => (session.user ? [h("button", { class: "btn primary", type: "button", id: "activate-open", onclick: openActivate }, "Activate license…")] : []),
    mount(view) {
      const table = dataTable({
        key: (r) => r.license_id, empty: "No license is activated. An administrator can activate one from an entitlement file.",
        columns: [
          { id: "license_id", label: "License ID", value: (r) => r.license_id, render: (r) => h("b", {}, r.license_id) },
          { id: "activated_at", label: "Activated", value: (r) => r.activated_at, render: (r) => timeCell(r.activated_at) },
          { id: "features", label: "Features", wrap: true, text: (r) => r.features.map((f) => `${f.name} ${f.version} ${f.type}`).join(" "),
            render: (r) => h("div", { class: "chips" }, r.features.map((f) => h("span", { class: "chip", title: f.type || "" }, `${f.name} ${f.version} × ${fmtNum(f.seats)}`))) },
          { id: "seats", label: "Seats", num: true, value: (r) => r.features.reduce((a, f) => a + f.seats, 0), render: (r) => fmtNum(r.features.reduce((a, f) => a + f.seats, 0)) },
          { id: "expires", label: "Expires", value: (r) => firstExpiry(r) || "", render: (r) => (firstExpiry(r) ? fmtTime(firstExpiry(r)) : "never") },
          { id: "act", label: "", admin: true, render: (r) => h("button", { class: "btn small", type: "button", "aria-label": `Deactivate ${r.license_id}`,
            onclick: async (e) => {
              const btn = e.currentTarget;
              if (await confirmBox({ title: `Deactivate ${r.license_id}?`, text: "Its seats are removed from both servers of the pair. Seats in use must be released first.", ok: "Deactivate" }))
                act("deactivate", { license_id: r.license_id }, btn);
            } }, "Deactivate") },
        ],
      });
      view.append(table.el);
      return () => table.set(data.licenses.licenses);
    },
  };
  const firstExpiry = (r) => r.features.map((f) => f.expires_at).filter(Boolean).sort()[0];

  pages["/features"] = {
    title: "Features Summary", subtitle: "Seats per feature: owned, in use, reserved and free.",
    needs: ["features"],
    mount(view) {
      const table = dataTable({
        key: (r) => `${r.name}|${r.version}`, empty: "No feature is licensed yet.",
        columns: [
          { id: "name", label: "Feature", value: (r) => r.name, render: (r) => h("b", {}, r.name) },
          { id: "type", label: "Type", value: (r) => r.type || "" },
          { id: "version", label: "Version", nowrap: true, value: (r) => r.version },
          { id: "use", label: "In Use/Total", value: (r) => (r.total ? r.in_use / r.total : 0), render: (r) => seatsBar(r.in_use, r.total, r.reserved) },
          { id: "reserved", label: "Reserved", num: true, value: (r) => r.reserved, render: (r) => fmtNum(r.reserved) },
          { id: "available", label: "Available", num: true, value: (r) => r.available, render: (r) => fmtNum(r.available) },
          { id: "expires_at", label: "Expires", value: (r) => r.expires_at || "", render: (r) => (r.expires_at ? fmtTime(r.expires_at) : "never") },
          { id: "chart", label: "", render: (r) => h("a", { href: `/capacity?feature=${encodeURIComponent(r.name)}&version=${encodeURIComponent(r.version)}`, "data-nav": "" }, "Over time →") },
        ],
      });
      view.append(table.el);
      return () => table.set(data.features.features);
    },
  };

  pages["/usage"] = {
    title: "Usage Details", subtitle: "Every acquisition held now: which device and user hold which seats, since when.",
    needs: ["usage"],
    mount(view) {
      const table = dataTable({
        key: (r) => r.lease_id, empty: "No seat is in use.", filterLabel: "Filter by feature, device, user", sort: "since", dir: -1,
        columns: [
          { id: "feature", label: "Feature", value: (r) => r.feature, render: (r) => h("b", {}, r.feature) },
          { id: "type", label: "Type", value: (r) => r.type || "" },
          { id: "version", label: "Version", nowrap: true, value: (r) => r.version },
          { id: "count", label: "In Use/Total", num: true, value: (r) => r.count, text: () => "",
            render: (r) => h("span", { title: `this acquisition holds ${fmtNum(r.count)}; ${fmtNum(r.in_use)} of ${fmtNum(r.total)} in use in all` }, `${fmtNum(r.count)}/${fmtNum(r.total)}`) },
          { id: "device", label: "Device", value: (r) => r.device },
          { id: "user", label: "User", value: (r) => r.user },
          { id: "since", label: "Since", value: (r) => r.since, render: (r) => timeCell(r.since) },
          { id: "reservation", label: "Reservation", value: (r) => r.reservation_id || "", render: (r) => (r.reservation_id ? h("span", { class: "chip", title: `uses a seat of reservation ${r.reservation_id}` }, "reserved") : h("span", { class: "faint" }, "—")) },
          { id: "act", label: "", admin: true, render: (r) => h("button", { class: "btn small", type: "button", "aria-label": `Force release ${r.feature} on ${r.device}`,
            onclick: async (e) => {
              const btn = e.currentTarget;
              const answer = await confirmBox({ title: "Force-release this acquisition?",
                text: `${r.feature} ${r.version} held by ${r.user} on ${r.device} since ${fmtTime(r.since)}. Do this only for a product that is gone and still holds its seat.`,
                ok: "Force release", reason: true });
              if (answer) act("release", { lease_id: r.lease_id, reason: answer.reason }, btn);
            }, title: "Force-release this acquisition" }, "Release…") },
        ],
      });
      view.append(table.el);
      return () => table.set(data.usage.usage);
    },
  };

  pages["/reservations"] = {
    title: "Reservations", subtitle: "Seats set aside for one device or one user.",
    needs: ["reservations", "features"],
    actions: () => (session.user ? [h("button", { class: "btn primary", type: "button", id: "reserve-open", onclick: openReserve }, "Reserve seats…")] : []),
    mount(view) {
      const table = dataTable({
        key: (r) => r.reservation_id, empty: "No seats are reserved.",
        columns: [
          { id: "feature", label: "Feature", value: (r) => r.feature, render: (r) => h("b", {}, r.feature) },
          { id: "version", label: "Version", nowrap: true, value: (r) => r.version },
          { id: "holder", label: "Reserved for", value: (r) => r.device || r.user, render: (r) => h("span", {}, r.device ? "Device " : "User ", h("b", {}, r.device || r.user)) },
          { id: "count", label: "In Use/Reserved", num: true, value: (r) => r.count, render: (r) => `${fmtNum(r.in_use)}/${fmtNum(r.count)}` },
          { id: "created_at", label: "Since", value: (r) => r.created_at, render: (r) => timeCell(r.created_at) },
          { id: "id", label: "Reservation", value: (r) => r.reservation_id, render: (r) => h("span", { class: "mono", title: r.reservation_id }, r.reservation_id.length > 14 ? `${r.reservation_id.slice(0, 12)}…` : r.reservation_id) },
          { id: "act", label: "", admin: true, render: (r) => h("button", { class: "btn small", type: "button", "aria-label": `Cancel reservation ${r.reservation_id}`,
            onclick: async (e) => {
              const btn = e.currentTarget;
              if (await confirmBox({ title: "Cancel this reservation?", text: `${fmtNum(r.count)} seat(s) of ${r.feature} ${r.version} for ${r.device || r.user} go back to everyone.`, ok: "Cancel reservation" }))
                act("unreserve", { reservation_id: r.reservation_id }, btn);
            } }, "Cancel") },
        ],
      });
      view.append(table.el);
      return () => table.set(data.reservations.reservations);
    },
  };

  pages["/denials"] = {
    title: "Denials", subtitle: "Acquisitions that were refused, newest first: the clearest sign of too few seats.",
    needs: ["denials"],
    mount(view) {
      const table = dataTable({
        key: (r) => r.command_id, empty: "No acquisition has been refused.", sort: "at", dir: -1,
        columns: [
          { id: "at", label: "When", value: (r) => r.at, render: (r) => timeCell(r.at) },
          { id: "feature", label: "Feature", value: (r) => r.feature, render: (r) => h("b", {}, r.feature) },
          { id: "version", label: "Version", nowrap: true, value: (r) => r.version },
          { id: "device", label: "Device", value: (r) => r.device },
          { id: "user", label: "User", value: (r) => r.user },
          { id: "count", label: "Seats", num: true, value: (r) => r.count, render: (r) => fmtNum(r.count) },
          { id: "reason", label: "Reason", value: (r) => REASON_WORDS[r.reason] || r.reason, text: (r) => `${r.reason} ${r.message}`,
            render: (r) => h("span", { class: `pill ${r.reason === "no_seats" || r.reason === "reserved" ? "bad" : "warn"}`, title: r.message }, REASON_WORDS[r.reason] || r.reason) },
        ],
      });
      view.append(table.el);
      return () => table.set(data.denials.denials);
    },
  };

  pages["/capacity"] = {
    title: "Capacity", subtitle: "Seats in use against seats owned, per feature, with peaks and denials: do we have enough seats?",
    needs: ["capacity"], minInterval: 1500,
    mount(view) {
      const params = new URLSearchParams(location.search);
      let only = params.get("feature") ? `${params.get("feature")}|${params.get("version") || ""}` : "";
      const seg = h("div", { class: "seg", role: "group", "aria-label": "Period" });
      const periods = [["hour", "Last hour"], ["day", "Last day"], ["week", "Last week"], ["all", "All"]];
      const select = h("select", { "aria-label": "Feature", onchange: () => { only = select.value; draw(); } });
      for (const [p, label] of periods) {
        seg.append(h("button", { type: "button", "aria-pressed": String(p === capacityPeriod), dataset: { period: p },
          onclick: () => {
            capacityPeriod = p;
            localStorage.setItem("lm.period", p);
            seg.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.period === p)));
            refresh();
          } }, label));
      }
      const summary = h("p", { class: "muted", id: "capacity-summary" });
      const grid = h("div", { class: "charts", id: "charts" });
      append(view, h("div", { class: "chart-tools" }, seg, select, h("span", { class: "spacer" })),
        h("div", { class: "chart-legend" }, h("span", {}, h("span", { class: "sw area" }), "seats in use (shaded: the peak in each interval)"),
          h("span", {}, h("span", { class: "sw total" }), "seats owned"), h("span", {}, h("span", { class: "sw deny" }), "denials")),
        summary, grid);
      function draw() {
        const c = data.capacity;
        const feats = c.features;
        const keys = feats.map((f) => `${f.feature}|${f.version}`);
        clear(select).append(h("option", { value: "" }, `All features (${feats.length})`));
        feats.forEach((f, i) => select.append(h("option", { value: keys[i] }, `${f.feature} ${f.version}`)));
        select.value = keys.includes(only) ? only : "";
        const shown = feats.filter((f, i) => !select.value || keys[i] === select.value);
        const verdicts = shown.map((f) => window.CapacityChart.verdict(f));
        const count = (t) => verdicts.filter((v) => v.tone === t).length;
        summary.textContent = feats.length
          ? `${shown.length} feature${shown.length === 1 ? "" : "s"} from ${fmtTime(c.from)} to ${fmtTime(c.to)}: ${count("bad")} short of seats, ${count("warn")} near capacity, ${count("ok")} with room to spare.`
          : "No feature is licensed yet: activate a license to see its seats over time.";
        clear(grid);
        shown.forEach((f) => grid.append(window.CapacityChart.card(f, c, { fmtTime, fmtNum })));
      }
      return draw;
    },
  };

  // ---- the Manage panel (the seed's slide-out) -------------------------------------------
  const manageForm = { enable: null, primary: null, backup: null };
  function openManage() {
    $("#manage").hidden = false;
    $("#scrim").hidden = false;
    renderManage(true);
    $("#manage-close").focus();
  }
  function closeManage() { $("#manage").hidden = true; $("#scrim").hidden = true; }
  $("#manage-open").addEventListener("click", openManage);
  $("#manage-close").addEventListener("click", closeManage);
  $("#scrim").addEventListener("click", closeManage);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("#manage").hidden && !document.querySelector("dialog[open]")) closeManage(); });

  let manageDrawn = null;
  function renderManage(force) {
    if ($("#manage").hidden) { manageDrawn = null; return; }
    const s = data.servers;
    const sig = JSON.stringify([session.user, session.admins, manageForm, s && s.pair, s && s.pair_status,
      s && s.servers.map((x) => [x.node, x.role, x.status, x.server_id])]);
    if (!force && sig === manageDrawn) return;  // an open list box is not closed under the administrator's hand
    manageDrawn = sig;
    const body = clear($("#manage-body"));
    if (!session.user) {
      append(body, h("h3", {}, "Administrators only"),
        session.admins ? h("p", {}, "Reading is open to everyone; pairing, stopping, resetting and licensing need an administrator.")
          : h("p", { class: "warning", id: "no-admins" }, `Manage actions are refused: ${session.noAdmins}`),
        h("button", { class: "btn primary", type: "button", id: "manage-signin", onclick: openLogin }, "Sign in"));
      return;
    }
    if (!s) return;
    const nodes = s.servers.filter((x) => x.server_id).map((x) => x.node);
    // Redundancy: Enable Backup, the backup chosen from a list, Apply.
    if (manageForm.enable === null) manageForm.enable = !!s.pair;
    const primary = manageForm.primary && nodes.includes(manageForm.primary) ? manageForm.primary : s.pair ? s.pair.primary : (nodes.includes(NODE) ? NODE : nodes[0]);
    const others = nodes.filter((n) => n !== primary);
    const backup = manageForm.backup && others.includes(manageForm.backup) ? manageForm.backup : s.pair && s.pair.primary === primary ? s.pair.backup : others[0];
    const enable = h("input", { type: "checkbox", id: "enable-backup", checked: manageForm.enable, onchange: () => { manageForm.enable = enable.checked; renderManage(true); } });
    const primarySel = h("select", { id: "primary-server", disabled: !manageForm.enable || !!s.pair, onchange: () => { manageForm.primary = primarySel.value; manageForm.backup = null; renderManage(true); } },
      nodes.map((n) => h("option", { value: n, selected: n === primary }, n)));
    const backupSel = h("select", { id: "backup-server", disabled: !manageForm.enable || !!s.pair, onchange: () => { manageForm.backup = backupSel.value; } },
      others.length ? others.map((n) => h("option", { value: n, selected: n === backup }, n)) : h("option", { value: "" }, "no other server is registered"));
    const apply = h("button", { class: "btn primary", type: "button", id: "apply-redundancy", onclick: async () => {
      if (manageForm.enable) {
        if (!backupSel.value) return notify("error", "Check the form", "Choose a backup server: start a second License Server first.");
        await act("pair", { primary: primarySel.value, backup: backupSel.value }, apply);
      } else if (s.pair) {
        if (await confirmBox({ title: "Unpair the servers?", text: `${s.pair.primary} and ${s.pair.backup} stop being a redundant pair. This is refused while licenses are activated on the pair.`, ok: "Unpair" }))
          await act("unpair", {}, apply);
      } else {
        notify("error", "Nothing to apply", "Tick Enable Backup and choose a backup server to pair the servers.");
      }
      manageForm.enable = null; manageForm.primary = null; manageForm.backup = null;
    } }, "Apply");
    append(body, h("h3", {}, "Redundancy"),
      h("p", { class: "hint" }, s.pair ? `Paired: ${s.pair.primary} (primary) with ${s.pair.backup} (backup) — ${s.pair_status}. Clear Enable Backup and Apply to unpair.`
        : "Not paired. Tick Enable Backup, choose the backup server and Apply."),
      h("label", { class: "check" }, enable, "Enable Backup"),
      h("label", {}, "Primary server", primarySel),
      h("label", {}, "Backup server", backupSel),
      apply);
    // Maintenance: stop, License Server ID reset, sync.
    const ordered = s.servers.filter((x) => x.server_id);
    const label = (srv) => (srv.role === "standalone" ? srv.node : `${cap(srv.role)} (${srv.node})`);
    const row = (title, srv, action, button, confirm) => h("div", { class: "row" },
      h("div", { class: "what" }, title, h("small", {}, `${srv.node} · ${srv.status} · ${srv.server_id}`)),
      h("button", { class: "btn small", type: "button", "aria-label": `${button} ${srv.node}`, dataset: { action, node: srv.node },
        onclick: async (e) => {
          const btn = e.currentTarget;
          if (await confirmBox(confirm(srv))) act(action, { node: srv.node }, btn);
        } }, button));
    append(body, h("h3", {}, "Maintenance"),
      ordered.map((srv) => row(`Stop ${srv.role === "standalone" ? "" : cap(srv.role) + " "}License Server`, srv, "stop", "Stop", (x) => ({
        title: `Stop ${label(x)}?`, text: `The License Server on ${x.node} shuts down.${x.node === NODE ? " This page is served by it and will stop updating." : ""} ${s.pair ? "Its partner keeps serving licenses." : "Products cannot get licenses from it until it is started again."}`, ok: "Stop" }))),
      h("h3", {}, "License Server ID Reset"),
      h("p", { class: "hint" }, "Gives the server a new License Server ID, empties its copy and replays the log (Recovering). Refused while it holds activated licenses."),
      ordered.map((srv) => row(`Reset ${label(srv)}`, srv, "reset", "Reset", (x) => ({
        title: `Reset the License Server ID of ${x.node}?`, text: `${x.node} gets a new License Server ID (now ${x.server_id}) and rebuilds everything from the log.`, ok: "Reset" }))),
      h("h3", {}, "Sync"),
      h("p", { class: "hint" }, "Replays the log on a server so it holds the same history as its partner (for Pair not synced)."),
      ordered.map((srv) => row(`Sync ${label(srv)}`, srv, "sync", "Sync", (x) => ({
        title: `Sync ${x.node}?`, text: `${x.node} empties its read models and replays the log; it shows Recovering until it matches its partner.`, ok: "Sync", danger: false }))));
  }

  // ---- header, routing and live updates --------------------------------------------------
  function drawHeader() {
    const s = data.servers, hl = data.health;
    if (hl) {
      const st = $("#served-status");
      st.textContent = hl.status || "";
      st.className = `pill ${tone(hl.status)}`;
    }
    const me = s && s.servers.find((x) => x.node === NODE);
    const role = $("#served-role");
    role.textContent = me && me.role !== "standalone" ? me.role : "";
    role.className = `badge ${me ? me.role : ""}`;
    if (hl) {
      $("#nav-foot").textContent = `Log position ${fmtNum(hl.offset)}${hl.caught_up ? "" : " (catching up)"} · ${hl.writer ? "this server decides" : `decisions by ${hl.writer_node || "—"}`}`;
    }
  }

  let current = null;   // { path, page, update }
  function route() {
    const path = pages[location.pathname] ? location.pathname : "/";
    const page = pages[path];
    document.querySelectorAll(".sidebar a").forEach((a) => a.classList.toggle("active", a.getAttribute("href") === path));
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
  let actionsFor = null;
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

  let refreshing = false, again = false, lastError = null;
  async function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      do {
        again = false;
        await load();
        if (current && current.page.minInterval) await new Promise((r) => setTimeout(r, current.page.minInterval));
        else await new Promise((r) => setTimeout(r, 100));
      } while (again);
    } finally {
      refreshing = false;
    }
  }
  async function load() {
    const target = current;
    const needs = new Set(["servers", "health", ...(target ? target.page.needs : [])]);
    try {
      const results = await Promise.all([...needs].map((n) => getJSON(n === "capacity" ? `/api/capacity?period=${capacityPeriod}` : SOURCES[n]).then((v) => [n, v])));
      for (const [n, v] of results) data[n] = v;
      lastError = null;
    } catch (e) {
      if (!lastError) notify("error", "Could not load this page", `${String(e.message || e)} — the page keeps trying.`);
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

  function setLive(on) {
    const el = $("#live");
    el.className = `live ${on ? "on" : "off"}`;
    $("#live-text").textContent = on ? "Live" : "Reconnecting…";
  }
  function connectLive() {
    const source = new EventSource("/api/events");
    source.addEventListener("changed", () => { setLive(true); refresh(); });
    source.addEventListener("open", () => { setLive(true); refresh(); });
    source.addEventListener("error", () => setLive(false));
  }

  // relative times ("for 3 min") stay true even when nothing happens
  setInterval(() => { if (!document.hidden) refresh(); }, 15000);

  loadSession().catch(() => {}).finally(() => { route(); connectLive(); });
  window.licenseManager = { refresh, data, session };  // for the curious administrator's console
})();
