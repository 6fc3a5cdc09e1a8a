"""A signed site: what anyone on the broker publishes to the stream or the heartbeats changes
nothing (issue 9, rows 1, 2, 3 and 10's heartbeat; invariant 10).

The nodes and the watchdog hold the node keys; the forger holds only the broker login.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import aio_pika
import orjson

from events.commands import ActivateLicense, FeatureGrant
from events.leases import LeaseGranted
from events.vocabulary import Activity, ServerStatus
from events.writer import WriterPromoted
from services.adapters.topology import Topology
from services.auth.log_signing import NodeKeys
from services.domain.decide import Context, decide
from services.domain.model import State
from tests.support.fake_log import TEST_NODE_KEYS, publish_events, publish_raw
from tests.support.processes import REPO, ServiceProcess, site_env
from tests.support.sites import AMQP_URL
from tests.support.waiting import wait_for

ENV = {"LICENSING_NODE_KEYS": TEST_NODE_KEYS}
RAW = b"this is not an event batch"


async def start_signed_pair(site):
    primary, backup = site.start_node("primary", **ENV), site.start_node("backup", **ENV)
    for node in (primary, backup):
        await node.wait_registered(timeout=60)
    async with site.client(actor="admin") as admin:
        assert (
            await admin.activate("LIC-S", [FeatureGrant(name="InTouch", version="2017", seats=5)])
        ).ok
    return primary, backup


async def settled(site, *nodes):
    """Both nodes have applied the whole stream; their healths."""
    end = await site.stream_end()
    healths = [await n.health() for n in nodes]
    assert all(h and h["offset"] == end for h in healths), healths
    return healths


def forged_events(epoch: int, now: datetime) -> list:
    """Row 1: a 1,000,000-seat activation at the current epoch. Row 2: a promotion at
    epoch + 1, then ten grants of the 5-seat feature at that epoch."""
    activation = decide(
        State(),
        ActivateLicense(
            license_id="LIC-FORGED",
            features=[FeatureGrant(name="InTouch", version="2017", seats=1_000_000)],
        ),
        Context("forged-activation", epoch, now, actor="admin"),
    )
    promotion = WriterPromoted(epoch=epoch + 1, node="forger", server_id="FORGER_0000", at=now)
    grants = [
        LeaseGranted(
            command_id=f"forged-grant-{i}",
            epoch=epoch + 1,
            at=now,
            lease_id=f"L-FAKE-{i}",
            feature="InTouch",
            version="2017",
            device=f"pc{i}",
            user="forger",
            count=1,
            lease_seconds=60,
            expires_at=now + timedelta(seconds=60),
        )
        for i in range(10)
    ]
    return [activation, promotion, *grants]


async def test_forged_and_unreadable_stream_messages_are_ignored_by_both_nodes(site):
    primary, backup = await start_signed_pair(site)
    before = await settled(site, primary, backup)
    assert all(h["stream"].startswith("signed") for h in before)
    writer = next(h for h in before if h["writer"])
    features_before = [(await n.get("/api/features"))["features"] for n in (primary, backup)]

    forged = forged_events(writer["epoch"], datetime.now(UTC))
    await publish_events(site.name, forged)  # one message each, unsigned
    wrong_key = NodeKeys.from_setting("test-1:" + "w" * 40)  # the site's kid, not its secret
    await publish_raw(site.name, [RAW])
    await publish_raw(site.name, [orjson.dumps({"events": []})], wrong_key)
    sent = len(forged) + 2

    async def all_read():
        healths = await settled(site, primary, backup)
        assert all(h["unverified_messages"] == sent for h in healths), healths
        return healths

    after = await wait_for(all_read, 10, "both nodes read the forged messages")
    assert after[0]["digest"] == after[1]["digest"]
    assert all(h["projector_halted"] is None and h["healthy"] for h in after)
    assert [h["epoch"] for h in after] == [writer["epoch"]] * 2
    assert [h["writer_node"] for h in after] == [writer["node"]] * 2
    assert [(await n.get("/api/features"))["features"] for n in (primary, backup)] == (
        features_before
    )
    for node in ("primary", "backup"):
        async with site.database(node) as db:
            rows = await db.fetch(
                "SELECT type, ignored, body::text AS body FROM event_log "
                "WHERE ignored = 'bad_signature' ORDER BY stream_offset"
            )
        assert len(rows) == sent and {r["type"] for r in rows} == {"?"}
        assert all("FORGED" not in r["body"] and "forger" not in r["body"] for r in rows)
        assert orjson.loads(rows[-2]["body"])["length"] == len(RAW)
    assert (await site.read_models("primary"))["event_log"] == (await site.read_models("backup"))[
        "event_log"
    ]

    async with site.client() as client:
        started = time.monotonic()
        lease = await client.acquire("InTouch", "2017", device="hmi1", user="op")
        assert time.monotonic() - started < 2.0
        assert not lease.lease_id.startswith("L-FAKE")
        await lease.release()

    # A restart replays the recorded verdicts from the node's own event_log copy.
    backup.stop()
    backup = site.start_node("backup", **ENV)
    await backup.wait_healthy()
    # Quiet first: the restarted backup registers again, and catches up on what it missed.
    replayed, now_primary = await site.quiet(backup, primary)
    assert replayed["unverified_messages"] == sent
    assert replayed["digest"] == now_primary["digest"]


async def publish_heartbeat(site: str, body: bytes, keys: NodeKeys | None = None) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        exchange = await Topology(site).declare_heartbeats(channel)
        headers = keys.headers(body) if keys else {}
        await exchange.publish(aio_pika.Message(body, headers=headers), routing_key="")
    finally:
        await connection.close()


async def test_forged_or_malformed_heartbeats_neither_stop_the_watchdog_nor_move_a_tile(site):
    primary, backup = await start_signed_pair(site)
    watchdog = ServiceProcess(site, "watchdog", ["watchdog"], **ENV).start()
    site.processes.append(watchdog)

    async def running():
        view = await primary.get("/api/servers")
        assert {s["node"]: s["activity"] for s in view["servers"]} == {
            "primary": Activity.RUNNING,
            "backup": Activity.RUNNING,
        }, view
        return True

    await wait_for(running, 20, "the watchdog reports both running")
    now = datetime.now(UTC).isoformat()
    keys = NodeKeys.from_setting(TEST_NODE_KEYS)
    for _ in range(5):
        # Unsigned: a ghost server, the backup "stopped gracefully".
        await publish_heartbeat(site.name, b'{"node":"zz","servers":[1]}')
        await publish_heartbeat(
            site.name,
            orjson.dumps({"node": "zz", "status": ServerStatus.RUNNING, "at": now}),
        )
        await publish_heartbeat(
            site.name,
            orjson.dumps(
                {"node": "backup", "status": ServerStatus.STOPPED, "final": True, "at": now}
            ),
        )
        # Signed but malformed (a node's bug): still never the watchdog's end.
        await publish_heartbeat(site.name, b'{"node":"zz","servers":[1]}', keys)
        await publish_heartbeat(site.name, b"[1]", keys)
        await publish_heartbeat(site.name, b'{"node":"zz","at":"2026-01-01T00:00:00"}', keys)
        await asyncio.sleep(0.5)
    await asyncio.sleep(2.0)  # a few of the watchdog's rounds

    assert watchdog.running, watchdog.log_tail()
    await running()
    timeline = (await primary.get("/api/timeline"))["timeline"]
    assert not [
        r for r in timeline if r["node"] == "zz" or r["server_status"] == ServerStatus.STOPPED
    ], timeline


async def test_a_reseeded_signed_log_keeps_its_verdicts_for_every_reader(site):
    node = site.start_node("primary", **ENV)
    await node.wait_registered()
    async with site.client(actor="admin") as admin:
        assert (
            await admin.activate("LIC-R", [FeatureGrant(name="InTouch", version="2017", seats=5)])
        ).ok
    await publish_raw(site.name, [RAW])
    async with site.client(actor="admin") as admin:  # one more signed message after it
        lease = await admin.acquire("InTouch", "2017", device="hmi", user="op", lease_seconds=3600)
        await lease.stop_renewing()

    async def read_all():
        (h,) = await settled(site, node)
        assert h["unverified_messages"] == 1 and h["offset"] == h["applied_offset"], h
        return h

    before = await wait_for(read_all, 10, "the node read the whole log")
    node.stop()
    connection = await aio_pika.connect(AMQP_URL)  # the broker loses the stream
    channel = await connection.channel()
    await channel.queue_delete(Topology(site.name).events)
    await connection.close()

    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "--site", site.name, "reseed"]
        + ["--from", "primary", "--json"],
        cwd=REPO,
        capture_output=True,
        timeout=60,
        env={**os.environ, **site_env(site.name, ENV)},
    )
    assert done.returncode == 0, done.stderr.decode()
    assert orjson.loads(done.stdout)["events"] == before["events_applied"]
    assert await site.stream_end() == before["offset"]  # same offsets: the node just resumes

    # The node resumes where it was; a new node reads the re-seeded stream from its start:
    # both record the same rejection, signatures of the re-signed messages hold.
    node, fresh = site.start_node("primary", **ENV), site.start_node("fresh", **ENV)
    for n in (node, fresh):
        await n.wait_healthy()

    async def caught_up():
        healths = await settled(site, node, fresh)
        assert all(h["projector_halted"] is None for h in healths), healths
        return healths

    again, joined = await wait_for(caught_up, 20, "both nodes read the re-seeded log")
    assert again["digest"] == joined["digest"]  # (the restarted node appended a promotion)
    assert again["events_applied"] > before["events_applied"]
    assert joined["unverified_messages"] == again["unverified_messages"] == 1
    async with site.database("fresh") as db:
        copied = await db.fetchval("SELECT count(*) FROM event_log WHERE type = '?'")
    assert copied == 1
