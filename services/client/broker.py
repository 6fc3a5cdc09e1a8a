"""The client's connection to the broker: one connection, one channel, one reply queue.

A product's broker user may only publish to the site's ingress exchange and read its own
server-named reply queue (services/adapters/broker_admin.py), so the client declares
nothing of the site: the nodes do. Until they have, a send is refused (no exchange) or
returned (no queue bound), and retried under the same command id.

A ``Link`` is replaced wholesale when it breaks (connection or channel closed):
the next ``Broker.link()`` reconnects with backoff to the next broker node of the site's
address list (services.adapters.brokers) that answers, declares a fresh exclusive
reply queue and hands the new link to whoever is retrying. Reconnection is
serialised by a lock, so fifty senders that notice a broken link at the same time
open exactly one new connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiormq.abc
import aiormq.exceptions
from aio_pika.abc import AbstractChannel, AbstractConnection
from aiormq import spec

from services.adapters.brokers import REFUSED, BrokerList
from services.adapters.topology import Topology
from services.client.errors import BrokerUnavailable, ClientClosed

log = logging.getLogger(__name__)

# Replies come as aiormq's DeliveredMessage: an aio-pika IncomingMessage per reply costs the
# client about as much Python as the rest of a command's round trip.
ReplyHandler = Callable[[aiormq.abc.DeliveredMessage], Awaitable[None]]

# Errors after which trying again cannot help: wrong credentials, or a commands queue
# that exists with other arguments than ours.
_FATAL = (
    *REFUSED,
    aiormq.exceptions.ChannelAccessRefused,
    aiormq.exceptions.ChannelPreconditionFailed,
)
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 2.0


class Link:
    """A live connection + channel + reply queue, and the ingress exchange commands go to.
    ``broken`` resolves when it dies."""

    def __init__(
        self,
        connection: AbstractConnection,
        channel: AbstractChannel,
        reply_to: str,
        ingress: str,
        underlay: aiormq.abc.AbstractChannel,
    ) -> None:
        self.connection = connection
        self.channel = channel
        self.reply_to = reply_to
        self.ingress = ingress
        self._underlay = underlay
        self.broken: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def publish(
        self, body: bytes, properties: spec.Basic.Properties, routing_key: str
    ) -> aiormq.abc.ConfirmationFrameType | aiormq.abc.DeliveredMessage | None:
        """Publish to the ingress and wait for the broker's confirm (a nack or a closed channel
        raises, as aio-pika's publish does). Straight to aiormq and without waiting for the
        drain, so the channel's lock is held for no loop turn and many senders share it."""
        if self.channel.is_closed:
            raise aiormq.exceptions.ChannelInvalidStateError(f"{self.channel!r} closed")
        return await self._underlay.basic_publish(
            body,
            exchange=self.ingress,
            routing_key=routing_key,
            properties=properties,
            mandatory=True,
            wait=False,
        )

    @property
    def alive(self) -> bool:
        return (
            not self.broken.done() and not self.connection.is_closed and not self.channel.is_closed
        )

    def mark_broken(self, *_: Any) -> None:
        if not self.broken.done():
            self.broken.set_result(None)

    async def close(self) -> None:
        self.mark_broken()
        try:
            await self.connection.close()
        except Exception:  # closing a dead connection may complain; it is closed either way
            log.debug("error while closing the broker connection", exc_info=True)


class Broker:
    """Hands out a live ``Link``, reconnecting (with backoff) when the last one broke."""

    def __init__(self, brokers: BrokerList, topology: Topology, on_reply: ReplyHandler) -> None:
        self._brokers = brokers
        self._topology = topology
        self._on_reply = on_reply
        self._link: Link | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._last_error = "the broker did not answer"

    @property
    def url(self) -> str:
        """The broker URLs without their passwords."""
        return self._brokers.shown

    @property
    def reached(self) -> str | None:
        """``host:port`` of the broker node the last link went to."""
        return self._brokers.reached

    async def link(self, deadline: float) -> Link:
        """A live link, or ``BrokerUnavailable`` if none can be had before ``deadline``
        (loop time)."""
        link = self._link
        if link is not None and link.alive:
            return link
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(max(remaining, 0.0)):
                async with self._lock:
                    return await self._relink()
        except TimeoutError:
            raise BrokerUnavailable(
                self.url, f"no connection within the deadline ({self._last_error})"
            ) from None

    async def close(self) -> None:
        self._closed = True
        async with self._lock:
            if self._link is not None:
                await self._link.close()
                self._link = None

    async def _relink(self) -> Link:
        if self._closed:
            raise ClientClosed("the client is closed")
        if self._link is not None:
            if self._link.alive:
                return self._link  # another sender reconnected while we waited for the lock
            await self._link.close()
            self._link = None
            self._brokers.lost()  # the link broke: begin at the next broker node
        delay = BACKOFF_FIRST
        self._last_error = "the broker did not answer"
        while True:
            try:
                self._link = await self._open()
                return self._link
            except _FATAL as exc:
                raise BrokerUnavailable(self.url, f"refused: {exc}") from exc
            except (
                TimeoutError,
                ConnectionError,
                OSError,
                aiormq.exceptions.AMQPError,
                RuntimeError,
            ) as exc:
                self._last_error = (
                    f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                )
                log.info(
                    "broker %s not reachable (%s); retrying in %.1f s",
                    self.url,
                    self._last_error,
                    delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _open(self) -> Link:
        connection = await self._brokers.connect()
        try:
            channel = await connection.channel(publisher_confirms=True)
            # No declaration (ensure=False): a product may not, and the nodes already have.
            underlay = await channel.get_underlay_channel()
            queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
            await underlay.basic_consume(queue.name, self._on_reply, no_ack=True)
        except BaseException:
            await connection.close()
            raise
        link = Link(connection, channel, queue.name, self._topology.ingress, underlay)
        connection.close_callbacks.add(link.mark_broken)
        channel.close_callbacks.add(link.mark_broken)
        log.debug("connected to %s, replies on %s", self._brokers.reached, queue.name)
        return link
