"""The catch-up's mutable fold (services/domain/fold.py) is ``apply``, only faster.

The property tests' ledger makes the logs: every command, stale-epoch copies, duplicate
retries, expiries and answer generations rolling over. Each log is replayed through the
pure ``apply`` and through the fold, cut into batches of several sizes; the states at
every batch boundary, the verdicts and the read-model rows must be equal. The projector
is then run over the same log as stream messages, folding and not, to the same state,
digest and rows.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import commands as c
from events.base import Event
from events.codec import dumps_events
from events.leases import LeaseReleased
from events.writer import WriterPromoted
from projections.changes import BatchChanges
from projections.projector import Projector, _fold
from projections.store import Checkpoint
from services.domain.decide import Context, ExpireLease, decide
from services.domain.evolve import CannotApply, apply
from services.domain.fold import Fold
from services.domain.model import State
from tests.support.fake_log import license_events
from tests.unit.harness import T0
from tests.unit.test_properties import DEVICES, FEATURES, Ledger

BATCH_SIZES = (1, 3, 7, 10_000)


def _pure(log: list[Event], size: int) -> tuple[list[State], list, BatchChanges]:
    state, states, verdicts, changes = State(), [], [], BatchChanges()
    for n, event in enumerate(log):
        before = state
        state, verdict = apply(state, event)
        changes.record(before, state, event, n, 0, verdict, "")
        verdicts.append(verdict)
        if (n + 1) % size == 0 or n + 1 == len(log):
            states.append(state)
    return states, verdicts, changes


def _folded(log: list[Event], size: int) -> tuple[list[State], list, BatchChanges]:
    fold, states, verdicts, changes = Fold(State()), [], [], BatchChanges()
    for n, event in enumerate(log):
        verdicts.append(_fold(fold, changes, event, n, 0, ""))
        if (n + 1) % size == 0 or n + 1 == len(log):
            states.append(fold.freeze())
            fold = Fold(states[-1])  # the next batch starts from the frozen state
    return states, verdicts, changes


def _rows(changes: BatchChanges) -> tuple:
    return (
        changes.log_rows,
        changes.denials,
        changes.history,
        changes.timeline,
        changes.licenses,
        changes.features,
        changes.usage,
        changes.reservations,
        changes.servers,
        changes.pair_since,
        changes.newest_at,
    )


class MemoryStore:
    def __init__(self) -> None:
        self.writes: list[tuple] = []

    async def write(
        self, changes: BatchChanges, state: State, checkpoint: Checkpoint, snapshot=None
    ) -> None:
        self.writes.append((_rows(changes), state, checkpoint))


async def _project(log: list[Event], catching_up: bool) -> tuple[Projector, MemoryStore, list]:
    store = MemoryStore()
    projector = Projector(store)  # type: ignore[arg-type]
    heard: list = []
    projector.listen(lambda e, ignored, _s, offset: heard.append((e, ignored, offset)))
    messages = [(n, dumps_events(log[n : n + 3]), None) for n in range(0, len(log), 3)]
    for start in range(0, len(messages), 4):
        await projector.apply_messages(messages[start : start + 4], catching_up=catching_up)
    return projector, store, heard


class FoldedLedger(Ledger):
    def teardown(self) -> None:
        super().teardown()
        if not hasattr(self, "state"):
            return
        log = [event for event, _verdict in self.log]
        for size in BATCH_SIZES:
            pure, folded = _pure(log, size), _folded(log, size)
            assert folded[0] == pure[0], size  # the state after every batch
            assert folded[1] == pure[1] == [v for _e, v in self.log], size
            assert _rows(folded[2]) == _rows(pure[2]), size
        assert pure[0][-1] == self.state
        slow, slow_store, slow_heard = asyncio.run(_project(log, catching_up=False))
        fast, fast_store, fast_heard = asyncio.run(_project(log, catching_up=True))
        assert fast.state == slow.state == self.state
        assert fast.checkpoint == slow.checkpoint
        assert [w[0] for w in fast_store.writes] == [w[0] for w in slow_store.writes]
        assert [w[1] for w in fast_store.writes] == [w[1] for w in slow_store.writes]
        assert fast_heard == slow_heard  # every event, in order, with its verdict


FoldedLedger.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestFoldedLedger = FoldedLedger.TestCase


def test_the_fold_halts_where_apply_does_and_keeps_the_state_before() -> None:
    log, state = license_events(200)
    released = next(e for e in log if isinstance(e, LeaseReleased))
    again = released.model_copy(update={"command_id": "again"})  # the lease is gone now
    with pytest.raises(CannotApply):
        apply(state, again)
    fold = Fold(state)
    assert fold.verdict(again) is None
    with pytest.raises(CannotApply):
        fold.evolve(again)
    assert fold.freeze() == state


def _reservation_log(steps: list[tuple[int, int]]) -> list[Event]:
    """A log heavy in reservations (the ledger reaches reserved grants only now and then)."""
    key = FEATURES[0]
    state, log = State(), []

    def run(command: object) -> None:
        nonlocal state
        event = decide(state, command, Context(f"c{len(log)}", 1, T0 + timedelta(seconds=len(log))))
        state = apply(state, event)[0]
        log.append(event)

    log.append(WriterPromoted(epoch=1, node="a", server_id="A_X", at=T0))
    state = apply(state, log[0])[0]
    grant = c.FeatureGrant(name=key[0], version=key[1], seats=6)
    run(c.ActivateLicense(license_id="LIC-1", features=[grant]))
    for kind, n in steps:
        device = DEVICES[n % len(DEVICES)]
        if kind == 0:
            run(c.Reserve(feature=key[0], version=key[1], count=1 + n % 3, device=device))
        elif kind == 1:
            run(c.Acquire(feature=key[0], version=key[1], device=device, user="u", count=1))
        elif kind == 2 and state.leases:
            lease_id = sorted(state.leases)[n % len(state.leases)]
            run(ExpireLease(lease_id=lease_id))
        elif kind == 3 and state.reservations:
            rid = sorted(state.reservations)[n % len(state.reservations)]
            run(c.CancelReservation(reservation_id=rid))
    return log


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 8)), max_size=40))
@settings(max_examples=150, deadline=None)
def test_the_fold_equals_apply_on_reserved_grants(steps: list[tuple[int, int]]) -> None:
    log = _reservation_log(steps)
    for size in (1, 4, 10_000):
        pure, folded = _pure(log, size), _folded(log, size)
        assert folded[0] == pure[0] and folded[1] == pure[1], size
        assert _rows(folded[2]) == _rows(pure[2]), size


@pytest.mark.parametrize("catching_up", [True, False])
def test_a_listener_hears_only_the_event_types_its_interest_names_as_it_names_them(catching_up):
    log, _ = license_events(60, seed=4)
    projector = Projector(MemoryStore())  # type: ignore[arg-type]
    everything: list = []
    releases: list = []
    wants: list[frozenset | None] = [frozenset()]  # nothing at first; then releases only
    projector.listen(lambda e, *_: everything.append(e))
    projector.listen(lambda e, *_: releases.append(e), lambda: wants[0])

    async def replay(part: list[Event], start: int) -> None:
        messages = [(start + n, dumps_events(part[n : n + 3]), None) for n in range(0, 30, 3)]
        await projector.apply_messages(messages, catching_up=catching_up)

    asyncio.run(replay(log[:30], 0))
    wants[0] = frozenset({LeaseReleased})
    asyncio.run(replay(log[30:], 100))
    assert everything == log
    assert releases == [e for e in log[30:] if type(e) is LeaseReleased] != []
