"""The ``site`` fixture's object: a throwaway site with nodes as processes and clients."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aio_pika
import asyncpg

from projections.database import database_name, dsn_for
from services.adapters.stream_end import last_offset
from services.adapters.topology import Topology
from services.client import LicenseClient
from services.config.settings import Settings
from tests.support.processes import NodeProcess
from tests.support.sites import (
    PG_DSN,
    SIGNED_ENV,
    TEST_ADMIN_KEY,
    connect,
    create_site,
    remove_site,
    role_url,
    settings_for,
    use_broker,
)
from tests.support.waiting import wait_for

log = logging.getLogger(__name__)


class Site:
    def __init__(self, name: str, log_dir: Path, *, signed: bool = False) -> None:
        self.name = name
        self.log_dir = log_dir
        # Signed: every process of the site holds the node keys and the admin key.
        self.env: dict[str, str] = dict(SIGNED_ENV) if signed else {}
        self.processes: list[NodeProcess] = []
        self.node_names: set[str] = set()

    async def create(self) -> Site:
        """Make the site's broker users; nodes and clients of the site log in as them."""
        await create_site(self.name)
        return self

    def on_broker(self, amqp_url: str) -> Site:
        """Instead of ``create``: the site runs on the broker(s) of ``amqp_url`` (e.g. the
        loopback cluster's ``cluster.url_list()``), every role as guest (tests/support/
        sites.py says why); nodes, watchdog and clients get the whole list."""
        use_broker(self.name, amqp_url)
        return self

    async def connect(self) -> aio_pika.abc.AbstractConnection:
        """A full-rights connection to the first broker node of the site that answers."""
        return await connect(self.name)

    @property
    def settings(self) -> Settings:
        """A product's settings (the product user)."""
        return settings_for(self.name)

    def broker_url(self, role: str) -> str:
        """The AMQP URL of the site's ``role`` user (node, product, watchdog)."""
        return role_url(self.name, role)

    def start_node(self, node: str, **env: str) -> NodeProcess:
        proc = NodeProcess(self.name, node, self.log_dir, **{**self.env, **env}).start()
        self.processes.append(proc)
        self.node_names.add(node)
        return proc

    @asynccontextmanager
    async def client(self, **kwargs: object) -> AsyncIterator[LicenseClient]:
        async with LicenseClient(self.settings, **kwargs) as client:
            yield client

    @asynccontextmanager
    async def admin(self, **kwargs: object) -> AsyncIterator[LicenseClient]:
        """An administrator's client: it signs with the admin key on a signed site."""
        key = TEST_ADMIN_KEY if self.env else None
        settings = settings_for(self.name, admin_key=key, node_keys=None)
        async with LicenseClient(settings, actor="admin", **kwargs) as client:
            yield client

    @asynccontextmanager
    async def database(self, node: str) -> AsyncIterator[asyncpg.Connection]:
        conn = await asyncpg.connect(dsn_for(PG_DSN, database_name(self.name, node)))
        try:
            yield conn
        finally:
            await conn.close()

    async def stream_end(self) -> int | None:
        """The offset of the last message in the site's event stream (None while it is empty).

        A node's health says what it has applied, not whether more is on its way: a log is
        quiet only when every node's offset equals this.
        """
        connection = await self.connect()
        try:
            return await last_offset(connection, Topology(self.name).events)
        finally:
            await connection.close()

    async def quiet(self, *nodes: NodeProcess, timeout: float = 10) -> list[dict]:
        """Wait until the log is quiet: every node committed what it applied, all at one offset,
        which is the stream's last, with one digest. Returns their healths.

        Equal offsets alone are not enough before comparing rows: a late message (a node's
        registration, a watchdog report) may already be in the stream, and a node that commits
        it between two reads makes identical nodes look different.
        """

        async def settled() -> list[dict] | None:
            healths = [await node.health() for node in nodes]
            if not all(healths):
                return None
            offsets = {h[k] for h in healths for k in ("offset", "applied_offset")}
            if len(offsets) != 1 or len({h["digest"] for h in healths}) != 1:
                return None
            (offset,) = offsets
            if offset < 0:
                return None
            try:
                end = await self.stream_end()
            except (aio_pika.exceptions.AMQPError, ConnectionError) as exc:
                # A cluster node just restarted may not hold its replica of the stream yet
                # (PRECONDITION_FAILED "does not have a replica on the local node"): ask again.
                log.info("stream end not known yet: %s", exc)
                return None
            return healths if end == offset else None

        names = ", ".join(node.node for node in nodes)
        return await wait_for(settled, timeout, f"{names} quiet at the stream's last offset")

    async def read_models(self, node: str) -> dict[str, list[tuple]]:
        """Every read-model row of a node, in a stable order, for comparing nodes."""
        queries = {
            "licenses": "SELECT license_id, activated_at, features::text FROM licenses ORDER BY 1",
            "features": "SELECT * FROM features ORDER BY name, version",
            "usage": "SELECT * FROM usage ORDER BY lease_id",
            "reservations": "SELECT * FROM reservations ORDER BY reservation_id",
            "denials": "SELECT * FROM denials ORDER BY stream_offset, idx",
            "usage_history": "SELECT * FROM usage_history "
            "ORDER BY stream_offset, idx, feature, version",
            "event_log": "SELECT stream_offset, idx, type, ignored, body::text "
            "FROM event_log ORDER BY 1, 2",
            "checkpoint": "SELECT stream_offset, digest, events_applied, epoch "
            "FROM projection_checkpoint",
        }
        async with self.database(node) as conn:
            return {
                name: [tuple(r) for r in await conn.fetch(sql)] for name, sql in queries.items()
            }

    async def close(self) -> None:
        for proc in self.processes:
            proc.stop()
        await remove_site(self.name, sorted(self.node_names))
