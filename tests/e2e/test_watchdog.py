"""The seed's table, row by row, with real processes: what the tiles say, on both nodes, and
how fast.

Each fault hits the backup or the primary (the seed's table is written for the
backup; the primary is symmetric). Times are printed (pytest -s) and appended to
$WATCHDOG_RESULTS if set.
"""

from __future__ import annotations

import json
import os
import time
from itertools import pairwise

import pytest

from events.commands import (
    FeatureGrant,
    PairServers,
    ResetServerId,
    StopServer,
    SyncServer,
    UninstallServer,
)
from tests.support.fake_log import license_events, publish_events
from tests.support.processes import ServiceProcess
from tests.support.tamper import rewrite_history
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_for

ROLES = ["backup", "primary"]
WORD = {"backup": "Backup", "primary": "Primary"}


def other(role: str) -> str:
    return "primary" if role == "backup" else "backup"


def record(case: str, role: str, seconds: float) -> None:
    print(f"WATCHDOG {case} {role}: {seconds:.2f}s")
    if os.environ.get("WATCHDOG_RESULTS"):
        with open(os.environ["WATCHDOG_RESULTS"], "a") as out:
            out.write(json.dumps({"case": case, "role": role, "seconds": seconds}) + "\n")


async def tiles(node) -> tuple[dict[str, str], str | None] | None:
    try:
        view = await node.get("/api/servers")
    except Exception:
        return None
    if "servers" not in view:  # a restarted node answers 503 "loading" until it has loaded
        return None
    return {s["node"]: s["status"] for s in view["servers"]}, view["pair_status"]


async def shows(nodes, statuses: dict[str, str], pair_status: str) -> bool:
    """Do all these nodes' APIs show these server statuses and this pair status?"""
    for node in nodes:
        seen = await tiles(node)
        assert seen is not None, f"{node.node} does not answer"
        assert seen[1] == pair_status and all(seen[0].get(n) == s for n, s in statuses.items()), (
            f"{node.node} shows {seen}"
        )
    return True


async def start_pair(site, env: dict[str, dict[str, str]] | None = None, log_events: int = 0):
    env = env or {}
    if log_events:
        events, _ = license_events(log_events, seed=5)
        await publish_events(site.name, events, per_message=10)
    nodes = {}
    for role in ("primary", "backup"):
        nodes[role] = site.start_node(role, **env.get(role, {}))
        await nodes[role].wait_registered(timeout=60)
    async with site.client(actor="admin") as admin:
        assert (await admin.send(PairServers(primary="primary", backup="backup"))).ok
        assert (
            await admin.activate("LIC-W", [FeatureGrant(name="InTouch", version="2017", seats=5)])
        ).ok
        lease = await admin.acquire("InTouch", "2017", device="hmi", user="op", lease_seconds=3600)
        await lease.stop_renewing()

    async def settled():
        a, b = [await n.health() for n in nodes.values()]
        return a["offset"] == b["offset"] and a["digest"] == b["digest"]

    await wait_for(settled, 10, "both nodes at the same offset")
    watchdog = ServiceProcess(site, "watchdog", ["watchdog"]).start()
    site.processes.append(watchdog)
    await wait_for(
        lambda: shows(
            nodes.values(), {"primary": "Running", "backup": "Running"}, "Paired and Available"
        ),
        20,
        "the pair Paired and Available",
    )
    return nodes


