/* Activate: the offline activation flow on one page. Step 1 downloads the activation request
   the vendor issues against; step 2 sends the entitlement the vendor returned (a file or its
   pasted text) whole, as a signed admin command: the servers check the signature, not this page.
   Only a site without vendor keys (demo and test mode) also keeps the unsigned form. */
import { $, append, clear, h } from "./dom.js";
import { fmtNum, fmtTime } from "./format.js";
import { session } from "./api.js";
import { data } from "./store.js";
import { openLogin } from "./page-login.js";
import { act } from "./page-manage.js";

const signedOnly = () => session.vendorKeys.length > 0;

// The License Server IDs an entitlement must name: the pair's two, else every server's.
function targets(s) {
  const listed = s.servers.filter((x) => x.server_id);
  if (!s.pair) return listed.map((x) => x.server_id).sort();
  const id = (node) => (listed.find((x) => x.node === node) || {}).server_id;
  return [id(s.pair.primary), id(s.pair.backup)].filter(Boolean);
}

/** What a file says, before anyone checked it: the signed terms, or the unsigned JSON. */
function readUpload(text) {
  const parsed = JSON.parse(text);
  if (!parsed || typeof parsed !== "object") throw new Error("expected a JSON object");
  if (!("signature" in parsed)) {
    if (typeof parsed.license_id !== "string" || !Array.isArray(parsed.features)) {
      throw new Error("neither a vendor-signed entitlement nor an unsigned one "
        + '({"license_id", "features"})');
    }
    return { signed: false, terms: parsed };
  }
  if (parsed.format !== "licensing-entitlement/1" || typeof parsed.payload !== "string") {
    throw new Error(`format ${JSON.stringify(parsed.format)} is not an entitlement`);
  }
  const bytes = Uint8Array.from(atob(parsed.payload), (c) => c.charCodeAt(0));
  return { signed: true, keyId: parsed.key_id, terms: JSON.parse(new TextDecoder().decode(bytes)) };
}

function featureTable(features) {
  const heads = ["Feature", "Type", "Version", "Seats", "Expires"];
  return h("table", {}, h("thead", {}, h("tr", {}, heads.map((t) => h("th", {}, t)))),
    h("tbody", {}, features.map((f) => h("tr", {}, h("td", {}, f.name),
      h("td", {}, f.type || ""), h("td", {}, f.version),
      h("td", { class: "num" }, fmtNum(f.seats)),
      h("td", {}, f.expires_at ? fmtTime(f.expires_at) : "never")))));
}

