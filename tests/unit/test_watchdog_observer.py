"""What the watchdog concludes from heartbeats (pure: times are given)."""

from __future__ import annotations

from services.watchdog.observer import Observer

AT = "2026-01-01T00:00:00+00:00"
PAIR = {"primary": "p", "backup": "b"}


def beat(
    node: str, offset: int = 10, digest: str = "d", events: int = 100, status: str = "Running", **kw
):
    return {
        "node": node,
        "offset": offset,
        "digest": digest,
        "events": events,
        "status": status,
        "at": AT,
        "pair": PAIR,
        "servers": [{"node": "p", "api_url": "http://p"}, {"node": "b", "api_url": "http://b"}],
        **kw,
    }


def observer(**kw) -> Observer:
    return Observer(
        detect_seconds=3.0, max_lag_events=50, max_lag_seconds=5.0, started_monotonic=0.0, **kw
    )


def test_running_recovering_and_a_graceful_stop():
    o = observer()
    o.heard(beat("p"), 10.0)
    o.heard(beat("b", status="Recovering"), 10.0)
    assert o.activity("p", 11.0) == "running"
    assert o.activity("b", 11.0) == "recovering"
    o.heard(beat("b", status="Stopped", final=True), 12.0)
    assert o.activity("b", 12.5) == "stopped"


def test_silence_is_only_called_after_the_detection_time_and_after_watching_long_enough():
    o = observer()
    o.heard(beat("p"), 1.0)
    assert o.activity("b", 2.0) is None  # known from p's heartbeat, but not watched long enough
    assert o.activity("b", 3.5) == "silent"
    assert o.activity("p", 3.9) == "running"
    assert o.activity("p", 4.1) == "silent"


def test_a_node_stopped_by_an_order_stays_stopped_in_silence():
    o = observer()
    o.heard(beat("p", servers=[{"node": "b", "activity": "stopped"}]), 10.0)
    assert o.activity("b", 20.0) == "stopped"


def test_equal_offsets_with_different_digests_must_persist_a_second():
    o = observer()
    o.heard(beat("p", digest="x"), 10.0)
    o.heard(beat("b", digest="y"), 10.0)
    assert o.sync(10.5) is None
    synced, lag, _, reason = o.sync(11.6)
    assert synced is False and "different digests" in reason


def test_a_lag_beyond_the_limit_for_long_enough_is_not_synced_and_says_by_how_much():
    o = observer()
    o.heard(beat("p", offset=90, events=900), 10.0)
    o.heard(beat("b", offset=20, events=200), 10.0)
    assert o.sync(10.0) is None  # behind, but not for long yet
    o.heard(beat("p", offset=95, events=950), 15.2)
    o.heard(beat("b", offset=21, events=210), 15.2)
    synced, lag, seconds, reason = o.sync(15.2)
    assert (synced, lag, reason) == (False, 740, "b is behind") and seconds >= 5.0


def test_a_small_lag_is_in_sync():
    o = observer()
    o.heard(beat("p", offset=11, events=105), 10.0)
    o.heard(beat("b", offset=10, events=100), 10.0)
    assert o.sync(10.5) == (True, 5, 0.0, "")
