"""Issue 9, row 8: a deleted queue, exchange or stream is noticed, declared again and consumed.

Each fault is made with the full-rights login (``AMQP_URL``, guest): products cannot make it.
A deleted object comes back within milliseconds, faster than any health poll sees, so to
watch health while something is missing a test first takes the node user's right to
declare it (``hold_back``: the management API, as an operator's slip would), and gives it
back to watch the node heal.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from urllib.parse import quote

import aio_pika
import aiohttp

from events.commands import FeatureGrant
from services.adapters.broker_admin import DEFAULT_ADMIN_URL, permissions, user_name
from services.adapters.topology import Topology
from tests.support.processes import REPO, ServiceProcess
from tests.support.sites import AMQP_URL
from tests.support.waiting import wait_for

FEATURE = ("InTouch", "2017")


async def start_nodes(site):
    nodes = [site.start_node("primary"), site.start_node("backup")]
    for node in nodes:
        await node.wait_registered(timeout=60)
    async with site.client(actor="admin") as admin:
        grant = FeatureGrant(name=FEATURE[0], version=FEATURE[1], seats=50)
        assert (await admin.activate("LIC-HEAL", [grant])).ok
    return nodes


async def healthy(nodes) -> list[dict]:
    healths = [await node.health() for node in nodes]
    assert all(h and h["healthy"] and not h.get("missing") for h in healths), healths
    return healths


async def all_missing(nodes, part: str) -> list[dict]:
    healths = [await node.health() for node in nodes]
    assert all(h and not h["healthy"] and part in h.get("missing", []) for h in healths), healths
    return healths


async def acquire_within(site, seconds: float, device: str) -> None:
    started = time.monotonic()
    async with site.client(timeout=seconds) as client:
        lease = await client.acquire(*FEATURE, device=device, user="op", lease_seconds=3600)
        await lease.stop_renewing()
    assert lease.lease_id and time.monotonic() - started < seconds


@asynccontextmanager
async def broker():
    connection = await aio_pika.connect(AMQP_URL)
    try:
        yield connection
    finally:
        await connection.close()


async def exists(kind: str, name: str) -> bool:
    """Is there a queue or exchange of that name (a passive declare, on a channel of its own)?"""
    async with broker() as connection:
        channel = await connection.channel()
        try:
            if kind == "queue":
                await channel.declare_queue(name, passive=True)
            else:
                await channel.declare_exchange(name, passive=True)
            return True
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return False


async def consumers_of(queue: str) -> int:
    async with broker() as connection:
        channel = await connection.channel()
        try:
            declared = await channel.declare_queue(queue, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return 0
        return declared.declaration_result.consumer_count


async def delete(kind: str, name: str) -> None:
    async with broker() as connection:
        channel = await connection.channel()
        if kind == "queue":
            await channel.queue_delete(name)
        else:
            await channel.exchange_delete(name)


async def management(method: str, path: str, body: dict | None = None):
    headers = {"Authorization": aiohttp.encode_basic_auth("guest", "guest")}
    async with aiohttp.ClientSession(headers=headers) as http:
        url = f"{DEFAULT_ADMIN_URL.replace('guest:guest@', '')}/api/{path}"
        async with http.request(method, url, json=body) as response:
            assert response.status < 300, await response.text()
            return await response.json() if response.status == 200 else None


async def set_node_rights(site: str, configure: str) -> None:
    rights = permissions(site, "node")
    user = quote(user_name(site, "node"), safe="")
    body = {"configure": configure, "write": rights.write, "read": rights.read}
    await management("PUT", f"permissions/%2F/{user}", body)


@asynccontextmanager
async def hold_back(site: str, name: str):
    """The node user may not declare ``name`` while inside; its rights come back on leaving."""
    await set_node_rights(site, f"(?!{re.escape(name)}$){permissions(site, 'node').configure}")
    try:
        yield
    finally:
        await set_node_rights(site, permissions(site, "node").configure)


async def deleted_then_healed(site, nodes, kind: str, name: str, part: str, present) -> None:
    """Delete the queue or exchange ``name``: the nodes declare it again and serve within 2 s.
    While they may not declare it, both say ``part`` is missing and it stays gone; once they
    may, they heal (``present()`` holds again) and serve."""
    await wait_for(lambda: healthy(nodes), 10, "both nodes healthy")

    await delete(kind, name)

    async def back():
        assert await present()
        return await healthy(nodes)

    await wait_for(back, 5, f"both nodes with the {kind} {name} again")
    redeclared = time.monotonic()
    await acquire_within(site, 2.0, "hmi-1")
    assert time.monotonic() - redeclared < 2.0

    # While it cannot be declared again, health says so; once it can, the nodes heal.
    async with hold_back(site.name, name):
        await delete(kind, name)
        await wait_for(lambda: all_missing(nodes, part), 5, "both nodes missing it")
        assert not await exists(kind, name)
    await wait_for(back, 10, f"both nodes with the {kind} {name} once they may declare it")
    await acquire_within(site, 2.0, "hmi-2")


async def test_a_deleted_commands_queue_is_declared_again_and_serves(site):
    nodes = await start_nodes(site)
    commands = Topology(site.name).commands

    async def consumed() -> bool:
        # A single-active-consumer queue counts its active consumer; health says both consume.
        return await consumers_of(commands) >= 1

    await deleted_then_healed(site, nodes, "queue", commands, "commands consumer", consumed)


async def test_a_deleted_ingress_exchange_is_declared_again_and_serves(site):
    nodes = await start_nodes(site)
    ingress = Topology(site.name).ingress
    await deleted_then_healed(
        site, nodes, "exchange", ingress, "ingress exchange", lambda: exists("exchange", ingress)
    )

    # A lost binding alone tells nobody either; the nodes bind the queue again.
    async with broker() as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(Topology(site.name).commands, passive=True)
        await queue.unbind(ingress, routing_key=queue.name)
    await asyncio.sleep(1.5)  # a node looks every second
    await acquire_within(site, 2.0, "hmi-3")


async def test_the_watchdog_hears_the_nodes_again_after_the_heartbeats_exchange_goes(site):
    nodes = await start_nodes(site)
    watchdog = ServiceProcess(site, "watchdog", ["watchdog"]).start()
    site.processes.append(watchdog)
    heartbeats = Topology(site.name).heartbeats

    async def running():
        for node in nodes:
            view = await node.get("/api/servers")
            tiles = {s["node"]: s for s in view["servers"]}
            assert {n: t["status"] for n, t in tiles.items()} == {
                "primary": "Running",
                "backup": "Running",
            }, tiles
        return True

    await wait_for(running, 20, "both tiles Running")

    async def its_queue() -> str:
        source = quote(heartbeats, safe="")
        bindings = await management("GET", f"exchanges/%2F/{source}/bindings/source")
        queues = [b["destination"] for b in bindings if b["destination_type"] == "queue"]
        assert len(queues) == 1, bindings
        return queues[0]

    # Its queue is exclusive to its connection (not even the management API may delete it);
    # the exchange is not, and deleting it takes the watchdog's binding along, telling no one.
    first = await wait_for(its_queue, 5, "the watchdog's queue")
    await delete("exchange", heartbeats)
    assert await wait_for(its_queue, 5, "the exchange and the watchdog's binding again") == first

    # Past the watchdog's detection time (3 s): a watchdog that heard nothing any more
    # would have called both nodes silent by now.
    await asyncio.sleep(6)
    await wait_for(running, 10, "both tiles Running again")


async def test_a_deleted_stream_is_behind_until_reseeded(site):
    nodes = await start_nodes(site)
    await acquire_within(site, 5.0, "hmi-1")
    before = await site.quiet(*nodes)

    await delete("queue", Topology(site.name).events)

    async def behind():
        healths = await all_missing(nodes, "stream consumer")
        assert all("StreamBehind" in (h["last_error"] or "") for h in healths), healths
        return healths

    await wait_for(behind, 10, "both nodes waiting for the stream")
    assert not await exists("queue", Topology(site.name).events)  # no node made an empty one

    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "--site", site.name]
        + ["reseed", "--from", "primary", "--json"],
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    after = await wait_for(lambda: healthy(nodes), 20, "both nodes healthy after the reseed")
    assert [h["digest"] for h in after] == [h["digest"] for h in before]
    await acquire_within(site, 2.0, "hmi-2")
