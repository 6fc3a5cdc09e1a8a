"""The node's JSON API, read from its own read models (never from another node).

Handlers parse the query string into its model, ask ``projections.queries.ReadModels`` or
the node's views, and answer through the models of ``services.api.responses``; the SQL
lives with the schema in ``projections``. ``OPERATIONS`` describes each route for the
OpenAPI document.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson
from aiohttp import web
from pydantic import BaseModel

from events.vocabulary import as_json as vocabulary
from projections.queries import ReadModels
from services.api import reports
from services.api.responses import (
    DenialDays,
    DenialDaysQuery,
    Denials,
    DenialsQuery,
    Features,
    History,
    HistoryQuery,
    Licenses,
    Reservations,
    Timeline,
    TimelineQuery,
    Usage,
    UsageQuery,
    Vocabulary,
)
from services.openapi import Answer, BadRequest, Operation, parse_query
from services.views import Health, ServersView


class NodeViews(Protocol):
    def health(self) -> Health: ...
    def servers(self) -> ServersView: ...


def json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
        status=status,
        content_type="application/json",
    )


def answer(model: BaseModel, status: int = 200) -> web.Response:
    return json(model.model_dump(mode="json"), status)


def build_api(node: NodeViews, reads: ReadModels) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/api/health")
    async def health(request: web.Request) -> web.Response:
        data = node.health()
        return answer(data, status=200 if data.healthy else 503)

    @routes.get("/api/servers")
    async def servers(request: web.Request) -> web.Response:
        return answer(node.servers())

    @routes.get("/api/vocabulary")
    async def words(request: web.Request) -> web.Response:
        return answer(Vocabulary.model_validate(vocabulary()))

    @routes.get("/api/usage")
    async def usage(request: web.Request) -> web.Response:
        q = parse_query(request, UsageQuery)
        if q.at is not None:  # who held what then: folded from the log (services.api.reports)
            return await reports.usage_at(request)
        return answer(Usage(usage=await reads.usage(q.feature, q.device, q.user)))

    @routes.get("/api/features")
    async def features(request: web.Request) -> web.Response:
        return answer(Features(features=await reads.features()))

    @routes.get("/api/licenses")
    async def licenses(request: web.Request) -> web.Response:
        return answer(Licenses(licenses=await reads.licenses()))

    @routes.get("/api/reservations")
    async def reservations(request: web.Request) -> web.Response:
        return answer(Reservations(reservations=await reads.reservations()))

    @routes.get("/api/denials")
    async def denials(request: web.Request) -> web.Response:
        q = parse_query(request, DenialsQuery)
        return answer(Denials(denials=await reads.denials(q.limit, q.feature)))

    @routes.get("/api/denials/daily")
    async def denial_days(request: web.Request) -> web.Response:
        # Per day, feature and reason, kept for ever (the rows above go after the retention).
        q = parse_query(request, DenialDaysQuery)
        return answer(DenialDays(days=await reads.denial_days(q.days, q.feature)))

    @routes.get("/api/history")
    async def history(request: web.Request) -> web.Response:
        q = parse_query(request, HistoryQuery)
        return answer(History(history=await reads.history(q.limit, q.feature, q.version)))

    @routes.get("/api/timeline")
    async def timeline(request: web.Request) -> web.Response:
        q = parse_query(request, TimelineQuery)
        return answer(Timeline(timeline=await reads.timeline(q.limit, q.node)))

    app = web.Application()
    app.add_routes(routes)
    return app


_BAD_QUERY = Answer("a query parameter is not what it must be", BadRequest)


def _read(path: str, summary: str, model: type[BaseModel], query: Any = None) -> Operation:
    answers = {200: Answer(summary, model)}
    if query is not None:
        answers[400] = _BAD_QUERY
    return Operation("get", path, summary, answers, query=query, tags=("api",))


OPERATIONS = [
    Operation(
        "get",
        "/api/health",
        "what the node says of itself",
        {
            200: Answer("the node is healthy", Health),
            503: Answer("the node is not healthy (the body says why)", Health),
        },
        tags=("api",),
    ),
    _read(
        "/api/servers", "the site as the log tells it: pair, writer, a tile per server", ServersView
    ),
    _read("/api/vocabulary", "every word the system says", Vocabulary),
    _read("/api/usage", "the acquisitions held now (Usage Details)", Usage, UsageQuery),
    _read("/api/features", "every licensed feature and its seats", Features),
    _read("/api/licenses", "the activated licenses", Licenses),
    _read("/api/reservations", "the reservations", Reservations),
    _read("/api/denials", "the newest denials, newest first", Denials, DenialsQuery),
    _read(
        "/api/denials/daily",
        "denials per day, feature and reason (kept for ever)",
        DenialDays,
        DenialDaysQuery,
    ),
    _read("/api/history", "the newest changes of seats, oldest first", History, HistoryQuery),
    _read("/api/timeline", "status changes of servers and the pair", Timeline, TimelineQuery),
]
