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
from typing import Any

from events.base import Decision, Event
from events.leases import AcquireDenied, LeaseExpired, LeaseGranted, LeaseReleased
from events.licenses import LicenseActivated, LicenseDeactivated
from events.reservations import ReservationCancelled, SeatsReserved
from events.vocabulary import IgnoredReason
from events.writer import CommandRefused, WriterPromoted
from services.domain import entitlements, lease_rules
from services.domain.errors import CannotApply
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


def verdict(state: State, event: Event, trust: Trust | None = None) -> IgnoredReason | None:
    """None if the event applies, else why every projector ignores it.

    ``trust`` is the vendor keys the node is configured with; none means unsigned
    activations are accepted (demo and test mode).
    """
    if isinstance(event, WriterPromoted):
        return IgnoredReason.EPOCH_TAKEN if event.epoch <= state.epoch else None
    if isinstance(event, Decision):
        fenced = decision_verdict(event, state.epoch, state.outcomes, state.older_outcomes)
        if fenced is not None:
            return fenced
    if isinstance(event, LicenseActivated) and not _entitlement_holds(state, event, trust):
        return IgnoredReason.BAD_ENTITLEMENT
    return None


def decision_verdict(
    event: Decision, epoch: int, outcomes: Any, older_outcomes: Any
) -> IgnoredReason | None:
    """The fence on a decision (invariants 3 and 5): of another epoch, or a command's second.
    The answer maps may be the state's or the fold's mutations of them."""
    if event.epoch != epoch:
        return IgnoredReason.STALE_EPOCH
    if event.command_id in outcomes or event.command_id in older_outcomes:
        return IgnoredReason.DUPLICATE_COMMAND
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
    leases, features, reservations = _lease_maps(state)
    lease_rules.grant(leases, features, reservations, event)
    return _with_lease_maps(state, leases, features, reservations)


def _end_lease(state: State, lease_id: str) -> State:
    leases, features, reservations = _lease_maps(state)
    lease_rules.end(leases, features, reservations, lease_id)
    return _with_lease_maps(state, leases, features, reservations)


def _lease_maps(state: State) -> tuple[Any, Any, Any]:
    return state.leases.mutate(), state.features.mutate(), state.reservations.mutate()


def _with_lease_maps(state: State, leases: Any, features: Any, reservations: Any) -> State:
    return state.with_(
        leases=leases.finish(), features=features.finish(), reservations=reservations.finish()
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
