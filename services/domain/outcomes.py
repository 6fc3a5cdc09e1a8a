"""The reply a command gets, derived from the one event it produced.

The same function runs in the writer (to answer) and in every projector (to
remember the answer), so a retry after a failover gets the first answer.

The state remembers each answer as a ``Remembered``: the few values its reply is made of,
in a plain tuple. ``answer_json`` renders them as the reply's JSON only when somebody asks
(a retry, the writer's reply). Every projector remembers every decision while it replays
the log, and most of those answers are dropped unread a day later: rendering each one at
once was a tenth of a replay's Python, and the tuple costs about the bytes' memory
(``python -m bench.memory``). ``answer(event)`` is the same JSON in one step.
``tests/unit/test_outcomes.py`` holds those bytes equal to
``outcome(event).model_dump_json()``. A state that still holds rendered bytes (a snapshot
of older code) answers with them as they are.
"""

from __future__ import annotations

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

# A Remembered's first item: which reply its other items make.
_OK, _NAMED_ID, _GRANTED, _FAILED = 0, 1, 2, 3


class Remembered(tuple[Any, ...]):
    """A remembered answer, unrendered: ``(kind, *values)`` of plain str, int and None.

    Its own type (not a bare tuple) so that a snapshot tells it from the state's tuples."""

    __slots__ = ()


def remember(event: Decision) -> Remembered:
    """What the state keeps of a decision's answer."""
    if isinstance(event, LeaseGranted):
        return Remembered(
            (
                _GRANTED,
                event.lease_id,
                event.feature,
                event.version,
                event.count,
                event.lease_seconds,
                event.expires_at.isoformat(),
                event.reservation_id,
            )
        )
    if isinstance(event, AcquireDenied):
        return Remembered((_FAILED, str(ErrorCode.DENIED), event.message, event.reason))
    if isinstance(event, CommandRefused):
        return Remembered((_FAILED, str(event.code), event.message, None))
    name = _NAMED.get(type(event))
    if name is None:
        return Remembered((_OK,))
    return Remembered((_NAMED_ID, name, getattr(event, name)))


def answer_json(command_id: str, remembered: Remembered | bytes) -> bytes:
    """A remembered answer as its ``Reply``'s JSON (bytes already rendered stay as they are)."""
    if isinstance(remembered, bytes):
        return remembered
    return orjson.dumps(_shape(command_id, remembered))


def answer(event: Decision) -> bytes:
    """``outcome(event).model_dump_json()``, byte for byte, without the model."""
    return answer_json(event.command_id, remember(event))


def outcome(event: Decision) -> Reply:
    return Reply.model_validate(_shape(event.command_id, remember(event)))


def _shape(command_id: str, remembered: Remembered) -> dict[str, Any]:
    """The Reply's fields in its declaration order, which is the order its JSON has."""
    kind = remembered[0]
    if kind == _GRANTED:
        _, lease_id, feature, version, count, lease_seconds, expires_at, reservation_id = remembered
        result: dict[str, Any] = {
            "lease_id": lease_id,
            "feature": feature,
            "version": version,
            "count": count,
            "lease_seconds": lease_seconds,
            "expires_at": expires_at,
            "reservation_id": reservation_id,
        }
    elif kind == _FAILED:
        _, code, message, reason = remembered
        error = {"code": code, "message": message, "reason": reason}
        return {"ok": False, "command_id": command_id, "result": None, "error": error}
    elif kind == _NAMED_ID:
        result = {remembered[1]: remembered[2]}
    else:
        result = {}
    return {"ok": True, "command_id": command_id, "result": result, "error": None}
