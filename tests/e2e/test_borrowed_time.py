"""Borrowed time (issue 10, item 5): the pair out of reach for longer than a lease period.

Without a broker cluster to lose the majority of, the pair is put out of reach two ways:
both nodes frozen with SIGSTOP (no writer exists; the broker drops both nodes' connections
after missed heartbeats, 4-6 s, and a frozen writer's first look at its clock after SIGCONT
is past every deadline), or the client and both nodes behind one TCP proxy that is silently
partitioned (every side notices only by its own heartbeats). A product holding two
leases of 5 s (the shortest) with a grace of 30 s sees them borrowed, with less grace left
at every look, and never lost. After SIGCONT the nodes reconnect, the new writer gives every
open lease a fresh period (services/writer/leases.py) instead of expiring the ones nobody
could renew, the same lease ids renew, and both nodes count each seat once. Past the grace,
the handle reports the lease lost and why, and the seat returns when the writer expires it.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from events.commands import FeatureGrant
from services.client import LeaseState, LicenseClient
from services.client.lease import Lease
from tests.support.processes import NodeProcess
from tests.support.sites import role_url, settings_for
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

FEATURE, VERSION, SEATS = "InTouch", "2017", 5
LEASE_SECONDS = 5  # the shortest a lease may be
GRACE_SECONDS = 30.0
OUTAGE_SECONDS = 12.0  # longer than a lease period plus the broker's drop, shorter than grace


@pytest.fixture
async def proxy(site):
    async with TcpProxy(5672) as the_proxy:
        yield the_proxy
        # Stop the nodes from threads while this loop still forwards their close handshakes.
        await asyncio.gather(*(asyncio.to_thread(proc.stop) for proc in site.processes))


async def _pair_with_license(site, **env: str) -> tuple[NodeProcess, NodeProcess]:
    primary, backup = site.start_node("primary", **env), site.start_node("backup", **env)
    await primary.wait_registered()
    await backup.wait_registered()
    async with site.client() as admin:
        grant = FeatureGrant(name=FEATURE, version=VERSION, seats=SEATS)
        reply = await admin.activate("LIC-GRACE", [grant])
        assert reply.ok, reply
    return primary, backup


async def _acquire(client: LicenseClient, device: str, count: int) -> Lease:
    return await client.acquire(
        FEATURE, VERSION, device=device, user="op", count=count, lease_seconds=LEASE_SECONDS
    )


def _freeze(*nodes: NodeProcess) -> None:
    for node in nodes:
        node.pause()


def _thaw(*nodes: NodeProcess) -> None:
    for node in nodes:
        node.resume()


async def _usage(node: NodeProcess) -> tuple[list[str], int]:
    """The lease ids in the node's usage (one per row) and the feature's seats in use."""
    usage = (await node.get("/api/usage"))["usage"]
    features = (await node.get("/api/features"))["features"]
    (feature,) = [f for f in features if (f["name"], f["version"]) == (FEATURE, VERSION)]
    return sorted(u["lease_id"] for u in usage), feature["in_use"]


@pytest.mark.parametrize("fault", ["sigstop", "partition"])
async def test_the_pair_out_of_reach_past_the_lease_period_loses_no_lease(site, proxy, fault):
    if fault == "sigstop":
        primary, backup = await _pair_with_license(site)
        settings = settings_for(site.name, grace_seconds=GRACE_SECONDS)
    else:
        primary, backup = await _pair_with_license(
            site, LICENSING_AMQP_URL=proxy.via(site.broker_url("node"))
        )
        product_url = proxy.via(role_url(site.name, "product"))
        settings = settings_for(site.name, grace_seconds=GRACE_SECONDS, amqp_url=product_url)

    def cut_off() -> None:
        _freeze(primary, backup) if fault == "sigstop" else proxy.blackhole()

    def reconnect() -> None:
        _thaw(primary, backup) if fault == "sigstop" else proxy.heal()

    async with LicenseClient(settings, attempt_timeout=1, timeout=10) as client:
        leases = [await _acquire(client, "hmi1", 1), await _acquire(client, "hmi2", 2)]
        ids = sorted(lease.lease_id for lease in leases)
        await wait_for(lambda: _all_renewed(leases), 10, "a first renewal of each lease")
        assert all(lease.state == LeaseState.HELD for lease in leases)

        cut_off()
        cut_at = time.monotonic()
        samples: list[list[tuple[LeaseState, float]]] = []
        try:
            while time.monotonic() - cut_at < OUTAGE_SECONDS:
                samples.append([(lease.state, lease.remaining_grace()) for lease in leases])
                await asyncio.sleep(0.5)
        finally:
            reconnect()

        states = {state for sample in samples for state, _left in sample}
        assert LeaseState.LOST not in states, samples
        assert [state for state, _left in samples[-1]] == [LeaseState.BORROWED] * 2, samples
        for i in range(2):
            # Once borrowed, no renewal can succeed while the pair is out of reach.
            left = [left for state, left in (s[i] for s in samples) if state == "borrowed"]
            assert left == sorted(left, reverse=True) and left[-1] < left[0], left
            # Borrowed past the lease period: the grace, not the lease, still holds it.
            assert 0 < left[-1] < GRACE_SECONDS - LEASE_SECONDS

        renewed = [lease.renewals for lease in leases]
        await wait_for(
            lambda: _renewed_since(leases, renewed), 30, "the same leases to renew afterwards"
        )
        assert all(lease.state == LeaseState.HELD and not lease.borrowed for lease in leases)
        assert sorted(lease.lease_id for lease in leases) == ids

        # A lease period later the writer still holds them: it did not expire what nobody
        # could renew while it was out of reach.
        await asyncio.sleep(LEASE_SECONDS + 1)
        assert all(lease.state == LeaseState.HELD for lease in leases)
        await site.quiet(primary, backup, timeout=10)
        for node in (primary, backup):
            assert await _usage(node) == (ids, 3), node.node
        for lease in leases:
            await lease.release()


async def test_past_the_grace_the_lease_is_lost_and_its_seat_returns(site):
    grace = 8.0
    primary, backup = await _pair_with_license(site)
    settings = settings_for(site.name, grace_seconds=grace)
    async with LicenseClient(settings, attempt_timeout=1, timeout=10) as client:
        lease = await _acquire(client, "hmi1", 1)
        await wait_for(lambda: _all_renewed([lease]), 10, "a first renewal")
        _freeze(primary, backup)
        frozen_at = time.monotonic()
        try:
            await wait_for(lambda: _true(lease.borrowed), 5, "the lease to be borrowed")
            await asyncio.wait_for(lease.wait_lost(), grace + 5)
            lost_after = time.monotonic() - frozen_at
        finally:
            _thaw(primary, backup)
        assert lease.state == LeaseState.LOST and not lease.borrowed
        assert lease.lost_reason is not None and "grace" in lease.lost_reason
        assert grace - 2 < lost_after < grace + 3, lost_after  # the grace runs from a renewal
        assert lease.remaining_grace() == 0

        # Nobody renews it any more: the writer expires it a lease period after it is back.
        async def seat_returned(node: NodeProcess) -> bool:
            return await _usage(node) == ([], 0)

        for node in (primary, backup):
            await wait_for(lambda n=node: seat_returned(n), 30, f"the seat back on {node.node}")


async def _true(value: bool) -> bool:
    return value


async def _all_renewed(leases: list[Lease]) -> bool:
    return all(lease.renewals >= 1 for lease in leases)


async def _renewed_since(leases: list[Lease], before: list[int]) -> bool:
    return all(
        lease.renewals > n and lease.state == LeaseState.HELD
        for lease, n in zip(leases, before, strict=True)
    )
