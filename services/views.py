"""What a node says about itself and its site: ``/api/health``, ``/api/servers``, its heartbeat.

The node builds these models; the API serves ``model_dump(mode="json")``; the CLI and
the watchdog read what they receive with ``model_validate``. Every field a reader may
miss has a default: a reader tolerates a partial answer (an older node, a test's
hand-made heartbeat) the way it did with ``dict.get``. Extra fields are ignored.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    WithJsonSchema,
)

from events.vocabulary import Activity, OrderKind, PairStatus, Role, ServerStatus
from services.domain import tiles
from services.domain.model import Server, State

# Times as ``datetime.isoformat()`` writes them ("+00:00", not pydantic's "Z"): the page,
# the tests and operators' scripts read these strings as they always were.
IsoTime = Annotated[
    datetime,
    PlainSerializer(datetime.isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class View(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Pair(View):
    primary: str
    backup: str

    @classmethod
    def of(cls, pair: tuple[str, str] | None) -> Pair | None:
        return cls(primary=pair[0], backup=pair[1]) if pair else None


# ---- /api/health -------------------------------------------------------------------


class Rebuild(View):
    """The node's last reset or sync: what ordered it, where it read from, how long it took."""

    order: OrderKind
    source: str
    log_offset: int
    copied_events: int
    copy_seconds: float


class Missing(StrEnum):
    """A part a node needs to take commands now; health names each one it lacks."""

    BROKER = "broker connection"
    COMMANDS_CONSUMER = "commands consumer"  # the writer candidate's, on the commands queue
    INGRESS = "ingress exchange"  # products publish to it; a node re-declares it
    STREAM_CONSUMER = "stream consumer"  # subscribed to the stream (not behind, not gone)
    PROJECTOR = "projector"  # halted on an event it cannot apply


class LoadProgress(View):
    """A start-up load under way: events of the log's tail replayed so far, of how many."""

    events_loaded: int = 0
    events_total: int = 0
    seconds: float = 0.0
    from_offset: int = -1  # the snapshot's stream offset it started from; -1: a full replay


class Health(View):
    node: str = ""
    site: str = ""
    server_id: str = ""
    healthy: bool = False  # can take commands now: nothing is missing
    missing: list[Missing] = Field(default_factory=list)
    status: ServerStatus | None = None
    connected: bool = False
    # The broker node this node is connected to (host:port of one URL of LICENSING_AMQP_URL).
    broker: str | None = None
    writer: bool | None = None
    role: Role | None = None
    epoch: int = 0
    writer_node: str | None = None
    offset: int = -1
    digest: str = ""
    events_applied: int = 0
    applied_offset: int = -1
    target_offset: int | None = None
    caught_up: bool = False
    projector_halted: str | None = None
    dead_letters: int | None = None
    dead_lettered_here: int = 0
    commands_handled: int = 0
    restarts: int = 0
    last_error: str | None = None
    uptime_seconds: float = 0.0
    database: str = ""
    last_rebuild: Rebuild | None = None
    admin_commands: str = ""
    # RegisterServer and the watchdog's reports: "signed" (node keys) or "open (...)"
    node_commands: str = ""
    entitlements: str = ""  # which activations the site accepts (vendor-signed or not)
    site_public_key: str | None = None  # the site's key for deactivation receipts (Ed25519)
    stream: str = ""  # whether stream messages must be signed with a node key, or it is open
    unverified_messages: int = 0  # stream messages ignored for a bad signature (invariant 10)
    loading: LoadProgress | None = None  # while status is Loading
    loaded_from_offset: int = -1  # the snapshot the last start-up loaded from; -1: full replay


# ---- the heartbeat -----------------------------------------------------------------


class KnownServer(View):
    """A server the log knows, as a heartbeat passes it on to the watchdog."""

    node: str
    api_url: str | None = None
    activity: Activity | None = None


class Heartbeat(View):
    node: str
    server_id: str = ""
    role: Role | None = None
    status: ServerStatus | None = None
    offset: int = -1
    digest: str = ""
    events: int = 0
    writer: bool = False
    epoch: int = 0
    target_offset: int | None = None
    servers: list[KnownServer] = Field(default_factory=list)
    pair: Pair | None = None
    # Stamped by the publisher (services.node.heartbeat), never by the node's view.
    at: datetime | None = None
    final: bool = False  # the last heartbeat of a graceful stop

    def body(self) -> dict[str, Any]:
        """What the node publishes; the publisher adds ``at`` (and ``final``)."""
        return self.model_dump(mode="json", exclude={"at", "final"})


