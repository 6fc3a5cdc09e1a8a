"""Bad input never corrupts: invalid commands get a structured error, garbage is dead-lettered."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import orjson

from events.codec import loads_reply
from services.adapters.topology import Topology
from tests.support.sites import AMQP_URL
from tests.support.waiting import wait_for


async def test_invalid_commands_are_answered_and_garbage_is_dead_lettered(site):
    node = site.start_node("primary")
    await node.wait_healthy()
    before = await node.wait_registered()
    topology = Topology(site.name)
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        replies = await channel.declare_queue(exclusive=True, auto_delete=True)
        inbox: asyncio.Queue = asyncio.Queue()
        await replies.consume(inbox.put, no_ack=True)

        async def send_raw(body: bytes, reply: bool = True, message_id: str | None = None) -> None:
            await channel.default_exchange.publish(
                aio_pika.Message(
                    body,
                    message_id=message_id or uuid.uuid4().hex,
                    correlation_id=uuid.uuid4().hex,
                    reply_to=replies.name if reply else None,
                ),
                routing_key=topology.commands,
            )

        await send_raw(
            orjson.dumps(
                {
                    "type": "Acquire",
                    "feature": "X",
                    "version": "1",
                    "device": "d",
                    "user": "u",
                    "count": 0,
                }
            )
        )
        invalid = loads_reply((await asyncio.wait_for(inbox.get(), 10)).body)
        await send_raw(
            orjson.dumps(
                {
                    "type": "Acquire",
                    "feature": "X" * 500,
                    "version": "1",
                    "device": "d",
                    "user": "u",
                }
            )
        )
        too_long = loads_reply((await asyncio.wait_for(inbox.get(), 10)).body)
        await send_raw(
            orjson.dumps({"type": "DeactivateLicense", "license_id": "L"}), message_id="x" * 200
        )
        long_id = loads_reply((await asyncio.wait_for(inbox.get(), 10)).body)
        await send_raw(
            orjson.dumps(
                {
                    "type": "ActivateLicense",
                    "license_id": "L",
                    "features": [
                        {
                            "name": "F",
                            "version": "1",
                            "seats": 1,
                            "expires_at": "2030-01-01T00:00:00",
                        }
                    ],
                }
            )
        )
        naive_time = loads_reply((await asyncio.wait_for(inbox.get(), 10)).body)
        await send_raw(b"\x00\xffnot json at all")
        await send_raw(orjson.dumps({"type": "FormatDisk"}))
        await send_raw(
            orjson.dumps(
                {"type": "Acquire", "feature": "X", "version": "1", "device": "d", "user": "u"}
            ),
            reply=False,
        )
    finally:
        await connection.close()

    assert not invalid.ok and invalid.error.code == "invalid" and "count" in invalid.error.message
    assert (
        not too_long.ok and too_long.error.code == "invalid" and "feature" in too_long.error.message
    )
    assert (
        not long_id.ok and long_id.error.code == "invalid" and "message_id" in long_id.error.message
    )
    assert (
        not naive_time.ok
        and naive_time.error.code == "invalid"
        and "expires_at" in naive_time.error.message
    )

    health = await wait_for(
        lambda: _dead_letters_at_least(node, 3), 10, "three dead letters counted"
    )
    assert health["dead_lettered_here"] == 3
    # Nothing reached the log: the digest is what it was before the bad input.
    assert (
        health["digest"] == before["digest"]
        and health["events_applied"] == before["events_applied"]
    )


async def _dead_letters_at_least(node, n):
    h = await node.health()
    return h if h and (h.get("dead_letters") or 0) >= n else None


async def test_a_dead_letter_keeps_only_the_first_kilobytes_and_the_reason(site):
    node = site.start_node("primary")
    await node.wait_healthy()
    await node.wait_registered()
    topology = Topology(site.name)
    huge = b"x" * (300 * 1024)  # past MAX_COMMAND_BYTES: dead-lettered as too large
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(huge, message_id="huge-1", reply_to="nobody"),
            routing_key=topology.commands,
        )
        queue = await channel.get_queue(topology.dead_letters, ensure=False)

        async def parked():
            return await queue.get(no_ack=True, fail=False)

        kept = await wait_for(parked, 10, "the dead letter parked")
    finally:
        await connection.close()
    assert len(kept.body) <= 4096
    assert kept.headers["x-original-length"] == len(huge)
    assert "too large" in str(kept.headers["x-reason"])
    assert (await node.health())["dead_lettered_here"] == 1
