"""Failover under load, with real faults injected into separate OS processes.

The primary starts first and becomes the writer; then the backup starts. Only the
primary reaches the broker through a TCP proxy in this process, so its network can
be cut or silently partitioned. Four clients keep acquiring and releasing seats of
a feature that has fewer seats than clients while the writer is
- killed with SIGKILL (then restarted),
- frozen with SIGSTOP until the backup has taken over (then resumed: a stale writer),
- cut off from the broker (every connection reset),
- silently partitioned (nothing forwarded, sockets kept open), healed later.

After each: no feature ever had more seats in use than it has (sampled on both nodes
during the run, and at every step of the log through ``usage_history``); every lease
a client was told it holds is in the survivor's usage and nothing else is; every
granted reply matches an accepted event; whatever the stale writer got into the log
is marked ``stale_epoch`` and changed nothing; both nodes end with equal offsets,
digests and read models.

Measured: the time from the fault to the first acquire the backup answered. The
broker sees a killed process's (or a reset) socket close at once: target 2 s. A
frozen process or a silent partition it only drops after missed AMQP heartbeats,
which RabbitMQ checks once per timeout and acts on after two silent checks, i.e.
2-3 timeouts after the last byte (4-6 s with the default 2 s): target 3 x heartbeat
+ 2 s. Run with ``-s`` to see the numbers; ``FAILOVER_RESULTS=path`` appends them
as JSON lines.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from events.commands import FeatureGrant
from services.client import LicenseClient
from tests.support.load import (
    RUNTIME,
    Load,
    LogView,
    SeatWatch,
    brief,
    check_told,
    identical_read_models,
)
from tests.support.processes import NodeProcess
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

HISTORIAN = ("Historian", "2017")  # leases pinned across the fault
RUNTIME_SEATS, CLIENTS, PINNED = 3, 4, 2  # RUNTIME (tests/support/load.py): fewer seats
PRE_FAULT_SECONDS = 1.5
POST_TAKEOVER_SECONDS = 1.5
IMMEDIATE_TARGET = 2.0  # the broker sees the socket close at once


@pytest.fixture
async def proxy(site):
    async with TcpProxy(5672) as the_proxy:
        yield the_proxy
        # The proxy runs on this event loop and Site.close() waits for each node in a blocking
        # call: a node behind the proxy could not finish its close handshake and would be
        # killed after 10 s. Stop the nodes from threads while the loop still forwards.
        await asyncio.gather(*(asyncio.to_thread(proc.stop) for proc in site.processes))


# ---- the scenario ------------------------------------------------------------------


@dataclass
class Pair:
    primary: NodeProcess
    backup: NodeProcess
    admin: LicenseClient
    pinned: list[Any]
    old_epoch: int
    t_fault: float = 0.0
    notes: dict[str, float] = field(default_factory=dict)  # extra timings, seconds after the fault


async def start_pair(site, proxy: TcpProxy, admin: LicenseClient) -> Pair:
    primary_env = {"LICENSING_AMQP_URL": proxy.via(site.broker_url("node"))}
    primary = site.start_node("primary", **primary_env)
    await primary.wait_healthy()
    reply = await admin.activate(
        "LIC-FAILOVER",
        [
            FeatureGrant(name=RUNTIME[0], version=RUNTIME[1], seats=RUNTIME_SEATS),
            FeatureGrant(name=HISTORIAN[0], version=HISTORIAN[1], seats=PINNED + 1),
        ],
    )
    assert reply.ok, reply
    h = await wait_for(lambda: _writer(primary), 10, "the primary to be the writer")
    backup = site.start_node("backup")
    await backup.wait_healthy()
    await wait_for(lambda: _same_offset(primary, backup), 10, "the backup to catch up")
    pinned = [
        await admin.acquire(*HISTORIAN, device=f"pinned{i}", user="svc") for i in range(PINNED)
    ]
    return Pair(primary, backup, admin, pinned, h["epoch"])


def note(pair: Pair, what: str) -> None:
    pair.notes[what] = round(time.monotonic() - pair.t_fault, 3)


async def run_failover(
    site,
    proxy: TcpProxy,
    name: str,
    target: float,
    fault: Callable[[Pair], Awaitable[None]],
    recover: Callable[[Pair], Awaitable[NodeProcess]],
) -> float:
    """Start the pair, run the load, inject ``fault``, check everything. Returns the failover
    time."""
    async with site.client() as admin:
        pair = await start_pair(site, proxy, admin)
        nodes = [pair.primary, pair.backup]
        watch = SeatWatch(lambda: nodes)
        load = Load(site, clients=CLIENTS)
        watch.start()
        load.start()
        try:
            await asyncio.sleep(PRE_FAULT_SECONDS)
            assert load.served_since(0) > 10, "the load is not running before the fault"
            assert not load.errors, load.errors

            t_fault = pair.t_fault = time.monotonic()
            await fault(pair)
            took_over = await wait_for(
                lambda: _writer(pair.backup), target + 15, "the backup to take over"
            )
            t_takeover = time.monotonic()
            assert took_over["epoch"] > pair.old_epoch
            await wait_for(
                lambda: _true(load.served_since(t_takeover) >= 5), 15, "the backup serving acquires"
            )
            await asyncio.sleep(POST_TAKEOVER_SECONDS)

            # The leases held across the fault are there on the survivor, and it can release one.
            pinned_ids = {lease.lease_id for lease in pair.pinned}
            await wait_for(
                lambda: _usage_has(pair.backup, pinned_ids), 5, "the pinned leases on the survivor"
            )
            released = await pair.pinned[0].release()
            assert released is not None and released.ok, released

            nodes[0] = await recover(pair)
            await load.finish()
        finally:
            load.stop.set()
            await asyncio.gather(*load.tasks, return_exceptions=True)
            await watch.stop()
        for lease in pair.pinned[1:]:
            await lease.stop_renewing()
            load.held[lease.lease_id] = "pinned"
    primary = nodes[0]

    if load.errors:
        healths = [brief(await node.health()) for node in (primary, pair.backup)]
        raise AssertionError(f"clients were let down: {load.errors}; nodes now: {healths}")
    # The stale writer learns it lost, and both nodes converge on the same log. (A restarted
    # node registers itself through the writer, so the log may still grow a little here.)
    await wait_for(
        lambda: _converged(primary, pair.backup), 30, "the primary to catch up as follower"
    )
    survivor = await wait_for(
        lambda: identical_read_models(site, "backup", "primary"),
        15,
        "identical read models on both nodes",
    )
    a, b = await _converged(primary, pair.backup)
    assert a["digest"] == b["digest"] and a["epoch"] == b["epoch"] == took_over["epoch"]
    assert a["writer"] is False and b["writer"] is True
    for node in (primary, pair.backup):
        await watch.check(node, timeout=2)
    assert not watch.violations, f"more seats in use than exist: {watch.violations[:5]}"
    assert watch.samples > 20

    await check_log(site, pair, load, survivor)

    failover = first_served_by(load, survivor, took_over["epoch"]) - t_fault
    report(name, failover, target, load, pair, t_takeover)
    assert failover < target, (
        f"{name}: the backup served its first acquire {failover:.2f}s after the fault"
    )
    return failover


async def check_log(site, pair: Pair, load: Load, models: dict[str, list[tuple]]) -> None:
    """What the clients were told against what the survivor's log and read models say."""
    log = await LogView.of(site, "backup")
    check_told(load, log)
    events, usage = log.events, log.usage

    # Whatever the old writer got into the log after it was replaced is ignored and changed nothing.
    promotions = [e for e in events if e["type"] == "WriterPromoted" and e["ignored"] is None]
    assert [p["epoch"] for p in promotions][-2:] == [pair.old_epoch, promotions[-1]["epoch"]]
    taken_at = (promotions[-1]["stream_offset"], promotions[-1]["idx"])
    stale = [
        e
        for e in events
        if (e["stream_offset"], e["idx"]) > taken_at
        and e["type"] != "WriterPromoted"
        and e["epoch"] is not None
        and e["epoch"] != promotions[-1]["epoch"]
    ]
    assert all(e["ignored"] == "stale_epoch" for e in stale), stale
    assert not ({e["lease_id"] for e in stale} & usage), "a stale grant holds a seat"
    ignored = [e for e in events if e["ignored"] is not None]
    print(
        f"  log: {len(events)} events, {len(stale)} from the stale writer, "
        f"{len(ignored)} ignored ({sorted({e['ignored'] for e in ignored})}); "
        f"usage rows {len(models['usage'])}"
    )


