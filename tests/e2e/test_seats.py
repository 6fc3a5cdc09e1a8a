"""Never more seats granted than exist: many clients race for the last seats."""

from __future__ import annotations

import asyncio

from events.commands import FeatureGrant
from services.client import LicenseDenied
from tests.support.waiting import wait_for

SEATS = 7
CLIENTS = 6
ATTEMPTS_PER_CLIENT = 10


async def test_many_clients_on_the_last_seats_get_exactly_the_seats_that_exist(site):
    primary, backup = site.start_node("primary"), site.start_node("backup")
    await primary.wait_healthy()
    await backup.wait_healthy()
    async with site.client() as admin:
        assert (
            await admin.activate(
                "LIC-RACE", [FeatureGrant(name="Dev Studio", version="2023", seats=SEATS)]
            )
        ).ok

    async def one_client(n: int) -> tuple[int, int]:
        granted = denied = 0
        async with site.client() as client:

            async def attempt(i: int) -> None:
                nonlocal granted, denied
                try:
                    await client.acquire(
                        "Dev Studio", "2023", device=f"pc{n}-{i}", user=f"u{n}", lease_seconds=300
                    )
                    granted += 1
                except LicenseDenied as exc:
                    assert exc.reason == "no_seats"
                    denied += 1

            await asyncio.gather(*(attempt(i) for i in range(ATTEMPTS_PER_CLIENT)))
        return granted, denied

    results = await asyncio.gather(*(one_client(n) for n in range(CLIENTS)))
    granted = sum(g for g, _ in results)
    denied = sum(d for _, d in results)
    assert granted == SEATS
    assert denied == CLIENTS * ATTEMPTS_PER_CLIENT - SEATS

    async def both_agree():
        views = [await node.get("/api/features") for node in (primary, backup)]
        in_use = [v["features"][0]["in_use"] for v in views if v["features"]]
        return in_use == [SEATS, SEATS]

    await wait_for(both_agree, 5, "both nodes to show every seat in use")
    async with site.database("backup") as db:
        assert await db.fetchval("SELECT count(*) FROM denials") == denied
        assert await db.fetchval("SELECT coalesce(sum(count), 0) FROM usage") == SEATS
