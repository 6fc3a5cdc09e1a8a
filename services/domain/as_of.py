"""The state at a moment in the past: evolve folded over the log's prefix up to that moment.

The log's order is the truth, not the clocks that stamped it, so the moment ``until`` cuts the
log where it first shows an event stamped after ``until``: the state is that of every event
before the cut, fence included. With one writer's clock this is "every event up to the last one
at or before ``until``"; if a new writer's clock runs behind the old one's, an event stamped
earlier but logged later counts from where the log put it.

The fold goes a page at a time (``fold`` takes any slice of the log and returns where it got),
so its caller decides how much of the log it reads between two waits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from events.base import Event
from services.domain.evolve import apply
from services.domain.model import State, replace
from services.trust.keys import Trust

# stream offset, index inside the stream message, the event, the verdict the node recorded
LoggedEvent = tuple[int, int, Event, "str | None"]


class VerdictDiffers(Exception):
    """The fence judges an event of the node's own log differently from when it was applied
    (the vendor keys changed since): the log no longer folds to what the node showed."""


@dataclass(frozen=True, slots=True)
class AsOf:
    until: datetime
    state: State = field(default_factory=State)
    offset: int = -1  # the last event folded: stream offset and index (-1: none yet)
    idx: int = -1
    last_at: datetime | None = None  # its time
    events: int = 0  # how many were folded
    complete: bool = False  # the log went past ``until``: more of it cannot change the answer


def fold(as_of: AsOf, events: Iterable[LoggedEvent], trust: Trust | None = None) -> AsOf:
    """Fold more of the log, in order, until an event stamped after ``until`` (then complete)."""
    if as_of.complete:
        return as_of
    state, offset, idx, last_at, count = (
        as_of.state,
        as_of.offset,
        as_of.idx,
        as_of.last_at,
        as_of.events,
    )
    complete = False
    for at_offset, at_idx, event, recorded in events:
        when = getattr(event, "at", None)
        if when is not None and when > as_of.until:
            complete = True
            break
        state, ignored = apply(state, event, trust)
        if ignored != recorded:
            raise VerdictDiffers(
                f"event {type(event).__name__} at {at_offset}/{at_idx} was {recorded or 'applied'} "
                f"and is now {ignored or 'applied'}"
            )
        offset, idx, last_at, count = at_offset, at_idx, when or last_at, count + 1
    return replace(
        as_of,
        state=state,
        offset=offset,
        idx=idx,
        last_at=last_at,
        events=count,
        complete=complete,
    )
