/* Capacity charts: seats in use against seats owned over time, per feature, as inline SVG.
   Peaks are never hidden (each interval is drawn at its peak); denials are marked on top. */
import { fmtNum, fmtTime } from "./format.js";
import { vocab } from "./vocabulary.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 560, H = 210, M = { l: 48, r: 14, t: 22, b: 26 };
const PW = W - M.l - M.r, PH = H - M.t - M.b;
const NEAR = 0.85;  // a peak this close to the seats owned is near capacity

function reasonWords() {
  const why = vocab.denial_reason;
  return { [why.NO_SEATS]: "no free seats", [why.RESERVED]: "seats reserved for others",
    [why.EXPIRED]: "license expired", [why.UNKNOWN_FEATURE]: "feature not licensed" };
}
const reasons = (counts) => {
  const words = reasonWords();
  return Object.entries(counts).map(([r, n]) => `${words[r] || r} ×${n}`).join(", ");
};

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) {
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }
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
const HOUR = 3600e3, DAY = 86400e3;
const TICK_STEPS = [60e3, 300e3, 600e3, 900e3, 1800e3, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY,
  2 * DAY, 7 * DAY, 30 * DAY, 90 * DAY];

/** How the feature stands: "bad" (short of seats), "warn" (near capacity) or "ok". */
export function verdict(f) {
  const total = Math.max(f.total_now, 0);
  const why = vocab.denial_reason;
  const short = (f.denied_reasons[why.NO_SEATS] || 0) + (f.denied_reasons[why.RESERVED] || 0);
  const ratio = f.peak / Math.max(total || f.most_total, 1);
  const used = `the peak used ${Math.round(ratio * 100)}% of the seats`;
  if (short) {
    return { tone: "bad", word: "Not enough seats",
      why: `${short} acquisition${short === 1 ? " was" : "s were"} refused for lack of free `
        + "seats" };
  }
  if (total && f.peak >= total) {
    return { tone: "bad", word: "At capacity", why: "every seat was in use at the peak" };
  }
  if (!total && f.peak) {
    return { tone: "bad", word: "No seats left",
      why: "the license was deactivated or has expired" };
  }
  if (ratio >= NEAR) return { tone: "warn", word: "Near capacity", why: used };
  return { tone: "ok", word: "Enough seats", why: total ? used : "nothing in use" };
}

/** A card with the headline, the facts and the chart of one feature. */
export function card(f, range) {
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
  facts.append("Peak ", b(`${fmtNum(f.peak)} of ${fmtNum(total)}`),
    total ? ` (${Math.round((f.peak / total) * 100)}%)` : "",
    f.peak_at ? ` at ${fmtTime(f.peak_at)}` : "",
    " · in use now ", b(fmtNum(f.in_use_now)),
    f.reserved_now ? ` · ${fmtNum(f.reserved_now)} reserved` : "",
    " · denials ", b(fmtNum(f.denied_times)));
  if (f.denied_times) facts.append(` (${reasons(f.denied_reasons)})`);
  el.append(h3, facts, chart(f, range));
  return el;
}

