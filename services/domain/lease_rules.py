"""What a grant and the end of a lease do to the leases, features and reservations.

One definition for both ways the state moves: ``evolve`` (persistent maps, a new state per
event) and the catch-up fold (``fold.py``: the same maps edited in place), so the two
cannot drift (tests/unit/test_fast_fold.py holds them equal for any log). The rules take
``immutables`` mutations; ``evolve`` makes them from a state and freezes them again.

Every precondition is checked before anything is written, so an event that does not fit
raises ``CannotApply`` (or a lookup error) with the maps as they were.
"""

from __future__ import annotations

from typing import Any

from events.leases import LeaseGranted
from services.domain.errors import CannotApply
from services.domain.model import Lease, replace

# An immutables.MapMutation: get, [], in, item assignment and del.
Maps = Any


def grant(leases: Maps, features: Maps, reservations: Maps, event: LeaseGranted) -> None:
    key = (event.feature, event.version)
    f = features.get(key)
    if f is None or event.lease_id in leases:
        raise CannotApply(f"lease {event.lease_id} granted on unknown feature or twice")
    r = reservations[event.reservation_id] if event.reservation_id else None
    leases[event.lease_id] = Lease(
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
    if r is not None:
        reservations[r.reservation_id] = replace(r, in_use=r.in_use + event.reserved)
    features[key] = f.with_use(f.in_use + event.count, f.reserved_in_use + event.reserved)


def end(leases: Maps, features: Maps, reservations: Maps, lease_id: str) -> None:
    """A release or an expiry: the lease's seats go back to its feature and reservation."""
    lease = leases.get(lease_id)
    if lease is None:
        raise CannotApply(f"lease {lease_id} ended but not held")
    r = reservations[lease.reservation_id] if lease.reservation_id else None
    f = features[lease.key]
    if r is not None:
        reservations[r.reservation_id] = replace(r, in_use=r.in_use - lease.reserved)
    f = f.with_use(f.in_use - lease.count, f.reserved_in_use - lease.reserved)
    if f.is_empty():
        del features[f.key]
    else:
        features[f.key] = f
    del leases[lease_id]
