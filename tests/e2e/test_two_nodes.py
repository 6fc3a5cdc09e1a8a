"""Two nodes side by side: the same usage within a second, identical read models and digests."""
from __future__ import annotations

import time

from events.commands import FeatureGrant
from tests.support.waiting import wait_for


async def test_both_nodes_show_an_acquire_within_a_second_and_hold_identical_read_models(site):
    primary, backup = site.start_node("primary"), site.start_node("backup")
    await primary.wait_healthy()
    await backup.wait_healthy()
    async with site.client() as client:
        reply = await client.activate("LIC-1", [FeatureGrant(name="InTouch Dev", type="Server", version="2017", seats=50),
                                               FeatureGrant(name="Historian", version="2017", seats=3)])
        assert reply.ok, reply
        await client.reserve("Historian", "2017", count=1, device="K1GRRED")
        for i in range(10):
            lease = await client.acquire("InTouch Dev", "2017", device=f"hmi{i}", user="operator")
            assert lease.lease_id
        started = time.monotonic()
        await client.acquire("Historian", "2017", device="K1GRRED", user="svc")

        async def both_show_it():
            usage = [await node.get("/api/usage") for node in (primary, backup)]
            return all(any(u["device"] == "K1GRRED" for u in x["usage"]) for x in usage)

        await wait_for(both_show_it, 5, "the acquire on both nodes")
        seen_after = time.monotonic() - started
        print(f"USAGE on both nodes {seen_after * 1000:.0f} ms after the acquire was sent")
        assert seen_after < 1.0, f"usage took {seen_after:.3f}s to show on both nodes"

    async def caught_up():
        a, b = await primary.health(), await backup.health()
        return a and b and a["offset"] == b["offset"] and a["offset"] >= 0 and (a, b)

    a, b = await wait_for(caught_up, 5, "equal offsets")
    assert a["digest"] == b["digest"]
    models_a, models_b = await site.read_models("primary"), await site.read_models("backup")
    assert models_a == models_b
    features = {(f["name"], f["version"]): f for f in (await backup.get("/api/features"))["features"]}
    assert features[("InTouch Dev", "2017")]["in_use"] == 10
    assert features[("Historian", "2017")]["reserved"] == 1
