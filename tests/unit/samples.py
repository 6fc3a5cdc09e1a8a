"""One fully populated example of every command and event type on the wire."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime

from events import commands as c
from events.leases import AcquireDenied, LeaseExpired, LeaseGranted, LeaseReleased
from events.licenses import LicenseActivated, LicenseDeactivated
from events.reservations import ReservationCancelled, SeatsReserved
from events.writer import CommandRefused, WriterPromoted

AT = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
EXPIRY = datetime(2027, 12, 31, 23, 59, 59, tzinfo=UTC)
STAMP = {"command_id": "cmd-1", "epoch": 3, "at": AT, "actor": "admin"}

GRANTS = [
    c.FeatureGrant(
        name="FactoryTalk View SE Client",
        type="Concurrent",
        version="13.00",
        seats=10,
        expires_at=EXPIRY,
    ),
    c.FeatureGrant(name="RSLinx Classic", version="2017 (17.0)", seats=400_000_000),
]

COMMANDS = [
    c.ActivateLicense(license_id="LIC-1", features=GRANTS),
    c.DeactivateLicense(license_id="LIC-1"),
    c.Acquire(
        feature="RSLinx Classic",
        version="4.00",
        device="hmi-1",
        user="alice",
        count=3,
        lease_seconds=300,
    ),
    c.Release(lease_id="L-1", reason="operator left"),
    c.Release(lease_id="L-1", lease_secret="s3cret"),
    c.RenewLeases(
        leases=[c.HeldLease(lease_id="L-1", lease_secret="s"), c.HeldLease(lease_id="L-2")]
    ),
    c.Reserve(feature="RSLinx Classic", version="4.00", device="hmi-1", count=2),
    c.Reserve(feature="RSLinx Classic", version="4.00", user="alice"),
    c.CancelReservation(reservation_id="R-1"),
]

EVENTS = [
    WriterPromoted(epoch=3, node="node-a", server_id="A_1234", at=AT),
    CommandRefused(command_type="DeactivateLicense", code="in_use", message="busy", **STAMP),
    LicenseActivated(license_id="LIC-1", features=GRANTS, **STAMP),
    LicenseDeactivated(license_id="LIC-1", **STAMP),
    LeaseGranted(
        lease_id="L-1",
        feature="RSLinx Classic",
        version="4.00",
        device="hmi-1",
        user="alice",
        count=3,
        lease_seconds=300,
        expires_at=EXPIRY,
        reservation_id="R-1",
        reserved=2,
        **STAMP,
    ),
    AcquireDenied(
        feature="RSLinx Classic",
        version="4.00",
        device="hmi-1",
        user="alice",
        count=1,
        reason="no_seats",
        message="0 of 3 free",
        **STAMP,
    ),
    LeaseReleased(lease_id="L-1", reason="forced", **STAMP),
    LeaseExpired(lease_id="L-1", **STAMP),
    SeatsReserved(
        reservation_id="R-1",
        feature="RSLinx Classic",
        version="4.00",
        user="alice",
        count=2,
        **STAMP,
    ),
    ReservationCancelled(reservation_id="R-1", **STAMP),
]


def acquire_body(**fields) -> dict:
    """A valid Acquire as a wire dict; keyword arguments override or (with None) remove fields."""
    body = {
        "type": "Acquire",
        "feature": "RSLinx Classic",
        "version": "4.00",
        "device": "hmi-1",
        "user": "alice",
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


# -- types without a hand-written sample ------------------------------------------
# Other parts of the contract (servers, the pair) are simple records: fill their fields
# from the annotations so that every registered type is round-tripped. A type this cannot
# build (validators, constrained fields) needs a hand-written sample above.


def _value(name: str, annotation):
    import types
    import typing

    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _value(name, typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return _value(name, next(a for a in typing.get_args(annotation) if a is not type(None)))
    if origin is typing.Literal:
        return typing.get_args(annotation)[0]
    if origin is list:
        return [_value(name, typing.get_args(annotation)[0])]
    if annotation is str:
        return f"{name}-1"
    if annotation is bool:
        return True
    if annotation is int:
        return 1
    if annotation is float:
        return 1.5
    if annotation in (datetime, AwareDatetime):
        return AT
    raise TypeError(f"no automatic sample value for field {name}: {annotation!r}")


def auto_sample(model):
    fields = {
        name: _value(name, info.annotation)
        for name, info in model.model_fields.items()
        if name not in ("type", "schema_version")
    }
    return model(**fields)


def every_command():
    from events.commands import COMMAND_TYPES

    have = {m.type for m in COMMANDS}
    return COMMANDS + [
        auto_sample(model) for name, model in COMMAND_TYPES.items() if name not in have
    ]


def every_event():
    from events.event_types import EVENT_TYPES

    have = {e.type for e in EVENTS}
    return EVENTS + [auto_sample(model) for name, model in EVENT_TYPES.items() if name not in have]
