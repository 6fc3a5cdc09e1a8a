"""The seed's pairing rules, each refusal in the administrator's words, on real nodes."""

from __future__ import annotations

from events.commands import FeatureGrant, PairServers, ResetServerId, UnpairServers
from tests.support.waiting import wait_for

GRANT = [FeatureGrant(name="InTouch", type="Server", version="2017", seats=5)]


async def test_the_seed_pairing_procedure_with_every_refusal(site):
    primary, backup = site.start_node("primary"), site.start_node("backup")
    await primary.wait_registered()
    first_backup = await backup.wait_registered()

    async with site.client(actor="admin") as admin:
        unknown = await admin.send(PairServers(primary="primary", backup="nobody"))
        assert unknown.error.code == "not_found" and "nobody" in unknown.error.message
        itself = await admin.send(PairServers(primary="primary", backup="primary"))
        assert itself.error.code == "invalid"

        # Licenses activated before pairing: neither server may hold activated licenses.
        assert (await admin.activate("LIC-EARLY", GRANT)).ok
        holding = await admin.send(PairServers(primary="primary", backup="backup"))
        assert holding.error.code == "in_use"
        assert "neither server may hold activated licenses" in holding.error.message
        assert "LIC-EARLY" in holding.error.message

        # Deactivated, but the backup had licenses under its current id: reset it first.
        assert (await admin.deactivate("LIC-EARLY")).ok
        must_reset = await admin.send(PairServers(primary="primary", backup="backup"))
        assert must_reset.error.code == "conflict"
        assert "reset its License Server ID first" in must_reset.error.message
        assert first_backup["server_id"] in must_reset.error.message

        reset = await admin.send(ResetServerId(node="backup"))
        assert reset.ok, reset

        async def backup_has_a_new_id():
            h = await backup.health()
            return h and h["server_id"] != first_backup["server_id"] and h["caught_up"] and h

        fresh = await wait_for(backup_has_a_new_id, 30, "the backup under a new License Server ID")
        await backup.wait_registered()

        paired = await admin.send(PairServers(primary="primary", backup="backup"))
        assert paired.ok, paired
        again = await admin.send(PairServers(primary="primary", backup="backup"))
        assert again.error.code == "conflict" and "already paired" in again.error.message

        # Licenses activated on the pair show up on both servers.
        assert (await admin.activate("LIC-PAIR", GRANT)).ok

        async def both_show_the_license():
            views = [await n.get("/api/licenses") for n in (primary, backup)]
            return all([lic["license_id"] for lic in v["licenses"]] == ["LIC-PAIR"] for v in views)

        await wait_for(both_show_the_license, 5, "the license on both nodes")

        stuck = await admin.send(UnpairServers())
        assert stuck.error.code == "in_use" and "cannot be undone" in stuck.error.message
        no_reset = await admin.send(ResetServerId(node="primary"))
        assert no_reset.error.code == "in_use" and "LIC-PAIR" in no_reset.error.message

        assert (await admin.deactivate("LIC-PAIR")).ok
        assert (await admin.send(UnpairServers())).ok

    async def same_configuration():
        views = [await n.get("/api/servers") for n in (primary, backup)]
        return views[0] == views[1] and views[0]

    servers = await wait_for(same_configuration, 5, "both nodes to show the same servers")
    assert servers["pair"] is None
    ids = {s["node"]: s["server_id"] for s in servers["servers"]}
    assert ids["backup"] == fresh["server_id"]
    assert ids["backup"].startswith("BACKUP_") and len(ids["backup"]) == len("BACKUP_") + 8


async def test_both_nodes_show_the_same_pair_configuration(site):
    primary, backup = site.start_node("primary"), site.start_node("backup")
    await primary.wait_registered()
    await backup.wait_registered()
    async with site.client(actor="admin") as admin:
        assert (await admin.send(PairServers(primary="primary", backup="backup"))).ok

    async def same():
        views = [await n.get("/api/servers") for n in (primary, backup)]
        return views[0] == views[1] and views[0]["pair"] and views[0]

    servers = await wait_for(same, 5, "the pair on both nodes")
    assert servers["pair"] == {"primary": "primary", "backup": "backup"}
    assert [(s["node"], s["role"]) for s in servers["servers"]] == [
        ("primary", "primary"),
        ("backup", "backup"),
    ]
