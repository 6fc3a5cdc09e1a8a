"""Snapshots of the domain state: every state the domain makes round-trips (invariant 13)."""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant
from immutables import Map

from events.vocabulary import Activity
from services.domain import model, snapshot
from services.domain.model import PairSync, Server, State
from tests.unit.harness import T0
from tests.unit.test_properties import Ledger

# The fields of every value a snapshot holds. When this changes, the State's shape changed:
# bump snapshot.SNAPSHOT_VERSION (old snapshots are then ignored), then update this.
SHAPE_OF_VERSION_1 = {
    "Activation": ("license_id", "serial", "server_ids", "activated_at"),
    "Feature": (
        "name",
        "version",
        "type",
        "grants",
        "total",
        "in_use",
        "reserved",
        "reserved_in_use",
        "reservation_ids",
    ),
    "Grant": ("license_id", "seats", "expires_at"),
    "Lease": (
        "lease_id",
        "name",
        "version",
        "count",
        "device",
        "user",
        "granted_at",
        "lease_seconds",
        "reservation_id",
        "reserved",
        "secret_hash",
    ),
    "License": ("license_id", "features", "activated_at", "server_ids", "serial"),
    "PairSync": ("synced", "lag_events", "lag_seconds", "reason", "since", "observed_at"),
    "Reservation": (
        "reservation_id",
        "name",
        "version",
        "device",
        "user",
        "count",
        "created_at",
        "in_use",
    ),
    "Server": (
        "node",
        "server_id",
        "registered_at",
        "api_url",
        "ever_licensed",
        "activity",
        "activity_since",
        "activity_reason",
        "observed_at",
    ),
    "State": (
        "epoch",
        "writer_node",
        "writer_server_id",
        "licenses",
        "features",
        "leases",
        "reservations",
        "outcomes",
        "older_outcomes",
        "outcomes_since",
        "servers",
        "activations",
        "serials",
        "pair",
        "sync",
        "last_at",
    ),
}


def test_the_shape_is_the_one_of_the_snapshot_version():
    assert snapshot.SNAPSHOT_VERSION == 1, "update SHAPE_OF_VERSION_1's name and contents"
    shape = {
        name: tuple(f.name for f in fields(getattr(model, name))) for name in SHAPE_OF_VERSION_1
    }
    assert shape == SHAPE_OF_VERSION_1


class RoundTrippingLedger(Ledger):
    """The property machine's states, each encoded and decoded after every step."""

    @invariant()
    def snapshot_round_trips(self) -> None:
        again = snapshot.decode(snapshot.encode(self.state))
        assert again == self.state
        assert snapshot.encode(again) == snapshot.encode(self.state)


RoundTrippingLedger.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRoundTrippingLedger = RoundTrippingLedger.TestCase

times = st.one_of(st.none(), st.integers(0, 10**6).map(lambda s: T0 + timedelta(seconds=s)))
servers = st.builds(
    Server,
    node=st.sampled_from(["primary", "backup", "node-ü"]),
    server_id=st.text(max_size=8),
    registered_at=st.just(T0),
    api_url=st.one_of(st.none(), st.just("http://127.0.0.1:8081")),
    ever_licensed=st.booleans(),
    activity=st.sampled_from(list(Activity)),
    activity_since=times,
    activity_reason=st.text(max_size=10),
    observed_at=times,
)
syncs = st.builds(
    PairSync,
    synced=st.booleans(),
    lag_events=st.integers(0, 10**9),
    lag_seconds=st.floats(0, 1e6, allow_nan=False),
    reason=st.text(max_size=10),
    since=times,
    observed_at=times,
)


@given(
    servers=st.lists(servers, max_size=3, unique_by=lambda s: s.node),
    sync=syncs,
    pair=st.one_of(st.none(), st.just(("primary", "backup"))),
    epoch=st.integers(0, 2**63 - 1),
)
def test_servers_pair_and_sync_round_trip(servers, sync, pair, epoch):
    state = State(epoch=epoch, servers=Map({s.node: s for s in servers}), pair=pair, sync=sync)
    assert snapshot.decode(snapshot.encode(state)) == state


def test_a_snapshot_of_another_shape_is_refused_not_misread():
    body = snapshot.encode(State(sync=PairSync(reason="x")))
    shorter = body.replace(b'"x",', b"", 1)
    with pytest.raises(snapshot.SnapshotUnreadable):
        snapshot.decode(shorter)
    with pytest.raises(snapshot.SnapshotUnreadable):
        snapshot.decode(b"not json")


def test_a_snapshot_of_older_code_with_rendered_answers_still_answers_retries():
    """Older code remembered answers as their rendered JSON (bytes); a node that starts from
    such a snapshot answers a retry with those bytes, and remembers new answers unrendered."""
    from events.leases import LeaseReleased
    from services.domain.outcomes import Remembered, answer

    released = LeaseReleased(command_id="c-old", epoch=1, at=T0, lease_id="L-1")
    rendered = answer(released)
    body = snapshot.encode(State(outcomes=Map({"c-old": rendered})))  # as older code wrote it
    assert b'["b",' in body
    state = snapshot.decode(body)

    assert state.answer("c-old") == rendered
    later = state.remember(released.model_copy(update={"command_id": "c-new"}))
    assert type(later.outcomes["c-new"]) is Remembered
    assert later.answer("c-new") == answer(released.model_copy(update={"command_id": "c-new"}))


def test_a_features_new_use_keeps_every_other_field():
    feature = model.Feature(
        name="n",
        version="v",
        type="t",
        grants=(model.Grant("L", 3, None),),
        total=3,
        in_use=1,
        reserved=2,
        reserved_in_use=1,
        reservation_ids=("R",),
    )
    assert feature.with_use(2, 0) == model.replace(feature, in_use=2, reserved_in_use=0)
