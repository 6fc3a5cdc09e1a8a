"""The read side: every query the API and the License Manager ask of a node's read models.

The tables are ``projections.schema``'s, so their SQL lives next to it: one method
per read, each answering plain rows (dicts) ready to serialise. Filters are optional
(None reads all); limits are the caller's, already clamped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson

Row = dict[str, Any]


def _records(rows: list[asyncpg.Record]) -> list[Row]:
    return [dict(r) for r in rows]


@dataclass(frozen=True)
class CapacityRows:
    """What the capacity chart folds: seats before the period, per bucket, denials, and now."""

    before: list[asyncpg.Record]  # where each licensed feature stood when the period began
    buckets: list[asyncpg.Record]  # per feature and bucket: peak, low, last, total, most
    denied: list[asyncpg.Record]  # per feature, bucket and reason: times and seats
    current: list[asyncpg.Record]  # the features as they are now


_LICENSED = "EXISTS (SELECT 1 FROM features f WHERE f.name = d.feature AND f.version = d.version)"
_DENIED_BUCKETS = (
    "WITH d AS (SELECT feature, version, at, count, reason FROM denials "
    "  WHERE at >= $1 AND at <= $2), "
    f"named AS ((SELECT feature, version FROM d WHERE {_LICENSED} GROUP BY 1, 2) "
    f"  UNION ALL (SELECT feature, version FROM d WHERE NOT {_LICENSED} GROUP BY 1, 2 "
    "  ORDER BY count(*) DESC, feature, version LIMIT $5)) "
    "SELECT CASE WHEN n.feature IS NULL THEN $6 ELSE d.feature END AS feature, "
    "CASE WHEN n.feature IS NULL THEN '' ELSE d.version END AS version, "
    "date_bin($3::interval, d.at, $1) AS t, count(*) AS times, "
    "sum(d.count)::bigint AS seats, d.reason "
    "FROM d LEFT JOIN named n ON n.feature = d.feature AND n.version = d.version "
    "GROUP BY 1, 2, 3, d.reason ORDER BY 1, 2, 3 LIMIT $4"
)


class ReadModels:
    """Reads of one node's own read models (never another node's)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def usage(
        self, feature: str | None = None, device: str | None = None, user: str | None = None
    ) -> list[Row]:
        """Open leases with their feature's seats, in the order the Usage Details page shows."""
        return _records(
            await self.pool.fetch(
                "SELECT u.lease_id, u.feature, u.type, u.version, u.count, u.device, "
                'u."user", u.since, u.lease_seconds, u.reservation_id, f.in_use, f.total '
                "FROM usage u "
                "LEFT JOIN features f ON f.name = u.feature AND f.version = u.version "
                "WHERE ($1::text IS NULL OR u.feature = $1) "
                "AND ($2::text IS NULL OR u.device = $2) "
                'AND ($3::text IS NULL OR u."user" = $3) '
                "ORDER BY u.feature, u.version, u.since, u.lease_id",
                feature,
                device,
                user,
            )
        )

    async def features(self) -> list[Row]:
        return _records(
            await self.pool.fetch(
                "SELECT name, type, version, total, in_use, reserved, reserved_in_use, "
                "total - in_use AS available, expires_at FROM features ORDER BY name, version"
            )
        )

    async def licenses(self) -> list[Row]:
        rows = await self.pool.fetch(
            "SELECT license_id, activated_at, features FROM licenses ORDER BY license_id"
        )
        return [{**dict(r), "features": orjson.loads(r["features"])} for r in rows]

    async def reservations(self) -> list[Row]:
        return _records(
            await self.pool.fetch(
                'SELECT reservation_id, feature, version, device, "user", count, in_use, '
                "created_at "
                "FROM reservations ORDER BY feature, version, created_at"
            )
        )

    async def denials(self, limit: int, feature: str | None = None) -> list[Row]:
        """The newest ``limit`` denials, newest first."""
        return _records(
            await self.pool.fetch(
                'SELECT at, feature, version, device, "user", count, reason, message, command_id '
                "FROM denials WHERE ($2::text IS NULL OR feature = $2) "
                "ORDER BY stream_offset DESC, idx DESC LIMIT $1",
                limit,
                feature,
            )
        )

    async def denial_days(self, days: int, feature: str | None = None) -> list[Row]:
        """Denials per day, feature and reason for the newest ``days`` days, newest first.

        Kept for ever, while the denial rows themselves go after the retention period.
        """
        return _records(
            await self.pool.fetch(
                "SELECT day, feature, version, reason, times, seats FROM denial_days "
                "WHERE day > (SELECT max(day) FROM denial_days) - $1::int "
                "AND ($2::text IS NULL OR feature = $2) "
                "ORDER BY day DESC, feature, version, reason",
                days,
                feature,
            )
        )

    async def history(
        self, limit: int, feature: str | None = None, version: str | None = None
    ) -> list[Row]:
        """The newest ``limit`` changes of seats, oldest first (so a long history keeps its
        recent end)."""
        return _records(
            await self.pool.fetch(
                "SELECT at, feature, version, in_use, total FROM ("
                "  SELECT * FROM usage_history "
                "  WHERE ($1::text IS NULL OR feature = $1) AND ($2::text IS NULL OR version = $2) "
                "  ORDER BY stream_offset DESC, idx DESC LIMIT $3) recent "
                "ORDER BY stream_offset, idx",
                feature,
                version,
                limit,
            )
        )

    async def timeline(self, limit: int, node: str | None = None) -> list[Row]:
        """Status changes of servers and the pair, newest first, with how long each state lasted."""
        rows = _records(
            await self.pool.fetch(
                "SELECT at, kind, node, server_id, server_status, pair_status, reason "
                "FROM status_history WHERE ($1::text IS NULL OR node = $1) "
                "ORDER BY stream_offset DESC, idx DESC LIMIT $2",
                node,
                limit,
            )
        )
        following: dict[str | None, Any] = {}
        for row in rows:  # newest first: the next change of the same node ends this state
            later = following.get(row["node"])
            row["lasted_seconds"] = (later - row["at"]).total_seconds() if later else None
            following[row["node"]] = row["at"]
        return rows

    async def usage_span(self) -> tuple[datetime | None, datetime | None]:
        """When the recorded history of seats begins and ends (None, None when there is none)."""
        async with self.pool.acquire() as conn:
            first = await conn.fetchval("SELECT min(at) FROM usage_history")
            last = await conn.fetchval("SELECT max(at) FROM usage_history")
        return first, last

    async def feature_count(self) -> int:
        return await self.pool.fetchval("SELECT count(*) FROM features")

    async def capacity(
        self,
        start: datetime,
        end: datetime,
        stride: timedelta,
        *,
        max_rows: int,
        denied_features: int,
        others: str,
    ) -> CapacityRows:
        """Seats and denials from ``start`` to ``end`` folded into buckets of ``stride``.

        At most ``max_rows`` bucket rows and as many denial rows, however many rows the
        period holds: denials of licensed features and of the ``denied_features`` most
        denied unlicensed ones are shown by name, every other feature's are summed under ``others``
        (25,000 unknown names must not make 25,000 series).
        """
        async with self.pool.acquire() as conn:
            # One index probe per feature.
            before = await conn.fetch(
                "SELECT f.name AS feature, f.version, h.in_use, h.total "
                "FROM features f CROSS JOIN LATERAL ("
                "  SELECT in_use, total FROM usage_history u "
                "WHERE u.feature = f.name AND u.version = f.version "
                "  AND u.at < $1 ORDER BY u.at DESC, u.stream_offset DESC, u.idx DESC LIMIT 1) h",
                start,
            )
            buckets = await conn.fetch(
                "SELECT feature, version, date_bin($3::interval, at, $1) AS t, "
                "max(in_use) AS peak, min(in_use) AS low, "
                "(array_agg(in_use ORDER BY stream_offset DESC, idx DESC))[1] AS last, "
                "(array_agg(total ORDER BY stream_offset DESC, idx DESC))[1] AS total, "
                "max(total) AS most "
                "FROM usage_history WHERE at >= $1 AND at <= $2 "
                "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 LIMIT $4",
                start,
                end,
                stride,
                max_rows,
            )
            denied = await conn.fetch(
                _DENIED_BUCKETS, start, end, stride, max_rows, denied_features, others
            )
            current = await conn.fetch(
                "SELECT name, version, type, total, in_use, reserved FROM features"
            )
        return CapacityRows(before, buckets, denied, current)
