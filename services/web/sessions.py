"""Administrator sessions of the License Manager: a signed cookie and a CSRF token.

The cookie holds ``base64(json{sid, user, csrf, iat}).hmac`` signed with a per-node
secret, so no server-side store is needed. Every visitor gets an anonymous session
(with a CSRF token) first; a login replaces it with a new one (new id, new token),
so a session id planted before the login is worth nothing. Every POST must carry
the session's token in the ``X-CSRF-Token`` header or a ``csrf_token`` form field.

The secret is derived from the site's admin key when there is one (sessions then
survive a restart of the node), otherwise it is random for the process. A sign-out
revokes the session's id in the node's database (services/web/revocations.py), loaded at
start, so a signed-out cookie stays signed out across restarts too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import orjson
from aiohttp import web

from services.auth.passwords import parse_users, verify
from services.web.revocations import Revocations

SESSION_SECONDS = 12 * 3600
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_DUMMY_HASH = "scrypt$16384$8$1$" + "00" * 16 + "$" + "00" * 32  # same cost for unknown users

NO_ADMINS = (
    "no administrators are configured on this node: set LICENSING_ADMIN_USERS to "
    "user:scrypt-hash entries (make a hash with `licensing hash-password`) and restart the node"
)


@dataclass(frozen=True)
class Session:
    sid: str
    csrf: str
    user: str | None = None
    iat: float = 0.0


class Sessions:
    def __init__(
        self,
        node: str,
        admin_users: str,
        admin_key: str | None,
        revocations: Revocations | None = None,
    ) -> None:
        self.cookie = f"lm_session_{node}"  # cookies are per host, not per port: one name per node
        self.users = parse_users(admin_users)
        if admin_key:
            self.secret = hmac.new(
                admin_key.encode(), f"license-manager-session:{node}".encode(), hashlib.sha256
            ).digest()
        else:
            self.secret = secrets.token_bytes(32)
        self.revoked: set[str] = set()
        self.revocations = revocations  # None: revocations last as long as the process

    async def load_revoked(self, _: web.Application | None = None) -> None:
        if self.revocations is not None:
            self.revoked |= await self.revocations.load(SESSION_SECONDS)

    # ---- the cookie ---------------------------------------------------------------------

    def _sign(self, payload: bytes) -> str:
        return (
            base64.urlsafe_b64encode(hmac.new(self.secret, payload, hashlib.sha256).digest())
            .decode()
            .rstrip("=")
        )

    def encode(self, session: Session) -> str:
        payload = base64.urlsafe_b64encode(
            orjson.dumps(
                {"sid": session.sid, "csrf": session.csrf, "user": session.user, "iat": session.iat}
            )
        ).rstrip(b"=")
        return f"{payload.decode()}.{self._sign(payload)}"

    def decode(self, value: str | None) -> Session | None:
        if not value or "." not in value:
            return None
        payload, signature = value.rsplit(".", 1)
        if not hmac.compare_digest(self._sign(payload.encode()), signature):
            return None
        try:
            data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            session = Session(
                sid=str(data["sid"]),
                csrf=str(data["csrf"]),
                user=data.get("user"),
                iat=float(data.get("iat", 0)),
            )
        except (ValueError, KeyError, TypeError):
            return None
        if session.sid in self.revoked:
            return None
        if session.user is not None and time.time() - session.iat > SESSION_SECONDS:
            return None
        if session.user is not None and session.user not in self.users:
            return None  # the administrator was removed from LICENSING_ADMIN_USERS
        return session

    @staticmethod
    def new(user: str | None = None) -> Session:
        return Session(
            sid=secrets.token_urlsafe(16),
            csrf=secrets.token_urlsafe(24),
            user=user,
            iat=time.time(),
        )

    def current(self, request: web.Request) -> Session | None:
        return self.decode(request.cookies.get(self.cookie))

    def set_cookie(self, response: web.StreamResponse, session: Session) -> None:
        response.set_cookie(
            self.cookie,
            self.encode(session),
            httponly=True,
            samesite="Strict",
            path="/",
            max_age=SESSION_SECONDS,
            secure=False,
        )

    def ensure(self, request: web.Request, response: web.StreamResponse) -> Session:
        """The visitor's session; a new anonymous one (cookie set on ``response``) if none."""
        session = self.current(request)
        if session is None:
            session = self.new()
            self.set_cookie(response, session)
        return session

    # ---- checks -------------------------------------------------------------------------

    def check_csrf(
        self, request: web.Request, session: Session | None, form: dict | None = None
    ) -> None:
        token = request.headers.get(CSRF_HEADER) or (form or {}).get(CSRF_FIELD)
        if session is None or not token or not hmac.compare_digest(str(token), session.csrf):
            raise _refused(
                403,
                "csrf",
                "this page's security token is missing or stale; reload the page and try again",
            )

    def require_admin(self, request: web.Request) -> Session:
        if not self.users:
            raise _refused(403, "no_admins", NO_ADMINS)
        session = self.current(request)
        self.check_csrf(request, session)
        assert session is not None
        if session.user is None:
            raise _refused(
                401, "login", "sign in as an administrator to manage the license servers"
            )
        return session

    async def authenticate(self, username: str, password: str) -> bool:
        stored = self.users.get(username)
        ok = await verify(password, stored or _DUMMY_HASH)
        return ok and stored is not None

    async def revoke(self, session: Session | None) -> None:
        if session is None:
            return
        self.revoked.add(session.sid)
        if self.revocations is not None and session.user is not None:
            # An anonymous session grants nothing after a restart (its CSRF token alone
            # signs no one in), so only signed-in ones are worth a row.
            await self.revocations.add(session.sid)


def _refused(status: int, code: str, message: str) -> web.HTTPException:
    body = orjson.dumps(
        {"ok": False, "error": {"code": code, "message": message}, "message": message}
    )
    cls = {401: web.HTTPUnauthorized, 403: web.HTTPForbidden}[status]
    return cls(body=body, content_type="application/json")
