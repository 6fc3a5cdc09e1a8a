"""What Prometheus reads: a node's and the watchdog's /metrics."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from events.commands import FeatureGrant, PairServers
from events.vocabulary import DenialReason, ErrorCode, PairStatus
from services.client import LicenseDenied
from tests.support.processes import ServiceProcess, free_port
from tests.support.waiting import wait_for

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
FEATURE = {"feature": "InTouch", "version": "2017"}


async def scrape(url: str) -> Samples:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/metrics", timeout=aiohttp.ClientTimeout(total=5)) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain")
            text = await r.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def settled(node) -> Samples:
    """Scraped once everything applied is committed: the checkpoint counts what is committed."""

    async def committed() -> bool:
        health = await node.health()
        return health is not None and health["offset"] == health["applied_offset"]

    await wait_for(committed, 10, f"{node.node} to commit what it applied")
    return await scrape(node.url)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_a_nodes_metrics_move_by_exactly_what_was_done(site):
    node = site.start_node("primary")
    await node.wait_registered()
    async with site.client(actor="admin") as admin:
        grant = FeatureGrant(name="InTouch", version="2017", seats=1)
        assert (await admin.activate("LIC-M", [grant])).ok
    before = await settled(node)
    async with site.client() as client:
        lease = await client.acquire(
            "InTouch", "2017", device="hmi-1", user="op", lease_seconds=3600
        )
        await lease.stop_renewing()
        try:
            await client.acquire("InTouch", "2017", device="hmi-2", user="op")
            raise AssertionError("the second acquire got a seat that does not exist")
        except LicenseDenied as exc:
            assert exc.reason == DenialReason.NO_SEATS
    after = await settled(node)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("licensing_commands_total", type="Acquire", outcome="ok") == 1
    assert moved("licensing_commands_total", type="Acquire", outcome=ErrorCode.DENIED) == 1
    assert moved("licensing_denials_total", **FEATURE, reason=DenialReason.NO_SEATS) == 1
    assert moved("licensing_acquire_latency_ms_count") == 2
    assert moved("licensing_acquire_latency_ms_sum") > 0
    assert value(before, "licensing_seats_in_use", **FEATURE) == 0
    assert value(after, "licensing_seats_in_use", **FEATURE) == 1
    assert value(after, "licensing_seats_licensed", **FEATURE) == 1
    assert value(after, "licensing_is_writer") == 1
    assert value(after, "licensing_writer_epoch") >= 1
    assert value(after, "licensing_projector_lag_offsets") == 0
    health = await node.health()
    assert health is not None
    # The grant and the denial are two events more in the log, and nothing else happened.
    assert moved("licensing_projector_events_applied_total") == 2
    assert value(after, "licensing_stream_offset") <= health["offset"]
    assert value(after, "licensing_stream_offset") > value(before, "licensing_stream_offset")


async def test_the_watchdogs_metrics_show_the_pair_status(site):
    nodes = [site.start_node("primary"), site.start_node("backup")]
    for node in nodes:
        await node.wait_registered(timeout=60)
    async with site.client(actor="admin") as admin:
        assert (await admin.send(PairServers(primary="primary", backup="backup"))).ok
    port = free_port()
    watchdog = ServiceProcess(
        site, "watchdog", ["watchdog"], LICENSING_WATCHDOG_METRICS_PORT=str(port)
    ).start()
    site.processes.append(watchdog)
    url = f"http://127.0.0.1:{port}"

    async def paired() -> Samples | None:
        try:
            samples = await scrape(url)
        except aiohttp.ClientError:
            return None  # not listening yet
        shown = value(samples, "licensing_pair_status", status=PairStatus.PAIRED)
        return samples if shown == 1 else None

    samples = await wait_for(paired, 20, "the watchdog's metrics to say Paired and Available")
    assert [w for w in PairStatus if value(samples, "licensing_pair_status", status=w)] == [
        PairStatus.PAIRED
    ]
    assert value(samples, "licensing_watchdog_heartbeats_seen_total") > 0
    assert value(samples, "licensing_watchdog_heartbeats_rejected_total", reason="unsigned") == 0