def first_served_by(load: Load, models: dict[str, list[tuple]], epoch: int) -> float:
    """When the first acquire decided at the new writer's epoch was answered."""
    epochs = {}
    for _offset, _idx, type_, ignored, body in models["event_log"]:
        if ignored is None and type_ in ("LeaseGranted", "AcquireDenied"):
            b = json.loads(body)
            epochs[b["command_id"]] = b["epoch"]
    served = [a.replied for a in load.acquires if epochs.get(a.command_id) == epoch]
    assert served, "the backup never answered an acquire"
    return min(served)


def report(
    name: str, failover: float, target: float, load: Load, pair: Pair, t_takeover: float
) -> None:
    t_fault = pair.t_fault
    granted = sum(1 for a in load.acquires if a.lease_id)
    spans = [(sent, replied) for sent, replied in load.round_trips() if sent < t_fault < replied]
    slowest = max((replied - sent for sent, replied in spans), default=0.0)
    notes = "".join(f"; {what} at {seconds:.2f}s" for what, seconds in pair.notes.items())
    print(
        f"\nFAILOVER {name}: {failover:.2f}s (target < {target:.1f}s); "
        f"backup health showed writer at {t_takeover - t_fault:.2f}s{notes}; "
        f"{len(load.acquires)} acquires ({granted} granted), "
        f"{len(load.releases)} releases; {len(spans)} commands in flight at the fault, slowest "
        f"{slowest:.2f}s"
    )
    path = os.environ.get("FAILOVER_RESULTS")
    if path:
        with open(path, "a") as f:
            f.write(
                json.dumps(
                    {
                        "fault": name,
                        "failover_seconds": round(failover, 3),
                        "target_seconds": target,
                        "writer_seen_seconds": round(t_takeover - t_fault, 3),
                        **pair.notes,
                        "acquires": len(load.acquires),
                        "granted": granted,
                        "releases": len(load.releases),
                        "in_flight_at_fault": len(spans),
                        "slowest_in_flight_seconds": round(slowest, 3),
                        "at": time.time(),
                    }
                )
                + "\n"
            )


