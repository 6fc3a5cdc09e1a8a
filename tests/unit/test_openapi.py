"""The OpenAPI document: generated from the models, kept in docs/, and naming every /api route."""

from __future__ import annotations

from types import SimpleNamespace

from aiohttp import web

from services.api import reports
from services.api.app import build_api
from services.config.settings import Settings
from services.node import openapi
from services.views import Health, ServersView
from services.web import mount


def test_the_kept_document_is_what_the_code_generates():
    kept = openapi.KEPT.read_bytes()
    assert kept == openapi.text(), "docs/openapi.json is stale: run make openapi"


async def _nothing(request: web.Request) -> web.Response:
    return web.Response()


def _api_routes() -> set[tuple[str, str]]:
    app = build_api(node=None, reads=None)  # type: ignore[arg-type]  # nothing is served
    reports.mount(app, pool=None, trust=None)  # type: ignore[arg-type]  # as node_app mounts them
    nothing = SimpleNamespace(pool=None)  # routes are only listed, never served
    mount(app, Settings(site="plant"), "p", health=Health, reads=nothing, servers=ServersView)  # type: ignore[arg-type]
    app.router.add_get("/api/openapi.json", _nothing)  # as node_app adds it
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"
    }


def test_every_api_route_is_documented_and_nothing_else():
    documented = {
        (method, path) for path, ops in openapi.document()["paths"].items() for method in ops
    }
    assert documented == _api_routes()


def test_every_schema_it_refers_to_is_in_its_components():
    doc = openapi.document()
    text = openapi.text().decode()
    names = set(doc["components"]["schemas"])
    referred = {part.split('"')[0] for part in text.split('"#/components/schemas/')[1:]}
    assert referred <= names and {"Health", "ServersView", "Usage", "Capacity"} <= names
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]["/api/health"]["get"]["responses"]) == {"200", "503"}
    manage = doc["paths"]["/api/manage/{action}"]["post"]["responses"]
    assert {"401", "403"} <= set(manage)
    feed = doc["paths"]["/api/events"]["get"]["responses"]["200"]["content"]
    assert set(feed) == {"text/event-stream"}
