"""The reply a command gets, derived from the one event it produced.

The same function runs in the writer (to answer) and in every projector (to
remember the answer), so a retry after a failover gets the first answer.
"""

from __future__ import annotations

from functools import singledispatch

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


@singledispatch
def outcome(event: Decision) -> Reply:
    name = _NAMED.get(type(event))
    return Reply.success(event.command_id, **({name: getattr(event, name)} if name else {}))


@outcome.register
def _(event: LeaseGranted) -> Reply:
    return Reply.success(
        event.command_id,
        lease_id=event.lease_id,
        feature=event.feature,
        version=event.version,
        count=event.count,
        lease_seconds=event.lease_seconds,
        expires_at=event.expires_at.isoformat(),
        reservation_id=event.reservation_id,
    )


@outcome.register
def _(event: AcquireDenied) -> Reply:
    return Reply.failure(event.command_id, ErrorCode.DENIED, event.message, reason=event.reason)


@outcome.register
def _(event: CommandRefused) -> Reply:
    return Reply.failure(event.command_id, event.code, event.message)