# ---- helpers -----------------------------------------------------------------------


async def _true(value: bool) -> bool:
    return value


async def _writer(node: NodeProcess) -> dict | None:
    h = await node.health()
    return h if h and h.get("writer") else None


async def _same_offset(a: NodeProcess, b: NodeProcess):
    ha, hb = await a.health(), await b.health()
    assert ha and hb and ha["offset"] == hb["offset"] and ha["digest"] == hb["digest"], (
        f"{brief(ha)} | {brief(hb)}"
    )
    return ha, hb


async def _converged(primary: NodeProcess, backup: NodeProcess):
    ha, hb = await primary.health(), await backup.health()
    assert ha and hb and ha["healthy"] and not ha["writer"] and ha["offset"] == hb["offset"], (
        f"{brief(ha)} | {brief(hb)}"
    )
    return ha, hb


async def _usage_has(node: NodeProcess, lease_ids: set[str]) -> bool:
    usage = (await node.get("/api/usage"))["usage"]
    return lease_ids <= {u["lease_id"] for u in usage}


def heartbeat_target(site) -> float:
    # RabbitMQ checks for incoming bytes once per heartbeat timeout and gives up after two
    # checks without any: a silent peer is dropped 2 to 3 timeouts after its last byte
    # (measured on 3.10 with a 2 s heartbeat: 4.7-5.6 s). Then failover itself takes ~0.1 s.
    return 3 * site.settings.heartbeat + 2.0


# ---- the faults --------------------------------------------------------------------


async def test_kill_9_the_writer(proxy, site):
    async def fault(pair: Pair) -> None:
        pair.primary.kill()

    async def recover(pair: Pair) -> NodeProcess:
        restarted = site.start_node(
            "primary", LICENSING_AMQP_URL=proxy.via(site.broker_url("node"))
        )
        await restarted.wait_healthy()
        note(pair, "restarted primary healthy")
        return restarted

    await run_failover(site, proxy, "kill9", IMMEDIATE_TARGET, fault, recover)


async def test_sigstop_the_writer_then_resume_it_stale(proxy, site):
    async def fault(pair: Pair) -> None:
        pair.primary.signal(signal.SIGSTOP)

    async def recover(pair: Pair) -> NodeProcess:
        pair.primary.signal(signal.SIGCONT)
        note(pair, "SIGCONT")
        # It wakes up believing it is the writer; it must find out it is not.
        await wait_for(lambda: _follower(pair.primary), 20, "the resumed writer to step down")
        note(pair, "resumed writer back as follower")
        return pair.primary

    await run_failover(site, proxy, "sigstop", heartbeat_target(site), fault, recover)


async def test_cut_the_writers_broker_connection(proxy, site):
    async def fault(pair: Pair) -> None:
        assert proxy.cut() >= 1

    async def recover(pair: Pair) -> NodeProcess:
        await wait_for(
            lambda: _follower(pair.primary), 20, "the cut-off writer to rejoin as follower"
        )
        note(pair, "back as follower")
        return pair.primary

    await run_failover(site, proxy, "cut", IMMEDIATE_TARGET, fault, recover)


async def test_silent_partition_of_the_writer_healed_later(proxy, site):
    async def fault(pair: Pair) -> None:
        proxy.blackhole()

    async def recover(pair: Pair) -> NodeProcess:
        # Still partitioned: the old writer must notice on its own (its AMQP heartbeats go
        # unanswered) and stop writing, before it can hear anything from the broker.
        await wait_for(
            lambda: _not_writer(pair.primary), 20, "the partitioned writer to step down by itself"
        )
        note(pair, "partitioned writer stepped down")
        proxy.heal()
        note(pair, "healed")
        await wait_for(
            lambda: _follower(pair.primary), 30, "the partitioned writer to rejoin as follower"
        )
        note(pair, "back as follower")
        return pair.primary

    await run_failover(site, proxy, "blackhole", heartbeat_target(site), fault, recover)


async def _not_writer(node: NodeProcess):
    h = await node.health()
    assert h and not h["writer"], brief(h)
    return h


async def _follower(node: NodeProcess):
    h = await node.health()
    assert h and h["healthy"] and not h["writer"], brief(h)
    return h
