"""Serving a Prometheus registry over aiohttp: the node's and the watchdog's ``/metrics``.

Each process passes its own ``CollectorRegistry``, never prometheus-client's global one, so
tests that build several apps in one process do not register a metric twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

Handler = Callable[[web.Request], Awaitable[web.Response]]


def metrics_handler(registry: CollectorRegistry) -> Handler:
    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    return metrics


async def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> web.AppRunner:
    """A tiny server with ``/metrics`` only (the watchdog's); the caller cleans the runner up."""
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(registry))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
