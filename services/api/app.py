"""The node's JSON API, read from its own read models (never from another node).

Handlers parse the query string, ask ``projections.queries.ReadModels`` or the
node's views, and serialise; the SQL lives with the schema in ``projections``.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson
from aiohttp import web

from events.vocabulary import as_json as vocabulary
from projections.queries import ReadModels
from services.api import reports
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


def build_api(node: NodeViews, reads: ReadModels) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/api/health")
    async def health(request: web.Request) -> web.Response:
        data = node.health()
        return json(data.model_dump(mode="json"), status=200 if data.healthy else 503)

    @routes.get("/api/servers")
    async def servers(request: web.Request) -> web.Response:
        return json(node.servers().model_dump(mode="json"))

    @routes.get("/api/vocabulary")
    async def words(request: web.Request) -> web.Response:
        return json(vocabulary())

    @routes.get("/api/usage")
    async def usage(request: web.Request) -> web.Response:
        q = request.query
        if "at" in q:
            return await reports.usage_at(request)
        return json({"usage": await reads.usage(q.get("feature"), q.get("device"), q.get("user"))})

    @routes.get("/api/features")
    async def features(request: web.Request) -> web.Response:
        return json({"features": await reads.features()})

    @routes.get("/api/licenses")
    async def licenses(request: web.Request) -> web.Response:
        return json({"licenses": await reads.licenses()})

    @routes.get("/api/reservations")
    async def reservations(request: web.Request) -> web.Response:
        return json({"reservations": await reads.reservations()})

    @routes.get("/api/denials")
    async def denials(request: web.Request) -> web.Response:
        limit = _int(request, "limit", 100, 1, 10_000)
        return json({"denials": await reads.denials(limit, request.query.get("feature"))})

    @routes.get("/api/history")
    async def history(request: web.Request) -> web.Response:
        q = request.query
        limit = _int(request, "limit", 10_000, 1, 100_000)
        return json({"history": await reads.history(limit, q.get("feature"), q.get("version"))})

    @routes.get("/api/timeline")
    async def timeline(request: web.Request) -> web.Response:
        limit = _int(request, "limit", 500, 1, 10_000)
        return json({"timeline": await reads.timeline(limit, request.query.get("node"))})

    app = web.Application()
    app.add_routes(routes)
    return app


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be an integer") from None
    return max(low, min(high, value))
