"""evolve(state, event) -> state, with the fence every projector applies alike.

``apply`` also says whether the event was ignored and why, so every node records
the same verdicts (and so the same digest) for the same log:
- a ``WriterPromoted`` for an epoch already taken is ignored;
- a decision whose epoch is not the current one is ignored (a stale writer);
- a second event for the same command id is ignored;
- a ``LicenseActivated`` whose entitlement fails verification against the site's trust
  (signature, binding, window, not activated before: ``entitlements.problem``) or does not
  say what the event says is ignored (invariant 12): a forged activation changes nothing.
An accepted event that does not fit the state raises ``CannotApply``: the
projector stops loudly instead of skipping it (invariant 9).
"""

from __future__ import annotations

from functools import singledispatch

from events.base import Decision, Event
from events.leases import AcquireDenied, LeaseExpired, LeaseGranted, LeaseReleased
from events.licenses import LicenseActivated, LicenseDeactivated
from events.reservations import ReservationCancelled, SeatsReserved
from events.vocabulary import IgnoredReason
from events.writer import CommandRefused, WriterPromoted
from services.domain import entitlements
from services.domain.model import (
    Activation,
    Feature,
    Grant,
    Lease,
    License,
    Reservation,
    State,
    replace,
)
from services.trust.keys import Trust


class CannotApply(Exception):
    """An accepted event contradicts the state: a bug or a corrupt log, never skipped."""


def verdict(state: State, event: Event, trust: Trust | None = None) -> IgnoredReason | None:
    """None if the event applies, else why every projector ignores it.

    ``trust`` is the vendor keys the node is configured with; none means unsigned
    activations are accepted (demo and test mode).
    """
    if isinstance(event, WriterPromoted):
        return IgnoredReason.EPOCH_TAKEN if event.epoch <= state.epoch else None
    if isinstance(event, Decision):
        if event.epoch != state.epoch:
            return IgnoredReason.STALE_EPOCH
        if state.decided(event.command_id):
            return IgnoredReason.DUPLICATE_COMMAND
    if isinstance(event, LicenseActivated) and not _entitlement_holds(state, event, trust):
        return IgnoredReason.BAD_ENTITLEMENT
    return None


def _entitlement_holds(state: State, event: LicenseActivated, trust: Trust | None) -> bool:
    trust = trust if trust is not None else Trust()
    document = event.entitlement
    if entitlements.problem(state, document, event.at, trust) is not None:
        return False
    return document is None or entitlements.matches(
        document, event.license_id, event.features, event.server_ids
    )


def apply(
    state: State, event: Event, trust: Trust | None = None
) -> tuple[State, IgnoredReason | None]:
    ignored = verdict(state, event, trust)
    if ignored is not None:
        return state, ignored
    new = _evolve(event, state)
    if isinstance(event, Decision):
        new = new.remember(event)
    return new, None


def evolve(state: State, event: Event, trust: Trust | None = None) -> State:
    return apply(state, event, trust)[0]


@singledispatch
def _evolve(event: Event, state: State) -> State:
    raise CannotApply(f"no projection for event type {type(event).__name__}")


@_evolve.register
def _(event: WriterPromoted, state: State) -> State:
    return state.with_(
        epoch=event.epoch,
        writer_node=event.node,
        writer_server_id=event.server_id,
        last_at=event.at,
    )


@_evolve.register
def _(event: CommandRefused, state: State) -> State:
    return state


@_evolve.register
def _(event: AcquireDenied, state: State) -> State:
    return state


@_evolve.register
def _(event: LicenseActivated, state: State) -> State:
    if event.license_id in state.licenses:
        raise CannotApply(f"license {event.license_id} activated twice")
    features = state.features
    for g in event.features:
        key = (g.name, g.version)
        f = features.get(key) or Feature(name=g.name, version=g.version, type=g.type)
        grant = Grant(license_id=event.license_id, seats=g.seats, expires_at=g.expires_at)
        features = features.set(
            key,
            replace(f, type=f.type or g.type, grants=f.grants + (grant,), total=f.total + g.seats),
        )
    serial = entitlements.serial_of(event.entitlement)
    lic = License(
        license_id=event.license_id,
        activated_at=event.at,
        features=tuple((g.name, g.type, g.version, g.seats, g.expires_at) for g in event.features),
        server_ids=tuple(event.server_ids),
        serial=serial,
    )
    activation = Activation(
        license_id=event.license_id, serial=serial, server_ids=lic.server_ids, activated_at=event.at
    )
    serials = state.serials if serial is None else state.serials.set(serial, event.license_id)
    servers = state.servers
    for node, server in state.servers.items():
        if server.server_id in event.server_ids and not server.ever_licensed:
            servers = servers.set(node, replace(server, ever_licensed=True))
    return state.with_(
        licenses=state.licenses.set(event.license_id, lic),
        features=features,
        servers=servers,
        serials=serials,
        activations=state.activations.set(event.license_id, activation),
    )