# ---- /api/servers ------------------------------------------------------------------


class Tile(View):
    """What every server tile shows."""

    node: str = ""
    role: Role | None = None
    server_id: str | None = None
    status: ServerStatus | None = None
    activity: Activity | None = None


class ServerTile(Tile):
    """A server the log knows: since when it does what, why, and where it answers."""

    since: IsoTime | None = None
    reason: str = ""
    api_url: str | None = None
    ever_licensed: bool = False
    licenses: list[str] = Field(default_factory=list)
    registered_at: IsoTime | None = None

    @classmethod
    def of(cls, state: State, server: Server) -> ServerTile:
        return cls(
            node=server.node,
            role=_role(state, server.node),
            server_id=server.server_id,
            status=tiles.server_status(state, server.node),
            activity=server.activity,
            since=server.activity_since,
            reason=server.activity_reason,
            api_url=server.api_url,
            ever_licensed=server.ever_licensed,
            licenses=state.licenses_on(server.server_id),
            registered_at=server.registered_at,
        )


class GoneTile(Tile):
    """An uninstalled member of the pair: its tile says it is gone, and nothing more."""

    activity: Literal[Activity.UNINSTALLED] = Activity.UNINSTALLED


def _tile_kind(tile: Any) -> str:
    activity = tile.get("activity") if isinstance(tile, dict) else getattr(tile, "activity", None)
    return "gone" if activity == Activity.UNINSTALLED else "server"


AnyTile = Annotated[
    Annotated[ServerTile, Tag("server")] | Annotated[GoneTile, Tag("gone")],
    Discriminator(_tile_kind),
]


class Sync(View):
    """Whether the pair holds the same log, as the watchdog last reported it."""

    synced: bool = True
    lag_events: int = 0
    lag_seconds: float = 0.0
    reason: str = ""
    since: IsoTime | None = None


class CurrentWriter(View):
    """The node whose decisions the log accepts, and its epoch."""

    node: str | None = None
    server_id: str | None = None
    epoch: int = 0


class ServersView(View):
    """The site as the log tells it: the pair, its status, the writer, and a tile per server."""

    site: str = ""
    pair: Pair | None = None
    pair_status: PairStatus | None = None
    sync: Sync = Field(default_factory=Sync)
    writer: CurrentWriter = Field(default_factory=CurrentWriter)
    servers: list[AnyTile] = Field(default_factory=list)

    @classmethod
    def of(cls, state: State, site: str) -> ServersView:
        sync = state.sync
        return cls(
            site=site,
            pair=Pair.of(state.pair),
            pair_status=tiles.pair_status(state),
            sync=Sync(
                synced=sync.synced,
                lag_events=sync.lag_events,
                lag_seconds=sync.lag_seconds,
                reason=sync.reason,
                since=sync.since,
            ),
            writer=CurrentWriter(
                node=state.writer_node, server_id=state.writer_server_id, epoch=state.epoch
            ),
            servers=_tiles(state),
        )

    def tile(self, node: str) -> Tile | None:
        return next((t for t in self.servers if t.node == node), None)

    def api_urls(self) -> dict[str, str]:
        """node -> its API's address, for the nodes that publish one."""
        return {
            t.node: t.api_url.rstrip("/")
            for t in self.servers
            if isinstance(t, ServerTile) and t.node and t.api_url
        }


def _role(state: State, node: str) -> Role:
    return Role(state.role_of(node) or Role.STANDALONE)


def _tiles(state: State) -> list[ServerTile | GoneTile]:
    """The primary first, then by name; an uninstalled member of the pair keeps a tile."""
    listed = sorted(
        state.servers.values(), key=lambda s: (state.role_of(s.node) != Role.PRIMARY, s.node)
    )
    shown: list[ServerTile | GoneTile] = [ServerTile.of(state, s) for s in listed]
    if state.pair:
        for role, node in zip((Role.PRIMARY, Role.BACKUP), state.pair, strict=True):
            if node not in state.servers:
                shown.append(
                    GoneTile(
                        node=node,
                        role=role,
                        server_id=None,
                        status=tiles.server_status(state, node),
                    )
                )
    return shown
