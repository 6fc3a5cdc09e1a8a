"""The Manage actions of the License Manager: each one a command on the broker.

The node's web app holds one ``LicenseClient`` (created on the first action, closed
with the app) with the node's settings, so it signs with the site's admin key; the
logged-in administrator is the command's actor, recorded in the event. The answer,
refusals included, goes back to the page in the administrator's words.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from events.base import Command
from events.commands import (
    CancelReservation,
    DeactivateLicense,
    PairServers,
    Release,
    Reserve,
    ResetServerId,
    StopServer,
    SyncServer,
    UnpairServers,
)
from events.storable import problem_message
from services.client import ClientError, LicenseClient
from services.config.settings import Settings
from services.web import activation

log = logging.getLogger(__name__)
COMMAND_TIMEOUT = 15.0


class BadRequest(ValueError):
    """The form was not filled in right; the message says how."""


def _text(
    body: dict[str, Any], name: str, what: str | None = None, required: bool = True
) -> str | None:
    value = body.get(name)
    if isinstance(value, str):
        value = value.strip()
    if value in (None, ""):
        if required:
            raise BadRequest(f"{what or name} is required")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{what or name} must be text")
    return value


def _pair(b: dict) -> Command:
    return PairServers(
        primary=_text(b, "primary", "the primary server"),
        backup=_text(b, "backup", "the backup server"),
    )


def _reserve(b: dict) -> Command:
    holder = _text(b, "holder", "a device or user name")
    kind = b.get("holder_type", "device")
    if kind not in ("device", "user"):
        raise BadRequest("a reservation is for a device or for a user")
    try:
        count = int(b.get("count", 1))
    except (TypeError, ValueError):
        raise BadRequest("the number of seats must be a whole number") from None
    return Reserve(
        feature=_text(b, "feature", "the feature"),
        version=_text(b, "version", "the version"),
        count=count,
        **{kind: holder},
    )


def _release(b: dict) -> Command:
    return Release(
        lease_id=_text(b, "lease_id", "the acquisition"),
        reason=_text(b, "reason", "a reason for the force-release"),
    )


def _activate(b: dict) -> Command:
    try:
        return activation.command_of(b)
    except activation.NotAnEntitlement as exc:
        raise BadRequest(str(exc)) from None


# action -> (builder, what the page says when it is done)
ACTIONS: dict[str, tuple[Callable[[dict], Command], Callable[[Command, dict], str]]] = {
    "pair": (
        _pair,
        lambda c, r: (
            f"{c.primary} and {c.backup} are paired: {c.primary} is the primary, "
            f"{c.backup} its backup."
        ),
    ),
    "unpair": (lambda b: UnpairServers(), lambda c, r: "The servers are no longer paired."),
    "stop": (
        lambda b: StopServer(node=_text(b, "node", "the server")),
        lambda c, r: f"{c.node} was told to stop.",
    ),
    "reset": (
        lambda b: ResetServerId(node=_text(b, "node", "the server")),
        lambda c, r: (
            f"{c.node} has a new License Server ID"
            f"{' (' + r['new_server_id'] + ')' if r.get('new_server_id') else ''} and is replaying "
            f"the log."
        ),
    ),
    "sync": (
        lambda b: SyncServer(
            node=_text(b, "node", "the server"), from_peer=_text(b, "from_peer", required=False)
        ),
        lambda c, r: f"{c.node} is replaying the log to sync with its pair.",
    ),
    "activate": (
        _activate,
        lambda c, r: (
            f"License {c.license_id} is activated "
            f"({len(c.features)} feature{'s' if len(c.features) != 1 else ''})."
        ),
    ),
    "deactivate": (
        lambda b: DeactivateLicense(license_id=_text(b, "license_id", "the license")),
        lambda c, r: f"License {c.license_id} is deactivated.",
    ),
    "reserve": (
        _reserve,
        lambda c, r: (
            f"{c.count} seat{'s' if c.count != 1 else ''} of {c.feature} {c.version} "
            f"reserved for {c.device or c.user}."
        ),
    ),
    "unreserve": (
        lambda b: CancelReservation(reservation_id=_text(b, "reservation_id", "the reservation")),
        lambda c, r: f"Reservation {c.reservation_id} is cancelled.",
    ),
    "release": (_release, lambda c, r: f"The acquisition {c.lease_id} was force-released."),
}


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("function-after",))
        message = problem_message(error)
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


class Manager:
    """Carries out Manage actions for the logged-in administrator of one node's web app."""

    def __init__(self, settings: Settings, timeout: float = COMMAND_TIMEOUT) -> None:
        self.settings = settings
        self.timeout = timeout
        self._client: LicenseClient | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> LicenseClient:
        async with self._lock:
            if self._client is None:
                self._client = LicenseClient(self.settings, timeout=self.timeout)
            return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def run(
        self, action: str, body: dict[str, Any], actor: str
    ) -> tuple[int, dict[str, Any]]:
        """(HTTP status, answer). The answer always has ``ok`` and ``message`` in words."""
        if action not in ACTIONS:
            return 404, {
                "ok": False,
                "message": f"there is no Manage action called {action!r}",
                "error": {"code": "not_found", "message": f"unknown action {action}"},
            }
        build, done = ACTIONS[action]
        try:
            command = build(body)
        except BadRequest as exc:
            return 400, _failure("invalid", str(exc))
        except ValidationError as exc:
            return 400, _failure("invalid", _validation_message(exc))
        try:
            reply = await (await self.client()).send(command, actor=actor)
        except ClientError as exc:
            log.warning("manage %s for %s failed: %s", action, actor, exc)
            return 503, _failure(getattr(exc, "code", "unavailable"), exc.message)
        result = dict(reply.result or {})
        if reply.ok:
            return 200, {
                "ok": True,
                "message": done(command, result),
                "command_id": reply.command_id,
                "result": result,
                "actor": actor,
            }
        error = reply.error
        answer = _failure(
            error.code if error else "error",
            error.message if error else "refused without a reason",
            error.reason if error else None,
        )
        answer["command_id"] = reply.command_id
        if action == "activate":
            answer.update(activation.explain(answer["error"]["code"]))
        return 200, answer


def _failure(code: str, message: str, reason: str | None = None) -> dict[str, Any]:
    return {
        "ok": False,
        "message": message,
        "error": {"code": code, "message": message, "reason": reason},
    }
