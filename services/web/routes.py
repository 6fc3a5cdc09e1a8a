"""The License Manager's routes on a node's aiohttp app: pages, live feed, login, Manage."""
from __future__ import annotations

import asyncio
import hashlib
import html
import logging
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiohttp import web

from projections.queries import ReadModels
from services.config.settings import Settings
from services.web.capacity import PERIODS, capacity
from services.web.manage import Manager
from services.web.sessions import CSRF_FIELD, NO_ADMINS, Sessions

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
PAGES = ("/", "/servers", "/licenses", "/features", "/usage", "/reservations", "/denials", "/capacity")
POLL_SECONDS = 0.2        # how often the live feed looks at the node's checkpoint
KEEPALIVE_SECONDS = 15.0  # an SSE comment now and then keeps proxies from closing the stream

SESSIONS = web.AppKey("lm_sessions", Sessions)
MANAGER = web.AppKey("lm_manager", Manager)
CLOSING = web.AppKey("lm_closing", asyncio.Event)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS), status=status,
                        content_type="application/json", headers={"Cache-Control": "no-store"})


def _asset_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def mount(app: web.Application, node: Any, pool: asyncpg.Pool) -> None:
    """Add the License Manager to a node's app. ``node`` is the running ``Node``."""
    settings: Settings = node.settings
    reads = ReadModels(pool)
    name: str = node.name
    sessions = Sessions(name, settings.admin_users.get_secret_value(), settings.admin_key_value())
    app[SESSIONS] = sessions
    app[MANAGER] = Manager(settings)
    app[CLOSING] = asyncio.Event()
    shell = (TEMPLATES / "index.html").read_text()
    version = _asset_version()
    page = (shell.replace("{{site}}", html.escape(settings.site)).replace("{{node}}", html.escape(name))
            .replace("{{v}}", version))

    async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-cache")
        if response.content_type == "text/html":
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                "frame-ancestors 'none'")

    async def on_shutdown(_: web.Application) -> None:
        app[CLOSING].set()  # ends the live feeds, or the runner would wait for them

    async def on_cleanup(_: web.Application) -> None:
        await app[MANAGER].close()

    app.on_response_prepare.append(security_headers)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)

    async def shell_page(request: web.Request) -> web.Response:
        response = web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})
        sessions.ensure(request, response)
        return response

    async def session_info(request: web.Request) -> web.Response:
        response = _json({})
        session = sessions.ensure(request, response)
        response.body = orjson.dumps({
            "user": session.user, "csrf": session.csrf, "admins_configured": bool(sessions.users),
            "no_admins_message": None if sessions.users else NO_ADMINS, "node": name, "site": settings.site,
            "admin_key": bool(settings.admin_key)})
        return response

    async def _body(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            try:
                data = await request.json(loads=orjson.loads)
            except ValueError:
                raise web.HTTPBadRequest(body=orjson.dumps({"ok": False, "message": "the request is not valid JSON"}),
                                         content_type="application/json") from None
            if not isinstance(data, dict):
                raise web.HTTPBadRequest(body=orjson.dumps({"ok": False, "message": "expected a JSON object"}),
                                         content_type="application/json")
            return data
        return dict(await request.post())

    async def login(request: web.Request) -> web.Response:
        body = await _body(request)
        session = sessions.current(request)
        sessions.check_csrf(request, session, body)
        if not sessions.users:
            return _json({"ok": False, "message": NO_ADMINS, "error": {"code": "no_admins", "message": NO_ADMINS}},
                         403)
        username = str(body.get("username") or "").strip()
        password = str(body.get("password") or "")
        if not username or not password or not await sessions.authenticate(username, password):
            await asyncio.sleep(0.5)  # slows down guessing
            log.warning("License Manager: failed sign-in for %r from %s", username[:64], request.remote)
            message = "wrong user name or password"
            return _json({"ok": False, "message": message, "error": {"code": "unauthorized", "message": message}}, 401)
        sessions.revoke(session)
        fresh = sessions.new(username)
        log.info("License Manager: %s signed in from %s", username, request.remote)
        response = _json({"ok": True, "user": username, "csrf": fresh.csrf, "message": f"Signed in as {username}."})
        sessions.set_cookie(response, fresh)
        return response

    async def logout(request: web.Request) -> web.Response:
        body = await _body(request)
        session = sessions.current(request)
        sessions.check_csrf(request, session, body)
        sessions.revoke(session)
        fresh = sessions.new()
        response = _json({"ok": True, "user": None, "csrf": fresh.csrf, "message": "Signed out."})
        sessions.set_cookie(response, fresh)
        return response

    async def manage(request: web.Request) -> web.Response:
        session = sessions.require_admin(request)
        body = await _body(request)
        body.pop(CSRF_FIELD, None)
        assert session.user is not None
        status, answer = await app[MANAGER].run(request.match_info["action"], body, session.user)
        log.info("License Manager: %s did %s: %s", session.user, request.match_info["action"], answer["message"])
        return _json(answer, status)

    async def capacity_data(request: web.Request) -> web.Response:
        period = request.query.get("period", "day")
        if period not in PERIODS:
            return _json({"error": f"period must be one of {', '.join(PERIODS)}"}, 400)
        try:
            buckets = max(10, min(600, int(request.query.get("buckets", "120"))))
        except ValueError:
            return _json({"error": "buckets must be an integer"}, 400)
        return _json(await capacity(reads, period, buckets))

    def _signature() -> dict[str, Any]:
        h = node.health()
        return {"offset": h.get("offset"), "status": h.get("status"), "caught_up": h.get("caught_up"),
                "connected": h.get("connected"), "halted": bool(h.get("projector_halted"))}

    async def events(request: web.Request) -> web.StreamResponse:
        """Server-sent events: a small "changed" notice whenever the node has applied new events."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        closing = app[CLOSING]
        last: dict[str, Any] | None = None
        quiet = 0.0
        try:
            await response.write(b"retry: 1000\n\n")
            while not closing.is_set():
                now = _signature()
                if now != last:
                    await response.write(b"event: changed\ndata: " + orjson.dumps(now) + b"\n\n")
                    last, quiet = now, 0.0
                elif quiet >= KEEPALIVE_SECONDS:
                    await response.write(b": keep-alive\n\n")
                    quiet = 0.0
                try:
                    await asyncio.wait_for(closing.wait(), POLL_SECONDS)
                except asyncio.TimeoutError:
                    quiet += POLL_SECONDS
        except ConnectionResetError:  # the page went away
            pass
        return response

    for path in PAGES:
        app.router.add_get(path, shell_page)
    app.router.add_get("/api/session", session_info)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_post("/api/manage/{action}", manage)
    app.router.add_get("/api/capacity", capacity_data)
    app.router.add_get("/api/events", events)
    app.router.add_static("/static/", STATIC, name="static", append_version=False)
