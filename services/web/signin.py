"""Administrators sign in and out of the License Manager; every change is CSRF-checked."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from events.vocabulary import ErrorCode
from services.web.responses import json_response, read_body
from services.web.sessions import NO_ADMINS, Sessions

log = logging.getLogger(__name__)
GUESS_DELAY_SECONDS = 0.5  # a failed sign-in waits this long: slows down guessing


def _refusal(message: str, code: str, status: int) -> web.Response:
    return json_response(
        {"ok": False, "message": message, "error": {"code": code, "message": message}}, status
    )


class SignIn:
    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    async def login(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        session = self.sessions.current(request)
        self.sessions.check_csrf(request, session, body)
        if not self.sessions.users:
            return _refusal(NO_ADMINS, "no_admins", 403)
        username = str(body.get("username") or "").strip()
        password = str(body.get("password") or "")
        if not (username and password and await self.sessions.authenticate(username, password)):
            await asyncio.sleep(GUESS_DELAY_SECONDS)
            log.warning(
                "License Manager: failed sign-in for %r from %s", username[:64], request.remote
            )
            return _refusal("wrong user name or password", ErrorCode.UNAUTHORIZED, 401)
        self.sessions.revoke(session)
        fresh = self.sessions.new(username)
        log.info("License Manager: %s signed in from %s", username, request.remote)
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
        self.sessions.revoke(session)
        fresh = self.sessions.new()
        response = json_response(
            {"ok": True, "user": None, "csrf": fresh.csrf, "message": "Signed out."}
        )
        self.sessions.set_cookie(response, fresh)
        return response
