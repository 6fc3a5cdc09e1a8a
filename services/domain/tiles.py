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

from collections.abc import Callable

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


def _role(pair: tuple[str, str] | None, node: str) -> Role:
    """The seed names a missing server by its place; one outside the pair is called the backup."""
    return Role.PRIMARY if pair and pair[0] == node else Role.BACKUP


def server_status(state: State, node: str) -> ServerStatus:
    server = state.servers.get(node)
    if server is None:
        return _NOT_AVAILABLE[_role(state.pair, node)]  # uninstalled
    return _SHOWN[server.activity]


def pair_status(state: State) -> PairStatus | None:
    def activity(node: str) -> Activity | None:
        server = state.servers.get(node)
        return server.activity if server else None

    return pair_status_of(state.pair, activity, state.sync.synced)


def pair_status_of(
    pair: tuple[str, str] | None, activity: Callable[[str], Activity | None], synced: bool
) -> PairStatus | None:
    """The pair tile from each server's activity (None: uninstalled) and the pair's sync: what
    the log says, or what the watchdog concludes before the log says it (its /metrics)."""
    if pair is None:
        return None
    for node in pair:
        if activity(node) in (None, Activity.STOPPED, Activity.DISCONNECTED):
            return _PAIR_NOT_AVAILABLE[_role(pair, node)]
    if any(activity(node) == Activity.RECOVERING for node in pair):
        return PairStatus.RECOVERING
    if not synced:
        return PairStatus.NOT_SYNCED
    return PairStatus.PAIRED
