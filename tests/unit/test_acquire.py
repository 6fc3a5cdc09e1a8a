"""Acquire: who gets a seat, who is denied and why, and what the reply says."""

from __future__ import annotations

from events import commands as c
from events.leases import AcquireDenied, LeaseGranted
from services.domain.decide import Context, decide
from tests.unit.harness import T0, Writer, at, grant

FEATURE = "FactoryTalk View SE Client"


def test_grant_takes_a_seat_and_replies_with_the_lease():
    w = Writer()
    w.activate("LIC-1", grant(seats=2))

    event = w.acquire(device="hmi-1", user="alice", lease_seconds=90, command_id="acq-1")

    assert isinstance(event, LeaseGranted)
    assert (event.device, event.user, event.count) == ("hmi-1", "alice", 1)
    assert event.expires_at == at(90)
    assert event.reservation_id is None and event.reserved == 0
    lease = w.state.leases[event.lease_id]
    assert (lease.device, lease.user, lease.count, lease.key) == (
        "hmi-1",
        "alice",
        1,
        (FEATURE, "13.00"),
    )
    assert w.feature().in_use == 1

    reply = w.state.outcome("acq-1")
    assert reply.ok and reply.command_id == "acq-1"
    assert reply.result["lease_id"] == event.lease_id
    assert reply.result["expires_at"] == at(90).isoformat()


def test_the_last_seat_goes_to_exactly_one_of_two_products():
    w = Writer()
    w.activate("LIC-1", grant(seats=1))

    first = w.acquire(device="hmi-1")
    second = w.acquire(device="hmi-2")

    assert isinstance(first, LeaseGranted)
    assert isinstance(second, AcquireDenied) and second.reason == "no_seats"
    assert w.feature().in_use == 1
    assert len(w.state.leases) == 1


def test_unknown_feature_is_denied():
    w = Writer()
    w.activate("LIC-1", grant(name="RSLinx Classic", version="4.00"))

    wrong_name = w.acquire(feature="Historian", version="4.00", command_id="a")
    wrong_version = w.acquire(feature="RSLinx Classic", version="3.00", command_id="b")

    for cid, event in (("a", wrong_name), ("b", wrong_version)):
        assert isinstance(event, AcquireDenied) and event.reason == "unknown_feature"
        reply = w.state.outcome(cid)
        assert not reply.ok
        assert reply.error.code == "denied" and reply.error.reason == "unknown_feature"
    assert len(w.state.leases) == 0


def test_acquire_before_any_license_is_denied_as_unknown():
    w = Writer()
    event = w.acquire()
    assert isinstance(event, AcquireDenied) and event.reason == "unknown_feature"


def test_expired_license_is_denied_as_expired():
    w = Writer()
    w.activate("LIC-1", grant(seats=5, expires_at=at(days=-1)))

    event = w.acquire()

    assert isinstance(event, AcquireDenied) and event.reason == "expired"
    assert w.feature().in_use == 0


def test_expiry_is_judged_at_the_commands_time_not_at_activation():
    w = Writer()
    w.activate("LIC-1", grant(seats=5, expires_at=at(days=30)))

    before = w.acquire(now=at(days=29))
    after = w.acquire(now=at(days=30))  # expires_at is exclusive: at that instant it is gone

    assert isinstance(before, LeaseGranted)
    assert isinstance(after, AcquireDenied) and after.reason == "expired"


def test_only_unexpired_licenses_count_towards_the_seats():
    w = Writer()
    w.activate("OLD", grant(seats=10, expires_at=at(days=-1)))
    w.activate("NEW", grant(seats=2))

    results = [w.acquire(device=f"hmi-{i}") for i in range(3)]

    assert [type(e).__name__ for e in results] == ["LeaseGranted", "LeaseGranted", "AcquireDenied"]
    assert results[2].reason == "no_seats"


