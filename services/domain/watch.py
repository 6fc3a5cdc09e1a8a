"""The watchdog's observations as decisions: a status enters the log only when it changes.

A report that changes nothing, or rests on an older heartbeat than the status it
would replace, yields no event: its rule returns None, the only commands for which
``decide`` does, and the writer answers ``changed: false`` without appending. Two
watchdogs reporting the same transition thus write it once, and a lagging watchdog
cannot flip a tile back.
"""

from __future__ import annotations

from events.status import PairSyncChanged, ReportPairSync, ReportServerStatus, ServerStatusChanged
from events.vocabulary import Activity
from services.domain.decide import Context, _decide
from services.domain.evolve import _evolve
from services.domain.model import PairSync, State, replace


@_decide.register
def _server_status(
    command: ReportServerStatus, state: State, ctx: Context
) -> ServerStatusChanged | None:
    server = state.servers.get(command.node)
    if server is None or server.activity == command.activity:
        return None
    if server.observed_at is not None and command.observed_at < server.observed_at:
        return None
    return ServerStatusChanged(
        node=command.node,
        server_id=server.server_id,
        activity=command.activity,
        reason=command.reason,
        observed_at=command.observed_at,
        **ctx.stamp(),
    )


@_decide.register
def _pair_sync(command: ReportPairSync, state: State, ctx: Context) -> PairSyncChanged | None:
    current = state.sync
    if state.pair is None or (
        current.synced == command.synced and current.reason == command.reason
    ):
        return None
    if current.observed_at is not None and command.observed_at < current.observed_at:
        return None
    return PairSyncChanged(
        synced=command.synced,
        lag_events=command.lag_events,
        lag_seconds=command.lag_seconds,
        reason=command.reason,
        observed_at=command.observed_at,
        **ctx.stamp(),
    )


@_evolve.register
def _(event: ServerStatusChanged, state: State) -> State:
    server = state.servers.get(event.node)
    if server is None or server.server_id != event.server_id:
        return state  # the server was reset or uninstalled since: the observation is about the past
    changed = replace(
        server,
        activity=Activity(event.activity),
        activity_since=event.at,
        activity_reason=event.reason,
        observed_at=event.observed_at,
    )
    return state.with_(servers=state.servers.set(event.node, changed))


@_evolve.register
def _(event: PairSyncChanged, state: State) -> State:
    return state.with_(
        sync=PairSync(
            synced=event.synced,
            lag_events=event.lag_events,
            lag_seconds=event.lag_seconds,
            reason=event.reason,
            since=event.at,
            observed_at=event.observed_at,
        )
    )