function preview(upload) {
  const t = upload.terms;
  if (!upload.signed) {
    return [h("p", {}, "Unsigned license ", h("b", {}, t.license_id),
      ` with ${t.features.length} feature(s)`, signedOnly()
        ? h("span", { class: "form-error" }, ": this site accepts only vendor-signed files.")
        : "."), featureTable(t.features)];
  }
  const ours = data.servers ? targets(data.servers) : [];
  const bound = t.server_ids || [];
  const fits = bound.length === ours.length && bound.every((x) => ours.includes(x));
  const facts = [
    ["License", t.license_id], ["Serial", t.serial], ["Customer", t.customer],
    ["Bound to", `${bound.join(", ")}${fits ? " (this site's License Servers)"
      : ` (this site's are ${ours.join(", ") || "none"})`}`],
    ["Activate between", `${fmtTime(t.not_before)} and ${fmtTime(t.not_after)}`],
    ["Signed with", `${upload.keyId}${session.vendorKeys.includes(upload.keyId)
      ? " (a vendor key this site trusts)" : " (not a key this site trusts)"}`],
  ];
  return [h("dl", { class: "facts-list" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    featureTable(t.features || []),
    h("p", { class: "hint" }, "Shown as the file says; the servers check the signature, the "
      + "License Server IDs and the dates when you activate.")];
}

function refusalBox(answer) {
  const code = answer.error && answer.error.code;
  return h("div", { class: "refusal", id: "activate-refusal", role: "alert",
    dataset: { code: code || "" } },
  h("b", {}, answer.title || "Refused"),
  answer.advice ? h("p", {}, answer.advice) : null,
  h("p", { class: "muted" }, `The servers said: ${answer.message}`, code
    ? h("span", { class: "code" }, ` (${code})`) : null));
}

let upload = null;   // { text, signed, terms } of what was chosen or pasted

function onText(textarea, box, submit) {
  upload = null;
  submit.disabled = true;
  clear(box);
  clear($("#activate-result"));  // an answer belongs to the file it was about
  const text = textarea.value.trim();
  if (!text) return;
  try {
    upload = { text, ...readUpload(text) };
    append(box, preview(upload));
    submit.disabled = !session.user;
  } catch (err) {
    append(box, h("p", { class: "form-error" }, `This is not an entitlement: ${err.message}`));
  }
}

function uploadPanel() {
  const box = h("div", { id: "activate-preview", class: "preview" });
  const result = h("div", { id: "activate-result" });
  const submit = h("button", { class: "btn primary", type: "submit", id: "activate-submit",
    disabled: true }, "Activate");
  const text = h("textarea", { id: "activate-text", rows: 6, spellcheck: "false",
    placeholder: '{\n  "format": "licensing-entitlement/1",\n  "key_id": "k-…",\n  …\n}',
    oninput: () => onText(text, box, submit) });
  const file = h("input", { type: "file", id: "activate-file", accept: ".json,application/json",
    onchange: async (e) => {
      const chosen = e.target.files[0];
      text.value = chosen ? await chosen.text() : "";
      onText(text, box, submit);
    } });
  const form = h("form", { id: "activate-form", onsubmit: async (e) => {
    e.preventDefault();
    if (!session.user) return openLogin();
    if (!upload) return;
    clear(result);
    const answer = await act("activate", { entitlement: upload.text }, submit);
    if (answer && answer.ok) {
      form.reset();
      text.value = "";
      onText(text, box, submit);
      append(result, h("p", { class: "done" }, `${answer.message} `,
        h("a", { href: "/licenses", "data-nav": "" }, "See it on the License Summary")));
    } else if (answer) append(result, refusalBox(answer));
  } },
  h("label", {}, "Entitlement file", file),
  h("label", {}, "or paste its text", text), box, result,
  h("div", { class: "dialog-actions" }, submit));
  return h("section", { class: "panel" }, h("h2", {}, "2. Activate the vendor's entitlement"),
    h("div", { class: "panel-body" }, h("p", { class: "muted" }, "Choose the file the vendor "
      + "sent, or paste its text block. It is activated on both servers of the pair."), form));
}

function requestPanel() {
  return h("section", { class: "panel" }, h("h2", {}, "1. Ask the vendor"),
    h("div", { class: "panel-body" },
      h("p", { class: "muted" }, "The vendor issues an entitlement for this site's License "
        + "Server IDs. Download the activation request and send it to the vendor (by mail or "
        + "on a USB stick: the servers need no Internet)."),
      h("dl", { class: "facts-list", id: "request-facts" }),
      h("a", { class: "btn", id: "request-download", href: "/api/activation-request",
        download: "" }, "Download activation request")));
}

function unsignedPanel() {
  const error = h("p", { class: "form-error", id: "unsigned-error", role: "alert" });
  const submit = h("button", { class: "btn", type: "submit", id: "unsigned-submit" },
    "Activate unsigned");
  const form = h("form", { id: "unsigned-form", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    const features = [];
    for (const line of form.features.value.split("\n").map((l) => l.trim()).filter(Boolean)) {
      const [name, version, seats, type, ...rest] = line.split(":");
      if (!version || !/^\d+$/.test((seats || "").trim()) || rest.length) {
        error.textContent = `"${line}" is not NAME:VERSION:SEATS[:TYPE]`;
        return;
      }
      features.push({ name, version, seats: Number(seats), type: type || "" });
    }
    const answer = await act("activate", { license_id: form.license_id.value, features }, submit);
    if (answer && answer.ok) form.reset();
    else if (answer) error.textContent = answer.message;
  } },
  h("label", {}, "License id", h("input", { name: "license_id", id: "unsigned-license",
    required: true, maxlength: 128, placeholder: "e.g. LIC-TEST-1" })),
  h("label", {}, "Features, one a line: NAME:VERSION:SEATS[:TYPE]",
    h("textarea", { name: "features", id: "unsigned-features", rows: 3, required: true,
      placeholder: "InTouch Dev 60K Tags:2017 (17.0):50:Server" })),
  error, h("div", { class: "dialog-actions" }, submit));
  return h("section", { class: "panel", id: "unsigned-panel" },
    h("h2", {}, "Unsigned activation (demo and test mode)"),
    h("div", { class: "panel-body" }, h("p", { class: "muted" }, "Like licensing activate "
      + "--license-id … --feature …: seats typed in here are not the vendor's."), form));
}

function modeBanner() {
  return signedOnly()
    ? h("div", { class: "banner ok", id: "activate-mode", dataset: { mode: "signed" } },
      h("div", { class: "icon" }, "✓"), h("div", {},
        h("div", { class: "big" }, "Vendor-signed entitlements only"),
        `This site activates only entitlements signed by its vendor (key `
          + `${session.vendorKeys.join(", ")}) for its License Server IDs. Nobody can type `
          + "seats in, not even an administrator."))
    : h("div", { class: "banner warn", id: "activate-mode", dataset: { mode: "unsigned" } },
      h("div", { class: "icon" }, "!"), h("div", {},
        h("div", { class: "big" }, "This site accepts unsigned activations"),
        "No vendor keys are configured (LICENSING_VENDOR_KEYS is empty): demo and test mode. "
          + "Any administrator can create seats here, and a vendor-signed file is refused "
          + "because its signature cannot be checked."));
}

function drawRequestFacts() {
  const s = data.servers, hl = data.health;
  const box = $("#request-facts");
  if (!box || !s) return;
  const facts = [["Site", s.site || document.body.dataset.site],
    ["License Server IDs", targets(s).join(", ") || "none registered yet"],
    ["Site key", hl && hl.site_public_key ? "set: the vendor can check deactivation receipts"
      : "none (no LICENSING_SITE_KEY): deactivations give no receipt"]];
  const sig = JSON.stringify(facts);
  if (box.dataset.sig === sig) return;
  box.dataset.sig = sig;
  append(clear(box), facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export default {
  path: "/activate", title: "Activate",
  subtitle: "Offline activation: the vendor issues an entitlement for this pair, you upload it.",
  needs: [],
  mount(view) {
    append(view, modeBanner(), h("p", { class: "warning", id: "activate-signin" },
      "Sign in as an administrator to activate licenses."),
    h("div", { class: "steps" }, requestPanel(), uploadPanel()),
    signedOnly() ? null : unsignedPanel());
    return () => {
      drawRequestFacts();
      $("#activate-signin").hidden = !!session.user;
      if (upload) $("#activate-submit").disabled = !session.user;
    };
  },
};