def test_a_lease_keeps_its_seat_when_the_license_expires_but_no_new_seat_is_given():
    w = Writer()
    w.activate("LIC-1", grant(seats=2, expires_at=at(3600)))
    held = w.acquire(device="hmi-1")

    later = w.acquire(device="hmi-2", now=at(7200))

    assert isinstance(later, AcquireDenied) and later.reason == "expired"
    assert held.lease_id in w.state.leases
    w.release(held.lease_id, now=at(7300))
    assert w.state.leases.get(held.lease_id) is None


def test_count_greater_than_one_takes_that_many_seats():
    w = Writer()
    w.activate("LIC-1", grant(seats=5))

    big = w.acquire(count=3)
    too_big = w.acquire(count=3)
    fits = w.acquire(count=2)

    assert isinstance(big, LeaseGranted) and big.count == 3
    assert (
        isinstance(too_big, AcquireDenied) and too_big.reason == "no_seats" and too_big.count == 3
    )
    assert "3 seat(s)" in too_big.message and "2 of 5 free" in too_big.message
    assert isinstance(fits, LeaseGranted)
    assert w.feature().in_use == 5


def test_a_count_larger_than_all_seats_is_denied_even_when_nothing_is_used():
    w = Writer()
    w.activate("LIC-1", grant(seats=4))
    event = w.acquire(count=5)
    assert isinstance(event, AcquireDenied) and event.reason == "no_seats"
    assert w.feature().in_use == 0


def test_release_gives_the_seat_back():
    w = Writer()
    w.activate("LIC-1", grant(seats=1))
    lease = w.acquire(device="hmi-1")
    w.release(lease.lease_id, command_id="rel-1")

    assert w.feature().in_use == 0
    assert w.state.outcome("rel-1").result == {"lease_id": lease.lease_id}
    assert isinstance(w.acquire(device="hmi-2"), LeaseGranted)


def test_releasing_an_unknown_or_already_released_lease_is_refused_not_found():
    w = Writer()
    w.activate("LIC-1", grant(seats=1))
    lease = w.acquire()
    w.release(lease.lease_id)

    again = w.release(lease.lease_id, command_id="rel-again")
    bogus = w.release("L-does-not-exist", command_id="rel-bogus")

    for cid, event in (("rel-again", again), ("rel-bogus", bogus)):
        assert (
            event.type == "CommandRefused"
            and event.code == "not_found"
            and event.command_type == "Release"
        )
        assert w.state.outcome(cid).error.code == "not_found"
    assert w.feature().in_use == 0


def test_force_release_records_the_administrators_reason():
    w = Writer()
    w.activate("LIC-1", grant(seats=1))
    lease = w.acquire()
    event = w.release(lease.lease_id, reason="operator left the plant", actor="admin")
    assert event.reason == "operator left the plant" and event.actor == "admin"
    assert w.feature().in_use == 0


def test_lease_id_is_deterministic_per_command_id_and_differs_between_commands():
    w = Writer()
    w.activate("LIC-1", grant(seats=10))
    command = c.Acquire(feature=FEATURE, version="13.00", device="hmi-1", user="alice")

    # A retry of the same command (e.g. by a newly promoted writer) reproduces the id.
    one = decide(w.state, command, Context(command_id="same", epoch=1, now=T0))
    two = decide(w.state, command, Context(command_id="same", epoch=1, now=at(5)))
    other = decide(w.state, command, Context(command_id="other", epoch=1, now=T0))

    assert one.lease_id == two.lease_id
    assert one.lease_id != other.lease_id


def test_every_grant_gets_a_distinct_lease():
    w = Writer()
    w.activate("LIC-1", grant(seats=50))
    ids = {w.acquire(device=f"hmi-{i}").lease_id for i in range(50)}
    assert len(ids) == 50 and len(w.state.leases) == 50


def test_features_are_counted_separately_by_name_and_version():
    w = Writer()
    w.activate("LIC-1", grant(version="12.00", seats=1), grant(version="13.00", seats=1))

    assert isinstance(w.acquire(version="12.00"), LeaseGranted)
    assert isinstance(w.acquire(version="13.00"), LeaseGranted)
    assert isinstance(w.acquire(version="12.00"), AcquireDenied)
    assert w.feature(version="12.00").in_use == 1 and w.feature(version="13.00").in_use == 1
