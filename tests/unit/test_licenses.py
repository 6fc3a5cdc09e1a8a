"""Activating and deactivating entitlements."""

from __future__ import annotations

from events.leases import LeaseGranted
from events.licenses import LicenseActivated, LicenseDeactivated
from tests.unit.harness import Writer, at, grant


def test_activation_makes_its_features_available():
    w = Writer()
    event = w.activate(
        "LIC-1",
        grant(name="RSLinx", version="4.00", seats=3),
        grant(name="Historian", version="7.0", seats=1),
        command_id="act-1",
    )

    assert isinstance(event, LicenseActivated)
    assert w.state.outcome("act-1").result == {"license_id": "LIC-1"}
    assert "LIC-1" in w.state.licenses
    assert w.feature("RSLinx", "4.00").total == 3
    assert w.feature("Historian", "7.0").total == 1


def test_activating_an_active_license_again_is_refused_as_conflict():
    w = Writer()
    w.activate("LIC-1", grant(seats=3))

    event = w.activate("LIC-1", grant(seats=100), command_id="dup")

    assert event.type == "CommandRefused" and event.code == "conflict"
    assert event.command_type == "ActivateLicense"
    assert w.state.outcome("dup").error.code == "conflict"
    assert w.feature().total == 3


def test_licenses_for_the_same_feature_and_version_add_their_seats():
    w = Writer()
    w.activate("LIC-1", grant(seats=2))
    w.activate("LIC-2", grant(seats=3))

    assert w.feature().total == 5
    granted = [w.acquire(device=f"hmi-{i}") for i in range(6)]
    assert sum(isinstance(e, LeaseGranted) for e in granted) == 5
    assert granted[-1].reason == "no_seats"


def test_deactivation_removes_the_seats_and_the_license():
    w = Writer()
    w.activate("LIC-1", grant(seats=2))
    w.activate("LIC-2", grant(seats=3))

    event = w.deactivate("LIC-1", command_id="deact")

    assert isinstance(event, LicenseDeactivated)
    assert w.state.outcome("deact").result == {"license_id": "LIC-1"}
    assert "LIC-1" not in w.state.licenses
    assert w.feature().total == 3


def test_deactivating_the_last_license_of_a_feature_makes_it_unknown():
    w = Writer()
    w.activate("LIC-1", grant(seats=2))
    w.deactivate("LIC-1")
    assert w.feature() is None
    assert w.acquire().reason == "unknown_feature"


def test_a_deactivated_license_can_be_activated_again():
    w = Writer()
    w.activate("LIC-1", grant(seats=2))
    w.deactivate("LIC-1")
    assert isinstance(w.activate("LIC-1", grant(seats=4)), LicenseActivated)
    assert w.feature().total == 4


def test_deactivating_an_unknown_license_is_refused_not_found():
    w = Writer()
    event = w.deactivate("LIC-404", command_id="d")
    assert event.type == "CommandRefused" and event.code == "not_found"
    assert w.state.outcome("d").error.code == "not_found"


def test_deactivation_is_refused_while_its_seats_are_in_use():
    w = Writer()
    w.activate("LIC-1", grant(seats=2))
    lease = w.acquire()

    refused = w.deactivate("LIC-1", command_id="busy")

    assert refused.type == "CommandRefused" and refused.code == "in_use"
    assert "1 in use" in refused.message
    assert "LIC-1" in w.state.licenses and w.feature().total == 2
    w.release(lease.lease_id)
    assert isinstance(w.deactivate("LIC-1"), LicenseDeactivated)


def test_deactivation_is_refused_while_its_seats_are_reserved():
    w = Writer()
    w.activate("LIC-1", grant(seats=2))
    r = w.reserve(count=1, device="hmi-1")

    refused = w.deactivate("LIC-1")

    assert refused.type == "CommandRefused" and refused.code == "in_use"
    assert "1 reserved" in refused.message
    w.cancel(r.reservation_id)
    assert isinstance(w.deactivate("LIC-1"), LicenseDeactivated)


def test_deactivation_is_allowed_when_other_licenses_cover_the_seats_in_use():
    w = Writer()
    w.activate("LIC-1", grant(seats=2))
    w.activate("LIC-2", grant(seats=2))
    w.acquire(count=2)

    assert isinstance(w.deactivate("LIC-1"), LicenseDeactivated)
    assert w.feature().total == 2 and w.feature().in_use == 2
    assert w.deactivate("LIC-2").code == "in_use"


def test_an_expired_license_does_not_cover_seats_in_use_when_another_is_deactivated():
    # Seats are in use from the valid license; the expired one cannot provide them,
    # so deactivating the valid one would leave leases with no entitlement behind them.
    w = Writer()
    w.activate("OLD", grant(seats=5, expires_at=at(days=-1)))
    w.activate("NEW", grant(seats=2))
    w.acquire(count=2)

    refused = w.deactivate("NEW")

    assert refused.type == "CommandRefused" and refused.code == "in_use"
    assert "NEW" in w.state.licenses
    f = w.feature()
    assert f.in_use <= f.valid_total(w.now)


def test_an_expired_license_can_be_deactivated_while_a_valid_one_carries_the_load():
    w = Writer()
    w.activate("OLD", grant(seats=5, expires_at=at(days=-1)))
    w.activate("NEW", grant(seats=2))
    w.acquire(count=2)

    assert isinstance(w.deactivate("OLD"), LicenseDeactivated)
    assert w.feature().total == 2 and w.feature().in_use == 2


def test_deactivation_only_checks_the_features_the_license_provides():
    w = Writer()
    w.activate("LIC-A", grant(name="RSLinx", version="4.00", seats=1))
    w.activate("LIC-B", grant(name="Historian", version="7.0", seats=1))
    w.acquire(feature="Historian", version="7.0")

    assert isinstance(w.deactivate("LIC-A"), LicenseDeactivated)
    assert w.deactivate("LIC-B").code == "in_use"


def test_feature_type_comes_from_the_grant():
    w = Writer()
    w.activate("LIC-1", grant(seats=1, type="Concurrent"))
    assert w.feature().type == "Concurrent"
