"""The log survives the loss of the broker's data: a node's copy re-seeds the stream."""

from __future__ import annotations

import subprocess
import sys

import aio_pika
import orjson

from events.commands import FeatureGrant
from services.adapters.topology import Topology
from tests.support.processes import REPO
from tests.support.sites import AMQP_URL
from tests.support.waiting import wait_for


async def test_a_lost_stream_is_reseeded_from_a_node_and_the_node_carries_on(site):
    node = site.start_node("primary")
    await node.wait_registered()
    async with site.client() as client:
        assert (
            await client.activate(
                "LIC-R", [FeatureGrant(name="Historian", version="2020", seats=3)]
            )
        ).ok
        lease = await client.acquire(
            "Historian", "2020", device="hist", user="svc", lease_seconds=3600
        )
        await lease.stop_renewing()

    async def lease_committed():
        usage = (await node.get("/api/usage"))["usage"]
        return usage and await node.health()

    before = await wait_for(lease_committed, 10, "the lease in the read models")
    node.stop()

    connection = await aio_pika.connect(AMQP_URL)  # the broker loses the stream
    channel = await connection.channel()
    await channel.queue_delete(Topology(site.name).events)
    await connection.close()

    node = site.start_node("primary")

    async def waiting_for_the_stream():
        h = await node.health()
        return h and not h["caught_up"] and "StreamBehind" in (h["last_error"] or "") and h

    waiting = await wait_for(
        waiting_for_the_stream, 20, "the node to refuse a stream behind its checkpoint"
    )
    assert waiting["events_applied"] == before["events_applied"]

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli.main",
            "--site",
            site.name,
            "reseed",
            "--from",
            "primary",
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert orjson.loads(done.stdout)["events"] == before["events_applied"]

    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli.main",
            "--site",
            site.name,
            "reseed",
            "--from",
            "primary",
        ],
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    assert again.returncode == 1 and b"not empty" in again.stdout + again.stderr

    after = await node.wait_registered(timeout=30)
    assert after["digest"] == before["digest"] or after["events_applied"] > before["events_applied"]
    usage = (await node.get("/api/usage"))["usage"]
    assert [u["lease_id"] for u in usage] == [lease.lease_id]
    async with site.client() as client:
        assert (await client.acquire("Historian", "2020", device="hist2", user="svc")).lease_id
