"""A node's HTTP application: the JSON API, the License Manager next to it, and ``/metrics``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from projections.queries import ReadModels
from services import web as license_manager
from services.adapters.prometheus import metrics_handler
from services.api import reports
from services.api.app import build_api
from services.node import openapi

if TYPE_CHECKING:
    from services.node.node import Node


def node_app(node: Node) -> web.Application:
    """Both read the node's own read models and views; neither knows of the other."""
    assert node.pool is not None, "open the node before serving it"
    reads = ReadModels(node.pool)
    app = build_api(node, reads)
    app.middlewares.append(_loading_guard(node))
    reports.mount(app, node.pool, node.settings.trust())
    license_manager.mount(
        app, node.settings, node.name, health=node.health, reads=reads, servers=node.servers
    )
    app.router.add_get("/api/openapi.json", serve_openapi)
    app.router.add_get("/metrics", metrics_handler(node.metrics.registry))
    return app


# What a loading node still answers: its health (with the progress), its description, metrics.
_ANSWERED_WHILE_LOADING = ("/api/health", "/api/openapi.json")


def _loading_guard(node: Node):
    """Until the start-up load is done the read models may be ahead of the state in memory
    and the writer cannot decide: the API says so (503) rather than answer half-truths. The
    License Manager's pages load and show the progress from /api/health."""

    @web.middleware
    async def guard(request: web.Request, handler):
        if node.loaded or not request.path.startswith("/api/"):
            return await handler(request)
        if request.path in _ANSWERED_WHILE_LOADING:
            return await handler(request)
        progress = node.health().loading
        done = f" ({progress.events_loaded} of {progress.events_total} events)" if progress else ""
        return web.json_response(
            {"ok": False, "error": "loading", "message": f"this server is loading its state{done}"},
            status=503,
            headers={"Retry-After": "1"},
        )

    return guard


async def serve_openapi(request: web.Request) -> web.Response:
    return web.Response(body=openapi.text(), content_type="application/json")