@pytest.mark.parametrize("role", ROLES)
async def test_a_stopped_server_shows_stopped_and_the_pair_not_available(site, role):
    nodes = await start_pair(site)
    async with site.client(actor="admin") as admin:
        started = time.monotonic()
        assert (await admin.send(StopServer(node=role))).ok
    await wait_for(
        lambda: shows(
            [nodes[other(role)]],
            {role: "Stopped", other(role): "Running"},
            f"{WORD[role]} not available",
        ),
        15,
        "Stopped on the survivor",
    )
    record("stopped", role, time.monotonic() - started)
    nodes[role].proc.wait(timeout=10)
    assert nodes[role].proc.returncode == 0

    nodes[role] = site.start_node(role)
    await wait_for(
        lambda: shows(
            nodes.values(), {role: "Running", other(role): "Running"}, "Paired and Available"
        ),
        30,
        "the pair back on both nodes",
    )
    await site.quiet(*nodes.values())  # the restarted node's registration applied on both
    timelines = [
        [
            (r["kind"], r["node"], r["server_status"], r["pair_status"])
            for r in (await n.get("/api/timeline"))["timeline"]
        ]
        for n in nodes.values()
    ]
    assert timelines[0] == timelines[1]
    assert ("StopRequested", role, "Stopped", f"{WORD[role]} not available") in timelines[0]

    # A replay of the log rebuilds the same tiles and timeline.
    async with site.client(actor="admin") as admin:
        assert (await admin.send(SyncServer(node=role))).ok

    async def replayed_and_equal():
        views = [await n.get("/api/servers") for n in nodes.values()]
        lines = [(await n.get("/api/timeline"))["timeline"] for n in nodes.values()]
        healths = [await n.health() for n in nodes.values()]
        assert healths[0]["digest"] == healths[1]["digest"] and all(h["caught_up"] for h in healths)
        assert (
            views[0]["servers"] == views[1]["servers"]
            and views[0]["pair_status"] == "Paired and Available"
        )
        assert lines[0] == lines[1]
        return True

    await wait_for(replayed_and_equal, 30, "the replayed node to show the same tiles and timeline")


@pytest.mark.parametrize("role", ROLES)
async def test_a_node_that_dies_shows_disconnected(site, role):
    nodes = await start_pair(site)
    started = time.monotonic()
    nodes[role].kill()
    await wait_for(
        lambda: shows(
            [nodes[other(role)]],
            {role: "Disconnected", other(role): "Running"},
            f"{WORD[role]} not available",
        ),
        20,
        "Disconnected on the survivor",
    )
    record("disconnected", role, time.monotonic() - started)


@pytest.mark.parametrize("role", ROLES)
async def test_a_node_that_loses_its_network_shows_stopped_then_running(site, role):
    async with TcpProxy(5672) as proxy:
        nodes = await start_pair(
            site, env={role: {"LICENSING_AMQP_URL": proxy.via(site.broker_url("node"))}}
        )
        started = time.monotonic()
        proxy.blackhole()
        await wait_for(
            lambda: shows(
                [nodes[other(role)]],
                {role: "Stopped", other(role): "Running"},
                f"{WORD[role]} not available",
            ),
            30,
            "Stopped on the survivor",
        )
        record("lost-network", role, time.monotonic() - started)
        healed = time.monotonic()
        proxy.heal()
        proxy.cut()  # the half-open connections are dead; the node reconnects
        await wait_for(
            lambda: shows(
                nodes.values(), {role: "Running", other(role): "Running"}, "Paired and Available"
            ),
            30,
            "the pair back",
        )
        record("network-back", role, time.monotonic() - healed)
        await _stop_in_threads(site)


@pytest.mark.parametrize("role", ROLES)
async def test_an_uninstalled_server_is_not_available(site, role):
    nodes = await start_pair(site)
    async with site.client(actor="admin") as admin:
        assert (await admin.deactivate("LIC-W")).ok is False  # a seat is in use: refused
        started = time.monotonic()
        assert (await admin.send(UninstallServer(node=role))).ok
    word = f"{WORD[role]} not available"
    await wait_for(
        lambda: shows([nodes[other(role)]], {role: word, other(role): "Running"}, word),
        15,
        "not available on the survivor",
    )
    record("uninstalled", role, time.monotonic() - started)
    nodes[role].proc.wait(timeout=10)


@pytest.mark.parametrize("role", ROLES)
async def test_a_diverged_pair_is_not_synced_until_a_sync(site, role):
    nodes = await start_pair(site)
    nodes[role].stop()
    async with site.database(role) as db:
        await rewrite_history(db)
    nodes[role] = site.start_node(role)
    started = time.monotonic()
    both = {"primary": "Running", "backup": "Running"}
    await wait_for(
        lambda: shows(nodes.values(), both, "Pair not synced"), 30, "Pair not synced on both"
    )
    record("not-synced", role, time.monotonic() - started)
    view = await nodes[other(role)].get("/api/servers")
    assert view["sync"]["synced"] is False and "different digests" in view["sync"]["reason"]

    async with site.client(actor="admin") as admin:
        assert (await admin.send(SyncServer(node=role))).ok
    await wait_for(lambda: shows(nodes.values(), both, "Paired and Available"), 30, "synced again")


