"""Reservations: seats set aside for one device or one user."""

from __future__ import annotations

from events.leases import AcquireDenied, LeaseGranted
from events.reservations import ReservationCancelled, SeatsReserved
from tests.unit.harness import Writer, at, grant


def test_reserved_seat_goes_to_its_device_and_not_to_another():
    w = Writer()
    w.activate("LIC-1", grant(seats=1))
    r = w.reserve(count=1, device="hmi-control-room")

    stranger = w.acquire(device="hmi-2", user="bob")
    holder = w.acquire(device="hmi-control-room", user="bob")

    assert isinstance(stranger, AcquireDenied) and stranger.reason == "reserved"
    assert isinstance(holder, LeaseGranted)
    assert holder.reservation_id == r.reservation_id and holder.reserved == 1


def test_reserved_seat_goes_to_its_user_on_any_device():
    w = Writer()
    w.activate("LIC-1", grant(seats=1))
    r = w.reserve(count=1, user="alice")

    assert w.acquire(device="hmi-1", user="bob").reason == "reserved"
    lease = w.acquire(device="hmi-9", user="alice")
    assert isinstance(lease, LeaseGranted) and lease.reservation_id == r.reservation_id


def test_denial_says_reserved_only_when_free_seats_exist_but_are_all_reserved():
    w = Writer()
    w.activate("LIC-1", grant(seats=3))
    w.reserve(count=1, user="alice")
    w.acquire(device="hmi-1", user="bob")
    w.acquire(device="hmi-2", user="carol")

    reserved = w.acquire(device="hmi-3", user="dave", command_id="d1")
    w.acquire(device="hmi-4", user="alice")  # alice takes her reserved seat
    no_seats = w.acquire(device="hmi-3", user="dave", command_id="d2")

    assert reserved.reason == "reserved"
    assert "reserved for other devices or users" in reserved.message
    assert w.state.outcome("d1").error.reason == "reserved"
    assert no_seats.reason == "no_seats"


def test_holder_uses_the_pool_after_its_reservation_is_full_and_pool_seats_stay_unreserved():
    w = Writer()
    w.activate("LIC-1", grant(seats=4))
    r = w.reserve(count=1, device="hmi-1")

    first = w.acquire(device="hmi-1", count=2)  # one from the reservation, one from the pool

    assert first.reserved == 1 and first.count == 2
    f = w.feature()
    assert (f.in_use, f.reserved, f.reserved_in_use, f.pool_in_use) == (2, 1, 1, 1)
    assert w.state.reservations[r.reservation_id].in_use == 1
    # Two pool seats are left for anyone.
    assert isinstance(w.acquire(device="hmi-2", count=2), LeaseGranted)
    assert w.acquire(device="hmi-3").reason == "no_seats"


def test_reservation_larger_than_free_unreserved_seats_is_refused():
    w = Writer()
    w.activate("LIC-1", grant(seats=5))
    w.reserve(count=2, device="hmi-1")
    w.acquire(device="hmi-2", count=2)  # 1 free, unreserved seat left

    refused = w.reserve(count=2, user="alice", command_id="res-big")
    fits = w.reserve(count=1, user="alice")

    assert refused.type == "CommandRefused" and refused.code == "no_seats"
    assert "only 1 are free and unreserved" in refused.message
    assert w.state.outcome("res-big").error.code == "no_seats"
    assert isinstance(fits, SeatsReserved)
    assert w.feature().reserved == 3


def test_reservation_does_not_count_expired_seats():
    w = Writer()
    w.activate("OLD", grant(seats=10, expires_at=at(days=-1)))
    w.activate("NEW", grant(seats=1))
    assert w.reserve(count=2, device="hmi-1").code == "no_seats"
    assert isinstance(w.reserve(count=1, device="hmi-1"), SeatsReserved)


