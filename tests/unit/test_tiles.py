"""The seed's table of server and pair statuses, from watchdog observations (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from events import commands as c
from events.status import ReportPairSync, ReportServerStatus
from services.domain import tiles
from services.domain.decide import decide
from tests.unit.harness import T0, Writer


def paired() -> Writer:
    w = Writer()
    w.run(c.RegisterServer(node="primary", server_id="PRIMARY_AAAAAAAA"))
    w.run(c.RegisterServer(node="backup", server_id="BACKUP_BBBBBBBB"))
    w.run(c.PairServers(primary="primary", backup="backup"))
    return w


def report(w: Writer, node: str, activity: str, seconds: float = 1):
    return w.run(
        ReportServerStatus(
            node=node, activity=activity, observed_at=T0 + timedelta(seconds=seconds)
        )
    )


def test_both_running_is_paired_and_available():
    w = paired()
    assert (
        tiles.server_status(w.state, "primary")
        == tiles.server_status(w.state, "backup")
        == "Running"
    )
    assert tiles.pair_status(w.state) == "Paired and Available"


@pytest.mark.parametrize("node, word", [("backup", "Backup"), ("primary", "Primary")])
@pytest.mark.parametrize(
    "activity, shown", [("disconnected", "Disconnected"), ("stopped", "Stopped")]
)
def test_a_server_down_or_stopped(node, word, activity, shown):
    w = paired()
    report(w, node, activity)
    assert tiles.server_status(w.state, node) == shown
    assert tiles.pair_status(w.state) == f"{word} not available"


def test_an_uninstalled_backup_is_not_available_as_server_and_pair():
    w = paired()
    w.run(c.UninstallServer(node="backup"))
    assert tiles.server_status(w.state, "backup") == "Backup not available"
    assert tiles.pair_status(w.state) == "Backup not available"


def test_recovering_shows_running_with_the_pair_recovering():
    w = paired()
    report(w, "backup", "recovering")
    assert tiles.server_status(w.state, "backup") == "Running"
    assert tiles.pair_status(w.state) == "Recovering"
    report(w, "backup", "running", seconds=2)
    assert tiles.pair_status(w.state) == "Paired and Available"


def test_not_synced_keeps_both_running():
    w = paired()
    w.run(
        ReportPairSync(
            synced=False, lag_events=0, reason="equal offsets, different digests", observed_at=T0
        )
    )
    assert (
        tiles.server_status(w.state, "primary")
        == tiles.server_status(w.state, "backup")
        == "Running"
    )
    assert tiles.pair_status(w.state) == "Pair not synced"


def test_a_second_report_of_the_same_transition_writes_nothing():
    w = paired()
    assert report(w, "backup", "stopped") is not None
    again = ReportServerStatus(
        node="backup", activity="stopped", observed_at=T0 + timedelta(seconds=5)
    )
    assert decide(w.state, again, w.context()) is None


def test_an_observation_older_than_the_current_status_cannot_flip_it_back():
    w = paired()
    report(w, "backup", "disconnected", seconds=10)
    stale = ReportServerStatus(
        node="backup", activity="running", observed_at=T0 + timedelta(seconds=9)
    )
    assert decide(w.state, stale, w.context()) is None
    fresh = ReportServerStatus(
        node="backup", activity="running", observed_at=T0 + timedelta(seconds=11)
    )
    assert decide(w.state, fresh, w.context()) is not None
