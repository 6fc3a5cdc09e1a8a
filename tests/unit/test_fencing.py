"""Fencing by epoch and idempotence by command id (invariants 3 and 5)."""

from __future__ import annotations

from events import commands as c
from events.leases import LeaseGranted
from events.vocabulary import IgnoredReason
from events.writer import WriterPromoted
from services.domain.decide import Context, decide
from services.domain.evolve import apply
from services.domain.model import State
from tests.unit.harness import T0, Writer, at, grant

FEATURE = "FactoryTalk View SE Client"


def _acquire(device: str = "hmi-1") -> c.Acquire:
    return c.Acquire(feature=FEATURE, version="13.00", device=device, user="alice")


def test_promotion_sets_the_epoch_and_the_writer():
    state, ignored = apply(State(), WriterPromoted(epoch=1, node="a", server_id="A_X", at=T0))
    assert ignored is None
    assert (state.epoch, state.writer_node, state.writer_server_id) == (1, "a", "A_X")


def test_decisions_before_any_promotion_are_ignored():
    event = decide(
        State(),
        c.ActivateLicense(license_id="L", features=[grant()]),
        Context(command_id="c", epoch=1, now=T0),
    )
    state, ignored = apply(State(), event)
    assert ignored == IgnoredReason.STALE_EPOCH
    assert state == State()


def test_a_stale_writers_decision_changes_nothing_after_a_new_promotion():
    w = Writer()
    w.activate("LIC-1", grant(seats=1))
    old_writer_state = w.state
    # Node b takes over with epoch 2 ...
    w.state, ignored = apply(w.state, WriterPromoted(epoch=2, node="b", server_id="B_Y", at=at(1)))
    assert ignored is None
    # ... while paused node a still publishes a grant decided under epoch 1.
    late = decide(
        old_writer_state, _acquire("hmi-a"), Context(command_id="late", epoch=1, now=at(2))
    )
    assert isinstance(late, LeaseGranted)
    before = w.state

    after, ignored = apply(w.state, late)

    assert ignored == IgnoredReason.STALE_EPOCH
    assert after is before
    assert after.features[(FEATURE, "13.00")].in_use == 0
    assert after.outcome("late") is None  # a retry under the new writer gets a fresh decision
    w.epoch = 2
    assert isinstance(w.run(_acquire("hmi-b"), command_id="late"), LeaseGranted)


def test_a_decision_from_a_future_epoch_is_ignored_too():
    w = Writer(epoch=3)
    w.activate("LIC-1", grant(seats=1))
    event = decide(w.state, _acquire(), Context(command_id="x", epoch=4, now=T0))
    state, ignored = apply(w.state, event)
    assert ignored == IgnoredReason.STALE_EPOCH and state is w.state


def test_a_second_promotion_for_a_taken_epoch_is_ignored():
    w = Writer(epoch=2, node="a", server_id="A_X")
    for epoch in (2, 1):
        state, ignored = apply(
            w.state, WriterPromoted(epoch=epoch, node="b", server_id="B_Y", at=at(5))
        )
        assert ignored == IgnoredReason.EPOCH_TAKEN
        assert state is w.state
    assert (w.state.epoch, w.state.writer_node) == (2, "a")
    # And the first claimant's decisions still apply.
    assert w.activate("LIC-1", grant()).type == "LicenseActivated"


def test_a_promotion_may_skip_epochs():
    state, _ = apply(State(), WriterPromoted(epoch=1, node="a", server_id="A", at=T0))
    state, ignored = apply(state, WriterPromoted(epoch=7, node="b", server_id="B", at=at(1)))
    assert ignored is None and state.epoch == 7 and state.writer_node == "b"


def test_promotion_keeps_licenses_leases_and_outcomes():
    w = Writer()
    w.activate("LIC-1", grant(seats=2), command_id="act")
    lease = w.acquire()
    state, _ = apply(w.state, WriterPromoted(epoch=2, node="b", server_id="B", at=at(1)))
    assert state.licenses == w.state.licenses and state.leases == w.state.leases
    assert lease.lease_id in state.leases
    assert state.outcome("act").ok


