"""One license server node: projector (fed by its stream consumer), writer candidate,
heartbeat and JSON API.

A supervisor keeps them running. If the broker connection drops, everything that
uses it stops at once (the writer drops its pending decisions) and the node
reconnects as a follower, re-subscribing to the stream from its stored checkpoint.
Orders addressed to the node through the log (reset, sync, stop, uninstall) are
carried out here, between two sessions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

import aio_pika
import asyncpg
from aiohttp import web

from events.base import Event
from events.commands import RegisterServer
from events.vocabulary import Role, ServerStatus
from projections.database import database_name, open_pool
from projections.projector import ProjectionHalted, Projector, SnapshotPolicy
from projections.store import ProjectionStore
from services.adapters.brokers import BrokerList, closed_under_us
from services.adapters.topology import Topology
from services.auth import signing
from services.auth.log_signing import NodeKeys
from services.client import ClientError, LicenseClient
from services.config.logs import setup_logging
from services.config.settings import Settings, safe_node_name
from services.domain.model import State
from services.node import collector, identity, orders
from services.node.heartbeat import final_heartbeat, publish_heartbeats
from services.node.http import node_app
from services.node.metrics import NodeMetrics
from services.node.stream_consumer import StreamBehind, StreamConsumer
from services.views import (
    Health,
    Heartbeat,
    KnownServer,
    LoadProgress,
    Missing,
    Pair,
    Rebuild,
    ServersView,
)
from services.writer.writer import Demoted, Writer

log = logging.getLogger(__name__)
_RETRYABLE = (
    OSError,
    aio_pika.exceptions.AMQPError,
    asyncpg.PostgresError,
    Demoted,
    asyncio.TimeoutError,
    ConnectionError,
    StreamBehind,
)


class Node:
    def __init__(self, settings: Settings, node: str, api_url: str | None = None) -> None:
        self.settings = settings
        self.name = safe_node_name(node)
        self.api_url = api_url
        self.topology = Topology(settings.site, settings.replicas)
        self.brokers = BrokerList.from_settings(settings)
        self.database = database_name(settings.site, self.name)
        self.node_keys = NodeKeys.from_setting(settings.node_keys_value())
        self.pool: asyncpg.Pool | None = None
        self.projector: Projector | None = None
        self.consumer: StreamConsumer | None = None
        self.writer: Writer | None = None
        self.server_id = ""
        self.connected = False
        self.started = time.monotonic()
        self.restarts = 0
        self.last_error: str | None = None
        self.dead_letters: int | None = None
        self.ingress_missing = False  # found gone and not yet declared again
        self.stopped_by_order: str | None = None
        self.last_rebuild: Rebuild | None = None
        self.loaded = False  # the start-up load is done: the state and read models agree
        self._order: orders.Order | None = None
        self._handled_offset = -1
        self._stopping = asyncio.Event()
        self.metrics = NodeMetrics(self)

    async def open(self) -> None:
        self.pool = await open_pool(self.settings.pg_dsn, self.database)
        self.server_id = await identity.load_or_create(self.pool, self.name)
        self._handled_offset = await orders.handled_offset(self.pool)
        retention = timedelta(days=self.settings.denial_retention_days)
        self.projector = Projector(
            ProjectionStore(self.pool, retention),
            self.settings.trust(),
            verify=self.node_keys.verify if self.node_keys.signed else None,
            snapshot_policy=SnapshotPolicy(
                self.settings.snapshot_every_events, self.settings.snapshot_every_seconds
            ),
        )
        self.projector.listen(self._watch_orders, lambda: orders.ORDER_EVENTS)
        self.consumer = StreamConsumer(self.projector, self.topology, self.settings.projector_batch)
        self.consumer.after_commit = self._carry_out_orders
        self.writer = Writer(
            self.name,
            self.server_id,
            self.projector,
            self.topology,
            prefetch=self.settings.writer_prefetch,
            lease_check_seconds=self.settings.lease_check_seconds,
            keys=signing.Keys(
                admin=self.settings.admin_key_value(),
                node=self.settings.node_key_secrets(),
                window=timedelta(seconds=self.settings.signature_window),
            ),
            trust=self.settings.trust(),
            site_key=self.settings.site_key_value(),
            node_keys=self.node_keys,
        )
        self.writer.answered = self.metrics.answered

    async def load(self) -> None:
        """The state from the newest snapshot and the local log's tail (the API answers
        Loading meanwhile)."""
        assert self.projector
        await self.projector.load()
        self.loaded = True
        log.info(
            "node %s loaded %s events (from offset %s)",
            self.name,
            self.projector.checkpoint.events_applied,
            self.projector.loaded_from,
        )

    def stop(self) -> None:
        self._stopping.set()

    async def snapshot_on_stop(self) -> None:
        """A clean stop snapshots what it applied, so the next start costs only the state."""
        assert self.projector
        try:
            if await self.projector.snapshot_now():
                log.info(
                    "node %s: snapshot at offset %s", self.name, self.projector.checkpoint.offset
                )
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("node %s: no snapshot at stop: %s", self.name, exc)

    # ---- supervision -----------------------------------------------------------------

    async def run(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                await self._connected_session()
                backoff = 0.2
            except orders.NodeOrder as order:
                await self._obey(order.order)
                backoff = 0.0
            except ProjectionHalted as exc:
                self.last_error = str(exc)
                log.error("projector halted; the node keeps serving reads: %s", exc)
                await self._stopping.wait()
            except _RETRYABLE as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("node %s restarting its broker session: %s", self.name, self.last_error)
            self.restarts += 1
            self.connected = False
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=backoff)
            except TimeoutError:
                pass
            backoff = min(max(backoff, 0.1) * 2, 5.0)

    async def _connected_session(self) -> None:
        assert self.consumer and self.writer
        # Whichever broker node answers: the consumer re-subscribes from the checkpoint there.
        connection = await self.brokers.connect(f"licensing-node-{self.name}")
        lost = asyncio.get_running_loop().create_future()

        def on_close(*_: Any) -> None:
            if not lost.done():
                lost.set_result("broker connection lost")

        connection.close_callbacks.add(on_close)
        try:
            await self.topology.settle(connection)
        except BaseException:
            await connection.close()
            raise
        self.connected = True
        # Each of these runs for the whole session; the first to end (or fail) ends it.
        tasks = [
            asyncio.create_task(self.consumer.run(connection), name="projector"),
            asyncio.create_task(self._run_writer(connection), name="writer"),
            asyncio.create_task(
                publish_heartbeats(
                    connection, self.topology, self._heartbeat_body, keys=self.node_keys
                ),
                name="heartbeat",
            ),
            asyncio.create_task(self._watch_dead_letters(connection), name="dead-letters"),
            asyncio.create_task(self._watch_ingress(connection), name="ingress"),
        ]
        register = asyncio.create_task(self._register(), name="register")
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            done, _ = await asyncio.wait(
                [*tasks, stopping, lost], return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                if task in tasks and task.cancelled():
                    # When the broker goes silent (a partition, a long pause) aiormq cancels its
                    # reader, and a channel call in flight ends its task as *cancelled*: a lost
                    # connection, not a stop. (task.exception() would raise and kill the node.)
                    raise ConnectionError(f"{task.get_name()} ended with the broker connection")
                error = task.exception() if task in tasks else None
                if isinstance(error, RuntimeError) and closed_under_us(connection):
                    # aiormq raises a bare RuntimeError for a channel asked of a connection that
                    # closed under it (a broker node stopped, or lost its majority and dropped
                    # us): a lost connection, not a bug to die of.
                    raise ConnectionError(f"{task.get_name()}: {error}") from error
                if error is not None:
                    raise error
            if lost in done:
                raise ConnectionError(lost.result())
        finally:
            stopping.cancel()
            for task in (*tasks, register):
                task.cancel()
            await asyncio.gather(*tasks, register, return_exceptions=True)
            if lost.done() or closed_under_us(connection):
                # Closed under us (lost, or aiormq gave up on a silent broker): the next
                # session begins at the next address.
                self.brokers.lost()
            if not connection.is_closed:
                try:
                    await connection.close()
                except Exception:
                    pass

    async def _run_writer(self, connection: aio_pika.abc.AbstractConnection) -> None:
        """The writer candidate joins once the stream consumer is subscribed.

        A node whose stream is behind or gone takes no command, so no writer ever appends to
        a stream it cannot read: a promotion marker in a re-created, empty stream would make
        ``licensing reseed`` refuse it as not empty.
        """
        assert self.consumer and self.writer
        while not self.consumer.subscribed:
            await asyncio.sleep(0.05)
        await self.writer.run(connection)

    async def _watch_ingress(self, connection: aio_pika.abc.AbstractConnection) -> None:
        """Products reach the commands queue only through the ingress exchange, and deleting
        an exchange or a binding tells no consumer: look every second, re-declare what is gone."""
        while True:
            await asyncio.sleep(1.0)  # the writer declares them first, as a session starts
            try:
                if not await self.topology.ingress_bound(connection):
                    self.ingress_missing = True
                    log.warning("%s or its binding is gone; declaring again", self.topology.ingress)
                    await self.topology.redeclare_commands(connection)
                self.ingress_missing = False
            except aio_pika.exceptions.AMQPError as exc:
                if connection.is_closed:
                    raise
                log.warning("re-declaring %s failed: %s", self.topology.ingress, exc)

    async def _watch_dead_letters(self, connection: aio_pika.abc.AbstractConnection) -> None:
        channel = await connection.channel(publisher_confirms=False)
        while True:
            queue = await self.topology.declare_dead_letters(channel)
            self.dead_letters = queue.declaration_result.message_count
            await asyncio.sleep(2.0)

    async def _register(self) -> None:
        """Once caught up, make sure the log knows this node under its current id and address."""
        assert self.projector and self.consumer
        while not self.consumer.caught_up:
            await asyncio.sleep(0.1)
        known = self.projector.state.servers.get(self.name)
        if (
            known is not None
            and known.server_id == self.server_id
            and known.api_url == self.api_url
        ):
            return
        async with LicenseClient(self.settings, timeout=3600, actor=f"node:{self.name}") as client:
            while True:
                try:
                    await client.send(
                        RegisterServer(
                            node=self.name, server_id=self.server_id, api_url=self.api_url
                        )
                    )
                    return
                except ClientError as exc:
                    log.warning("registering %s failed, retrying: %s", self.name, exc)
                    await asyncio.sleep(1.0)

    # ---- orders from the log ---------------------------------------------------------

    def _watch_orders(self, event: Event, ignored: str | None, state: State, offset: int) -> None:
        if ignored is None and offset > self._handled_offset and self._order is None:
            self._order = orders.order_for(event, self.server_id, offset)

    async def _carry_out_orders(self) -> None:
        """After a commit: act on an order once the batch that holds it is in Postgres."""
        assert self.projector
        order = self._order
        if order is None or self.projector.checkpoint.offset < order.offset:
            return
        self._order = None
        assert self.pool
        await orders.mark_handled(self.pool, order)
        self._handled_offset = order.offset
        raise orders.NodeOrder(order)

    async def _obey(self, order: orders.Order) -> None:
        assert self.projector and self.consumer and self.writer and self.pool
        log.warning(
            "node %s carries out order %s (log offset %s)", self.name, order.kind, order.offset
        )
        if order.kind in ("stop", "uninstall"):
            self.stopped_by_order = order.kind
            self.stop()
            return
        started = time.monotonic()
        # From here on health says Recovering, never the old state under a new id.
        self.consumer.forget()
        if order.kind == "reset" and order.new_server_id:
            self.server_id = order.new_server_id
            self.writer.server_id = order.new_server_id
        if order.from_peer:
            peer_pool = await open_pool(
                self.settings.pg_dsn, database_name(self.settings.site, order.from_peer)
            )
            try:
                how = await self.projector.rebuild_from(ProjectionStore(peer_pool))
            finally:
                await peer_pool.close()
            source = f"{order.from_peer}'s {how}"
        else:
            await self.projector.reset()
            source = "the stream"
        self.last_rebuild = Rebuild(
            order=order.kind,
            source=source,
            log_offset=order.offset,
            copied_events=self.projector.checkpoint.events_applied,
            copy_seconds=round(time.monotonic() - started, 3),
        )

    # ---- views -----------------------------------------------------------------------

    def status(self) -> ServerStatus:
        assert self.projector and self.consumer
        if self.projector.halted:
            return ServerStatus.HALTED
        if not self.loaded:
            return ServerStatus.LOADING
        if self._stopping.is_set():
            return ServerStatus.STOPPED
        if not self.consumer.caught_up:
            return ServerStatus.RECOVERING
        return ServerStatus.RUNNING

    def role(self) -> Role:
        assert self.projector
        return Role(self.projector.state.role_of(self.name) or Role.STANDALONE)

    def _heartbeat_body(self) -> dict[str, Any]:
        return self.heartbeat().body()

    def heartbeat(self) -> Heartbeat:
        """What the watchdog needs: this node's state, and the servers and pair it knows of."""
        assert self.projector and self.consumer and self.writer
        cp = self.projector.checkpoint
        state = self.projector.state
        return Heartbeat(
            node=self.name,
            server_id=self.server_id,
            role=self.role(),
            status=self.status(),
            offset=cp.offset,
            digest=cp.digest,
            events=cp.events_applied,
            writer=self.writer.is_writer,
            epoch=state.epoch,
            target_offset=self.consumer.target_offset,
            servers=[
                KnownServer(node=s.node, api_url=s.api_url, activity=s.activity)
                for s in state.servers.values()
            ],
            pair=Pair.of(state.pair),
        )

    def missing(self) -> list[Missing]:
        """What keeps this node from taking commands now (issue 9, row 8)."""
        assert self.projector and self.consumer and self.writer
        parts = {
            Missing.BROKER: not self.connected,
            Missing.COMMANDS_CONSUMER: not self.writer.consuming,
            Missing.INGRESS: self.ingress_missing,
            Missing.STREAM_CONSUMER: not self.consumer.subscribed,
            Missing.PROJECTOR: self.projector.halted is not None,
        }
        return [part for part, lacking in parts.items() if lacking]

    def health(self) -> Health:
        assert self.projector and self.consumer and self.writer
        missing = self.missing()
        cp = self.projector.checkpoint
        state = self.projector.state
        loading = self.projector.loading
        return Health(
            node=self.name,
            site=self.settings.site,
            server_id=self.server_id,
            healthy=self.loaded and not missing,
            missing=missing,
            status=self.status(),
            connected=self.connected,
            broker=self.brokers.reached if self.connected else None,
            writer=self.writer.is_writer,
            role=self.role(),
            epoch=state.epoch,
            writer_node=state.writer_node,
            offset=cp.offset,
            digest=cp.digest,
            events_applied=cp.events_applied,
            applied_offset=self.projector.applied_offset,
            target_offset=self.consumer.target_offset,
            caught_up=self.consumer.caught_up,
            projector_halted=self.projector.halted,
            dead_letters=self.dead_letters,
            dead_lettered_here=self.writer.dead_lettered,
            commands_handled=self.writer.commands_handled,
            restarts=self.restarts,
            last_error=self.last_error,
            uptime_seconds=round(time.monotonic() - self.started, 1),
            database=self.database,
            last_rebuild=self.last_rebuild,
            admin_commands="signed" if self.settings.admin_key else "open (no LICENSING_ADMIN_KEY)",
            node_commands="signed" if self.settings.node_keys else "open (no LICENSING_NODE_KEYS)",
            entitlements=self.settings.trust().describe(),
            site_public_key=self.settings.site_public_key(),
            stream=self.node_keys.describe(),
            unverified_messages=self.projector.unverified_messages,
            loading=None
            if self.loaded
            else LoadProgress(
                events_loaded=loading.events_loaded if loading else 0,
                events_total=loading.events_total if loading else 0,
                seconds=loading.seconds if loading else 0.0,
                from_offset=loading.from_offset if loading else -1,
            ),
            loaded_from_offset=self.projector.loaded_from,
        )

    def servers(self) -> ServersView:
        assert self.projector
        return ServersView.of(self.projector.state, self.settings.site)


