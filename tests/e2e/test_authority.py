"""Authority where it is needed (issue 9, rows 9 to 11): what a product cannot do any more.

A product holds the broker login and nothing else: no admin key, no node key, and only the
secrets of the leases it was granted. Everything here is sent as such a product (or as an
attacker who captured an administrator's signed command) against a site with both keys.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from events import codec
from events.commands import Acquire, FeatureGrant, RegisterServer, Reserve
from events.status import ReportPairSync, ReportServerStatus
from events.vocabulary import Activity, Authority, ErrorCode
from services.auth import signing
from services.client import LicenseClient
from services.domain import lease_secrets
from tests.support.sites import settings_for
from tests.support.waiting import wait_for

ADMIN_KEY = "test-admin-key-7d1e"
NODE_KEYS = f"n1:{'a1' * 16}"
KEYS = {"LICENSING_ADMIN_KEY": ADMIN_KEY, "LICENSING_NODE_KEYS": NODE_KEYS}
FEATURE, VERSION = "Historian", "2020"
FUTURE = datetime(2099, 1, 1, tzinfo=UTC)


def product(site, **options) -> LicenseClient:
    """A client holding neither key, whatever the test site's defaults give clients."""
    return LicenseClient(settings_for(site.name, admin_key=None, node_keys=None), **options)


def admin(site) -> LicenseClient:
    return LicenseClient(
        settings_for(site.name, admin_key=ADMIN_KEY, node_keys=None), actor="admin"
    )


async def start(site, *nodes: str):
    started = [site.start_node(name, **KEYS) for name in nodes]
    for node in started:
        health = await node.wait_registered()
        assert health["admin_commands"] == "signed" and health["node_commands"] == "signed"
    async with admin(site) as a:
        assert (
            await a.activate("LIC-A", [FeatureGrant(name=FEATURE, version=VERSION, seats=3)])
        ).ok
    return started


async def usage(node) -> list[dict]:
    return (await node.get(f"/api/usage?feature={FEATURE}"))["usage"]


async def listed(node, lease_id: str) -> list[dict]:
    rows = await usage(node)
    assert lease_id in {row["lease_id"] for row in rows}
    return rows


async def test_a_lease_is_released_only_with_its_secret_or_by_an_administrator(site):
    (node,) = await start(site, "primary")
    async with product(site) as holder, product(site, actor="admin") as other:
        lease = await holder.acquire(FEATURE, VERSION, device="hmi-1", user="op", renew_every=3600)
        assert lease.lease_secret
        rows = await wait_for(lambda: listed(node, lease.lease_id), 10, "the lease in usage")
        # /api/usage shows the lease id to anyone, never its secret or the secret's hash.
        text = str(rows)
        assert "secret" not in text and lease.lease_secret not in text
        assert lease_secrets.hash_of(lease.lease_secret) not in text

        seen = rows[0]["lease_id"]
        stolen = await other.release(seen)
        forced = await other.release(seen, "stuck after a crash")  # x-actor: admin, unsigned
        wrong = await other.release(seen, lease_secret="0" * 64)
        for reply in (stolen, wrong, forced):
            assert not reply.ok and reply.error.code == ErrorCode.UNAUTHORIZED, reply
        assert "secret" in stolen.error.message and "force-release" in forced.error.message
        await listed(node, seen)  # the lease stays

        renewed = await holder.renew({seen: lease.lease_secret})
        assert renewed.ok and renewed.result["renewed"] == [seen]
        refused = await other.renew({seen: "0" * 64})
        assert not refused.ok and refused.error.code == ErrorCode.UNAUTHORIZED
        assert seen in refused.error.message

        released = await lease.release()
        assert released is not None and released.ok
    async with admin(site) as a, product(site) as holder:
        lease = await holder.acquire(FEATURE, VERSION, device="hmi-2", user="op")
        forced = await a.release(lease.lease_id, "operator left the plant")
        assert forced.ok  # signed with the admin key: a force-release needs no secret


