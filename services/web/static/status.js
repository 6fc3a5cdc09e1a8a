/* How a status word looks: its tone (ok, info, warn, bad, idle) picks the colour of a pill,
   a tile, a banner or a strip. The words come from the node's vocabulary. */
import { h } from "./dom.js";
import { vocab } from "./vocabulary.js";

export function tone(word) {
  if (!word) return "idle";
  const server = vocab.server_status, pair = vocab.pair_status;
  if (word === server.RUNNING || word === pair.PAIRED) return "ok";
  if (word === server.RECOVERING || word === pair.RECOVERING) return "info";
  if (word === pair.NOT_SYNCED) return "warn";
  const down = [server.STOPPED, server.DISCONNECTED, server.HALTED, server.PRIMARY_NOT_AVAILABLE,
    server.BACKUP_NOT_AVAILABLE, pair.PRIMARY_NOT_AVAILABLE, pair.BACKUP_NOT_AVAILABLE];
  return down.includes(word) ? "bad" : "idle";
}

export const pill = (word, extra) =>
  h("span", { class: `pill ${tone(word)}`, ...(extra || {}) }, word || "—");

/** A server on its own has no role worth a badge. */
export const inPairRole = (role) => !!role && role !== vocab.role.STANDALONE;

export const roleBadge = (role) =>
  (inPairRole(role) ? h("span", { class: `badge ${role}` }, role) : null);

/** Too few seats (none free, or free ones reserved for others) is bad; the rest a warning. */
export function denialTone(reason) {
  const why = vocab.denial_reason;
  return reason === why.NO_SEATS || reason === why.RESERVED ? "bad" : "warn";
}
