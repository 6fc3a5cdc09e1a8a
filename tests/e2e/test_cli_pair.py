"""The administrator's CLI against two real nodes: pair, unpair, refusals in words, reset-id
and replay.
"""

from __future__ import annotations

import json
import subprocess

from events.commands import FeatureGrant
from tests.support.cli import licensing

GRANT = [FeatureGrant(name="InTouch", type="Server", version="2017", seats=5)]


def ok_json(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    data = json.loads(done.stdout)
    assert data["ok"] is True, data
    return data


async def test_pair_unpair_refusals_reset_and_replay_from_the_cli(site):
    primary, backup = site.start_node("primary"), site.start_node("backup")
    await primary.wait_registered()
    first = await backup.wait_registered()
    api = primary.url

    ok_json(await licensing(site, api, "pair", "primary", "backup", "--json"))
    again = await licensing(site, api, "pair", "primary", "backup")
    assert (
        again.returncode == 1
        and "already paired" in again.stderr
        and "unpair them first" in again.stderr
    )
    ok_json(await licensing(site, api, "unpair", "--json"))
    assert (await primary.get("/api/servers"))["pair"] is None
    usage = await licensing(site, api, "pair", "primary")
    assert usage.returncode == 2 and "BACKUP" in usage.stderr

    # Licenses activated while unpaired: the refusal is the seed's, in words, and exit 1.
    async with site.client(actor="admin") as admin:
        assert (await admin.activate("LIC-EARLY", GRANT)).ok
        refused = await licensing(site, api, "pair", "primary", "backup")
        assert refused.returncode == 1
        assert (
            "neither server may hold activated licenses" in refused.stderr
            and "LIC-EARLY" in refused.stderr
        )
        assert (await admin.deactivate("LIC-EARLY")).ok
    must_reset = await licensing(site, api, "--json", "pair", "primary", "backup")
    assert must_reset.returncode == 1
    error = json.loads(must_reset.stdout)["error"]
    assert error["code"] == "conflict" and "reset its License Server ID first" in error["message"]

    # reset-id follows the replay to the writer's digest and prints the new License Server ID.
    reset = await licensing(site, api, "reset-id", "backup")
    assert reset.returncode == 0, reset.stderr
    new_id = (await backup.wait_registered())["server_id"]
    assert new_id != first["server_id"]
    assert f"New License Server ID of backup: {new_id} (was {first['server_id']})" in reset.stdout
    assert "events/s" in reset.stdout

    ok_json(await licensing(site, api, "pair", "primary", "backup", "--json"))

    # replay (the seed's Sync) shows its progress and ends when the backup matches the writer.
    replayed = ok_json(await licensing(site, backup.url, "replay", "backup", "--json"))
    assert (
        replayed["node"] == "backup"
        and replayed["server_id"] == new_id
        and replayed["matched"] == "primary"
    )
    assert replayed["events"] > 0 and replayed["rate"] > 0 and replayed["elapsed"] > 0
    assert "Replaying backup" in replayed_progress(
        await licensing(site, api, "replay", "backup", "--from-peer", "primary")
    )
    a, b = await primary.health(), await backup.health()
    assert b["caught_up"] and b["server_id"] == new_id
    assert (a["offset"], a["digest"]) == (b["offset"], b["digest"])

    unknown = await licensing(site, api, "replay", "nobody")
    assert unknown.returncode == 1 and "nobody is not known to this site" in unknown.stderr


def replayed_progress(done: subprocess.CompletedProcess) -> str:
    """The progress bar goes to stderr; the summary to stdout."""
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert (
        "Replayed" in done.stdout
        and "events/s" in done.stdout
        and "matches primary (" in done.stdout
    )
    return done.stderr
