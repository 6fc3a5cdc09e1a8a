/* Notices (every answer in words) and the confirm dialog every risky action goes through. */
import { $, h } from "./dom.js";

const MAX_NOTICES = 4;
const NOTICE_MS = 8000;  // errors stay until dismissed: they are what the administrator must read

export function notify(kind, title, text) {
  const box = h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("div", { class: "text" }, h("b", {}, title), text),
    h("button", { class: "icon-btn", type: "button", "aria-label": "Dismiss",
      onclick: () => box.remove() }, "×"));
  $("#notices").prepend(box);
  if (kind !== "error") setTimeout(() => box.remove(), NOTICE_MS);
  while ($("#notices").children.length > MAX_NOTICES) $("#notices").lastChild.remove();
}

document.querySelectorAll("dialog [data-close]")
  .forEach((b) => b.addEventListener("click", () => b.closest("dialog").close()));

/** Ask before acting: resolves to { reason } on Confirm, null on Cancel or Escape. */
export function confirmBox({ title, text, ok = "Confirm", danger = true, reason = false }) {
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
      if (reason && !why) {
        e.preventDefault();
        $("#confirm-error").textContent = "Say why; the reason is recorded with your name.";
        return;
      }
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
