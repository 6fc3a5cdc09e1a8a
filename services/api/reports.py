"""Reports over HTTP: CSV exports of the history, and the leases held at a moment of the past.

``GET /api/reports/{usage,denials,timeline}.csv?since=&until=&feature=|node=`` streams the
rows ``projections.reports`` pages out (RFC 4180 by the csv module, times ISO 8601 in UTC).
``GET /api/usage?at=`` folds the node's own event_log up to ``at`` (``services.domain.as_of``).
``OPERATIONS`` describes each report, its query and its columns, for the OpenAPI document.

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
from pydantic import Field, create_model

from projections.reports import REPORTS, Report, Reports, usage_rows
from services.api.responses import UsageQuery
from services.domain.as_of import AsOf, VerdictDiffers, fold
from services.openapi import (
    JSON,
    Answer,
    BadRequest,
    Filter,
    Moment,
    Operation,
    Query,
    parse_query,
)
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
    for report in REPORTS.values():  # a route each, as each is documented with its own query
        app.router.add_get(_path(report), _handler(report))


def _path(report: Report) -> str:
    return f"/api/reports/{report.name}.csv"


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return "" if value is None else value


def _lines(rows: Iterable[Iterable[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180: CRLF, quotes doubled
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue().encode()


_BOUNDS = {
    "since": (Moment, Field(None, description="from this time on (ISO 8601 with an offset)")),
    "until": (Moment, Field(None, description="before this time (ISO 8601 with an offset)")),
}
_NARROWED = {"feature": "only this feature's rows", "node": "only this node's rows"}


def _query(report: Report) -> type[Query]:
    """The report's query model: the period's bounds and its one filter."""
    narrowing = (Filter, Field(None, description=_NARROWED[report.narrowed_by]))
    fields: dict[str, Any] = {**_BOUNDS, report.narrowed_by: narrowing}
    name = f"{report.name.capitalize()}ReportQuery"
    return create_model(name, __base__=Query, **fields)


QUERIES = {name: _query(report) for name, report in REPORTS.items()}


def _parsed_query(request: web.Request, report: Report) -> Any:
    """The report's query; a filter the report does not take is refused, not ignored."""
    wrong = sorted((set(_NARROWED) - {report.narrowed_by}) & set(request.query))
    if wrong:
        refusal = BadRequest(
            error=f"{wrong[0]}: the {report.name} report is narrowed by {report.narrowed_by}"
        )
        raise web.HTTPBadRequest(text=refusal.model_dump_json(), content_type=JSON)
    return parse_query(request, QUERIES[report.name])


def _handler(report: Report) -> Any:
    async def csv_report(request: web.Request) -> web.StreamResponse:
        return await _csv(request, report)

    return csv_report


async def _csv(request: web.Request, report: Report) -> web.StreamResponse:
    q = _parsed_query(request, report)
    since, until, narrowed = q.since, q.until, getattr(q, report.narrowed_by) or None
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
    at = parse_query(request, UsageQuery).at
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


# What each column holds, for the OpenAPI document; every column of every report must be here.
_COLUMNS = {
    "usage": {
        "at": "when the seats changed (ISO 8601, UTC)",
        "event": "the event that changed them (LeaseGranted, LeaseReleased, LicenseActivated...)",
        "feature": "the feature",
        "version": "its version",
        "lease_id": "the lease granted, released or expired (empty for a license's change)",
        "device": "the device that held the lease (from its grant)",
        "user": "the user that held the lease (from its grant)",
        "count": "the lease's seats",
        "in_use": "the feature's seats in use after the change",
        "total": "the feature's seats owned after the change",
        "reason": "why the lease ended, if it did",
    },
    "denials": {
        "at": "when the acquire was denied (ISO 8601, UTC)",
        "feature": "the feature asked for",
        "version": "its version",
        "device": "the device that asked",
        "user": "the user that asked",
        "count": "the seats asked for",
        "reason": "why, as a word: unknown_feature, expired, no_seats or reserved",
        "message": "why, in words",
        "command_id": "the acquire command's id",
    },
    "timeline": {
        "at": "when the status changed (ISO 8601, UTC)",
        "event": "the event that changed it",
        "node": "the node it concerns",
        "server_id": "the server it concerns",
        "server_status": "the server tile's word after it (Running, Stopped, ...)",
        "pair_status": "the pair tile's words after it (Paired and Available, ...)",
        "reason": "why, in words, if the event says",
    },
}
_SUMMARIES = {
    "usage": "every change of seats over a period, as CSV",
    "denials": "every denied acquire over a period, as CSV",
    "timeline": "every status change of the servers and the pair over a period, as CSV",
}


def _columns(report: Report) -> str:
    meanings = _COLUMNS[report.name]
    described = "; ".join(f"`{column}`: {meanings[column]}" for column in report.columns)
    return (
        "RFC 4180 rows (CRLF), a header row first, in the log's order; the period is "
        f"since <= at < until. Columns: {described}."
    )


def _operation(report: Report) -> Operation:
    answers = {
        200: Answer(_columns(report), None, "text/csv"),
        400: Answer(
            "a time without a UTC offset (or not ISO 8601), or a filter the report does not take",
            BadRequest,
        ),
    }
    return Operation(
        "get",
        _path(report),
        _SUMMARIES[report.name],
        answers,
        query=QUERIES[report.name],
        tags=("api",),
    )


OPERATIONS = [_operation(report) for report in REPORTS.values()]
