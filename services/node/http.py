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
    reports.mount(app, node.pool, node.settings.trust())
    license_manager.mount(
        app, node.settings, node.name, health=node.health, reads=reads, servers=node.servers
    )
    app.router.add_get("/api/openapi.json", serve_openapi)
    app.router.add_get("/metrics", metrics_handler(node.metrics.registry))
    return app


async def serve_openapi(request: web.Request) -> web.Response:
    return web.Response(body=openapi.text(), content_type="application/json")