def test_a_duplicate_command_id_is_ignored_and_the_first_outcome_stands():
    w = Writer()
    w.activate("LIC-1", grant(seats=2))
    first = w.acquire(device="hmi-1", command_id="retry-me")
    reply = w.state.outcome("retry-me")

    # A retry decided again (e.g. by a writer that had not yet seen the first event).
    second = decide(w.state, _acquire("hmi-1"), Context(command_id="retry-me", epoch=1, now=at(3)))
    state, ignored = apply(w.state, second)

    assert ignored == IgnoredReason.DUPLICATE_COMMAND
    assert state is w.state
    assert state.features[(FEATURE, "13.00")].in_use == 1
    assert state.outcome("retry-me") == reply
    assert state.outcome("retry-me").result["lease_id"] == first.lease_id


def test_a_duplicate_is_ignored_even_when_it_is_a_different_kind_of_event():
    w = Writer()
    w.activate("LIC-1", grant(seats=1), command_id="c1")
    denial = decide(w.state, _acquire(), Context(command_id="c1", epoch=1, now=T0))
    state, ignored = apply(w.state, denial)
    assert ignored == IgnoredReason.DUPLICATE_COMMAND and state is w.state
    assert state.outcome("c1").result == {"license_id": "LIC-1"}


def test_the_same_command_id_is_deduplicated_across_epochs():
    w = Writer()
    w.activate("LIC-1", grant(seats=5))
    w.acquire(command_id="once")
    w.state, _ = apply(w.state, WriterPromoted(epoch=2, node="b", server_id="B", at=at(1)))
    replay = decide(w.state, _acquire(), Context(command_id="once", epoch=2, now=at(2)))
    state, ignored = apply(w.state, replay)
    assert ignored == IgnoredReason.DUPLICATE_COMMAND
    assert state.features[(FEATURE, "13.00")].in_use == 1


def test_refusals_and_denials_are_remembered_for_retries():
    w = Writer()
    w.acquire(command_id="denied")
    w.deactivate("nope", command_id="refused")
    assert w.state.outcome("denied").error.reason == "unknown_feature"
    assert w.state.outcome("refused").error.code == "not_found"
    # A retry of the denied acquire after a license arrives is still a duplicate.
    w.activate("LIC-1", grant(seats=1))
    retry = decide(w.state, _acquire(), Context(command_id="denied", epoch=1, now=T0))
    state, ignored = apply(w.state, retry)
    assert ignored == IgnoredReason.DUPLICATE_COMMAND
    assert state.outcome("denied").error.reason == "unknown_feature" and len(state.leases) == 0


def test_applied_decisions_advance_last_at_and_ignored_ones_do_not():
    w = Writer()
    w.activate("LIC-1", grant(seats=1), now=at(10))
    assert w.state.last_at == at(10)
    stale = decide(w.state, _acquire(), Context(command_id="s", epoch=9, now=at(99)))
    state, _ = apply(w.state, stale)
    assert state.last_at == at(10)


def test_answers_are_kept_twelve_to_twenty_four_hours_then_forgotten():
    from events import commands as c
    from tests.unit.harness import Writer, at, grant

    w = Writer()
    w.activate("LIC-1", grant(seats=5))
    first = w.run(
        c.Acquire(feature=grant().name, version=grant().version, device="d", user="u"),
        command_id="acq",
        now=at(60),
    )
    w.release(first.lease_id, now=at(3600 * 13))  # opens a new generation
    assert w.state.outcome("acq").ok  # still answered
    w.run(
        c.DeactivateLicense(license_id="nope"), now=at(3600 * 26)
    )  # and another: the first is dropped
    assert w.state.outcome("acq") is None
    again = w.run(
        c.Acquire(feature=grant().name, version=grant().version, device="d", user="u"),
        command_id="acq",
        now=at(3600 * 27),
    )
    assert (
        again.type == "LeaseGranted" and again.lease_id == first.lease_id
    )  # decided afresh: seat was free
