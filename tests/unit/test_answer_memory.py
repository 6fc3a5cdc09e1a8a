"""The writer's answer memory stays at most 1 KB a command id (issue 9 row 13: 4.3 KB)."""

from __future__ import annotations

from bench.memory import TARGET_BYTES, answer_memory
from events.commands import Acquire
from tests.unit.harness import Writer, grant


def test_a_remembered_command_id_costs_at_most_a_kilobyte():
    figure = answer_memory(2_000)
    assert figure["command_ids"] > 2_000
    assert figure["bytes_per_command_id"] <= TARGET_BYTES, figure


def test_a_retry_gets_the_first_reply_from_the_kept_answer():
    w = Writer()
    w.activate("LIC-1", grant(seats=2))
    event = w.run(
        Acquire(feature=grant().name, version=grant().version, device="d", user="u"),
        command_id="acq",
    )
    reply = w.state.outcome("acq")
    assert reply.ok and reply.command_id == "acq" and reply.result["lease_id"] == event.lease_id
    assert reply.result["reservation_id"] is None  # a null the client may read stays there
