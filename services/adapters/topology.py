"""Names and declarations of the broker objects of one site (docs/protocol.md)."""

from __future__ import annotations

from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue


@dataclass(frozen=True)
class Topology:
    site: str

    @property
    def commands(self) -> str:
        return f"licensing.{self.site}.commands"

    @property
    def ingress(self) -> str:
        """The one exchange products may publish to; it routes to the commands queue."""
        return f"licensing.{self.site}.ingress"

    @property
    def events(self) -> str:
        return f"licensing.{self.site}.events"

    @property
    def dead_letters(self) -> str:
        return f"licensing.{self.site}.dead-letters"

    @property
    def dead_letter_exchange(self) -> str:
        return f"licensing.{self.site}.dlx"

    @property
    def heartbeats(self) -> str:
        return f"licensing.{self.site}.heartbeats"

    async def declare_commands(self, channel: AbstractChannel) -> AbstractQueue:
        """The commands queue, its dead letters, and the ingress exchange bound to it."""
        await self.declare_dead_letters(channel)
        queue = await channel.declare_queue(
            self.commands,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-single-active-consumer": True,
                "x-dead-letter-exchange": self.dead_letter_exchange,
                # A command that crashes the writer again and again is parked, not retried forever.
                "x-delivery-limit": 5,
            },
        )
        # Fanout: whatever routing key a product picks, a command can only reach this queue.
        ingress = await channel.declare_exchange(
            self.ingress, aio_pika.ExchangeType.FANOUT, durable=True
        )
        await queue.bind(ingress)
        return queue

    async def declare_events(self, channel: AbstractChannel) -> AbstractQueue:
        # No retention limits: the stream is the truth and replays start at the first offset.
        return await channel.declare_queue(
            self.events, durable=True, arguments={"x-queue-type": "stream"}
        )

    async def declare_dead_letters(self, channel: AbstractChannel) -> AbstractQueue:
        dlx = await channel.declare_exchange(
            self.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
        )
        queue = await channel.declare_queue(
            self.dead_letters, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(dlx)
        return queue

    async def declare_heartbeats(self, channel: AbstractChannel) -> AbstractExchange:
        return await channel.declare_exchange(
            self.heartbeats, aio_pika.ExchangeType.FANOUT, durable=False
        )
