"""The writer's replies, written from plain dicts, are byte for byte what ``Reply`` writes.

Products parse replies with ``Reply`` (services/client) and docs/protocol.md describes it;
the writer skips building one per command (events/replies.py), so this holds the two equal.
"""

from __future__ import annotations

import pytest

from events import codec, replies
from events.base import Decision
from events.replies import ErrorCode, Reply
from services.domain.outcomes import outcome
from tests.unit.samples import every_event

DECISIONS = [e for e in every_event() if isinstance(e, Decision)]


def _remembered(reply: Reply) -> bytes:
    return reply.model_dump_json().encode()  # as State.remember keeps an answer


@pytest.mark.parametrize("event", DECISIONS, ids=lambda e: e.type)
def test_a_remembered_answer_travels_as_its_reply_does(event):
    reply = outcome(event)
    assert replies.dumps(replies.from_answer(_remembered(reply))) == codec.dumps_reply(reply)


@pytest.mark.parametrize(
    "reply",
    [
        Reply.success("c1", lease_id="L-1", count=2, reservation_id=None),
        Reply.success("c1"),
        Reply.success(None, renewed=["L-1"], gone=[], refused=["L-2"]),
        Reply.failure("c2", ErrorCode.DENIED, "no seats", reason="no_seats"),
        Reply.failure("c2", ErrorCode.INVALID, "bad"),
        Reply.failure(None, ErrorCode.INVALID, "unreadable"),
    ],
)
def test_success_failure_and_of_write_what_reply_writes(reply):
    wire = codec.dumps_reply(reply)
    assert replies.dumps(replies.of(reply)) == wire
    assert replies.dumps(replies.from_answer(_remembered(reply))) == wire
    if reply.ok:
        built = replies.success(reply.command_id, **(reply.result or {}))
    else:
        assert reply.error is not None
        built = replies.failure(
            reply.command_id, reply.error.code, reply.error.message, reply.error.reason
        )
    assert replies.dumps(built) == wire
    assert codec.loads_reply(replies.dumps(built)) == reply


def test_more_in_the_result_is_what_reply_writes_and_leaves_the_first_alone():
    first = replies.success("c1", lease_id="L-1")
    more = replies.with_result(first, lease_secret="s")
    assert replies.dumps(more) == codec.dumps_reply(
        Reply.success("c1", lease_id="L-1", lease_secret="s")
    )
    assert first == {"ok": True, "command_id": "c1", "result": {"lease_id": "L-1"}}