async def serve(settings: Settings, node: str, http_port: int | None = None) -> None:
    """Run a node until SIGINT/SIGTERM or until the log orders it to stop."""
    import signal

    collector.bulk()  # the load that follows is a bulk replay; settled once it is done
    setup_logging(settings.log_format, settings.log_level, site=settings.site, node=node)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    api_url = None
    if http_port is not None:
        shown_host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::") else settings.http_host
        api_url = f"http://{shown_host}:{http_port}"
    the_node = Node(settings, node, api_url=api_url)
    await the_node.open()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, the_node.stop)
    runner = None
    await the_node.projector.announce_load()
    if http_port is not None:
        # Before the load: the API answers from the first second, saying Loading (invariant 13).
        runner = web.AppRunner(node_app(the_node))
        await runner.setup()
        await web.TCPSite(runner, settings.http_host, http_port).start()
        log.info("node %s: API on %s/api/health", node, api_url)
    try:
        await the_node.load()
        collector.settle()
        await the_node.run()
        await the_node.snapshot_on_stop()
        await final_heartbeat(
            settings, the_node.brokers, the_node.topology, the_node.heartbeat().body()
        )
    finally:
        if runner is not None:
            await runner.cleanup()
        if the_node.pool is not None:
            await the_node.pool.close()
