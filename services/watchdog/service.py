"""``licensing watchdog``: follows every node's heartbeat and writes status changes to the log.

Reports go to the writer as commands; the writer records a status only when it
changes, so two watchdogs can run side by side without flapping (see
services.domain.watch). After (re)connecting, the watchdog listens for
``detect_seconds`` before it calls anyone silent.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime

import aio_pika
import aiohttp
import orjson

from events.status import ReportPairSync, ReportServerStatus
from events.vocabulary import Activity
from services.adapters import consumers
from services.adapters.brokers import BrokerList, closed_under_us
from services.adapters.prometheus import serve_metrics
from services.adapters.topology import Topology
from services.auth import log_signing
from services.auth.log_signing import NodeKeys
from services.client import ClientError, LicenseClient
from services.config.logs import setup_logging
from services.config.settings import Settings
from services.watchdog.metrics import registry_for
from services.watchdog.observer import SILENT, Observer

log = logging.getLogger(__name__)
PROBE_EVERY = 2.0  # seconds between two questions to the same silent node's API
REBIND_EVERY = 1.0  # seconds between two re-declarations of the heartbeats exchange and binding
_REASONS = {
    Activity.STOPPED: "stopped gracefully",
    Activity.RECOVERING: "replaying the log",
    Activity.RUNNING: "heartbeats again",
}


async def api_answers(url: str | None, timeout: float = 1.0) -> bool:
    if not url:
        return False
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.get(f"{url}/api/health") as response:
                return response.status in (200, 503)
    except (TimeoutError, aiohttp.ClientError, OSError):
        return False


class Watchdog:
    def __init__(
        self, settings: Settings, detect_seconds: float | None = None, tick: float = 0.25
    ) -> None:
        self.settings = settings
        self.topology = Topology(settings.site, settings.replicas)
        self.brokers = BrokerList.from_settings(settings)
        self.observer = Observer(
            detect_seconds=detect_seconds or settings.watchdog_detect_seconds,
            max_lag_events=settings.watchdog_max_lag_events,
            max_lag_seconds=settings.watchdog_max_lag_seconds,
        )
        self.tick = tick
        self.node_keys = NodeKeys.from_setting(settings.node_keys_value())
        self.heartbeats_seen = 0
        self.unverified_heartbeats = 0
        self.malformed_heartbeats = 0
        self.reported: dict[str, Activity] = {}  # what this watchdog last got accepted, per node
        self.reported_sync: tuple[bool, str] | None = None
        self.resend_every = 10.0
        self._probes: dict[
            str, tuple[float, bool]
        ] = {}  # node -> (when its API was asked, did it answer)
        self._last_resend = 0.0

    async def run(self) -> None:
        async with LicenseClient(self.settings, timeout=10, actor="watchdog") as client:
            while True:
                try:
                    await self._session(client)
                except (OSError, aio_pika.exceptions.AMQPError, ConnectionError) as exc:
                    log.warning("watchdog lost the broker (%s); reconnecting", exc)
                    self.brokers.lost()  # hear the heartbeats through the next broker node
                    await asyncio.sleep(1.0)

    async def _session(self, client: LicenseClient) -> None:
        connection = await self.brokers.connect("licensing-watchdog")
        try:
            self.observer.seen.clear()
            consumer = await self._listen(connection)
            bound_at = time.monotonic()
            while not connection.is_closed:
                if consumer.cancelled.done():  # our queue was deleted
                    await consumer.queue.channel.close()
                    consumer = await self._listen(connection)
                elif time.monotonic() - bound_at >= REBIND_EVERY:
                    bound_at = time.monotonic()
                    await self._bind_again(connection, consumer.queue)
                await self._judge(client)
                await asyncio.sleep(self.tick)
            raise ConnectionError("broker connection closed")
        except RuntimeError as exc:
            if closed_under_us(connection):  # aiormq's bare "closed": a lost connection
                raise ConnectionError(f"broker connection closed: {exc}") from exc
            raise
        finally:
            if not connection.is_closed:
                await connection.close()

    async def _listen(self, connection: aio_pika.abc.AbstractConnection) -> consumers.Consumer:
        """A queue of our own bound to the heartbeats; nodes stay unjudged for a detection
        period after it, as after a reconnect."""
        channel = await connection.channel()
        exchange = await self.topology.declare_heartbeats(channel)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange)
        self.observer.started_monotonic = time.monotonic()
        return await consumers.consume(queue, self._on_beat, "watchdog", no_ack=True)

    async def _bind_again(
        self, connection: aio_pika.abc.AbstractConnection, queue: aio_pika.abc.AbstractQueue
    ) -> None:
        """Deleting the heartbeats exchange takes our binding with it and tells no consumer,
        so declare both again now and then (no-ops while they are there), on a channel of
        their own: a refusal must not close the one we consume on."""
        channel = await connection.channel()
        try:
            exchange = await self.topology.declare_heartbeats(channel)
            await (await channel.get_queue(queue.name, ensure=False)).bind(exchange)
        except aio_pika.exceptions.AMQPError as exc:
            if connection.is_closed:
                raise
            log.warning("binding to %s again failed: %s", self.topology.heartbeats, exc)
        finally:
            if not channel.is_closed:
                try:
                    await channel.close()
                except Exception:
                    pass

    async def _on_beat(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        """Hear one heartbeat. Anyone on the broker can publish to the exchange, so an unsigned
        or badly signed one is dropped and counted, and nothing a body holds can end the
        watchdog (row 10 of issue 9)."""
        signature = (message.headers or {}).get(log_signing.HEADER)
        if self.node_keys.signed and not self.node_keys.verify(message.body, signature):
            self.unverified_heartbeats += 1
            log.warning(
                "dropping a heartbeat not signed by the site (%s so far)",
                self.unverified_heartbeats,
            )
            return
        try:
            self.observer.heard(orjson.loads(message.body), time.monotonic())
            self.heartbeats_seen += 1
        except Exception as exc:
            self.malformed_heartbeats += 1
            log.warning("ignoring a malformed heartbeat: %s", exc)

    async def _judge(self, client: LicenseClient) -> None:
        now = time.monotonic()
        resend = now - self._last_resend > self.resend_every
        if resend:
            self._last_resend = now
        for node in sorted(self.observer.known_nodes()):
            activity = self.observer.activity(node, now)
            if activity is None:
                continue
            if activity == SILENT:
                reachable = await self._api_answers(node, now)
                activity = Activity.STOPPED if reachable else Activity.DISCONNECTED
                reason = (
                    "no heartbeat; its API answers, so it lost its broker connection"
                    if reachable
                    else "no heartbeat and no answer: the node or its machine is down"
                )
            else:
                reason = _REASONS[activity]
            if self.reported.get(node) != activity or resend:
                seen = self.observer.seen.get(node)
                observed = seen.at if seen else datetime.now(UTC)
                try:
                    report = ReportServerStatus(
                        node=node, activity=activity, reason=reason, observed_at=observed
                    )
                except ValueError as exc:  # a name no command can carry: not a node of ours
                    log.warning("not reporting %r: %s", node, exc)
                    continue
                if await self._send(client, report):
                    self.reported[node] = activity
        sync = self.observer.sync(now)
        if sync is not None:
            synced, lag_events, lag_seconds, reason = sync
            if self.reported_sync != (synced, reason) or resend:
                newest = max(s.at for s in self.observer.seen.values())
                if await self._send(
                    client,
                    ReportPairSync(
                        synced=synced,
                        lag_events=lag_events,
                        lag_seconds=lag_seconds,
                        reason=reason,
                        observed_at=newest,
                    ),
                ):
                    self.reported_sync = (synced, reason)

    async def _api_answers(self, node: str, now: float) -> bool:
        """Ask a silent node's API, at most every PROBE_EVERY seconds (the answer is cached)."""
        asked_at, answer = self._probes.get(node, (None, False))
        if asked_at is None or now - asked_at >= PROBE_EVERY:
            answer = await api_answers(self.observer.api_url(node))
            self._probes[node] = (now, answer)
        return answer

    async def _send(self, client: LicenseClient, command) -> bool:
        try:
            reply = await client.send(command, command_id=f"watch-{uuid.uuid4().hex}", timeout=5)
        except ClientError as exc:
            log.warning("watchdog report not delivered (%s): %s", command.type, exc)
            return False
        if reply.ok and (reply.result or {}).get("changed", True):
            log.info("watchdog: %s", command.model_dump(exclude={"schema_version", "type"}))
        return reply.ok


async def run(
    settings: Settings, detect_seconds: float | None = None, metrics_port: int | None = None
) -> None:
    """Run the watchdog; with a metrics port (or LICENSING_WATCHDOG_METRICS_PORT) it serves
    /metrics there, on LICENSING_HTTP_HOST."""
    setup_logging(settings.log_format, settings.log_level, site=settings.site, node="watchdog")
    watchdog = Watchdog(settings, detect_seconds=detect_seconds)
    port = metrics_port or settings.watchdog_metrics_port
    runner = None
    if port is not None:
        runner = await serve_metrics(registry_for(watchdog), settings.http_host, port)
        log.info("watchdog: metrics on http://%s:%s/metrics", settings.http_host, port)
    try:
        await watchdog.run()
    finally:
        if runner is not None:
            await runner.cleanup()
