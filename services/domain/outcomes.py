"""The reply a command gets, derived from the one event it produced.

The same function runs in the writer (to answer) and in every projector (to
remember the answer), so a retry after a failover gets the first answer.

``answer`` is that reply's JSON, the bytes the state remembers. It is made from the same
plain shape as ``outcome``'s ``Reply`` but without building one: every projector makes one
per decision while it replays the log, and the pydantic model cost more than the rest of
applying a grant. ``tests/unit/test_outcomes.py`` holds the bytes equal to
``outcome(event).model_dump_json()``, so an answer remembered by older code reads the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from events.base import Decision
from events.leases import AcquireDenied, LeaseExpired, LeaseGranted, LeaseReleased
from events.licenses import LicenseActivated, LicenseDeactivated
from events.replies import Reply
from events.reservations import ReservationCancelled, SeatsReserved
from events.vocabulary import ErrorCode
from events.writer import CommandRefused

# The id a successful command's reply names, by event type; other events answer a bare ok.
_NAMED = {
    LicenseActivated: "license_id",
    LicenseDeactivated: "license_id",
    LeaseReleased: "lease_id",
    LeaseExpired: "lease_id",
    SeatsReserved: "reservation_id",
    ReservationCancelled: "reservation_id",
}


def outcome(event: Decision) -> Reply:
    return Reply.model_validate(_shape(event))


def answer(event: Decision) -> bytes:
    """``outcome(event).model_dump_json()``, byte for byte, without the model."""
    # orjson's bytes keep its 4 KB write buffer; the state keeps answers for a day, so
    # they are copied to a bytes object of their own size (bench/memory.py measures it).
    return orjson.dumps(_shape(event)).decode().encode()


# A Reply's fields in its declaration order, which is the order its JSON has.
def _success(command_id: str, result: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "command_id": command_id, "result": result, "error": None}


def _failure(command_id: str, code: str, message: str, reason: str | None) -> dict[str, Any]:
    error = {"code": str(code), "message": message, "reason": reason}
    return {"ok": False, "command_id": command_id, "result": None, "error": error}


def _named(event: Decision) -> dict[str, Any]:
    name = _NAMED.get(type(event))
    return _success(event.command_id, {name: getattr(event, name)} if name else {})


def _granted(event: LeaseGranted) -> dict[str, Any]:
    return _success(
        event.command_id,
        {
            "lease_id": event.lease_id,
            "feature": event.feature,
            "version": event.version,
            "count": event.count,
            "lease_seconds": event.lease_seconds,
            "expires_at": event.expires_at.isoformat(),
            "reservation_id": event.reservation_id,
        },
    )


def _denied(event: AcquireDenied) -> dict[str, Any]:
    return _failure(event.command_id, ErrorCode.DENIED, event.message, event.reason)


def _refused(event: CommandRefused) -> dict[str, Any]:
    return _failure(event.command_id, event.code, event.message, None)


# By the event's exact type (events are not subclassed): a dict lookup, where
# ``functools.singledispatch`` cost a replay more than building the answer itself.
_SHAPES: dict[type, Callable[[Any], dict[str, Any]]] = {
    LeaseGranted: _granted,
    AcquireDenied: _denied,
    CommandRefused: _refused,
}


def _shape(event: Decision) -> dict[str, Any]:
    return _SHAPES.get(type(event), _named)(event)
