"""Bounded read models: denial rows pruned by the log's own time, the capacity chart capped.

Issue 9 row 13: 25,000 denials were kept for ever and ``/api/capacity?period=all``
answered 8.7 MB. Real Postgres, no broker: the projector is fed in-process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import pytest

from events.leases import AcquireDenied
from events.writer import WriterPromoted
from projections.database import open_pool
from projections.projector import Projector
from projections.queries import ReadModels
from projections.store import ProjectionStore
from services.web.capacity import MAX_POINTS, OTHERS, capacity
from tests.support.sites import PG_DSN, new_site_name

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
RETENTION = timedelta(days=10)


@pytest.fixture
async def databases() -> AsyncIterator[list[asyncpg.Pool]]:
    name = new_site_name()
    names = [f"licensing_{name}_{n}" for n in ("a", "b")]
    pools = [await open_pool(PG_DSN, n) for n in names]
    yield pools
    for pool in pools:
        await pool.close()
    conn = await asyncpg.connect(PG_DSN)
    try:
        for n in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{n}"')
    finally:
        await conn.close()


def _denied(i: int, at: datetime, feature: str = "Ghost") -> dict:
    return orjson.loads(
        AcquireDenied(
            command_id=f"c{i}",
            epoch=1,
            at=at,
            feature=feature,
            version="1",
            device="d",
            user="u",
            count=2,
            reason="unknown_feature",
            message="no such feature",
        ).model_dump_json()
    )


def _log(days: int) -> list[tuple[int, list[dict]]]:
    """A promotion, then one denial a day (two on even days), a message each."""
    log = [
        (
            0,
            [
                orjson.loads(
                    WriterPromoted(epoch=1, node="a", server_id="A", at=T0).model_dump_json()
                )
            ],
        )
    ]
    for day in range(days):
        at = T0 + timedelta(days=day)
        items = [_denied(2 * day, at)] + ([_denied(2 * day + 1, at)] if day % 2 == 0 else [])
        log.append((day + 1, items))
    return log


async def _rows(pool: asyncpg.Pool) -> tuple[list, list]:
    denials = await pool.fetch("SELECT * FROM denials ORDER BY stream_offset, idx")
    days = await pool.fetch("SELECT * FROM denial_days ORDER BY day, feature, version, reason")
    return [tuple(r) for r in denials], [tuple(r) for r in days]


async def test_denials_older_than_the_retention_at_the_batchs_event_time_are_pruned(databases):
    log = _log(30)
    one_batch = Projector(ProjectionStore(databases[0], RETENTION))
    await one_batch.load()
    await one_batch.apply_batch(log)
    small_batches = Projector(ProjectionStore(databases[1], RETENTION))
    await small_batches.load()
    for i in range(0, len(log), 7):  # cut differently: the same rows must remain
        await small_batches.apply_batch(log[i : i + 7])

    denials, days = await _rows(databases[0])
    newest = T0 + timedelta(days=29)
    assert denials and all(r[2] >= newest - RETENTION for r in denials)
    assert {r[2] for r in denials} == {T0 + timedelta(days=d) for d in range(19, 30)}
    # The per-day counts are kept for every day, pruned or not.
    assert len(days) == 30
    assert sum(r[4] for r in days) == 45 and sum(r[5] for r in days) == 90
    assert days[0][4] == 2 and days[1][4] == 1  # even days had two denials

    assert await _rows(databases[1]) == (denials, days)

    daily = await ReadModels(databases[0]).denial_days(7)
    assert [r["day"] for r in daily] == [(newest - timedelta(days=d)).date() for d in range(7)]


async def test_the_capacity_chart_has_at_most_max_points_however_many_rows(databases):
    pool = databases[0]
    # Many features denied, densely over a long span: without a cap every feature and
    # every bucket would be a row.
    rows = [
        (
            i,
            0,
            T0 + timedelta(minutes=7 * i),
            f"Unknown {i % 3000}",
            "1",
            "d",
            "u",
            1,
            "unknown_feature",
            "m",
            f"c{i}",
        )
        for i in range(30_000)
    ]
    await pool.copy_records_to_table("denials", records=rows)
    await pool.executemany(
        "INSERT INTO features VALUES ($1, '1', 'Server', 10, 0, 0, 0, NULL)",
        [(f"Licensed {i}",) for i in range(40)],
    )
    history = [
        (i, 0, T0 + timedelta(minutes=3 * i), f"Licensed {i % 40}", "1", i % 10, 10)
        for i in range(20_000)
    ]
    await pool.copy_records_to_table("usage_history", records=history)

    for period in ("all", "week", "day"):
        answer = await capacity(ReadModels(pool), period, 600, now=T0 + timedelta(days=150))
        points = sum(len(f["points"]) for f in answer["features"])
        marks = sum(len(f["denials"]) for f in answer["features"])
        assert points <= MAX_POINTS and marks <= MAX_POINTS, (period, points, marks)
        assert len(answer["features"]) <= 40 + 20 + 1
        assert len(orjson.dumps(answer)) < 1_000_000

    answer = await capacity(ReadModels(pool), "all", 600, now=T0 + timedelta(days=150))
    others = next(f for f in answer["features"] if f["feature"] == OTHERS)
    named = sum(f["denied_times"] for f in answer["features"] if f["feature"] != OTHERS)
    assert named + others["denied_times"] == 30_000  # summed, not lost
