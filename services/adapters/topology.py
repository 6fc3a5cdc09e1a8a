"""Names and declarations of the broker objects of one site (docs/protocol.md).

The dead-letter queue is bounded: at most ``DEAD_LETTER_MAX_LENGTH`` messages and
``DEAD_LETTER_MAX_BYTES`` in all, the oldest dropped first (``drop-head``), so a flood
of garbage costs the broker a fixed amount, never its disk. A dead letter should keep
only the first ``DEAD_LETTER_BODY_BYTES`` of its body plus why (``dead_letter``
builds that copy, for a publisher that dead-letters by publishing; a message the broker
dead-letters itself, on a rejection or the delivery limit, keeps its whole body, and
the byte cap bounds those).

Sites whose dead-letter queue was declared before the cap: RabbitMQ refuses a
re-declare with other arguments (``PRECONDITION_FAILED``, closing the channel). We
handle that case rather than require a broker policy (the management plugin is not
always there): the channel is reopened, the existing queue is used as it is (declared
passively) and a warning says how to cap it: delete the queue once it is drained (the
next start declares it capped), or set a policy, e.g. ``rabbitmqctl set_policy
--apply-to queues licensing-dead-letters '^licensing\\..*\\.dead-letters$'
'{"max-length":10000,"max-length-bytes":67108864,"overflow":"drop-head"}'``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange, AbstractQueue

log = logging.getLogger(__name__)

DEAD_LETTER_MAX_LENGTH = 10_000
DEAD_LETTER_MAX_BYTES = 64 * 1024 * 1024
DEAD_LETTER_BODY_BYTES = 4 * 1024
DEFAULT_REPLICAS = 3
DEAD_LETTER_ARGUMENTS = {
    "x-queue-type": "quorum",
    "x-max-length": DEAD_LETTER_MAX_LENGTH,
    "x-max-length-bytes": DEAD_LETTER_MAX_BYTES,
    "x-overflow": "drop-head",
}


def dead_letter(body: bytes, why: str, headers: dict | None = None) -> aio_pika.Message:
    """What to keep of a message that cannot be handled: its first few KB and the reason."""
    return aio_pika.Message(
        body[:DEAD_LETTER_BODY_BYTES],
        headers={
            **(headers or {}),
            "x-reason": why[:1024],
            "x-original-length": len(body),
        },
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


def replicated(arguments: dict, replicas: int) -> dict:
    """``arguments`` with the initial replica count the queue's type takes."""
    key = (
        "x-initial-cluster-size"
        if arguments.get("x-queue-type") == "stream"
        else "x-quorum-initial-group-size"
    )
    return {**arguments, key: replicas}


@dataclass(frozen=True)
class Topology:
    site: str
    replicas: int = DEFAULT_REPLICAS
    # Queues that exist without a replica count (declared before it): declared passively.
    legacy: set[str] = field(default_factory=set, compare=False, hash=False)

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

    def _arguments(self) -> dict[str, dict]:
        return {
            self.commands: replicated(
                {
                    "x-queue-type": "quorum",
                    "x-single-active-consumer": True,
                    "x-dead-letter-exchange": self.dead_letter_exchange,
                    # A command that crashes the writer again and again is parked, not retried.
                    "x-delivery-limit": 5,
                },
                self.replicas,
            ),
            # No retention limits: the stream is the truth and replays start at the first offset.
            self.events: replicated({"x-queue-type": "stream"}, self.replicas),
            self.dead_letters: replicated(DEAD_LETTER_ARGUMENTS, self.replicas),
        }

    async def settle(self, connection: AbstractConnection) -> None:
        """Find the site's queues that were declared without a replica count."""
        for name, arguments in self._arguments().items():
            channel = await connection.channel(publisher_confirms=False)
            try:
                await channel.declare_queue(name, durable=True, arguments=arguments)
            except aio_pika.exceptions.ChannelPreconditionFailed:
                # The dead letters' own fallback below says more about that queue.
                if name != self.dead_letters:
                    log.warning(
                        "%s exists without a replica count and is used as it is; to replicate "
                        "it on purpose, re-create it (the stream: licensing reseed)",
                        name,
                    )
                self.legacy.add(name)
                continue
            await channel.close()

    async def _declare(self, channel: AbstractChannel, name: str) -> AbstractQueue:
        if name in self.legacy:
            return await channel.declare_queue(name, passive=True)
        return await channel.declare_queue(name, durable=True, arguments=self._arguments()[name])

    async def declare_commands(self, channel: AbstractChannel) -> AbstractQueue:
        """The commands queue, its dead letters, and the ingress exchange bound to it."""
        await self.declare_dead_letters(channel)
        queue = await self._declare(channel, self.commands)
        # Fanout: whatever routing key a product picks, a command can only reach this queue.
        ingress = await channel.declare_exchange(
            self.ingress, aio_pika.ExchangeType.FANOUT, durable=True
        )
        await queue.bind(ingress)
        return queue

    async def redeclare_commands(self, connection: AbstractConnection) -> None:
        """``declare_commands`` on a channel of its own: a refusal (no rights, a squatter,
        other arguments) closes that channel, not one a consumer needs."""
        channel = await connection.channel(publisher_confirms=False)
        try:
            await self.declare_commands(channel)
        finally:
            await _close(channel)

    async def ingress_bound(self, connection: AbstractConnection) -> bool:
        """Does the ingress exchange exist? If so, bind the commands queue to it again.

        AMQP cannot ask whether a binding exists, so it is declared again every time (a
        no-op when it is there); False when the exchange or the commands queue is gone.
        """
        channel = await connection.channel(publisher_confirms=False)
        try:
            ingress = await channel.declare_exchange(self.ingress, passive=True)
            queue = await channel.get_queue(self.commands, ensure=False)
            await queue.bind(ingress)
            return True
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return False
        finally:
            await _close(channel)

    async def declare_events(self, channel: AbstractChannel) -> AbstractQueue:
        return await self._declare(channel, self.events)

    async def declare_dead_letters(self, channel: AbstractChannel) -> AbstractQueue:
        dlx = await channel.declare_exchange(
            self.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
        )
        try:
            queue = await self._declare(channel, self.dead_letters)
        except aio_pika.exceptions.ChannelPreconditionFailed:
            await channel.reopen()
            queue = await channel.declare_queue(self.dead_letters, passive=True)
            log.warning(
                "%s was declared before dead letters were capped and keeps every message: "
                "delete it once drained, or set a max-length policy (services/adapters/"
                "topology.py says how)",
                self.dead_letters,
            )
        await queue.bind(dlx)
        return queue

    async def declare_heartbeats(self, channel: AbstractChannel) -> AbstractExchange:
        return await channel.declare_exchange(
            self.heartbeats, aio_pika.ExchangeType.FANOUT, durable=False
        )


async def _close(channel: AbstractChannel) -> None:
    if not channel.is_closed:
        try:
            await channel.close()
        except Exception:  # the broker closed it first, or the connection is gone
            pass
