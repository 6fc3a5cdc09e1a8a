/* Talking to this node: JSON reads, posts with the page's CSRF token, the session, the live feed.
   Every page reads from the node that served it, never from another node. */

export const NODE = document.body.dataset.node;

export const SOURCES = {
  servers: "/api/servers", health: "/api/health", usage: "/api/usage", features: "/api/features",
  licenses: "/api/licenses", reservations: "/api/reservations", denials: "/api/denials?limit=1000",
  timeline: "/api/timeline?limit=500",
};

export async function getJSON(path) {
  const r = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  const text = await r.text();
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path} answered ${r.status} ${r.statusText}`);
  }
}

// Who is signed in; whoever draws from it subscribes with onSession.
export const session = { user: null, csrf: null, admins: true, noAdmins: null, vendorKeys: [],
  siteKey: false };
const listeners = [];

export function onSession(listener) { listeners.push(listener); }

export function setSession(fields) {
  Object.assign(session, fields);
  for (const listener of listeners) listener(session);
}

export async function loadSession() {
  const s = await getJSON("/api/session");
  setSession({ user: s.user, csrf: s.csrf, admins: s.admins_configured,
    noAdmins: s.no_admins_message, vendorKeys: s.vendor_keys || [], siteKey: !!s.site_key });
}

const answered = (r) =>
  r.json().catch(() => ({ ok: false, message: `this server answered ${r.status}` }));

/** POST JSON; a page left open past its token fetches a fresh one and tries once more. */
export async function post(path, body) {
  const send = () => fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": session.csrf || "" },
    body: JSON.stringify(body || {}),
  });
  let r = await send();
  let data = await answered(r);
  if (r.status === 403 && data.error && data.error.code === "csrf") {
    await loadSession();
    r = await send();
    data = await answered(r);
  }
  return { status: r.status, data };
}

/** Server-sent events: onChange when the node has applied something (or the feed opens). */
export function listen(onChange, onDown) {
  const source = new EventSource("/api/events");
  source.addEventListener("changed", onChange);
  source.addEventListener("open", onChange);
  source.addEventListener("error", onDown);
  return source;
}
