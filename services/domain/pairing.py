"""Servers and the pair: the seed's rules for pairing, unpairing, resetting and stopping.

Registers its decisions and projections with ``decide`` and ``evolve`` on import
(``services.domain`` imports it).
"""

from __future__ import annotations

import uuid

from events import commands as c
from events.base import Decision
from events.servers import (
    ServerIdReset,
    ServerRegistered,
    ServersPaired,
    ServersUnpaired,
    ServerUninstalled,
    StopRequested,
    SyncRequested,
)
from events.vocabulary import Activity, ErrorCode
from services.domain.decide import Context, _decide, refuse
from services.domain.evolve import CannotApply, _evolve
from services.domain.model import Server, State, replace

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def next_server_id(old_server_id: str, command_id: str) -> str:
    """A new ``HOST_XXXXXXXX`` id with the same host part; a retry reproduces it."""
    host = old_server_id.rsplit("_", 1)[0]
    n = uuid.uuid5(uuid.NAMESPACE_OID, f"{old_server_id}/{command_id}").int
    suffix = "".join(_ID_ALPHABET[(n >> (6 * i)) % 36] for i in range(8))
    return f"{host}_{suffix}"


def _unknown(ctx: Context, command: object, node: str) -> Decision:
    return refuse(
        ctx,
        command,
        ErrorCode.NOT_FOUND,
        f"server {node} is not known to this site; start it (licensing server --node {node}) first",
    )


def _licensed(state: State, node: str) -> list[str]:
    return state.licenses_on(state.servers[node].server_id)


@_decide.register
def _register(command: c.RegisterServer, state: State, ctx: Context) -> Decision:
    return ServerRegistered(
        node=command.node, server_id=command.server_id, api_url=command.api_url, **ctx.stamp()
    )


@_decide.register
def _pair(command: c.PairServers, state: State, ctx: Context) -> Decision:
    primary, backup = command.primary, command.backup
    if primary == backup:
        return refuse(
            ctx, command, ErrorCode.INVALID, "a server cannot be its own backup; choose two servers"
        )
    for node in (primary, backup):
        if node not in state.servers:
            return _unknown(ctx, command, node)
    if state.pair is not None:
        return refuse(
            ctx,
            command,
            ErrorCode.CONFLICT,
            f"{state.pair[0]} and {state.pair[1]} are already paired; unpair them first",
        )
    for node in (primary, backup):
        held = _licensed(state, node)
        if held:
            return refuse(
                ctx,
                command,
                ErrorCode.IN_USE,
                f"{node} holds activated licenses ({', '.join(held)}); neither server may hold "
                f"activated licenses when a pair is formed: deactivate them first",
            )
    b = state.servers[backup]
    if b.ever_licensed:
        return refuse(
            ctx,
            command,
            ErrorCode.CONFLICT,
            f"licenses have been activated on {backup} under its License Server ID {b.server_id}; "
            f"reset its License Server ID first (licensing reset-id {backup}), then pair again",
        )
    return ServersPaired(
        primary=primary,
        backup=backup,
        primary_server_id=state.servers[primary].server_id,
        backup_server_id=b.server_id,
        **ctx.stamp(),
    )


@_decide.register
def _unpair(command: c.UnpairServers, state: State, ctx: Context) -> Decision:
    if state.pair is None:
        return refuse(ctx, command, ErrorCode.NOT_FOUND, "the servers of this site are not paired")
    held = sorted(
        {lid for node in state.pair if node in state.servers for lid in _licensed(state, node)}
    )
    if held:
        return refuse(
            ctx,
            command,
            ErrorCode.IN_USE,
            f"licenses are activated on the pair ({', '.join(held)}); the pair cannot be undone "
            f"until all of them are deactivated",
        )
    return ServersUnpaired(primary=state.pair[0], backup=state.pair[1], **ctx.stamp())


@_decide.register
def _reset(command: c.ResetServerId, state: State, ctx: Context) -> Decision:
    server = state.servers.get(command.node)
    if server is None:
        return _unknown(ctx, command, command.node)
    held = _licensed(state, command.node)
    if held:
        return refuse(
            ctx,
            command,
            ErrorCode.IN_USE,
            f"{command.node} holds activated licenses ({', '.join(held)}); deactivate them before "
            f"resetting its License Server ID",
        )
    return ServerIdReset(
        node=command.node,
        old_server_id=server.server_id,
        new_server_id=next_server_id(server.server_id, ctx.command_id),
        **ctx.stamp(),
    )


@_decide.register
def _sync(command: c.SyncServer, state: State, ctx: Context) -> Decision:
    server = state.servers.get(command.node)
    if server is None:
        return _unknown(ctx, command, command.node)
    if command.from_peer is not None and command.from_peer not in state.servers:
        return _unknown(ctx, command, command.from_peer)
    return SyncRequested(
        node=command.node, server_id=server.server_id, from_peer=command.from_peer, **ctx.stamp()
    )


@_decide.register
def _stop(command: c.StopServer, state: State, ctx: Context) -> Decision:
    server = state.servers.get(command.node)
    if server is None:
        return _unknown(ctx, command, command.node)
    return StopRequested(node=command.node, server_id=server.server_id, **ctx.stamp())


@_decide.register
def _uninstall(command: c.UninstallServer, state: State, ctx: Context) -> Decision:
    server = state.servers.get(command.node)
    if server is None:
        return _unknown(ctx, command, command.node)
    return ServerUninstalled(node=command.node, server_id=server.server_id, **ctx.stamp())


# ---- projections -------------------------------------------------------------------------


@_evolve.register
def _(event: ServerRegistered, state: State) -> State:
    old = state.servers.get(event.node)
    # Registering is a sign of life: the server is running from here on.
    alive = {
        "activity": Activity.RUNNING,
        "activity_since": event.at,
        "activity_reason": "registered",
        "observed_at": event.at,
    }
    if old is not None and old.server_id == event.server_id:
        server = replace(old, api_url=event.api_url or old.api_url, **alive)
    else:
        new = Server(
            node=event.node,
            server_id=event.server_id,
            registered_at=event.at,
            api_url=event.api_url,
        )
        server = replace(new, **alive)
    return state.with_(servers=state.servers.set(event.node, server))


@_evolve.register
def _(event: ServersPaired, state: State) -> State:
    if state.pair is not None:
        raise CannotApply("paired twice")
    return state.with_(pair=(event.primary, event.backup))


@_evolve.register
def _(event: ServersUnpaired, state: State) -> State:
    return state.with_(pair=None)


@_evolve.register
def _(event: ServerIdReset, state: State) -> State:
    server = state.servers.get(event.node)
    if server is None:
        raise CannotApply(f"reset of unknown server {event.node}")
    fresh = replace(server, server_id=event.new_server_id, ever_licensed=False)
    return state.with_(servers=state.servers.set(event.node, fresh))


@_evolve.register
def _(event: SyncRequested, state: State) -> State:
    return state


@_evolve.register
def _(event: StopRequested, state: State) -> State:
    # The Stop button's effect is known the moment it is decided: no need to wait for a watchdog.
    server = state.servers.get(event.node)
    if server is None or server.server_id != event.server_id:
        return state
    stopped = replace(
        server,
        activity=Activity.STOPPED,
        activity_since=event.at,
        activity_reason=f"stopped by {event.actor or 'an administrator'}",
        observed_at=event.at,
    )
    return state.with_(servers=state.servers.set(event.node, stopped))


@_evolve.register
def _(event: ServerUninstalled, state: State) -> State:
    return (
        state.with_(servers=state.servers.delete(event.node))
        if event.node in state.servers
        else state
    )
