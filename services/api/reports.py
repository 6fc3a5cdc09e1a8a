"""Reports over HTTP: CSV exports of the history, and the leases held at a moment of the past.

``GET /api/reports/{usage,denials,timeline}.csv?since=&until=&feature=|node=`` streams the
rows ``projections.reports`` pages out (RFC 4180 by the csv module, times ISO 8601 in UTC).
``GET /api/usage?at=`` folds the node's own event_log up to ``at`` (``services.domain.as_of``).

Both read a lot when the history is long, next to a node that also decides and projects, so:
one report and one fold at a time per node (others wait their turn, and the pool keeps
connections for the projector), pages of ``projections.reports.PAGE``, and a yield to the
event loop between two pages of the fold, so heartbeats and decisions go on during it.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterable
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from aiohttp import web

from projections.reports import REPORTS, Report, Reports, usage_rows
from services.domain.as_of import AsOf, VerdictDiffers, fold
from services.trust.keys import Trust

_CONTEXT = web.AppKey("reports", "ReportsContext")


class ReportsContext:
    def __init__(self, reports: Reports, trust: Trust) -> None:
        self.reports = reports
        self.trust = trust
        self.one_at_a_time = asyncio.Lock()


def mount(app: web.Application, pool: asyncpg.Pool, trust: Trust) -> None:
    """Add the report routes; ``trust`` is the node's, so the fold's fence is the projector's."""
    app[_CONTEXT] = ReportsContext(Reports(pool), trust)
    app.router.add_get("/api/reports/{name}.csv", _csv)


def moment(request: web.Request, name: str) -> datetime | None:
    """An ISO 8601 time with a UTC offset from the query string (a naive time is ambiguous)."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if " " in raw and "+" not in raw:  # an offset's "+" typed into a URL arrives as a space
        head, _, offset = raw.rpartition(" ")
        raw = f"{head}+{offset}"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be an ISO 8601 time, not {raw!r}") from None
    if value.tzinfo is None:
        raise web.HTTPBadRequest(text=f"{name} needs a UTC offset (e.g. {raw}+00:00 or {raw}Z)")
    return value


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return "" if value is None else value


def _lines(rows: Iterable[Iterable[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180: CRLF, quotes doubled
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue().encode()


def _report(request: web.Request) -> tuple[Report, str | None]:
    report = REPORTS.get(request.match_info["name"])
    if report is None:
        known = ", ".join(f"{name}.csv" for name in REPORTS)
        raise web.HTTPNotFound(text=f"no report {request.match_info['name']!r}; there are {known}")
    wrong = sorted(({"feature", "node"} - {report.narrowed_by}) & set(request.query))
    if wrong:
        raise web.HTTPBadRequest(
            text=f"the {report.name} report is narrowed by {report.narrowed_by}, not {wrong[0]}"
        )
    return report, request.query.get(report.narrowed_by) or None


async def _csv(request: web.Request) -> web.StreamResponse:
    report, narrowed = _report(request)
    since, until = moment(request, "since"), moment(request, "until")
    context = request.app[_CONTEXT]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8; header=present",
            "Content-Disposition": f'attachment; filename="{report.name}.csv"',
        }
    )
    async with context.one_at_a_time:
        await response.prepare(request)
        await response.write(_lines([report.columns]))
        # Closed at once if the client goes away: the cursor's connection goes back to the pool.
        async with aclosing(context.reports.pages(report, since, until, narrowed)) as pages:
            async for page in pages:
                await response.write(_lines(page))
    await response.write_eof()
    return response


async def usage_at(request: web.Request) -> web.Response:
    """The leases held at ``at``, from the log: what ``/api/usage`` said then."""
    at = moment(request, "at")
    if at is None:
        raise web.HTTPBadRequest(text="at must be an ISO 8601 time with a UTC offset")
    context = request.app[_CONTEXT]
    as_of = AsOf(at)
    async with context.one_at_a_time:
        try:
            async with aclosing(context.reports.logged_events()) as pages:
                async for page in pages:
                    as_of = fold(as_of, page, context.trust)
                    if as_of.complete:
                        break
                    await asyncio.sleep(0)  # a page's fold is CPU: let the node's other work run
        except VerdictDiffers as exc:
            raise web.HTTPConflict(text=f"{exc}; reset this node") from None
    q = request.query
    body = {
        "at": at.astimezone(UTC).isoformat(),
        "offset": as_of.offset,  # the last event folded: stream offset and index in its message
        "idx": as_of.idx,
        "event_at": as_of.last_at.astimezone(UTC).isoformat() if as_of.last_at else None,
        "events": as_of.events,
        "complete": as_of.complete,  # False: the log has not gone past ``at`` yet
        "usage": usage_rows(as_of.state, q.get("feature"), q.get("device"), q.get("user")),
    }
    return web.Response(
        body=orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), content_type="application/json"
    )