async def test_node_commands_from_a_product_are_refused_and_change_no_tile(site):
    (node,) = await start(site, "primary")
    tiles = await node.get("/api/servers")
    end = await site.stream_end()
    forged_2099 = [
        RegisterServer(node="primary", server_id="EVIL_1", api_url="http://evil"),
        RegisterServer(node="ghost", server_id="GHOST_1"),
        ReportServerStatus(node="primary", activity=Activity.STOPPED, observed_at=FUTURE),
        ReportPairSync(synced=False, lag_events=5, observed_at=FUTURE),
    ]
    now = datetime.now(UTC)
    forged_now = [
        ReportServerStatus(node="primary", activity=Activity.STOPPED, observed_at=now),
        ReportPairSync(synced=False, lag_events=5, observed_at=now),
    ]
    async with product(site) as mallory:
        for command in forged_2099:
            reply = await mallory.send(command)
            # Refused for its authority (or, where the contract bounds observation times,
            # as invalid before that): either way nothing is decided.
            assert not reply.ok and reply.error.code in ("unauthorized", "invalid"), reply
        for command in [forged_2099[0], forged_2099[1], *forged_now]:
            reply = await mallory.send(command)
            assert not reply.ok and reply.error.code == ErrorCode.UNAUTHORIZED, reply
            assert "node key" in reply.error.message
        assert (await mallory.acquire(FEATURE, VERSION, device="d", user="u")).lease_id
    assert await node.get("/api/servers") == tiles
    async with site.database("primary") as db:
        types = await db.fetch(
            "SELECT type FROM event_log WHERE stream_offset > $1", -1 if end is None else end
        )
    assert {r["type"] for r in types} <= {"LeaseGranted"}  # only the acquire was decided


async def test_a_captured_admin_command_gets_the_first_answer_or_unauthorized(site):
    (node,) = await start(site, "primary")
    command = Reserve(feature=FEATURE, version=VERSION, device="hmi-9", count=1)
    body = codec.dumps(command)
    async with admin(site) as a:
        captured: list[dict] = []
        sign = a._rpc._headers

        def capture(*args):
            headers = sign(*args)
            captured.append(headers)
            return headers

        a._rpc._headers = capture  # what a listener on the wire would see
        first = await a.send(command, command_id="reserve-1")
        assert first.ok and captured
    headers = captured[-1]
    assert headers[signing.AUTHORITY_HEADER] == Authority.ADMIN

    async with product(site, actor="admin") as mallory:

        def replay(with_headers):
            mallory._rpc._headers = lambda *args: with_headers

        replay(headers)
        again = await mallory.send(command, command_id="reserve-1")  # inside the window
        assert again == first
        other_id = await mallory.send(command, command_id="reserve-2")
        assert not other_id.ok and other_id.error.code == ErrorCode.UNAUTHORIZED
        # Signed long ago with the real key (simulated: a signature with an old signed_at).
        old = signing.headers(
            ADMIN_KEY,
            Authority.ADMIN,
            "reserve-3",
            "admin",
            body,
            datetime.now(UTC) - timedelta(hours=1),
        )
        replay({**old, "x-actor": "admin"})
        late = await mallory.send(command, command_id="reserve-3")
        assert not late.ok and late.error.code == ErrorCode.UNAUTHORIZED
        assert "clock" in late.error.message and "replay" in late.error.message
        replay({**old, "x-actor": "admin"})
        late_retry = await mallory.send(command, command_id="reserve-1")  # its answer: not fresh
        assert not late_retry.ok and late_retry.error.code == ErrorCode.UNAUTHORIZED

    async with site.database("primary") as db:
        reserved = await db.fetchval("SELECT count(*) FROM event_log WHERE type = 'SeatsReserved'")
    assert reserved == 1
    rows = (await node.get("/api/reservations"))["reservations"]
    assert len(rows) == 1


async def test_a_retried_acquire_gets_the_same_lease_and_secret_also_from_the_next_writer(site):
    primary, backup = await start(site, "primary", "backup")
    command = Acquire(feature=FEATURE, version=VERSION, device="hmi-1", user="op")
    async with product(site) as client:
        first = await client.send(command, command_id="acquire-1")
        assert first.ok and first.result["lease_secret"]
        again = await client.send(command, command_id="acquire-1")
        assert again.result["lease_id"] == first.result["lease_id"]
        assert again.result["lease_secret"] == first.result["lease_secret"]

        primary_writes = (await primary.health())["writer"]
        writer, follower = (primary, backup) if primary_writes else (backup, primary)
        writer.kill()  # the other node takes the commands and promotes itself on this retry
        after = await client.send(command, command_id="acquire-1")
        assert (await follower.health())["writer"]
        assert after.result["lease_id"] == first.result["lease_id"]
        assert after.result["lease_secret"] == first.result["lease_secret"]
        renewed = await client.renew({first.result["lease_id"]: first.result["lease_secret"]})
        assert renewed.ok and renewed.result["renewed"] == [first.result["lease_id"]]
