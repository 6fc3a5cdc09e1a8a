"""Reports: the history the read models keep, as rows for CSV, and the node's log for "as of".

A report is one query read through a server-side cursor a page at a time inside one read-only
snapshot, so a long history streams in flat memory on both sides and its rows agree with each
other while the projector commits. Periods are half-open, ``since <= at < until`` (None: open),
so back-to-back exports neither overlap nor leave a gap; rows come in the log's order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from events.codec import event_from_dict
from projections.rows import usage_row
from projections.store import ProjectionStore
from services.domain.as_of import LoggedEvent
from services.domain.model import State

PAGE = 1000  # rows a cursor fetch brings, events a log page holds


@dataclass(frozen=True)
class Report:
    name: str
    columns: tuple[str, ...]
    narrowed_by: str  # the one optional filter it takes: a feature or a node
    sql: str  # $1 since, $2 until, $3 the filter (each may be NULL)


_PERIOD = "($1::timestamptz IS NULL OR {t}.at >= $1) AND ($2::timestamptz IS NULL OR {t}.at < $2)"

# One row per change of seats (a lease granted, released or expired; a license activated or
# deactivated), with what the feature stood at after it. A release names only its lease: who
# held it comes from the lease's grant (an index on event_log finds it).
USAGE = Report(
    "usage",
    (
        "at",
        "event",
        "feature",
        "version",
        "lease_id",
        "device",
        "user",
        "count",
        "in_use",
        "total",
        "reason",
    ),
    "feature",
    "SELECT u.at, e.type, u.feature, u.version, e.body->>'lease_id', "
    "coalesce(e.body->>'device', g.body->>'device'), coalesce(e.body->>'user', g.body->>'user'), "
    "coalesce(e.body->'count', g.body->'count')::bigint, u.in_use, u.total, e.body->>'reason' "
    "FROM usage_history u "
    "JOIN event_log e ON e.stream_offset = u.stream_offset AND e.idx = u.idx "
    "LEFT JOIN LATERAL (SELECT body FROM event_log g WHERE g.type = 'LeaseGranted' "
    "  AND e.type <> 'LeaseGranted' AND g.ignored IS NULL "
    "  AND g.body->>'lease_id' = e.body->>'lease_id' LIMIT 1) g ON true "
    f"WHERE {_PERIOD.format(t='u')} AND ($3::text IS NULL OR u.feature = $3) "
    "ORDER BY u.stream_offset, u.idx, u.feature, u.version",
)

DENIALS = Report(
    "denials",
    ("at", "feature", "version", "device", "user", "count", "reason", "message", "command_id"),
    "feature",
    'SELECT d.at, d.feature, d.version, d.device, d."user", d.count, d.reason, d.message, '
    "d.command_id FROM denials d "
    f"WHERE {_PERIOD.format(t='d')} AND ($3::text IS NULL OR d.feature = $3) "
    "ORDER BY d.stream_offset, d.idx",
)

TIMELINE = Report(
    "timeline",
    ("at", "event", "node", "server_id", "server_status", "pair_status", "reason"),
    "node",
    "SELECT s.at, s.kind, s.node, s.server_id, s.server_status, s.pair_status, s.reason "
    "FROM status_history s "
    f"WHERE {_PERIOD.format(t='s')} AND ($3::text IS NULL OR s.node = $3) "
    "ORDER BY s.stream_offset, s.idx",
)

REPORTS = {r.name: r for r in (USAGE, DENIALS, TIMELINE)}

USAGE_COLUMNS = (  # the columns of projections.rows.usage_row, i.e. of the usage table
    "lease_id",
    "feature",
    "version",
    "type",
    "count",
    "device",
    "user",
    "since",
    "lease_seconds",
    "reservation_id",
)


class Reports:
    """Reads of one node's own history, a page at a time."""

    def __init__(self, pool: asyncpg.Pool, page: int = PAGE) -> None:
        self.pool = pool
        self.page = page

    async def pages(
        self,
        report: Report,
        since: datetime | None,
        until: datetime | None,
        narrowed: str | None = None,
    ) -> AsyncIterator[list[asyncpg.Record]]:
        async with (
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            cursor = await conn.cursor(report.sql, since, until, narrowed)
            while rows := await cursor.fetch(self.page):
                yield rows

    async def logged_events(self) -> AsyncIterator[list[LoggedEvent]]:
        """The node's copy of the log (invariant 8), decoded, in order, a page at a time."""
        async for rows in ProjectionStore(self.pool).event_log(page=self.page):
            yield [
                (
                    row["stream_offset"],
                    row["idx"],
                    event_from_dict(orjson.loads(row["body"])),
                    row["ignored"],
                )
                for row in rows
            ]


def usage_rows(
    state: State, feature: str | None = None, device: str | None = None, user: str | None = None
) -> list[dict[str, Any]]:
    """The leases a state holds as /api/usage shows them: the usage table's rows, seats added."""
    rows = []
    for lease in state.leases.values():
        asked = ((feature, lease.name), (device, lease.device), (user, lease.user))
        if any(want is not None and want != value for want, value in asked):
            continue
        f = state.features.get(lease.key)
        row = dict(zip(USAGE_COLUMNS, usage_row(lease, state), strict=True))
        rows.append({**row, "in_use": f.in_use if f else None, "total": f.total if f else None})
    return sorted(rows, key=lambda r: (r["feature"], r["version"], r["since"], r["lease_id"]))
