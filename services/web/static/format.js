/* Times, durations and numbers the way an administrator reads them (local time, en-US digits). */
import { h } from "./dom.js";

const pad = (n) => String(n).padStart(2, "0");

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${day} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtDuration(seconds) {
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

export const secondsSince = (iso) => (Date.now() - new Date(iso).getTime()) / 1000;
export const fmtAgo = (iso) => (iso ? `${fmtDuration(secondsSince(iso))} ago` : "—");
export const fmtNum = (n) =>
  (n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US"));
export const cap = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);

/** A table cell's time: the moment, and under it how long ago. */
export function timeCell(iso) {
  return h("span", { class: "when", title: fmtTime(iso) }, fmtTime(iso),
    h("span", { class: "sub" }, fmtAgo(iso)));
}
