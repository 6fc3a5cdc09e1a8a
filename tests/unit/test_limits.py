"""The hard limits of events/limits.py hold on the wire (docs/protocol.md section 12)."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from events import codec, limits
from tests.unit.samples import EVENTS, acquire_body


def parse(body: dict):
    return codec.loads_command(orjson.dumps(body))


def rejected(body: dict) -> bool:
    try:
        parse(body)
    except ValidationError:
        return True
    return False


def activate(n_features: int = 1, **grant) -> dict:
    features = [{"name": f"feature-{i}", "version": "1.0", "seats": 1} for i in range(n_features)]
    features[0].update(grant)
    return {"type": "ActivateLicense", "license_id": "LIC-1", "features": features}


@pytest.mark.parametrize("field", ["feature", "device", "user"])
def test_names_may_be_128_characters_but_not_129(field):
    assert not rejected(acquire_body(**{field: "x" * limits.MAX_NAME}))
    assert rejected(acquire_body(**{field: "x" * (limits.MAX_NAME + 1)}))


def test_other_names_are_limited_too():
    long = "x" * (limits.MAX_NAME + 1)
    assert rejected({"type": "DeactivateLicense", "license_id": long})
    assert rejected({"type": "Release", "lease_id": long})
    assert rejected({"type": "CancelReservation", "reservation_id": long})
    assert rejected({"type": "RenewLeases", "lease_ids": ["L-1", long]})
    assert rejected({"type": "Reserve", "feature": "f", "version": "1", "user": long})
    assert rejected(activate(name=long))
    assert rejected(activate(type=long))
    assert not rejected(activate(name="x" * limits.MAX_NAME))


def test_versions_may_be_64_characters_but_not_65():
    assert not rejected(acquire_body(version="v" * limits.MAX_VERSION))
    assert rejected(acquire_body(version="v" * (limits.MAX_VERSION + 1)))
    assert rejected(activate(version="v" * (limits.MAX_VERSION + 1)))


def test_force_release_reason_is_limited():
    assert not rejected({"type": "Release", "lease_id": "L-1", "reason": "r" * limits.MAX_REASON})
    assert rejected({"type": "Release", "lease_id": "L-1", "reason": "r" * (limits.MAX_REASON + 1)})


@pytest.mark.parametrize("count", [0, -1, limits.MAX_ACQUIRE_COUNT + 1])
def test_acquire_count_out_of_range_is_rejected(count):
    assert rejected(acquire_body(count=count))


def test_acquire_count_bounds_are_inclusive():
    assert parse(acquire_body(count=1)).count == 1
    assert parse(acquire_body(count=limits.MAX_ACQUIRE_COUNT)).count == limits.MAX_ACQUIRE_COUNT


def test_lease_seconds_bounds():
    assert parse(acquire_body()).lease_seconds == limits.DEFAULT_LEASE_SECONDS
    assert not rejected(acquire_body(lease_seconds=limits.MIN_LEASE_SECONDS))
    assert not rejected(acquire_body(lease_seconds=limits.MAX_LEASE_SECONDS))
    assert rejected(acquire_body(lease_seconds=limits.MIN_LEASE_SECONDS - 1))
    assert rejected(acquire_body(lease_seconds=limits.MAX_LEASE_SECONDS + 1))


def test_seats_per_grant_bounds():
    assert rejected(activate(seats=0))
    assert rejected(activate(seats=limits.MAX_SEATS + 1))
    assert not rejected(activate(seats=limits.MAX_SEATS))


def test_features_per_license_bounds():
    assert rejected({"type": "ActivateLicense", "license_id": "LIC-1", "features": []})
    assert not rejected(activate(limits.MAX_FEATURES_PER_LICENSE))
    assert rejected(activate(limits.MAX_FEATURES_PER_LICENSE + 1))


def test_a_license_may_not_list_the_same_feature_and_version_twice():
    same = {"name": "f", "version": "1", "seats": 1}
    assert rejected(
        {"type": "ActivateLicense", "license_id": "L", "features": [same, {**same, "seats": 2}]}
    )
    assert not rejected(
        {"type": "ActivateLicense", "license_id": "L", "features": [same, {**same, "version": "2"}]}
    )


def test_renewal_carries_between_1_and_1000_lease_ids():
    assert rejected({"type": "RenewLeases", "lease_ids": []})
    ids = [f"L-{i}" for i in range(limits.MAX_LEASES_PER_RENEWAL)]
    assert not rejected({"type": "RenewLeases", "lease_ids": ids})
    assert rejected({"type": "RenewLeases", "lease_ids": ids + ["L-extra"]})


@pytest.mark.parametrize(
    "holder", [{}, {"device": "hmi-1", "user": "alice"}], ids=["neither", "both"]
)
def test_a_reservation_is_for_exactly_one_of_device_or_user(holder):
    assert rejected({"type": "Reserve", "feature": "f", "version": "1", **holder})


def test_reservation_count_bounds():
    base = {"type": "Reserve", "feature": "f", "version": "1", "device": "hmi-1"}
    assert parse(base).count == 1
    assert rejected({**base, "count": 0})
    assert rejected({**base, "count": limits.MAX_SEATS + 1})


def test_decision_events_carry_a_positive_epoch_and_a_bounded_command_id():
    event = orjson.loads(codec.dumps_events([EVENTS[3]]))["events"][0]
    for bad in ({"epoch": 0}, {"command_id": ""}, {"command_id": "c" * (limits.MAX_NAME + 1)}):
        with pytest.raises(ValidationError):
            codec.loads_events(orjson.dumps({"events": [{**event, **bad}]}))