def test_reservation_of_unknown_feature_is_refused_not_found():
    w = Writer()
    event = w.reserve(count=1, device="hmi-1", feature="Nope")
    assert event.type == "CommandRefused" and event.code == "not_found"
    assert len(w.state.reservations) == 0


def test_reservation_id_is_in_the_reply_and_deterministic_per_command():
    w = Writer()
    w.activate("LIC-1", grant(seats=2))
    event = w.reserve(count=1, device="hmi-1", command_id="res-1")
    assert w.state.outcome("res-1").result == {"reservation_id": event.reservation_id}
    again = Writer()
    again.activate("LIC-1", grant(seats=2))
    assert (
        again.reserve(count=1, device="hmi-1", command_id="res-1").reservation_id
        == event.reservation_id
    )


def test_holder_prefers_the_reservation_with_most_free_seats_across_device_and_user():
    w = Writer()
    w.activate("LIC-1", grant(seats=5))
    by_device = w.reserve(count=1, device="hmi-1")
    by_user = w.reserve(count=3, user="alice")

    lease = w.acquire(device="hmi-1", user="alice", count=2)

    assert lease.reservation_id == by_user.reservation_id and lease.reserved == 2
    assert w.state.reservations[by_device.reservation_id].in_use == 0


def test_cancelling_a_reservation_frees_its_unused_seats_for_everyone():
    w = Writer()
    w.activate("LIC-1", grant(seats=1))
    r = w.reserve(count=1, device="hmi-1")
    assert w.acquire(device="hmi-2").reason == "reserved"

    event = w.cancel(r.reservation_id, command_id="cancel-1")

    assert isinstance(event, ReservationCancelled)
    assert w.state.outcome("cancel-1").result == {"reservation_id": r.reservation_id}
    assert r.reservation_id not in w.state.reservations
    assert w.feature().reserved == 0
    assert isinstance(w.acquire(device="hmi-2"), LeaseGranted)


def test_cancelling_a_reservation_whose_seats_are_leased_keeps_the_leases_and_the_books_balanced():
    w = Writer()
    w.activate("LIC-1", grant(seats=3))
    r = w.reserve(count=2, device="hmi-1")
    held = w.acquire(device="hmi-1", count=2)
    assert held.reserved == 2

    w.cancel(r.reservation_id)

    lease = w.state.leases[held.lease_id]
    assert lease.count == 2 and lease.reservation_id is None and lease.reserved == 0
    f = w.feature()
    assert (f.in_use, f.reserved, f.reserved_in_use, f.pool_in_use) == (2, 0, 0, 2)
    assert f.reservation_ids == ()
    # One seat left; the held seats still count.
    assert isinstance(w.acquire(device="hmi-2"), LeaseGranted)
    assert w.acquire(device="hmi-3").reason == "no_seats"
    # Releasing the former reserved lease gives its seats back to the pool.
    w.release(held.lease_id)
    f = w.feature()
    assert (f.in_use, f.reserved, f.reserved_in_use) == (1, 0, 0)
    assert isinstance(w.acquire(device="hmi-3", count=2), LeaseGranted)


def test_cancelling_an_unknown_or_already_cancelled_reservation_is_refused_not_found():
    w = Writer()
    w.activate("LIC-1", grant(seats=1))
    r = w.reserve(count=1, device="hmi-1")
    w.cancel(r.reservation_id)
    again = w.cancel(r.reservation_id)
    assert again.type == "CommandRefused" and again.code == "not_found"


def test_releasing_a_reserved_lease_returns_the_seat_to_the_reservation_not_the_pool():
    w = Writer()
    w.activate("LIC-1", grant(seats=1))
    r = w.reserve(count=1, user="alice")
    lease = w.acquire(device="hmi-1", user="alice")
    w.release(lease.lease_id)

    assert w.state.reservations[r.reservation_id].in_use == 0
    assert w.acquire(device="hmi-2", user="bob").reason == "reserved"
    assert isinstance(w.acquire(device="hmi-2", user="alice"), LeaseGranted)
