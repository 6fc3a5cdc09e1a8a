"""Reports from a real node: CSV exports of a known sequence, and who held what at a moment.

The sequence: a license, then acquire A, acquire B, release A, a denial, and after the
period one more acquire (C). Every moment the test asks about is an event's own time, read
from the node's event_log, so "between" and "exact to the event" are exact.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import aiohttp

from events.commands import Acquire, FeatureGrant
from events.vocabulary import DenialReason, ErrorCode
from tests.support.cli import licensing

FEATURE, VERSION = "InTouch", "2017"
DEVICE_A = 'HMI "North", line 2'  # a comma and quotes: RFC 4180 must quote and double them
USER_D = 'eng, "night"'
ENG_1 = "ENG-1"
TICK = timedelta(microseconds=1)


async def _csv(server, name: str, **params: str) -> tuple[str, list[dict[str, str]]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.url}/api/reports/{name}.csv", params=params) as answer,
    ):
        assert answer.status == 200, await answer.text()
        assert answer.headers["Content-Type"].startswith("text/csv")
        raw = await answer.text()
    return raw, list(csv.DictReader(io.StringIO(raw, newline="")))


async def _event_times(site) -> list[tuple[str, dict]]:
    async with site.database("solo") as db:
        rows = await db.fetch(
            "SELECT type, body::text AS body FROM event_log ORDER BY stream_offset, idx"
        )
    return [(r["type"], json.loads(r["body"])) for r in rows]


def _utc(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(UTC).isoformat()


async def test_csv_reports_and_the_leases_held_at_a_moment(site, tmp_path):
    node = site.start_node("solo")
    await node.wait_registered()
    async with site.client() as product:
        grant = FeatureGrant(name=FEATURE, type="Server", version=VERSION, seats=2)
        assert (await product.activate("LIC-R", [grant])).ok
        a = await product.acquire(FEATURE, VERSION, device=DEVICE_A, user="op1")
        await a.stop_renewing()
        b = await product.acquire(FEATURE, VERSION, device="HMI-B", user="op2")
        await b.stop_renewing()
        assert (await product.release(a.lease_id, lease_secret=a.lease_secret)).ok
        denied = await product.send(
            Acquire(feature=FEATURE, version=VERSION, device=ENG_1, user=USER_D, count=5)
        )
        assert denied.error.code == ErrorCode.DENIED
        c = await product.acquire(FEATURE, VERSION, device="HMI-C", user="op3")
        await c.stop_renewing()
    await site.quiet(node)

    log = await _event_times(site)
    times = {(kind, body.get("lease_id")): datetime.fromisoformat(body["at"]) for kind, body in log}
    a_at, b_at = times[("LeaseGranted", a.lease_id)], times[("LeaseGranted", b.lease_id)]
    released_at = times[("LeaseReleased", a.lease_id)]
    c_at = times[("LeaseGranted", c.lease_id)]
    since, until = a_at.isoformat(), c_at.isoformat()

    # Usage history: exactly A, B, A's release, in order; not the activation before, not C after.
    raw, usage = await _csv(node, "usage", since=since, until=until)
    assert raw.startswith(
        "at,event,feature,version,lease_id,device,user,count,in_use,total,reason\r\n"
    )
    assert '"HMI ""North"", line 2"' in raw
    assert [(r["event"], r["lease_id"], r["device"], r["in_use"], r["total"]) for r in usage] == [
        ("LeaseGranted", a.lease_id, DEVICE_A, "1", "2"),
        ("LeaseGranted", b.lease_id, "HMI-B", "2", "2"),
        ("LeaseReleased", a.lease_id, DEVICE_A, "1", "2"),
    ]
    assert [r["at"] for r in usage] == [_utc(t.isoformat()) for t in (a_at, b_at, released_at)]
    assert all(r["at"].endswith("+00:00") for r in usage)
    _, narrowed = await _csv(node, "usage", since=since, until=until, feature="Other")
    assert narrowed == []
    _, before = await _csv(node, "usage", until=since)
    assert [r["event"] for r in before] == ["LicenseActivated"]

    # Denials: the one denial, its user's comma and quotes intact.
    _, denials = await _csv(node, "denials", since=since, until=until)
    assert [(r["device"], r["user"], r["count"], r["reason"]) for r in denials] == [
        (ENG_1, USER_D, "5", DenialReason.NO_SEATS)
    ]
    _, later = await _csv(node, "denials", since=until)
    assert later == []
    typed = f"{node.url}/api/reports/denials.csv?since={_utc(since)}"  # "+00:00" not encoded
    async with aiohttp.ClientSession() as http, http.get(typed) as answer:
        assert answer.status == 200, await answer.text()
        assert ENG_1 in await answer.text()

    # The timeline: the node's registration, before the period; nothing inside it.
    _, timeline = await _csv(node, "timeline", until=since)
    assert [(r["event"], r["node"]) for r in timeline] == [("ServerRegistered", "solo")]
    _, quiet = await _csv(node, "timeline", since=since, until=until, node="solo")
    assert quiet == []

    # Who held the feature, exact to the event.
    async def held(at: datetime) -> list[str]:
        answer = await node.get("/api/usage?" + urlencode({"at": at.isoformat()}))
        return sorted(row["lease_id"] for row in answer["usage"])

    assert await held(a_at - TICK) == []
    assert await held(a_at) == [a.lease_id]
    assert await held(b_at) == sorted([a.lease_id, b.lease_id])
    assert await held(released_at - TICK) == sorted([a.lease_id, b.lease_id])
    assert await held(released_at) == [b.lease_id]
    answer = await node.get("/api/usage?" + urlencode({"at": released_at.isoformat()}))
    assert answer["complete"] is True and _utc(answer["event_at"]) == _utc(released_at.isoformat())
    (row,) = answer["usage"]
    assert (row["device"], row["user"], row["in_use"], row["total"]) == ("HMI-B", "op2", 1, 2)
    assert answer["offset"] >= 0 and answer["events"] == sum(
        1 for kind, body in log if datetime.fromisoformat(body["at"]) <= released_at
    )
    assert sorted(r["lease_id"] for r in (await node.get("/api/usage"))["usage"]) == sorted(
        [b.lease_id, c.lease_id]
    )
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{node.url}/api/usage", params={"at": "2026-01-01T00:00:00"}) as bad:
            assert bad.status == 400 and "offset" in await bad.text()

    # The CLI prints the same.
    cli = await licensing(site, node.url, "--json", "usage", "--at", b_at.isoformat())
    assert cli.returncode == 0, cli.stderr
    assert sorted(r["lease_id"] for r in json.loads(cli.stdout)["usage"]) == sorted(
        [a.lease_id, b.lease_id]
    )
    table = await licensing(site, node.url, "usage", "--at", released_at.isoformat())
    assert table.returncode == 0, table.stderr
    assert "HMI-B" in table.stdout and "North" not in table.stdout
    out = tmp_path / "usage.csv"
    cli = await licensing(
        site, node.url, "report", "usage", "--csv", "--since", since, "--until", until,
        "--output", str(out),
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert out.read_bytes().decode() == raw
    naive = await licensing(site, node.url, "report", "denials", "--since", "2026-01-01T00:00")
    assert naive.returncode == 2 and "UTC offset" in naive.stderr
