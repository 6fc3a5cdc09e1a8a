"""Every decision event maps to the reply the client gets, on the writer and on every projector."""

from __future__ import annotations

import pytest

from events.base import Decision
from services.domain.outcomes import outcome
from tests.unit.samples import EVENTS, every_event

DECISIONS = [e for e in every_event() if isinstance(e, Decision)]


@pytest.mark.parametrize("event", DECISIONS, ids=lambda e: e.type)
def test_every_reply_names_its_command(event):
    assert outcome(event).command_id == event.command_id


@pytest.mark.parametrize("event", DECISIONS, ids=lambda e: e.type)
def test_only_denials_and_refusals_fail(event):
    reply = outcome(event)
    assert reply.ok == (event.type not in ("AcquireDenied", "CommandRefused"))
    assert (reply.error is None) == reply.ok


def test_a_denial_replies_denied_with_the_reason():
    denial = next(e for e in EVENTS if e.type == "AcquireDenied")
    reply = outcome(denial)
    assert (reply.error.code, reply.error.reason, reply.error.message) == (
        "denied",
        "no_seats",
        "0 of 3 free",
    )


def test_a_refusal_replies_with_its_code():
    refusal = next(e for e in EVENTS if e.type == "CommandRefused")
    assert (outcome(refusal).error.code, outcome(refusal).error.message) == ("in_use", "busy")


def test_a_grant_replies_with_everything_a_product_needs_to_hold_the_lease():
    granted = next(e for e in EVENTS if e.type == "LeaseGranted")
    assert outcome(granted).result == {
        "lease_id": "L-1",
        "feature": "RSLinx Classic",
        "version": "4.00",
        "count": 3,
        "lease_seconds": 300,
        "expires_at": granted.expires_at.isoformat(),
        "reservation_id": "R-1",
    }


@pytest.mark.parametrize(
    "event_type, key",
    [
        ("LicenseActivated", "license_id"),
        ("LicenseDeactivated", "license_id"),
        ("LeaseReleased", "lease_id"),
        ("LeaseExpired", "lease_id"),
        ("SeatsReserved", "reservation_id"),
        ("ReservationCancelled", "reservation_id"),
    ],
)
def test_other_successes_reply_with_the_id_they_are_about(event_type, key):
    event = next(e for e in EVENTS if e.type == event_type)
    assert outcome(event).result == {key: getattr(event, key)}
