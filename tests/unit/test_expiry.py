"""Lease expiry is a decision of the writer (invariant 7): an event, not a clock read."""

from __future__ import annotations

from events.leases import LeaseExpired
from services.domain.decide import ExpireLease
from tests.unit.harness import Writer, at, grant


def test_expiring_a_lease_frees_its_seat_for_another_product():
    w = Writer()
    w.activate("LIC-1", grant(seats=1))
    lease = w.acquire(device="hmi-1")

    event = w.run(ExpireLease(lease_id=lease.lease_id), now=at(120), command_id="exp-1")

    assert isinstance(event, LeaseExpired) and event.lease_id == lease.lease_id
    assert event.at == at(120)
    assert lease.lease_id not in w.state.leases
    assert w.feature().in_use == 0
    assert w.state.outcome("exp-1").ok
    assert w.acquire(device="hmi-2").type == "LeaseGranted"


def test_expiring_a_lease_that_is_no_longer_held_is_refused_and_changes_nothing():
    # The writer's expiry timer can race a release: deciding LeaseExpired for a lease
    # that is gone would write an event no projector can apply (and so stop them all).
    w = Writer()
    w.activate("LIC-1", grant(seats=2))
    lease = w.acquire(device="hmi-1")
    other = w.acquire(device="hmi-2")
    w.release(lease.lease_id)
    before = w.state

    event = w.run(ExpireLease(lease_id=lease.lease_id), command_id="late-expiry")

    assert event.type == "CommandRefused" and event.code == "not_found"
    assert w.state.leases == before.leases and w.state.features == before.features
    assert other.lease_id in w.state.leases


def test_expiring_a_reserved_lease_returns_the_seat_to_its_reservation():
    w = Writer()
    w.activate("LIC-1", grant(seats=2))
    reservation = w.reserve(count=1, device="hmi-1")
    lease = w.acquire(device="hmi-1")
    assert lease.reservation_id == reservation.reservation_id

    w.run(ExpireLease(lease_id=lease.lease_id))

    assert w.state.reservations[reservation.reservation_id].in_use == 0
    f = w.feature()
    assert (f.in_use, f.reserved, f.reserved_in_use) == (0, 1, 0)
