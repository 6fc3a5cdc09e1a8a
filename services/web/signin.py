"""Administrators sign in and out of the License Manager; every change is CSRF-checked.

Guessing is throttled per client address and per user name (services/web/throttle.py):
an attempt that comes too soon is a ``429`` with ``Retry-After``, refused before any
password is hashed.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from aiohttp import web

from events.vocabulary import ErrorCode
from services.web.responses import json_response, read_body
from services.web.sessions import NO_ADMINS, Sessions
from services.web.throttle import LoginThrottle, Refusal

log = logging.getLogger(__name__)


def _refusal(message: str, code: str, status: int) -> web.Response:
    return json_response(
        {"ok": False, "message": message, "error": {"code": code, "message": message}}, status
    )


def _too_soon(refusal: Refusal) -> web.Response:
    when = datetime.now(UTC) + timedelta(seconds=refusal.retry_after)
    who = "this user name" if refusal.key_kind == "user" else "this address"
    why = "locked after too many failed sign-ins" if refusal.locked else "signing in too fast"
    message = (
        f"{who} is {why}; try again in {refusal.retry_after_header} s (at {when:%H:%M:%S} UTC)"
    )
    response = _refusal(message, "too_many_attempts", 429)
    response.headers["Retry-After"] = refusal.retry_after_header
    return response


class SignIn:
    def __init__(self, sessions: Sessions, throttle: LoginThrottle) -> None:
        self.sessions = sessions
        self.throttle = throttle

    async def login(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        session = self.sessions.current(request)
        self.sessions.check_csrf(request, session, body)
        if not self.sessions.users:
            return _refusal(NO_ADMINS, "no_admins", 403)
        username = str(body.get("username") or "").strip()
        password = str(body.get("password") or "")
        address = request.remote or "?"
        refusal = self.throttle.begin(address, username, time.monotonic())
        if refusal is not None:
            log.warning(
                "License Manager: sign-in for %r from %s refused for %.1f s",
                username[:64],
                address,
                refusal.retry_after,
            )
            return _too_soon(refusal)
        ok = False
        try:
            ok = bool(
                username and password and await self.sessions.authenticate(username, password)
            )
        finally:  # a cancelled request must not leave its keys claimed for ever
            self.throttle.end(address, username, time.monotonic(), ok=ok)
        if not ok:
            log.warning("License Manager: failed sign-in for %r from %s", username[:64], address)
            return _refusal("wrong user name or password", ErrorCode.UNAUTHORIZED, 401)
        await self.sessions.revoke(session)
        fresh = self.sessions.new(username)
        log.info("License Manager: %s signed in from %s", username, address)
        response = json_response(
            {
                "ok": True,
                "user": username,
                "csrf": fresh.csrf,
                "message": f"Signed in as {username}.",
            }
        )
        self.sessions.set_cookie(response, fresh)
        return response

    async def logout(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        session = self.sessions.current(request)
        self.sessions.check_csrf(request, session, body)
        await self.sessions.revoke(session)
        fresh = self.sessions.new()
        response = json_response(
            {"ok": True, "user": None, "csrf": fresh.csrf, "message": "Signed out."}
        )
        self.sessions.set_cookie(response, fresh)
        return response
