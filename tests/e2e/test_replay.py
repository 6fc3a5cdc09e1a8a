"""Reset and replay: a node rebuilds 100,000 events to the primary's digest, and says how fast."""

from __future__ import annotations

import json
import os
import time

from events.commands import ResetServerId, SyncServer
from tests.support.fake_log import license_events, publish_events
from tests.support.waiting import wait_for

EVENTS = int(os.environ.get("REPLAY_EVENTS", "100000"))


async def test_a_reset_backup_replays_the_whole_log_to_the_primarys_digest(site):
    events, expected = license_events(EVENTS, seed=11)
    await publish_events(site.name, events, per_message=10)
    primary = site.start_node("primary")
    started = time.monotonic()
    await primary.wait_registered(timeout=120)
    first_build = time.monotonic() - started
    backup = site.start_node("backup")
    await backup.wait_registered(timeout=120)

    async with site.client(actor="admin") as admin:
        assert (await admin.send(SyncServer(node="backup"))).ok
        sync_sent = time.monotonic()

        async def recovering():
            h = await backup.health()
            return h and h["status"] == "Recovering" and h

        seen = await wait_for(recovering, 10, "the backup to show Recovering", interval=0.01)
        assert seen["events_applied"] < EVENTS

        async def matches_primary():
            a, b = await primary.health(), await backup.health()
            return (
                a
                and b
                and b["caught_up"]
                and a["offset"] == b["offset"]
                and a["digest"] == b["digest"]
                and b["status"] == "Running"
                and b
            )

        await wait_for(matches_primary, 120, "the backup to match the primary again", interval=0.02)
        replay_seconds = time.monotonic() - sync_sent

        old_id = (await backup.health())["server_id"]
        assert (await admin.send(ResetServerId(node="backup"))).ok

        async def rebuilt_under_a_new_id():
            a, b = await primary.health(), await backup.health()
            return (
                b
                and b["server_id"] != old_id
                and b["caught_up"]
                and a["offset"] == b["offset"]
                and a["digest"] == b["digest"]
                and b
            )

        await wait_for(rebuilt_under_a_new_id, 120, "the reset backup rebuilt")
        await backup.wait_registered()

    async def settled():
        a, b = await primary.health(), await backup.health()
        return a["offset"] == b["offset"] and a["digest"] == b["digest"]

    await wait_for(settled, 10, "both nodes at the same offset after the re-registration")

    rate = EVENTS / replay_seconds
    print(
        f"REPLAY {EVENTS} events: first build {first_build:.1f}s, "
        f"sync replay {replay_seconds:.1f}s = {rate:,.0f} events/s"
    )
    if os.environ.get("REPLAY_RESULTS"):
        with open(os.environ["REPLAY_RESULTS"], "a") as out:
            out.write(
                json.dumps(
                    {
                        "events": EVENTS,
                        "first_build_s": first_build,
                        "replay_s": replay_seconds,
                        "events_per_s": rate,
                    }
                )
                + "\n"
            )
    await site.quiet(primary, backup)
    assert await site.read_models("primary") == await site.read_models("backup")
    features = (await backup.get("/api/features"))["features"]
    assert {(f["name"], f["version"]): f["in_use"] for f in features} == {
        k: f.in_use for k, f in expected.features.items()
    }


async def test_a_node_rebuilds_from_a_peers_copy_of_the_log(site):
    events, _ = license_events(5_000, seed=3)
    await publish_events(site.name, events, per_message=10)
    primary, backup = site.start_node("primary"), site.start_node("backup")
    await primary.wait_registered(timeout=60)
    await backup.wait_registered(timeout=60)
    async with site.client(actor="admin") as admin:
        assert (await admin.send(SyncServer(node="backup", from_peer="primary"))).ok

    async def rebuilt():
        a, b = await primary.health(), await backup.health()
        return (
            b["last_rebuild"]
            and b["caught_up"]
            and a["offset"] == b["offset"]
            and a["digest"] == b["digest"]
            and b
        )

    done = await wait_for(rebuilt, 60, "the backup rebuilt from the primary's copy")
    assert done["last_rebuild"]["source"] == "primary's event_log"
    assert done["last_rebuild"]["copied_events"] >= 5_000
    await site.quiet(primary, backup)
    assert await site.read_models("primary") == await site.read_models("backup")
