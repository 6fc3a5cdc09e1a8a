"""The License Manager's routes on a node's aiohttp app: pages, live feed, login, Manage,
the activation request.

Each group of handlers is a small class holding what it needs; ``mount`` wires them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from projections.queries import ReadModels
from services.config.settings import Settings
from services.views import Health
from services.web.activation import ActivationRequests
from services.web.capacity import PERIODS, capacity
from services.web.feed import LiveFeed
from services.web.manage import Manager
from services.web.pages import PAGES, STATIC, Pages, security_headers
from services.web.responses import json_response, read_body
from services.web.sessions import CSRF_FIELD, Sessions
from services.web.signin import SignIn

log = logging.getLogger(__name__)


class ManageActions:
    """The Manage panel's buttons: a signed-in administrator's action becomes a signed command."""

    def __init__(self, sessions: Sessions, manager: Manager) -> None:
        self.sessions = sessions
        self.manager = manager

    async def run(self, request: web.Request) -> web.Response:
        session = self.sessions.require_admin(request)
        body = await read_body(request)
        body.pop(CSRF_FIELD, None)
        assert session.user is not None
        action = request.match_info["action"]
        status, answer = await self.manager.run(action, body, session.user)
        log.info("License Manager: %s did %s: %s", session.user, action, answer["message"])
        return json_response(answer, status)

    async def close(self, _: web.Application) -> None:
        await self.manager.close()


class CapacityChart:
    """``/api/capacity?period=day&buckets=120``: in use against owned, per feature."""

    def __init__(self, reads: ReadModels) -> None:
        self.reads = reads

    async def data(self, request: web.Request) -> web.Response:
        period = request.query.get("period", "day")
        if period not in PERIODS:
            return json_response({"error": f"period must be one of {', '.join(PERIODS)}"}, 400)
        try:
            buckets = max(10, min(600, int(request.query.get("buckets", "120"))))
        except ValueError:
            return json_response({"error": "buckets must be an integer"}, 400)
        return json_response(await capacity(self.reads, period, buckets))


def mount(
    app: web.Application,
    settings: Settings,
    node: str,
    *,
    health: Callable[[], Health],
    reads: ReadModels,
) -> None:
    """Add the License Manager of ``node`` to its app: ``health`` drives the live feed."""
    sessions = Sessions(node, settings.admin_users.get_secret_value(), settings.admin_key_value())
    pages = Pages(settings, node, sessions)
    signin = SignIn(sessions)
    actions = ManageActions(sessions, Manager(settings))
    feed = LiveFeed(health)
    chart = CapacityChart(reads)
    requests = ActivationRequests(settings)

    app.on_response_prepare.append(security_headers)
    app.on_shutdown.append(feed.close)
    app.on_cleanup.append(actions.close)
    for path in PAGES:
        app.router.add_get(path, pages.shell)
    app.router.add_get("/api/session", pages.session)
    app.router.add_post("/login", signin.login)
    app.router.add_post("/logout", signin.logout)
    app.router.add_post("/api/manage/{action}", actions.run)
    app.router.add_get("/api/capacity", chart.data)
    app.router.add_get("/api/activation-request", requests.download)
    app.router.add_get("/api/events", feed.events)
    app.router.add_static("/static/", STATIC, name="static", append_version=False)
