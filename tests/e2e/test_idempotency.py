"""A duplicate command gives the first answer, and is one fact in the log."""

from __future__ import annotations

import asyncio
import uuid

from events.commands import Acquire, FeatureGrant
from tests.support.waiting import wait_for


async def test_a_retried_acquire_returns_the_first_lease_and_takes_one_seat(site):
    node = site.start_node("primary")
    await node.wait_healthy()
    async with site.client() as client:
        assert (
            await client.activate(
                "LIC-IDEM", [FeatureGrant(name="Historian", version="2020", seats=5)]
            )
        ).ok
        command_id = uuid.uuid4().hex
        acquire = Acquire(feature="Historian", version="2020", device="hist1", user="svc")
        first = await client.send(acquire, command_id=command_id)
        again = await client.send(acquire, command_id=command_id)
        together = await asyncio.gather(
            *(client.send(acquire, command_id=command_id) for _ in range(5))
        )
    assert first.ok
    assert again == first
    assert all(reply == first for reply in together)

    async def projected():
        features = (await node.get("/api/features"))["features"]
        return features and features[0]["in_use"] == 1 and features

    await wait_for(projected, 5, "the one lease projected")
    usage = (await node.get("/api/usage"))["usage"]
    assert [u["lease_id"] for u in usage] == [first.result["lease_id"]]
    async with site.database("primary") as db:
        granted = await db.fetchval("SELECT count(*) FROM event_log WHERE type = 'LeaseGranted'")
    assert granted == 1


async def test_a_refusal_is_remembered_too(site):
    node = site.start_node("primary")
    await node.wait_healthy()
    async with site.client() as client:
        command_id = uuid.uuid4().hex
        acquire = Acquire(feature="Nothing", version="1", device="d", user="u")
        first = await client.send(acquire, command_id=command_id)
        assert not first.ok and first.error.reason == "unknown_feature"
        assert (
            await client.activate("LIC-N", [FeatureGrant(name="Nothing", version="1", seats=1)])
        ).ok
        # Seats exist now, but the same command id still has its first answer.
        assert await client.send(acquire, command_id=command_id) == first
