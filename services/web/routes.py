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
from services.openapi import Answer, BadRequest, Operation, parse_query
from services.trust.request import ActivationRequest
from services.views import Health, ServersView
from services.web.activation import ActivationRequests
from services.web.answers import (
    Capacity,
    CapacityQuery,
    ManageAnswer,
    ManageForm,
    SessionView,
)
from services.web.capacity import capacity
from services.web.feed import LiveFeed
from services.web.manage import ACTIONS, Manager
from services.web.pages import PAGES, STATIC, Pages, security_headers
from services.web.responses import json_response, read_body
from services.web.revocations import Revocations
from services.web.sessions import CSRF_FIELD, Sessions
from services.web.signin import SignIn
from services.web.throttle import LoginThrottle

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
        outcome = ManageAnswer.model_validate(answer)
        log.info("License Manager: %s did %s: %s", session.user, action, outcome.message)
        return json_response(outcome.body(), status)

    async def close(self, _: web.Application) -> None:
        await self.manager.close()


class CapacityChart:
    """``/api/capacity?period=day&buckets=120``: in use against owned, per feature."""

    def __init__(self, reads: ReadModels) -> None:
        self.reads = reads

    async def data(self, request: web.Request) -> web.Response:
        q = parse_query(request, CapacityQuery)
        chart = Capacity.model_validate(await capacity(self.reads, q.period, q.buckets))
        return json_response(chart.body())


def mount(
    app: web.Application,
    settings: Settings,
    node: str,
    *,
    health: Callable[[], Health],
    reads: ReadModels,
    servers: Callable[[], ServersView],
) -> None:
    """Add the License Manager of ``node`` to its app: ``health`` drives the live feed,
    ``servers`` names the License Server IDs an activation request is for."""
    sessions = Sessions(
        node,
        settings.admin_users.get_secret_value(),
        settings.admin_key_value(),
        Revocations(reads.pool),
    )
    pages = Pages(settings, node, sessions)
    throttle = LoginThrottle(
        settings.login_backoff_seconds, settings.login_lock_after, settings.login_lock_seconds
    )
    signin = SignIn(sessions, throttle)
    actions = ManageActions(sessions, Manager(settings))
    feed = LiveFeed(health)
    chart = CapacityChart(reads)
    requests = ActivationRequests(settings, servers)

    app.on_response_prepare.append(security_headers)
    app.on_startup.append(sessions.load_revoked)
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


_REFUSED = "not signed in as an administrator, or no administrators are configured"
OPERATIONS = [
    Operation(
        "get",
        "/api/session",
        "who is signed in on this page, and its CSRF token (sets the session cookie)",
        {200: Answer("the session", SessionView)},
        tags=("license-manager",),
    ),
    Operation(
        "get",
        "/api/capacity",
        "seats in use against seats owned over a period, per feature",
        {
            200: Answer("the capacity chart's data", Capacity),
            400: Answer("a query parameter is not what it must be", BadRequest),
        },
        query=CapacityQuery,
        tags=("license-manager",),
    ),
    Operation(
        "post",
        "/api/manage/{action}",
        "a Manage action of a signed-in administrator (X-CSRF-Token header): a signed command",
        {
            200: Answer("the command's outcome, a refusal included (ok says which)", ManageAnswer),
            400: Answer("the form is not filled in right (the message says how)", ManageAnswer),
            401: Answer("sign in as an administrator first", ManageAnswer),
            403: Answer("a missing or stale CSRF token, or no administrators", ManageAnswer),
            404: Answer("there is no such action", ManageAnswer),
            503: Answer("the broker cannot be reached", ManageAnswer),
        },
        path_parameters={"action": {"type": "string", "enum": list(ACTIONS)}},
        body=ManageForm,
        body_types=("application/json", "application/x-www-form-urlencoded"),
        tags=("license-manager",),
    ),
    Operation(
        "get",
        "/api/activation-request",
        "what the vendor needs to issue an entitlement for this pair (a file to download)",
        {
            200: Answer("the activation request", ActivationRequest),
            409: Answer("no License Server is registered yet", ManageAnswer),
        },
        tags=("license-manager",),
    ),
    Operation(
        "get",
        "/api/events",
        "the live feed: an event 'changed' whenever the node has applied something new",
        {200: Answer("server-sent events, until the page goes away", None, "text/event-stream")},
        tags=("license-manager",),
    ),
]
