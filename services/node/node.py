"""One license server node: projector, writer candidate, heartbeat and JSON API.

A supervisor keeps them running. If the broker connection drops, everything that
uses it stops at once (the writer drops its pending decisions) and the node
reconnects as a follower, re-subscribing to the stream from its stored checkpoint.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aio_pika
import asyncpg
from aiohttp import web

from projections.database import database_name, open_pool
from projections.projector import ProjectionHalted, Projector
from projections.store import ProjectionStore
from services.adapters.topology import Topology
from services.api.app import build_app
from services.config.settings import Settings, safe_node_name
from services.node import identity
from services.node.heartbeat import publish_heartbeats
from services.writer.writer import Demoted, Writer

log = logging.getLogger(__name__)


class Node:
    def __init__(self, settings: Settings, node: str) -> None:
        self.settings = settings
        self.name = safe_node_name(node)
        self.topology = Topology(settings.site)
        self.database = database_name(settings.site, self.name)
        self.pool: asyncpg.Pool | None = None
        self.projector: Projector | None = None
        self.writer: Writer | None = None
        self.server_id = ""
        self.connected = False
        self.started = time.monotonic()
        self.restarts = 0
        self.last_error: str | None = None
        self.dead_letters: int | None = None
        self._stopping = asyncio.Event()

    async def open(self) -> None:
        self.pool = await open_pool(self.settings.pg_dsn, self.database)
        self.server_id = await identity.load_or_create(self.pool, self.name)
        self.projector = Projector(ProjectionStore(self.pool), self.topology, self.settings.projector_batch)
        await self.projector.load()
        self.writer = Writer(self.name, self.server_id, self.projector, self.topology,
                             prefetch=self.settings.writer_prefetch,
                             lease_check_seconds=self.settings.lease_check_seconds)

    def stop(self) -> None:
        self._stopping.set()

    # ---- supervision -----------------------------------------------------------------

    async def run(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                await self._connected_session()
                backoff = 0.2
            except ProjectionHalted as exc:
                self.last_error = str(exc)
                log.error("projector halted; the node keeps serving reads: %s", exc)
                await self._stopping.wait()
            except (OSError, aio_pika.exceptions.AMQPError, asyncpg.PostgresError, Demoted,
                    asyncio.TimeoutError, ConnectionError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("node %s restarting its broker session: %s", self.name, self.last_error)
            self.restarts += 1
            self.connected = False
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=backoff)
            except asyncio.TimeoutError:
                pass
            backoff = min(backoff * 2, 5.0)

    async def _connected_session(self) -> None:
        assert self.projector and self.writer
        connection = await aio_pika.connect(self.settings.amqp_url_with_heartbeat(),
                                            client_properties={"connection_name": f"licensing-node-{self.name}"})
        lost = asyncio.get_running_loop().create_future()

        def on_close(*_: Any) -> None:
            if not lost.done():
                lost.set_exception(ConnectionError("broker connection lost"))

        connection.close_callbacks.add(on_close)
        self.connected = True
        projector_channel = await connection.channel(publisher_confirms=False)
        tasks = [
            asyncio.create_task(self.projector.run(projector_channel), name="projector"),
            asyncio.create_task(self.writer.run(connection), name="writer"),
            asyncio.create_task(publish_heartbeats(connection, self.topology, self.heartbeat), name="heartbeat"),
            asyncio.create_task(self._watch_dead_letters(connection), name="dead-letters"),
        ]
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            done, _ = await asyncio.wait([*tasks, stopping, lost], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopping and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            stopping.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if not connection.is_closed:
                try:
                    await connection.close()
                except Exception:
                    pass

    async def _watch_dead_letters(self, connection: aio_pika.abc.AbstractConnection) -> None:
        channel = await connection.channel(publisher_confirms=False)
        while True:
            queue = await self.topology.declare_dead_letters(channel)
            self.dead_letters = queue.declaration_result.message_count
            await asyncio.sleep(2.0)

    # ---- views -----------------------------------------------------------------------

    def heartbeat(self) -> dict[str, Any]:
        assert self.projector and self.writer
        cp = self.projector.checkpoint
        return {"node": self.name, "server_id": self.server_id, "role": self.role(),
                "status": "Running" if not self.projector.halted else "Halted",
                "offset": cp.offset, "digest": cp.digest, "events": cp.events_applied,
                "writer": self.writer.is_writer, "epoch": self.projector.state.epoch}

    def role(self) -> str:
        return "writer" if self.writer and self.writer.is_writer else "follower"

    def health(self) -> dict[str, Any]:
        assert self.projector and self.writer
        cp = self.projector.checkpoint
        state = self.projector.state
        return {
            "node": self.name, "site": self.settings.site, "server_id": self.server_id,
            "healthy": self.connected and self.projector.halted is None,
            "connected": self.connected, "writer": self.writer.is_writer, "role": self.role(),
            "epoch": state.epoch, "writer_node": state.writer_node,
            "offset": cp.offset, "digest": cp.digest, "events_applied": cp.events_applied,
            "projector_halted": self.projector.halted,
            "dead_letters": self.dead_letters, "dead_lettered_here": self.writer.dead_lettered,
            "commands_handled": self.writer.commands_handled,
            "restarts": self.restarts, "last_error": self.last_error,
            "uptime_seconds": round(time.monotonic() - self.started, 1),
            "database": self.database,
        }

    def servers(self) -> dict[str, Any]:
        state = self.projector.state if self.projector else None
        return {"pair_status": None, "writer": {"node": state.writer_node, "server_id": state.writer_server_id,
                                                "epoch": state.epoch} if state else None,
                "servers": [{"node": self.name, "role": self.role(), "server_id": self.server_id,
                             "status": "Running"}]}


async def serve(settings: Settings, node: str, http_port: int | None = None) -> None:
    """Run a node until SIGINT/SIGTERM."""
    import signal

    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {node} %(levelname)s %(name)s: %(message)s")
    the_node = Node(settings, node)
    await the_node.open()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, the_node.stop)
    runner = None
    if http_port is not None:
        runner = web.AppRunner(build_app(the_node, the_node.pool))
        await runner.setup()
        await web.TCPSite(runner, settings.http_host, http_port).start()
        log.info("node %s: API on http://%s:%s/api/health", node, settings.http_host, http_port)
    try:
        await the_node.run()
    finally:
        if runner is not None:
            await runner.cleanup()
        if the_node.pool is not None:
            await the_node.pool.close()
