"""The state at a moment: evolve folded over the log up to the first event stamped after it."""

from __future__ import annotations

import pytest

from events.writer import WriterPromoted
from projections.reports import usage_rows
from services.domain.as_of import AsOf, VerdictDiffers, fold
from tests.unit.harness import Writer, at, grant


def _log(events, verdicts=None):
    verdicts = verdicts or {}
    return [(n, 0, e, verdicts.get(n)) for n, e in enumerate(events)]


def _history() -> tuple[Writer, list[str]]:
    w = Writer()
    w.activate("LIC-1", grant(seats=2), now=at(1))
    a = w.acquire(device="hmi-a", now=at(2)).lease_id
    b = w.acquire(device="hmi-b", now=at(3)).lease_id
    w.release(a, now=at(4))
    return w, [a, b]


def _held(as_of: AsOf) -> list[str]:
    return sorted(as_of.state.leases.keys())


def test_the_leases_held_at_each_moment_exact_to_the_event():
    w, (a, b) = _history()
    log = _log(w.events)
    assert _held(fold(AsOf(at(1.5)), log)) == []
    assert _held(fold(AsOf(at(2)), log)) == [a]
    assert _held(fold(AsOf(at(3)), log)) == sorted([a, b])
    assert _held(fold(AsOf(at(3.999)), log)) == sorted([a, b])
    after = fold(AsOf(at(4)), log)
    assert _held(after) == [b] and (after.offset, after.last_at) == (4, at(4))
    assert after.complete is False  # nothing after the moment yet: a later event may still count
    stopped = fold(AsOf(at(3)), log)
    assert stopped.complete is True and stopped.offset == 3 and stopped.events == 4


def test_a_fold_a_page_at_a_time_equals_one_fold_and_stops_at_the_cut():
    w, _ = _history()
    log = _log(w.events)
    paged = AsOf(at(3))
    for start in range(0, len(log), 2):
        paged = fold(paged, log[start : start + 2])
    assert paged == fold(AsOf(at(3)), log)
    assert fold(paged, log) == paged  # complete: more of the log changes nothing


def test_an_event_logged_after_the_cut_counts_from_where_the_log_put_it():
    w, (a, b) = _history()
    events = list(w.events)
    events[3] = events[3].model_copy(update={"at": at(5)})
    # b's grant is stamped 5 but logged before a release stamped 4: the log cuts at b's grant.
    assert _held(fold(AsOf(at(4)), _log(events))) == [a]


def test_the_fence_applies_and_must_agree_with_the_recorded_verdicts():
    w, (a, _) = _history()
    stale = WriterPromoted(epoch=1, node="b", server_id="B_X", at=at(2.5))
    events = [*w.events[:3], stale, *w.events[3:]]
    ok = fold(AsOf(at(9)), _log(events, {3: "epoch_taken"}))
    assert ok.state.writer_node == "a" and ok.events == len(events)
    with pytest.raises(VerdictDiffers):
        fold(AsOf(at(9)), _log(events))


def test_usage_rows_are_the_usage_tables_rows_with_seats():
    w, (_, b) = _history()
    (row,) = usage_rows(fold(AsOf(at(9)), _log(w.events)).state)
    assert (row["lease_id"], row["device"], row["in_use"], row["total"]) == (b, "hmi-b", 1, 2)
    assert usage_rows(w.state, device="hmi-a") == [] and len(usage_rows(w.state, user="alice")) == 1
