"""The seed's words for a server and for the pair, derived from the state (pure).

| what happened (to the backup; the primary is symmetric) | server status        | pair status           |
| both connected and running, same offset and digest      | Running              | Paired and Available  |
| node shuts down (process or machine gone)               | Disconnected         | Backup not available  |
| loses its network connection, or is stopped             | Stopped              | Backup not available  |
| uninstalled                                             | Backup not available | Backup not available  |
| pair not synced                                         | Running (both)       | Pair not synced       |
| back and catching up (replaying)                        | Running              | Recovering            |
"""
from __future__ import annotations

from services.domain.model import State

RUNNING, STOPPED, DISCONNECTED = "Running", "Stopped", "Disconnected"
PAIRED = "Paired and Available"
NOT_SYNCED = "Pair not synced"
RECOVERING = "Recovering"

_SHOWN = {"running": RUNNING, "recovering": RUNNING, "stopped": STOPPED, "disconnected": DISCONNECTED}


def _role_word(state: State, node: str) -> str:
    return "Primary" if state.pair and state.pair[0] == node else "Backup"


def server_status(state: State, node: str) -> str:
    server = state.servers.get(node)
    if server is None:
        return f"{_role_word(state, node)} not available"  # uninstalled
    return _SHOWN.get(server.activity, server.activity)


def pair_status(state: State) -> str | None:
    if state.pair is None:
        return None
    for node in state.pair:
        server = state.servers.get(node)
        if server is None or server.activity in ("stopped", "disconnected"):
            return f"{_role_word(state, node)} not available"
    if any(state.servers[node].activity == "recovering" for node in state.pair):
        return RECOVERING
    if not state.sync.synced:
        return NOT_SYNCED
    return PAIRED
