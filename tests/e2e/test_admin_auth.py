"""Admin commands need the site's admin key; products do not; the authorized actor is recorded."""

from __future__ import annotations

from events.commands import FeatureGrant
from services.client import LicenseClient
from tests.support.sites import settings_for

KEY = "test-admin-key-3f9c"
GRANT = [FeatureGrant(name="Historian", version="2020", seats=2)]


async def test_unsigned_or_wrongly_signed_admin_commands_are_refused(site):
    node = site.start_node("primary", LICENSING_ADMIN_KEY=KEY)
    health = await node.wait_registered()
    assert health["admin_commands"] == "signed"

    async with LicenseClient(settings_for(site.name), actor="mallory") as anyone:
        refused = await anyone.activate("LIC-A", GRANT)
    async with LicenseClient(
        settings_for(site.name, admin_key="wrong"), actor="mallory"
    ) as guesser:
        guessed = await guesser.activate("LIC-A", GRANT)
    async with LicenseClient(settings_for(site.name, admin_key=KEY), actor="alice") as admin:
        allowed = await admin.activate("LIC-A", GRANT)
    assert refused.error.code == guessed.error.code == "unauthorized"
    assert "admin key" in refused.error.message
    assert allowed.ok

    async with LicenseClient(settings_for(site.name)) as product:  # products need no key
        lease = await product.acquire("Historian", "2020", device="hist", user="svc")
        assert lease.lease_id

    async with site.database("primary") as db:
        actors = await db.fetch(
            "SELECT body->>'actor' AS actor FROM event_log WHERE type = 'LicenseActivated'"
        )
        refusals = await db.fetchval("SELECT count(*) FROM event_log WHERE type = 'CommandRefused'")
    assert [r["actor"] for r in actors] == ["alice"]
    assert refusals == 0  # unauthorized commands never reach the log
