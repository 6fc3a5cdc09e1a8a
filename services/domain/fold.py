"""A mutable fold for catching up: the same state and verdicts as ``apply``, with less copying.

``apply`` returns a new immutable state per event: a lease event copies the lease, the
feature and the state itself, and remembering its answer copies the state again. A
projector replaying a long log keeps none of those intermediate states, so while it
catches up it folds a batch into ``MapMutation``s (the same HAMTs, edited in place) and
freezes them once per batch. Only the hot decisions (grants, releases, expiries, denials,
refusals: nearly the whole of a busy log) take this path; every other event freezes the
fold, goes through the pure ``apply`` and thaws it again, so there is one definition of
what those events do. The hot ones share theirs with ``evolve`` too: the fence
(``evolve.decision_verdict``), the lease rules (``lease_rules``) and the answer memory's
generations (``model.opens_generation``). ``decide``, ``evolve`` and the writer's
speculative state stay pure.

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
from services.domain import lease_rules
from services.domain.evolve import apply, decision_verdict
from services.domain.model import State, opens_generation, replace
from services.domain.outcomes import remember
from services.trust.keys import Trust

# By exact type (events are not subclassed): a set lookup, cheaper than ``isinstance``.
_HOT = frozenset((LeaseGranted, LeaseReleased, LeaseExpired, AcquireDenied, CommandRefused))


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
        return type(event) in _HOT

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
        return decision_verdict(event, self.epoch, self.outcomes, self.older_outcomes)

    def evolve(self, event: Decision) -> None:
        """Apply an accepted decision the fold handles, then remember its answer."""
        self._frozen = None
        if isinstance(event, LeaseGranted):
            lease_rules.grant(self.leases, self.features, self.reservations, event)
        elif isinstance(event, (LeaseReleased, LeaseExpired)):
            lease_rules.end(self.leases, self.features, self.reservations, event.lease_id)
        self._remember(event)

    def _remember(self, event: Decision) -> None:
        """``State.remember``, in place."""
        answer = remember(event)
        since = self.outcomes_since
        if not opens_generation(since, event.at):
            self.outcomes[event.command_id] = answer
            self.outcomes_since = since or event.at
        else:
            self.older_outcomes = self.outcomes.finish()
            self.outcomes = Map({event.command_id: answer}).mutate()
            self.outcomes_since = event.at
        self.last_at = event.at