function chart(f, range) {
  const t0 = new Date(range.from).getTime();
  const t1 = Math.max(new Date(range.to).getTime(), t0 + 1000);
  const step = range.bucket_seconds * 1000;
  const span = t1 - t0;
  const x = (t) => M.l + ((Math.min(Math.max(t, t0), t1) - t0) / span) * PW;
  const start = f.start || { in_use: 0, total: 0 };
  const pts = f.points.map(([t, peak, low, last, total]) =>
    ({ t: new Date(t).getTime(), peak, low, last, total }));
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

  const label = `${f.feature} ${f.version}: peak ${f.peak} of ${f.total_now} seats, `
    + `${f.denied_times} denials`;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
  // grid and y axis
  const grid = s("g", { class: "grid" });
  const labels = s("g");
  for (let v = 0; v <= top + 1e-9; v += yStep) {
    grid.append(s("line", { x1: M.l, x2: W - M.r, y1: y(v), y2: y(v) }));
    labels.append(s("text", { x: M.l - 6, y: y(v) + 4, "text-anchor": "end" }, compact(v)));
  }
  // x axis, its ticks on local round times
  const tickStep = TICK_STEPS.find((t) => span / t <= 6) || TICK_STEPS[TICK_STEPS.length - 1];
  const offset = new Date().getTimezoneOffset() * 60e3;
  for (let t = Math.ceil((t0 - offset) / tickStep) * tickStep + offset; t <= t1; t += tickStep) {
    grid.append(s("line", { x1: x(t), x2: x(t), y1: M.t, y2: M.t + PH }));
    labels.append(s("text", { x: x(t), y: H - 8, "text-anchor": "middle" },
      tickLabel(new Date(t), span)));
  }
  svg.append(grid, s("g", { class: "axis" },
    s("line", { x1: M.l, x2: W - M.r, y1: y(0), y2: y(0) })), labels);

  // denials: a faint band over the interval and a marker on top
  const deny = s("g", { class: "deny" });
  for (const [t, times, seats, counts] of f.denials) {
    const a = new Date(t).getTime();
    const title = s("title", {}, `${fmtTime(t)}: ${times} denial${times === 1 ? "" : "s"} `
      + `(${seats} seat${seats === 1 ? "" : "s"}) — ${reasons(counts)}`);
    svg.append(s("rect", { class: "deny-band", x: x(a), y: M.t,
      width: Math.max(x(a + step) - x(a), 1.5), height: PH }));
    const cx = (x(a) + x(Math.min(a + step, t1))) / 2;
    const r = Math.min(4 + Math.log2(times + 1) * 1.5, 9);
    const d = `M${cx - r},${M.t - r - 2} L${cx + r},${M.t - r - 2} L${cx},${M.t + r / 3} Z`;
    deny.append(s("path", { d }, title));
  }
  svg.append(s("path", { class: "area", d: area }), s("path", { class: "line", d: line }),
    s("path", { class: "total", d: tot }), deny);
  // the total's label at the right end
  const lastTotal = pts.length ? pts[pts.length - 1].total : start.total;
  svg.append(s("text", { x: W - M.r, y: y(lastTotal) - 5, "text-anchor": "end" },
    `${compact(lastTotal)} owned`));
  if (f.peak > 0 && f.peak_at) svg.append(peakMark(f, x, y, step, t1));
  svg.append(...hover(svg, f, { t0, span, step, start, pts }));
  return svg;
}

function peakMark(f, x, y, step, t1) {
  const pt = new Date(f.peak_at).getTime();
  const px = (x(pt) + x(Math.min(pt + step, t1))) / 2, py = y(f.peak);
  const left = px > W - 90;
  return s("g", { class: "peak" }, s("circle", { cx: px, cy: py, r: 4 }),
    s("text", { x: left ? px - 8 : px + 8, y: Math.max(py - 6, M.t + 10),
      "text-anchor": left ? "end" : "start" }, `peak ${compact(f.peak)}`));
}

/** Under the pointer: what was in use at that moment. Returns the box and its hit area. */
function hover(svg, f, { t0, span, step, start, pts }) {
  const box = s("g", { class: "hover", visibility: "hidden" });
  const hl = s("line", { y1: M.t, y2: M.t + PH });
  const frame = s("rect", { rx: 4, width: 190, height: 38 });
  const l1 = s("text", {}), l2 = s("text", {});
  box.append(hl, frame, l1, l2);
  const hit = s("rect", { x: M.l, y: M.t, width: PW, height: PH, fill: "transparent" });
  const at = (node, attrs) => {
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  };
  hit.addEventListener("mousemove", (e) => {
    const r = svg.getBoundingClientRect();
    const px = ((e.clientX - r.left) / r.width) * W;
    const t = t0 + ((px - M.l) / PW) * span;
    let cur = { peak: start.in_use, last: start.in_use, total: start.total }, from = t0;
    for (const p of pts) { if (p.t <= t) { cur = p; from = p.t; } else break; }
    const inBucket = cur.t !== undefined && t < cur.t + step;
    const denied = f.denials.find(([dt]) => {
      const d = new Date(dt).getTime();
      return d <= t && t < d + step;
    });
    const used = inBucket ? `up to ${compact(cur.peak)}` : compact(cur.last);
    l1.textContent = `${fmtTime(new Date(inBucket ? from : t).toISOString())}`;
    const refused = denied ? ` · ${denied[1]} denied` : "";
    l2.textContent = `in use ${used} of ${compact(cur.total)}${refused}`;
    const bx = px + 200 > W ? px - 198 : px + 8;
    at(hl, { x1: px, x2: px });
    at(frame, { x: bx, y: M.t + 2 });
    at(l1, { x: bx + 8, y: M.t + 17 });
    at(l2, { x: bx + 8, y: M.t + 32 });
    box.setAttribute("visibility", "visible");
  });
  hit.addEventListener("mouseleave", () => box.setAttribute("visibility", "hidden"));
  return [box, hit];
}
