"""Events about the servers of a site and their pair."""

from __future__ import annotations

from typing import Literal

from events.base import Decision


class ServerRegistered(Decision):
    """A node came up under this License Server ID (one event per start: an audit trail)."""

    type: Literal["ServerRegistered"] = "ServerRegistered"
    node: str
    server_id: str
    api_url: str | None = None


class ServersPaired(Decision):
    type: Literal["ServersPaired"] = "ServersPaired"
    primary: str
    backup: str
    primary_server_id: str
    backup_server_id: str


class ServersUnpaired(Decision):
    type: Literal["ServersUnpaired"] = "ServersUnpaired"
    primary: str
    backup: str


class ServerIdReset(Decision):
    """The node takes ``new_server_id``, empties its read models and replays the log."""

    type: Literal["ServerIdReset"] = "ServerIdReset"
    node: str
    old_server_id: str
    new_server_id: str


class SyncRequested(Decision):
    type: Literal["SyncRequested"] = "SyncRequested"
    node: str
    server_id: str
    from_peer: str | None = None


class StopRequested(Decision):
    type: Literal["StopRequested"] = "StopRequested"
    node: str
    server_id: str


class ServerUninstalled(Decision):
    type: Literal["ServerUninstalled"] = "ServerUninstalled"
    node: str
    server_id: str
