"""The dead-letter queue is capped; a site whose queue predates the cap still starts.

Issue 9 row 13: the dead-letter queue kept every body, 300 KB ones too, for ever.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aio_pika
import pytest

from services.adapters.topology import (
    DEAD_LETTER_BODY_BYTES,
    DEAD_LETTER_MAX_LENGTH,
    Topology,
    dead_letter,
)
from tests.support.sites import AMQP_URL, new_site_name


@pytest.fixture
async def channel() -> AsyncIterator[tuple[Topology, aio_pika.abc.AbstractChannel]]:
    topology = Topology(new_site_name())
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel(publisher_confirms=False)
        yield topology, channel
        if channel.is_closed:
            channel = await connection.channel()
        await channel.queue_delete(topology.dead_letters)
        await channel.exchange_delete(topology.dead_letter_exchange)
    finally:
        await connection.close()


async def _count(channel: aio_pika.abc.AbstractChannel, name: str) -> int:
    queue = await channel.declare_queue(name, passive=True)
    return queue.declaration_result.message_count


async def test_the_dead_letter_queue_keeps_at_most_its_cap_dropping_the_oldest(channel):
    topology, ch = channel
    await topology.declare_dead_letters(ch)
    dlx = await ch.get_exchange(topology.dead_letter_exchange)
    extra = 5
    for i in range(DEAD_LETTER_MAX_LENGTH + extra):
        await dlx.publish(aio_pika.Message(str(i).encode()), routing_key="")
    await asyncio.sleep(0.5)  # quorum queues apply the cap as they commit
    assert await _count(ch, topology.dead_letters) == DEAD_LETTER_MAX_LENGTH
    queue = await ch.declare_queue(topology.dead_letters, passive=True)
    oldest = await queue.get(no_ack=True)
    assert oldest is not None and oldest.body == str(extra).encode()  # drop-head


async def test_a_dead_letter_keeps_the_first_kilobytes_and_the_reason():
    kept = dead_letter(b"x" * 300_000, "not an event batch")
    assert len(kept.body) == DEAD_LETTER_BODY_BYTES
    assert kept.headers["x-reason"] == "not an event batch"
    assert kept.headers["x-original-length"] == 300_000


async def test_a_queue_declared_before_the_cap_is_used_as_it_is(channel):
    topology, ch = channel
    await ch.declare_queue(
        topology.dead_letters, durable=True, arguments={"x-queue-type": "quorum"}
    )
    queue = await topology.declare_dead_letters(ch)  # PRECONDITION_FAILED, handled
    assert queue.name == topology.dead_letters
    await ch.declare_exchange(topology.dead_letter_exchange, passive=True)  # channel still open
    assert await _count(ch, topology.dead_letters) == 0
