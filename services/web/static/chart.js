/* Capacity charts: seats in use against seats owned over time, per feature, as inline SVG.
   Peaks are never hidden (each interval is drawn at its peak); denials are marked on top. */
"use strict";
(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const W = 560, H = 210, M = { l: 48, r: 14, t: 22, b: 26 };
  const PW = W - M.l - M.r, PH = H - M.t - M.b;
  const REASONS = { no_seats: "no free seats", reserved: "seats reserved for others", expired: "license expired", unknown_feature: "feature not licensed" };

  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, v);
    for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }
  function compact(n) {
    const a = Math.abs(n);
    if (a >= 1e9) return `${+(n / 1e9).toFixed(1)}G`;
    if (a >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
    if (a >= 1e4) return `${+(n / 1e3).toFixed(1)}k`;
    return String(Math.round(n * 100) / 100);
  }
  function niceStep(max, ticks) {
    const raw = Math.max(max, 1) / ticks;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((x) => x >= raw);
    return Math.max(step, 1);
  }
  const pad = (n) => String(n).padStart(2, "0");
  const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  function tickLabel(d, spanMs) {
    if (spanMs <= 2 * 86400e3) return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    if (spanMs <= 10 * 86400e3) return `${DAYS[d.getDay()]} ${pad(d.getHours())}:00`;
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }
  const TICK_STEPS = [60e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3, 86400e3, 2 * 86400e3, 7 * 86400e3, 30 * 86400e3, 90 * 86400e3];

  /** How the feature stands: "bad" (short of seats), "warn" (near capacity) or "ok". */
  function verdict(f) {
    const total = Math.max(f.total_now, 0);
    const short = (f.denied_reasons.no_seats || 0) + (f.denied_reasons.reserved || 0);
    const ratio = f.peak / Math.max(total || f.most_total, 1);
    if (short) return { tone: "bad", word: "Not enough seats", why: `${short} acquisition${short === 1 ? " was" : "s were"} refused for lack of free seats` };
    if (total && f.peak >= total) return { tone: "bad", word: "At capacity", why: "every seat was in use at the peak" };
    if (!total && f.peak) return { tone: "bad", word: "No seats left", why: "the license was deactivated or has expired" };
    if (ratio >= 0.85) return { tone: "warn", word: "Near capacity", why: `the peak used ${Math.round(ratio * 100)}% of the seats` };
    return { tone: "ok", word: "Enough seats", why: total ? `the peak used ${Math.round(ratio * 100)}% of the seats` : "nothing in use" };
  }

  /** A card with the headline, the facts and the chart of one feature. */
  function card(f, range, fmt) {
    const v = verdict(f);
    const el = document.createElement("article");
    el.className = "chart-card";
    el.dataset.feature = `${f.feature}|${f.version}`;
    const h3 = document.createElement("h3");
    h3.append(f.feature, " ");
    const ver = document.createElement("span");
    ver.className = "ver";
    ver.textContent = f.version + (f.type ? ` · ${f.type}` : "");
    const pill = document.createElement("span");
    pill.className = `pill ${v.tone} verdict`;
    pill.textContent = v.word;
    pill.title = v.why;
    h3.append(ver, pill);
    const facts = document.createElement("div");
    facts.className = "facts";
    const b = (t) => { const x = document.createElement("b"); x.textContent = t; return x; };
    const total = f.total_now || f.most_total;
    facts.append("Peak ", b(`${fmt.fmtNum(f.peak)} of ${fmt.fmtNum(total)}`),
      total ? ` (${Math.round((f.peak / total) * 100)}%)` : "", f.peak_at ? ` at ${fmt.fmtTime(f.peak_at)}` : "",
      " · in use now ", b(fmt.fmtNum(f.in_use_now)),
      f.reserved_now ? ` · ${fmt.fmtNum(f.reserved_now)} reserved` : "",
      " · denials ", b(fmt.fmtNum(f.denied_times)));
    if (f.denied_times) {
      facts.append(` (${Object.entries(f.denied_reasons).map(([r, n]) => `${REASONS[r] || r} ×${n}`).join(", ")})`);
    }
    el.append(h3, facts, chart(f, range, fmt));
    return el;
  }

  function chart(f, range, fmt) {
    const t0 = new Date(range.from).getTime(), t1 = Math.max(new Date(range.to).getTime(), t0 + 1000);
    const step = range.bucket_seconds * 1000;
    const span = t1 - t0;
    const x = (t) => M.l + ((Math.min(Math.max(t, t0), t1) - t0) / span) * PW;
    const start = f.start || { in_use: 0, total: 0 };
    const pts = f.points.map(([t, peak, low, last, total]) => ({ t: new Date(t).getTime(), peak, low, last, total }));
    let top = Math.max(f.most_total, f.peak, start.total, 1);
    const yStep = niceStep(top * 1.08, 4);
    top = Math.ceil((top * 1.08) / yStep) * yStep;
    const y = (val) => M.t + PH - (val / top) * PH;

    // in use: flat at the carried value, each interval at its peak, then at its last value
    let area = `M${x(t0)},${y(0)} L${x(t0)},${y(start.in_use)}`;
    let line = `M${x(t0)},${y(start.in_use)}`;
    let tot = `M${x(t0)},${y(start.total)}`;
    for (const p of pts) {
      const a = x(p.t), b = x(Math.min(p.t + step, t1));
      area += ` H${a} V${y(p.peak)} H${b} V${y(p.last)}`;
      line += ` H${a} V${y(p.peak)} H${b} V${y(p.last)}`;
      tot += ` H${a} V${y(p.total)}`;
    }
    const endX = x(t1);
    area += ` H${endX} V${y(0)} Z`;
    line += ` H${endX}`;
    tot += ` H${endX}`;

    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img",
      "aria-label": `${f.feature} ${f.version}: peak ${f.peak} of ${f.total_now} seats, ${f.denied_times} denials` });
    // grid and y axis
    const grid = s("g", { class: "grid" });
    const labels = s("g");
    for (let v = 0; v <= top + 1e-9; v += yStep) {
      grid.append(s("line", { x1: M.l, x2: W - M.r, y1: y(v), y2: y(v) }));
      labels.append(s("text", { x: M.l - 6, y: y(v) + 4, "text-anchor": "end" }, compact(v)));
    }
    // x axis
    const tickStep = TICK_STEPS.find((t) => span / t <= 6) || TICK_STEPS[TICK_STEPS.length - 1];
    const offset = new Date().getTimezoneOffset() * 60e3;
    for (let t = Math.ceil((t0 - offset) / tickStep) * tickStep + offset; t <= t1; t += tickStep) {
      grid.append(s("line", { x1: x(t), x2: x(t), y1: M.t, y2: M.t + PH }));
      labels.append(s("text", { x: x(t), y: H - 8, "text-anchor": "middle" }, tickLabel(new Date(t), span)));
    }
    svg.append(grid, s("g", { class: "axis" }, s("line", { x1: M.l, x2: W - M.r, y1: y(0), y2: y(0) })), labels);

    // denials: a faint band over the interval and a marker on top
    const deny = s("g", { class: "deny" });
    for (const [t, times, seats, reasons] of f.denials) {
      const a = new Date(t).getTime();
      const why = Object.entries(reasons).map(([r, n]) => `${REASONS[r] || r} ×${n}`).join(", ");
      const title = s("title", {}, `${fmt.fmtTime(t)}: ${times} denial${times === 1 ? "" : "s"} (${seats} seat${seats === 1 ? "" : "s"}) — ${why}`);
      svg.append(s("rect", { class: "deny-band", x: x(a), y: M.t, width: Math.max(x(a + step) - x(a), 1.5), height: PH }));
      const cx = (x(a) + x(Math.min(a + step, t1))) / 2, r = Math.min(4 + Math.log2(times + 1) * 1.5, 9);
      deny.append(s("path", { d: `M${cx - r},${M.t - r - 2} L${cx + r},${M.t - r - 2} L${cx},${M.t + r / 3} Z` }, title));
    }
    svg.append(s("path", { class: "area", d: area }), s("path", { class: "line", d: line }), s("path", { class: "total", d: tot }), deny);
    // the total's label at the right end
    const lastTotal = pts.length ? pts[pts.length - 1].total : start.total;
    svg.append(s("text", { x: W - M.r, y: y(lastTotal) - 5, "text-anchor": "end" }, `${compact(lastTotal)} owned`));
    // the peak
    if (f.peak > 0 && f.peak_at) {
      const pt = new Date(f.peak_at).getTime();
      const px = (x(pt) + x(Math.min(pt + step, t1))) / 2, py = y(f.peak);
      const left = px > W - 90;
      svg.append(s("g", { class: "peak" }, s("circle", { cx: px, cy: py, r: 4 }),
        s("text", { x: left ? px - 8 : px + 8, y: Math.max(py - 6, M.t + 10), "text-anchor": left ? "end" : "start" }, `peak ${compact(f.peak)}`)));
    }
    // hover: what was in use at that moment
    const hover = s("g", { class: "hover", visibility: "hidden" });
    const hl = s("line", { y1: M.t, y2: M.t + PH });
    const box = s("rect", { rx: 4, width: 190, height: 38 });
    const l1 = s("text", {}), l2 = s("text", {});
    hover.append(hl, box, l1, l2);
    const hit = s("rect", { x: M.l, y: M.t, width: PW, height: PH, fill: "transparent" });
    hit.addEventListener("mousemove", (e) => {
      const r = svg.getBoundingClientRect();
      const px = ((e.clientX - r.left) / r.width) * W;
      const t = t0 + ((px - M.l) / PW) * span;
      let cur = { peak: start.in_use, last: start.in_use, total: start.total }, at = t0;
      for (const p of pts) { if (p.t <= t) { cur = p; at = p.t; } else break; }
      const inBucket = cur.t !== undefined && t < cur.t + step;
      const denied = f.denials.find(([dt]) => { const d = new Date(dt).getTime(); return d <= t && t < d + step; });
      l1.textContent = `${fmt.fmtTime(new Date(inBucket ? at : t).toISOString())}`;
      l2.textContent = `in use ${inBucket ? `up to ${compact(cur.peak)}` : compact(cur.last)} of ${compact(cur.total)}${denied ? ` · ${denied[1]} denied` : ""}`;
      const bx = px + 200 > W ? px - 198 : px + 8;
      hl.setAttribute("x1", px); hl.setAttribute("x2", px);
      box.setAttribute("x", bx); box.setAttribute("y", M.t + 2);
      l1.setAttribute("x", bx + 8); l1.setAttribute("y", M.t + 17);
      l2.setAttribute("x", bx + 8); l2.setAttribute("y", M.t + 32);
      hover.setAttribute("visibility", "visible");
    });
    hit.addEventListener("mouseleave", () => hover.setAttribute("visibility", "hidden"));
    svg.append(hover, hit);
    return svg;
  }

  window.CapacityChart = { card, verdict };
})();
