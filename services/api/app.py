"""The node's JSON API, read from its own read models (never from another node)."""
from __future__ import annotations

from typing import Any, Protocol

import asyncpg
import orjson
from aiohttp import web

from events import vocabulary
from services.web import mount as mount_license_manager


class NodeView(Protocol):
    def health(self) -> dict[str, Any]: ...
    def servers(self) -> dict[str, Any]: ...


def json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS), status=status,
                        content_type="application/json")


def _records(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [dict(r) for r in rows]


def build_app(node: NodeView, pool: asyncpg.Pool) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/api/health")
    async def health(request: web.Request) -> web.Response:
        data = node.health()
        return json(data, status=200 if data.get("healthy") else 503)

    @routes.get("/api/servers")
    async def servers(request: web.Request) -> web.Response:
        return json(node.servers())

    @routes.get("/api/vocabulary")
    async def vocabulary_words(request: web.Request) -> web.Response:
        return json(vocabulary.as_json())

    @routes.get("/api/usage")
    async def usage(request: web.Request) -> web.Response:
        q = request.query
        rows = await pool.fetch(
            'SELECT u.lease_id, u.feature, u.type, u.version, u.count, u.device, u."user", u.since, '
            "u.lease_seconds, u.reservation_id, f.in_use, f.total FROM usage u "
            "LEFT JOIN features f ON f.name = u.feature AND f.version = u.version "
            "WHERE ($1::text IS NULL OR u.feature = $1) AND ($2::text IS NULL OR u.device = $2) "
            'AND ($3::text IS NULL OR u."user" = $3) ORDER BY u.feature, u.version, u.since, u.lease_id',
            q.get("feature"), q.get("device"), q.get("user"))
        return json({"usage": _records(rows)})

    @routes.get("/api/features")
    async def features(request: web.Request) -> web.Response:
        rows = await pool.fetch(
            "SELECT name, type, version, total, in_use, reserved, reserved_in_use, "
            "total - in_use AS available, expires_at FROM features ORDER BY name, version")
        return json({"features": _records(rows)})

    @routes.get("/api/licenses")
    async def licenses(request: web.Request) -> web.Response:
        rows = await pool.fetch("SELECT license_id, activated_at, features FROM licenses ORDER BY license_id")
        return json({"licenses": [{**dict(r), "features": orjson.loads(r["features"])} for r in rows]})

    @routes.get("/api/reservations")
    async def reservations(request: web.Request) -> web.Response:
        rows = await pool.fetch(
            'SELECT reservation_id, feature, version, device, "user", count, in_use, created_at '
            "FROM reservations ORDER BY feature, version, created_at")
        return json({"reservations": _records(rows)})

    @routes.get("/api/denials")
    async def denials(request: web.Request) -> web.Response:
        limit = _int(request, "limit", 100, 1, 10_000)
        rows = await pool.fetch(
            'SELECT at, feature, version, device, "user", count, reason, message, command_id FROM denials '
            "WHERE ($2::text IS NULL OR feature = $2) ORDER BY stream_offset DESC, idx DESC LIMIT $1",
            limit, request.query.get("feature"))
        return json({"denials": _records(rows)})

    @routes.get("/api/history")
    async def history(request: web.Request) -> web.Response:
        q = request.query
        # The newest ``limit`` changes, oldest first (a long history keeps its recent end).
        rows = await pool.fetch(
            "SELECT at, feature, version, in_use, total FROM ("
            "  SELECT * FROM usage_history "
            "  WHERE ($1::text IS NULL OR feature = $1) AND ($2::text IS NULL OR version = $2) "
            "  ORDER BY stream_offset DESC, idx DESC LIMIT $3) recent "
            "ORDER BY stream_offset, idx",
            q.get("feature"), q.get("version"), _int(request, "limit", 10_000, 1, 100_000))
        return json({"history": _records(rows)})

    @routes.get("/api/timeline")
    async def timeline(request: web.Request) -> web.Response:
        """Status changes of servers and the pair, newest first, with how long each state lasted."""
        rows = _records(await pool.fetch(
            "SELECT at, kind, node, server_id, server_status, pair_status, reason FROM status_history "
            "WHERE ($1::text IS NULL OR node = $1) ORDER BY stream_offset DESC, idx DESC LIMIT $2",
            request.query.get("node"), _int(request, "limit", 500, 1, 10_000)))
        following: dict[str | None, Any] = {}
        for row in rows:  # newest first: the next change of the same node ends this state
            later = following.get(row["node"])
            row["lasted_seconds"] = (later - row["at"]).total_seconds() if later else None
            following[row["node"]] = row["at"]
        return json({"timeline": rows})

    app = web.Application()
    app.add_routes(routes)
    if hasattr(node, "settings"):  # the License Manager's pages, login and Manage actions (services.web)
        mount_license_manager(app, node, pool)
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
