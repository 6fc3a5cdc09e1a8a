"""The page shell (one HTML page for every path; app.js draws the rest) and its headers."""

from __future__ import annotations

import hashlib
import html
from pathlib import Path

import orjson
from aiohttp import web

from services.config.settings import Settings
from services.web.answers import SessionView
from services.web.responses import json_response
from services.web.sessions import NO_ADMINS, Sessions

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
PAGES = (
    "/",
    "/servers",
    "/licenses",
    "/activate",
    "/features",
    "/usage",
    "/reservations",
    "/denials",
    "/capacity",
)
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def asset_version() -> str:
    """Changes whenever a static file does, so a browser never mixes old and new assets."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-cache")
    if response.content_type == "text/html":
        response.headers.setdefault("Content-Security-Policy", _CSP)


class Pages:
    """The shell page and ``/api/session``: who is signed in, and this node's site."""

    def __init__(self, settings: Settings, node: str, sessions: Sessions) -> None:
        self.settings = settings
        self.node = node
        self.sessions = sessions
        shell = (TEMPLATES / "index.html").read_text()
        self.page = (
            shell.replace("{{site}}", html.escape(settings.site))
            .replace("{{node}}", html.escape(node))
            .replace("{{v}}", asset_version())
        )

    async def shell(self, request: web.Request) -> web.Response:
        response = web.Response(
            text=self.page, content_type="text/html", headers={"Cache-Control": "no-store"}
        )
        self.sessions.ensure(request, response)
        return response

    async def session(self, request: web.Request) -> web.Response:
        response = json_response({})
        session = self.sessions.ensure(request, response)
        admins = bool(self.sessions.users)
        view = SessionView(
            user=session.user,
            csrf=session.csrf,
            admins_configured=admins,
            no_admins_message=None if admins else NO_ADMINS,
            node=self.node,
            site=self.settings.site,
            admin_key=bool(self.settings.admin_key),
            # The Activate page offers the unsigned form only when this is empty.
            vendor_keys=[kid for kid, _ in self.settings.trust().keys],
            site_key=bool(self.settings.site_public_key()),
        )
        response.body = orjson.dumps(view.model_dump(mode="json"))
        return response
