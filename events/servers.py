"""Events about the servers of a site and their pair."""

from __future__ import annotations

from typing import Literal

from events.base import Decision
from events.storable import Text


class ServerRegistered(Decision):
    """A node came up under this License Server ID (one event per start: an audit trail)."""

    type: Literal["ServerRegistered"] = "ServerRegistered"
    node: Text
    server_id: Text
    api_url: Text | None = None


class ServersPaired(Decision):
    type: Literal["ServersPaired"] = "ServersPaired"
    primary: Text
    backup: Text
    primary_server_id: Text
    backup_server_id: Text


class ServersUnpaired(Decision):
    type: Literal["ServersUnpaired"] = "ServersUnpaired"
    primary: Text
    backup: Text


class ServerIdReset(Decision):
    """The node takes ``new_server_id``, empties its read models and replays the log."""

    type: Literal["ServerIdReset"] = "ServerIdReset"
    node: Text
    old_server_id: Text
    new_server_id: Text


class SyncRequested(Decision):
    type: Literal["SyncRequested"] = "SyncRequested"
    node: Text
    server_id: Text
    from_peer: Text | None = None


class StopRequested(Decision):
    type: Literal["StopRequested"] = "StopRequested"
    node: Text
    server_id: Text


class ServerUninstalled(Decision):
    type: Literal["ServerUninstalled"] = "ServerUninstalled"
    node: Text
    server_id: Text
