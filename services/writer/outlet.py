"""How the writer's replies and command acks leave: as few frames and event-loop turns as it can.

aio-pika's ``publish`` and ``ack`` wait until their frame has drained to the socket, holding
the channel's lock for several loop turns, and an ``aio_pika.Message`` costs about as much to
build as the rest of a reply. A reply needs neither: nothing waits on its drain, and the
connection's one writer task sends frames in the order they were queued, so a reply queued
before its command's ack still reaches the broker first. So replies go to aiormq directly
(``wait=False``), and acks are gathered into ``basic.ack(multiple=True)`` frames: one frame
and one quorum-queue settlement for every command answered in the same loop turn, instead of
one each.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiormq.abc
from aio_pika.abc import AbstractChannel
from aiormq import spec

from services.writer.delivery import Delivery

log = logging.getLogger(__name__)

# Answered commands held back behind one still in flight (a multiple ack cannot pass it): past
# this many they are acked one by one, so a slow command never holds the others' prefetch.
MAX_HELD = 32


@dataclass(slots=True)
class Outgoing:
    """A reply to send: its body and its AMQP properties."""

    body: bytes
    properties: spec.Basic.Properties

    @classmethod
    def reply(cls, body: bytes, correlation_id: str | None) -> Outgoing:
        return cls(
            body,
            spec.Basic.Properties(content_type="application/json", correlation_id=correlation_id),
        )


class ReplyExchange:
    """The default exchange of one reply channel, sending without waiting for the drain."""

    def __init__(self, channel: aiormq.abc.AbstractChannel) -> None:
        self._channel = channel

    async def publish(self, message: Outgoing, routing_key: str) -> None:
        await self._channel.basic_publish(
            message.body, routing_key=routing_key, properties=message.properties, wait=False
        )


class ReplyChannel:
    """What the writer's replies go round-robin over (one per aio-pika channel)."""

    def __init__(self, channel: aiormq.abc.AbstractChannel) -> None:
        self.default_exchange = ReplyExchange(channel)

    @classmethod
    async def of(cls, channel: AbstractChannel) -> ReplyChannel:
        return cls(await channel.get_underlay_channel())


class DirectAcks:
    """Each delivery acked on its own (before a session has a channel to gather acks on)."""

    async def ack(self, message: Delivery) -> None:
        await message.ack()

    async def settled(self, message: Delivery) -> None:
        """The message was nacked or rejected by itself: nothing to do here."""


class GatheredAcks:
    """Acks of one consumer channel's deliveries, gathered into ``multiple`` acks.

    A multiple ack settles every outstanding tag up to its own, and its own must still be
    outstanding (RabbitMQ closes the channel on an unknown tag). So it names the highest
    answered tag below which every delivery is settled: answered here, or nacked or rejected
    by itself (``settled``, called once that frame is queued). An answer held behind a command
    still in flight waits for it, unless more than ``MAX_HELD`` wait: then they are acked one
    by one. One flush at a time, in order, so a later multiple ack never overtakes an earlier.
    """

    def __init__(self, channel: aiormq.abc.AbstractChannel) -> None:
        self._channel = channel
        self._floor = 0  # every tag up to here is settled, or its ack is queued
        self._answered: set[int] = set()  # tags above the floor to ack
        self._alone: set[int] = set()  # tags above the floor settled by themselves
        self._lock = asyncio.Lock()
        self._flushing: asyncio.Task | None = None

    async def ack(self, message: Delivery) -> None:
        if not self._ours(message):
            await message.ack()
            return
        self._answered.add(message.delivery_tag)  # type: ignore[arg-type]
        self._schedule()

    async def settled(self, message: Delivery) -> None:
        if self._ours(message):
            self._alone.add(message.delivery_tag)  # type: ignore[arg-type]
            self._schedule()

    def _ours(self, message: Delivery) -> bool:
        """Delivered on this channel: a delivery of an earlier session (its tags count on
        another channel) is settled by itself, never counted here."""
        return message.delivery_tag is not None and message.channel is self._channel

    def _schedule(self) -> None:
        # One flush per loop turn: whatever is answered before it runs goes in its frame.
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        async with self._lock:
            self._flushing = None
            try:
                for tag, multiple in self._due():
                    await self._channel.basic_ack(tag, multiple=multiple, wait=False)
            except Exception:
                # The channel is closing: its deliveries go to the next writer, answered or not.
                log.debug("could not ack commands", exc_info=True)

    def _due(self) -> list[tuple[int, bool]]:
        """The ack frames to send now, moving the floor past what they settle."""
        due: list[tuple[int, bool]] = []
        highest, tag = None, self._floor + 1
        while True:
            if tag in self._answered:
                self._answered.discard(tag)
                highest = tag
            elif tag in self._alone:
                self._alone.discard(tag)
            else:
                break
            tag += 1
        self._floor = tag - 1
        if highest is not None:
            due.append((highest, True))
        if len(self._answered) > MAX_HELD:
            due += [(held, False) for held in sorted(self._answered)]
            self._alone |= self._answered
            self._answered.clear()
        return due
