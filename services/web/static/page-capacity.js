/* Capacity: seats in use against seats owned per feature over a period, with peaks and
   denials, so the page answers "do we have enough seats?". */
import { append, clear, h } from "./dom.js";
import { fmtTime } from "./format.js";
import { data, refresh } from "./store.js";
import { card, verdict } from "./chart.js";

const PERIODS = [["hour", "Last hour"], ["day", "Last day"], ["week", "Last week"], ["all", "All"]];
let period = localStorage.getItem("lm.period") || "day";  // the administrator's last choice

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

export default {
  path: "/capacity", title: "Capacity",
  subtitle: "Seats in use against seats owned, per feature, with peaks and denials: "
    + "do we have enough seats?",
  needs: ["capacity"], minInterval: 1500,
  sources: { capacity: () => `/api/capacity?period=${period}` },
  mount(view) {
    const params = new URLSearchParams(location.search);
    const asked = params.get("feature");  // Features Summary links here with one feature
    let only = asked ? `${asked}|${params.get("version") || ""}` : "";
    const seg = h("div", { class: "seg", role: "group", "aria-label": "Period" });
    const select = h("select", { "aria-label": "Feature",
      onchange: () => { only = select.value; draw(); } });
    for (const [p, label] of PERIODS) {
      seg.append(h("button", { type: "button", "aria-pressed": String(p === period),
        dataset: { period: p },
        onclick: () => {
          period = p;
          localStorage.setItem("lm.period", p);
          seg.querySelectorAll("button")
            .forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.period === p)));
          refresh();
        } }, label));
    }
    const summary = h("p", { class: "muted", id: "capacity-summary" });
    const grid = h("div", { class: "charts", id: "charts" });
    append(view, h("div", { class: "chart-tools" }, seg, select, h("span", { class: "spacer" })),
      h("div", { class: "chart-legend" },
        h("span", {}, h("span", { class: "sw area" }),
          "seats in use (shaded: the peak in each interval)"),
        h("span", {}, h("span", { class: "sw total" }), "seats owned"),
        h("span", {}, h("span", { class: "sw deny" }), "denials")),
      summary, grid);
    function draw() {
      const c = data.capacity;
      const feats = c.features;
      const keys = feats.map((f) => `${f.feature}|${f.version}`);
      clear(select).append(h("option", { value: "" }, `All features (${feats.length})`));
      feats.forEach((f, i) =>
        select.append(h("option", { value: keys[i] }, `${f.feature} ${f.version}`)));
      select.value = keys.includes(only) ? only : "";
      const shown = feats.filter((f, i) => !select.value || keys[i] === select.value);
      const verdicts = shown.map((f) => verdict(f));
      const count = (t) => verdicts.filter((v) => v.tone === t).length;
      summary.textContent = feats.length
        ? `${plural(shown.length, "feature")} from ${fmtTime(c.from)} to ${fmtTime(c.to)}: `
          + `${count("bad")} short of seats, ${count("warn")} near capacity, `
          + `${count("ok")} with room to spare.`
        : "No feature is licensed yet: activate a license to see its seats over time.";
      clear(grid);
      shown.forEach((f) => grid.append(card(f, c)));
    }
    return draw;
  },
};
