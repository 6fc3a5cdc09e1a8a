"""Every decision event maps to the reply the client gets, on the writer and on every projector."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from events.base import Decision
from events.replies import Reply
from services.domain.outcomes import answer, outcome
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


def _pydantic_answer(event: Decision) -> bytes:
    """The answer as it was remembered before ``answer``: the Reply model's own JSON."""
    return outcome(event).model_dump_json().encode()


@pytest.mark.parametrize("event", DECISIONS, ids=lambda e: e.type)
def test_the_remembered_answer_is_the_reply_models_json(event):
    assert answer(event) == _pydantic_answer(event)
    assert Reply.model_validate_json(answer(event)) == outcome(event)


# Any storable text: control characters, quotes, backslashes, non-ASCII, astral planes.
_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)


@given(command_id=_TEXT, message=_TEXT, reason=_TEXT, lease_id=_TEXT, count=st.integers(1, 2**62))
@hypothesis_settings(max_examples=300, deadline=None)
def test_the_answer_escapes_text_as_the_reply_model_does(
    command_id, message, reason, lease_id, count
):
    for event in DECISIONS:
        if event.type == "LeaseGranted":
            changed = {"command_id": command_id, "lease_id": lease_id, "device": message}
            changed["count"] = count
        elif event.type == "AcquireDenied":
            changed = {"command_id": command_id, "message": message, "reason": reason}
        elif event.type == "CommandRefused":
            changed = {"command_id": command_id, "message": message, "code": reason}
        else:
            changed = {"command_id": command_id}
        varied = event.model_copy(update=changed)
        assert answer(varied) == _pydantic_answer(varied), event.type
