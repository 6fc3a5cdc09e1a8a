"""Poison input never takes the pair down (issue 9, rows 4 to 6; invariant 11).

Each was a way to stop both nodes with one message: text Postgres cannot store, a time
decide cannot compare, an epoch the checkpoint could not hold.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import aio_pika
import orjson

from events.codec import loads_reply
from events.commands import FeatureGrant
from events.replies import ErrorCode
from services.adapters.topology import Topology
from tests.support.sites import AMQP_URL
from tests.support.tamper import forge_on_stream
from tests.support.waiting import wait_for

NOW = "2026-01-01T00:00:00"


class RawSender:
    """Commands as any holder of the broker login sends them: bodies as given, no client."""

    def __init__(self, site: str) -> None:
        self.topology = Topology(site)

    async def __aenter__(self) -> RawSender:
        self.connection = await aio_pika.connect(AMQP_URL)
        self.channel = await self.connection.channel()
        self.replies = await self.channel.declare_queue(exclusive=True, auto_delete=True)
        self.inbox: asyncio.Queue = asyncio.Queue()
        await self.replies.consume(self.inbox.put, no_ack=True)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.connection.close()

    async def send(self, body: dict) -> None:
        await self.channel.default_exchange.publish(
            aio_pika.Message(
                orjson.dumps(body),
                message_id=uuid.uuid4().hex,
                correlation_id=uuid.uuid4().hex,
                reply_to=self.replies.name,
            ),
            routing_key=self.topology.commands,
        )

    async def reply(self, timeout: float = 10.0):
        return loads_reply((await asyncio.wait_for(self.inbox.get(), timeout)).body)

    async def backlog(self) -> int:
        """Messages waiting in the commands queue, as the broker counts them."""
        queue = await self.channel.declare_queue(self.topology.commands, passive=True)
        return queue.declaration_result.message_count


async def _pair_with_a_license(site):
    primary, backup = site.start_node("primary"), site.start_node("backup")
    await primary.wait_registered()
    await backup.wait_registered()
    async with site.client() as client:
        grant = FeatureGrant(name="InTouch", version="2017", seats=5)
        assert (await client.activate("LIC-P", [grant])).ok
    return primary, backup


async def _settled(primary, backup) -> tuple[dict, dict]:
    async def same():
        a, b = await primary.health(), await backup.health()
        assert a and b and a["offset"] == b["offset"] == a["applied_offset"]
        return a, b

    return await wait_for(same, 10, "both nodes at the same offset")


async def _serves_an_acquire_within_2_s(site) -> None:
    async with site.client() as client:
        started = time.monotonic()
        lease = await asyncio.wait_for(
            client.acquire("InTouch", "2017", device="hmi-after", user="op"), 10
        )
        assert lease.lease_id and time.monotonic() - started < 2.0


async def test_text_with_nul_is_invalid_and_no_node_restarts(site):
    primary, backup = await _pair_with_a_license(site)
    a0, b0 = await _settled(primary, backup)
    async with RawSender(site.name) as sender:
        await sender.send(
            {
                "type": "Acquire",
                "feature": "Nope\u0000",
                "version": "2017",
                "device": "d",
                "user": "u",
            }
        )
        reply = await sender.reply()
    assert not reply.ok and reply.error.code == ErrorCode.INVALID
    assert "feature" in reply.error.message and "NUL" in reply.error.message
    await _serves_an_acquire_within_2_s(site)
    a, b = await _settled(primary, backup)
    assert a["digest"] == b["digest"]
    for before, after in ((a0, a), (b0, b)):
        assert after["restarts"] == before["restarts"] and after["projector_halted"] is None


async def test_naive_observation_times_are_all_answered_invalid_and_nothing_stays_unacked(site):
    primary, backup = await _pair_with_a_license(site)
    async with RawSender(site.name) as sender:
        # An observation with an offset first: the naive ones below would be compared to it.
        aware = {"type": "ReportServerStatus", "node": "backup", "activity": "stopped"}
        now = datetime.now(UTC).replace(tzinfo=None).isoformat()  # newer than registration
        await sender.send({**aware, "observed_at": now + "+00:00"})
        first = await sender.reply()
        assert first.ok and first.result.get("changed") is not False
        for i in range(200):
            activity = "running" if i % 2 else "disconnected"
            await sender.send({**aware, "activity": activity, "observed_at": now})
        replies = [await sender.reply() for _ in range(200)]
        assert all(not r.ok and r.error.code == ErrorCode.INVALID for r in replies)
        assert all("observed_at" in r.error.message for r in replies)
        assert await wait_for(lambda: _empty(sender), 5, "the commands backlog to empty")
    await _serves_an_acquire_within_2_s(site)


async def _empty(sender: RawSender) -> bool:
    return await sender.backlog() == 0


async def test_an_epoch_past_32_bits_is_applied_alike_everywhere_and_stored_as_bigint(site):
    # Decided: 2147483648 is within the contract (epochs are 64-bit), so every node applies it
    # and stores it; only an epoch past 64 bits is out of the contract.
    primary, backup = await _pair_with_a_license(site)
    forged = {
        "type": "WriterPromoted",
        "epoch": 2**31,
        "node": "ghost",
        "server_id": "GHOST_00000000",
        "at": NOW + "Z",
    }
    await forge_on_stream(site.name, orjson.dumps({"events": [forged]}))

    async def forged_applied():
        a, b = await _settled(primary, backup)
        assert a["epoch"] >= 2**31 and b["epoch"] >= 2**31
        return a, b

    await wait_for(forged_applied, 15, "the forged epoch applied on both nodes")
    # The writer re-promotes past it (fencing still holds) and serves again.
    async with site.client() as client:
        lease = await asyncio.wait_for(
            client.acquire("InTouch", "2017", device="hmi-x", user="op"), 20
        )
        assert lease.lease_id
    a, b = await _settled(primary, backup)
    assert a["digest"] == b["digest"] and a["projector_halted"] is None
    for node in ("primary", "backup"):
        async with site.database(node) as db:
            assert await db.fetchval("SELECT epoch FROM projection_checkpoint") >= 2**31
    # Not a restart loop: the sessions stay up once the writer has moved on.
    settled = (a["restarts"], b["restarts"])
    await asyncio.sleep(3)
    a, b = await _settled(primary, backup)
    assert (a["restarts"], b["restarts"]) == settled
    await _serves_an_acquire_within_2_s(site)
