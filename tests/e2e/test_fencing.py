"""A stale epoch's events change nothing, on any node, and every node records the same verdicts."""

from __future__ import annotations

from datetime import timedelta

from events.commands import FeatureGrant
from events.leases import LeaseGranted
from events.writer import WriterPromoted
from services.auth.log_signing import NodeKeys
from tests.support.fake_log import START, TEST_NODE_KEYS, publish_events
from tests.support.waiting import wait_for


async def test_events_of_a_stale_writer_are_ignored_everywhere(site):
    # A ghost writer held epoch 1 before the real nodes came up. It was a real node, so it
    # holds the node key: its messages pass verification and the epoch fence is what stops it.
    keys, env = NodeKeys.from_setting(TEST_NODE_KEYS), {"LICENSING_NODE_KEYS": TEST_NODE_KEYS}
    ghost = WriterPromoted(epoch=1, node="ghost", server_id="GHOST_00000000", at=START)
    await publish_events(site.name, [ghost], keys=keys)
    primary, backup = site.start_node("primary", **env), site.start_node("backup", **env)
    await primary.wait_healthy()
    await backup.wait_healthy()
    async with site.client() as client:
        assert (
            await client.activate("LIC-F", [FeatureGrant(name="InTouch", version="2017", seats=1)])
        ).ok
        writer = await wait_for(lambda: _writer(primary, backup), 5, "a writer")
        assert writer["epoch"] == 2

        # The ghost wakes up and writes as if it still were the writer, then re-claims a taken
        # epoch.
        late_grant = LeaseGranted(
            command_id="ghost-1",
            epoch=1,
            at=START + timedelta(seconds=1),
            lease_id="L-ghost",
            feature="InTouch",
            version="2017",
            device="ghost-pc",
            user="ghost",
            count=1,
            lease_seconds=60,
            expires_at=START + timedelta(seconds=61),
        )
        retake = WriterPromoted(epoch=2, node="ghost", server_id="GHOST_00000000", at=START)
        await publish_events(site.name, [late_grant, retake], keys=keys)

        # The real writer is unaffected and the only seat is still free.
        lease = await client.acquire("InTouch", "2017", device="hmi1", user="op")
        assert lease.lease_id != "L-ghost"

    async def settled():
        a, b = await primary.health(), await backup.health()
        return a["offset"] == b["offset"] and a["events_applied"] >= 6 and (a, b)

    a, b = await wait_for(settled, 5, "both nodes at the same offset")
    assert a["digest"] == b["digest"]
    assert a["unverified_messages"] == b["unverified_messages"] == 0  # the signatures held
    for node in ("primary", "backup"):
        async with site.database(node) as db:
            verdicts = dict(
                await db.fetch(
                    "SELECT body->>'command_id' AS c, ignored FROM event_log "
                    "WHERE type = 'LeaseGranted'"
                )
            )
            promotions = await db.fetch(
                "SELECT body->>'node' AS node, ignored FROM event_log "
                "WHERE type = 'WriterPromoted' ORDER BY stream_offset"
            )
            devices = [r["device"] for r in await db.fetch("SELECT device FROM usage")]
        assert verdicts["ghost-1"] == "stale_epoch"
        assert [tuple(p) for p in promotions][-1] == ("ghost", "epoch_taken")
        assert devices == ["hmi1"]


async def _writer(*nodes):
    for node in nodes:
        h = await node.health()
        if h and h["writer"]:
            return h
    return None
