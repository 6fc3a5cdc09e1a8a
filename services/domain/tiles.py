"""The seed's words for a server and for the pair, derived from the state (pure).

| what happened (to the backup; primary: symmetric) | server status        | pair status          |
| both connected, running, same offset and digest   | Running              | Paired and Available |
| node shuts down (process or machine gone)         | Disconnected         | Backup not available |
| loses its network connection, or is stopped       | Stopped              | Backup not available |
| uninstalled                                       | Backup not available | Backup not available |
| pair not synced                                   | Running (both)       | Pair not synced      |
| back and catching up (replaying)                  | Running              | Recovering           |
"""

from __future__ import annotations

from events.vocabulary import Activity, PairStatus, Role, ServerStatus
from services.domain.model import State

# A server catching up still serves, so its own tile says Running; the pair tile says Recovering.
_SHOWN = {
    Activity.RUNNING: ServerStatus.RUNNING,
    Activity.RECOVERING: ServerStatus.RUNNING,
    Activity.STOPPED: ServerStatus.STOPPED,
    Activity.DISCONNECTED: ServerStatus.DISCONNECTED,
}
_NOT_AVAILABLE = {
    Role.PRIMARY: ServerStatus.PRIMARY_NOT_AVAILABLE,
    Role.BACKUP: ServerStatus.BACKUP_NOT_AVAILABLE,
}
_PAIR_NOT_AVAILABLE = {
    Role.PRIMARY: PairStatus.PRIMARY_NOT_AVAILABLE,
    Role.BACKUP: PairStatus.BACKUP_NOT_AVAILABLE,
}


def _role(state: State, node: str) -> Role:
    """The seed names a missing server by its place; one outside the pair is called the backup."""
    return Role.PRIMARY if state.pair and state.pair[0] == node else Role.BACKUP


def server_status(state: State, node: str) -> ServerStatus:
    server = state.servers.get(node)
    if server is None:
        return _NOT_AVAILABLE[_role(state, node)]  # uninstalled
    return _SHOWN[server.activity]


def pair_status(state: State) -> PairStatus | None:
    if state.pair is None:
        return None
    for node in state.pair:
        server = state.servers.get(node)
        if server is None or server.activity in (Activity.STOPPED, Activity.DISCONNECTED):
            return _PAIR_NOT_AVAILABLE[_role(state, node)]
    if any(state.servers[node].activity == Activity.RECOVERING for node in state.pair):
        return PairStatus.RECOVERING
    if not state.sync.synced:
        return PairStatus.NOT_SYNCED
    return PairStatus.PAIRED
