"""A mutable fold for catching up: the same state and verdicts as ``apply``, with less copying.

``apply`` returns a new immutable state per event: a lease event copies the lease, the
feature and the state itself, and remembering its answer copies the state again. A
projector replaying a long log keeps none of those intermediate states, so while it
catches up it folds a batch into ``MapMutation``s (the same HAMTs, edited in place) and
freezes them once per batch. Only the hot decisions (grants, releases, expiries, denials,
refusals: nearly the whole of a busy log) take this path; every other event freezes the
fold, goes through the pure ``apply`` and thaws it again, so there is one definition of
what those events do. ``decide``, ``evolve`` and the writer's speculative state stay pure.

Preconditions are checked before anything is written, so on ``CannotApply`` the frozen
state is the one before the failing event, as with ``apply``.
tests/unit/test_fast_fold.py proves it equals ``apply`` for any log.
"""

from __future__ import annotations

from immutables import Map

from events.base import Decision, Event
from events.leases import AcquireDenied, LeaseExpired, LeaseGranted, LeaseReleased
from events.vocabulary import IgnoredReason
from events.writer import CommandRefused
from services.domain.evolve import CannotApply, apply
from services.domain.model import OUTCOME_GENERATION, Lease, State, replace
from services.domain.outcomes import answer as answer_of
from services.trust.keys import Trust

_HOT = (LeaseGranted, LeaseReleased, LeaseExpired, AcquireDenied, CommandRefused)


class Fold:
    """One batch's state, mutable: ``verdict`` and ``evolve`` an event, ``freeze`` at the end.

    ``leases``, ``features`` and ``reservations`` answer ``get``, ``[]`` and ``in`` like the
    state's maps, so ``BatchChanges`` reads them as it reads a ``State``.
    """

    def __init__(self, state: State, trust: Trust | None = None) -> None:
        self.trust = trust
        self._thaw(state)

    def _thaw(self, state: State) -> None:
        self._base = state  # what the fold does not edit comes from here
        self._frozen: State | None = state  # still equal to the fold: nothing written since
        self.epoch = state.epoch
        self.servers, self.licenses = state.servers, state.licenses  # only ``apply`` edits them
        self.leases = state.leases.mutate()
        self.features = state.features.mutate()
        self.reservations = state.reservations.mutate()
        self.outcomes = state.outcomes.mutate()
        self.older_outcomes = state.older_outcomes
        self.outcomes_since = state.outcomes_since
        self.last_at = state.last_at

    def freeze(self) -> State:
        """The state the fold holds, immutable; the fold goes on from it."""
        if self._frozen is not None:
            return self._frozen
        # A finished mutation cannot be edited again: thaw from the frozen maps.
        frozen = replace(
            self._base,
            leases=self.leases.finish(),
            features=self.features.finish(),
            reservations=self.reservations.finish(),
            outcomes=self.outcomes.finish(),
            older_outcomes=self.older_outcomes,
            outcomes_since=self.outcomes_since,
            last_at=self.last_at,
        )
        self._thaw(frozen)
        return frozen

    @staticmethod
    def handles(event: Event) -> bool:
        """Does the fold apply this event itself (else ``apply_slow`` does, through ``apply``)?"""
        return isinstance(event, _HOT)

    def apply_slow(self, event: Event) -> tuple[State, State, IgnoredReason | None]:
        """(before, after, verdict) of an event the fold does not handle, by the pure ``apply``."""
        before = self.freeze()
        after, ignored = apply(before, event, self.trust)
        if after is not before:
            self._thaw(after)
        return before, after, ignored

    def apply(self, event: Event) -> IgnoredReason | None:
        """``apply``'s verdict on the event, the fold moved as ``apply`` would move a state."""
        if not self.handles(event):
            return self.apply_slow(event)[2]
        assert isinstance(event, Decision)  # every event the fold handles is one
        ignored = self.verdict(event)
        if ignored is None:
            self.evolve(event)
        return ignored

    def verdict(self, event: Decision) -> IgnoredReason | None:
        """``evolve.verdict`` for the decisions the fold handles."""
        if event.epoch != self.epoch:
            return IgnoredReason.STALE_EPOCH
        if event.command_id in self.outcomes or event.command_id in self.older_outcomes:
            return IgnoredReason.DUPLICATE_COMMAND
        return None

    def evolve(self, event: Decision) -> None:
        """Apply an accepted decision the fold handles, then remember its answer."""
        self._frozen = None
        if isinstance(event, LeaseGranted):
            self._grant(event)
        elif isinstance(event, (LeaseReleased, LeaseExpired)):
            self._end_lease(event.lease_id)
        self._remember(event)

    def _grant(self, event: LeaseGranted) -> None:
        key = (event.feature, event.version)
        f = self.features.get(key)
        if f is None or event.lease_id in self.leases:
            raise CannotApply(f"lease {event.lease_id} granted on unknown feature or twice")
        r = self.reservations[event.reservation_id] if event.reservation_id else None
        self.leases[event.lease_id] = Lease(
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
            self.reservations[r.reservation_id] = replace(r, in_use=r.in_use + event.reserved)
        self.features[key] = replace(
            f, in_use=f.in_use + event.count, reserved_in_use=f.reserved_in_use + event.reserved
        )

    def _end_lease(self, lease_id: str) -> None:
        lease = self.leases.get(lease_id)
        if lease is None:
            raise CannotApply(f"lease {lease_id} ended but not held")
        r = self.reservations[lease.reservation_id] if lease.reservation_id else None
        f = self.features[lease.key]
        if r is not None:
            self.reservations[r.reservation_id] = replace(r, in_use=r.in_use - lease.reserved)
        f = replace(
            f, in_use=f.in_use - lease.count, reserved_in_use=f.reserved_in_use - lease.reserved
        )
        if f.is_empty():
            del self.features[f.key]
        else:
            self.features[f.key] = f
        del self.leases[lease_id]

    def _remember(self, event: Decision) -> None:
        """``State.remember``, in place."""
        answer = answer_of(event)
        since = self.outcomes_since
        if since is None or event.at - since < OUTCOME_GENERATION:
            self.outcomes[event.command_id] = answer
            self.outcomes_since = since or event.at
        else:
            self.older_outcomes = self.outcomes.finish()
            self.outcomes = Map({event.command_id: answer}).mutate()
            self.outcomes_since = event.at
        self.last_at = event.at