@pytest.mark.parametrize("role", ROLES)
async def test_a_reset_server_is_recovering_then_paired_and_available(site, role):
    nodes = await start_pair(site, log_events=60_000)
    async with site.client(actor="admin") as admin:
        mine = (await nodes["primary"].get("/api/usage?feature=InTouch"))["usage"]
        assert (await admin.release(mine[0]["lease_id"], "before the reset")).ok
        assert (await admin.deactivate("LIC-W")).ok
        started = time.monotonic()
        assert (await admin.send(ResetServerId(node=role))).ok
    both = {"primary": "Running", "backup": "Running"}
    await wait_for(
        lambda: shows([nodes[other(role)]], both, "Recovering"), 20, "Recovering", interval=0.05
    )
    record("recovering", role, time.monotonic() - started)
    await wait_for(
        lambda: shows(nodes.values(), both, "Paired and Available"), 60, "Paired and Available"
    )
    record("recovered", role, time.monotonic() - started)


async def _stop_in_threads(site) -> None:
    import asyncio

    await asyncio.gather(*(asyncio.to_thread(p.stop) for p in site.processes))


async def test_two_watchdogs_write_each_transition_once(site):
    nodes = await start_pair(site)
    second = ServiceProcess(site, "watchdog2", ["watchdog"]).start()
    site.processes.append(second)
    await wait_for(
        lambda: shows(
            nodes.values(), {"primary": "Running", "backup": "Running"}, "Paired and Available"
        ),
        10,
        "steady",
    )
    nodes["backup"].kill()
    await wait_for(
        lambda: shows([nodes["primary"]], {"backup": "Disconnected"}, "Backup not available"),
        20,
        "Disconnected",
    )
    nodes["backup"] = site.start_node("backup")
    await wait_for(
        lambda: shows(
            nodes.values(), {"primary": "Running", "backup": "Running"}, "Paired and Available"
        ),
        30,
        "back",
    )
    timeline = (await nodes["primary"].get("/api/timeline"))["timeline"]
    changes = [
        r["server_status"]
        for r in reversed(timeline)
        if r["node"] == "backup" and r["kind"] == "ServerStatusChanged"
    ]
    assert changes.count("Disconnected") == 1, changes
    # Each transition once, and never back and forth: every change differs from the one before.
    assert all(a != b for a, b in pairwise(changes)), changes


async def test_a_follower_stuck_behind_is_not_synced_and_the_tile_says_by_how_much(site):
    nodes = await start_pair(site)
    for proc in list(site.processes):
        if proc.node == "watchdog":
            proc.stop()
    tight = ServiceProcess(
        site,
        "watchdog-tight",
        ["watchdog"],
        LICENSING_WATCHDOG_MAX_LAG_EVENTS="5",
        LICENSING_WATCHDOG_MAX_LAG_SECONDS="2",
    ).start()
    site.processes.append(tight)
    async with site.database("backup") as stall, site.client() as client:
        # The backup's database stalls: its projector blocks, its heartbeats go on.
        transaction = stall.transaction()
        await transaction.start()
        await stall.execute("LOCK TABLE projection_checkpoint IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        for i in range(4):  # eight events the backup cannot project
            lease = await client.acquire("InTouch", "2017", device=f"hmi{i}", user="op")
            await lease.release()
        await wait_for(
            lambda: shows(
                [nodes["primary"]], {"backup": "Running", "primary": "Running"}, "Pair not synced"
            ),
            20,
            "Pair not synced by lag",
        )
        record("lagging", "backup", time.monotonic() - started)
        sync = (await nodes["primary"].get("/api/servers"))["sync"]
        assert (
            sync["lag_events"] > 5
            and sync["lag_seconds"] >= 2
            and "backup is behind" in sync["reason"]
        )
        await transaction.rollback()
    await wait_for(
        lambda: shows(
            nodes.values(), {"backup": "Running", "primary": "Running"}, "Paired and Available"
        ),
        20,
        "in sync again",
    )