@_evolve.register
def _(event: LicenseDeactivated, state: State) -> State:
    lic = state.licenses.get(event.license_id)
    if lic is None:
        raise CannotApply(f"license {event.license_id} deactivated but not active")
    features = state.features
    for name, _type, version, _seats, _exp in lic.features:
        f = features[(name, version)]
        kept = tuple(g for g in f.grants if g.license_id != event.license_id)
        f = replace(f, grants=kept, total=sum(g.seats for g in kept))
        features = features.delete(f.key) if f.is_empty() else features.set(f.key, f)
    return state.with_(licenses=state.licenses.delete(event.license_id), features=features)


@_evolve.register
def _(event: LeaseGranted, state: State) -> State:
    key = (event.feature, event.version)
    f = state.features.get(key)
    if f is None or event.lease_id in state.leases:
        raise CannotApply(f"lease {event.lease_id} granted on unknown feature or twice")
    lease = Lease(
        lease_id=event.lease_id,
        name=event.feature,
        version=event.version,
        count=event.count,
        device=event.device,
        user=event.user,
        granted_at=event.at,
        lease_seconds=event.lease_seconds,
        reservation_id=event.reservation_id,
        reserved=event.reserved,
        secret_hash=event.secret_hash,
    )
    reservations = state.reservations
    if event.reservation_id:
        r = reservations[event.reservation_id]
        reservations = reservations.set(
            r.reservation_id, replace(r, in_use=r.in_use + event.reserved)
        )
    f = replace(
        f, in_use=f.in_use + event.count, reserved_in_use=f.reserved_in_use + event.reserved
    )
    return state.with_(
        leases=state.leases.set(lease.lease_id, lease),
        features=state.features.set(key, f),
        reservations=reservations,
    )


def _end_lease(state: State, lease_id: str) -> State:
    lease = state.leases.get(lease_id)
    if lease is None:
        raise CannotApply(f"lease {lease_id} ended but not held")
    reservations = state.reservations
    if lease.reservation_id:
        r = reservations[lease.reservation_id]
        reservations = reservations.set(
            r.reservation_id, replace(r, in_use=r.in_use - lease.reserved)
        )
    f = state.features[lease.key]
    f = replace(
        f, in_use=f.in_use - lease.count, reserved_in_use=f.reserved_in_use - lease.reserved
    )
    features = state.features.delete(f.key) if f.is_empty() else state.features.set(f.key, f)
    return state.with_(
        leases=state.leases.delete(lease_id), features=features, reservations=reservations
    )


@_evolve.register
def _(event: LeaseReleased, state: State) -> State:
    return _end_lease(state, event.lease_id)


@_evolve.register
def _(event: LeaseExpired, state: State) -> State:
    return _end_lease(state, event.lease_id)


@_evolve.register
def _(event: SeatsReserved, state: State) -> State:
    key = (event.feature, event.version)
    f = state.features.get(key)
    if f is None:
        raise CannotApply(f"reservation {event.reservation_id} on unknown feature")
    r = Reservation(
        reservation_id=event.reservation_id,
        name=event.feature,
        version=event.version,
        device=event.device,
        user=event.user,
        count=event.count,
        created_at=event.at,
    )
    f = replace(
        f,
        reserved=f.reserved + event.count,
        reservation_ids=f.reservation_ids + (r.reservation_id,),
    )
    return state.with_(
        reservations=state.reservations.set(r.reservation_id, r),
        features=state.features.set(key, f),
    )


@_evolve.register
def _(event: ReservationCancelled, state: State) -> State:
    r = state.reservations.get(event.reservation_id)
    if r is None:
        raise CannotApply(f"reservation {event.reservation_id} cancelled but unknown")
    # Leases drawn from the reservation stay; their seats now count against the pool.
    leases = state.leases
    for lease in reservation_leases(state, r.reservation_id):
        leases = leases.set(lease.lease_id, replace(lease, reservation_id=None, reserved=0))
    f = state.features[r.key]
    f = replace(
        f,
        reserved=f.reserved - r.count,
        reserved_in_use=f.reserved_in_use - r.in_use,
        reservation_ids=tuple(i for i in f.reservation_ids if i != r.reservation_id),
    )
    features = state.features.delete(f.key) if f.is_empty() else state.features.set(f.key, f)
    return state.with_(
        reservations=state.reservations.delete(r.reservation_id), leases=leases, features=features
    )


def reservation_leases(state: State, reservation_id: str) -> list[Lease]:
    return [lease for lease in state.leases.values() if lease.reservation_id == reservation_id]
