"""The write state: licenses, features, leases and reservations, as immutable values.

Collections are ``immutables.Map`` (a HAMT), so ``evolve`` can return a new state
in O(log n) without copying, and the writer can keep a speculative state next to
the projected one for free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from immutables import Map

from events.base import Decision
from events.replies import Reply
from events.vocabulary import Activity, Role
from services.domain.outcomes import Remembered, answer_json, remember

FeatureKey = tuple[str, str]  # (name, version)
OUTCOME_GENERATION = timedelta(hours=12)
T = TypeVar("T")


def replace(obj: T, **changes: object) -> T:
    """``dataclasses.replace`` for these frozen, slotted values, without its introspection.

    Replays spend most of their time here, and the stdlib version costs several times more.
    """
    new = object.__new__(type(obj))
    for name in type(obj).__slots__:  # type: ignore[attr-defined]
        object.__setattr__(new, name, changes[name] if name in changes else getattr(obj, name))
    return new


def opens_generation(since: datetime | None, at: datetime) -> bool:
    """Does an answer remembered at ``at`` close the generation open ``since`` (and so drop
    the one before it)? ``State.remember`` and the catch-up fold ask the same question."""
    return since is not None and at - since >= OUTCOME_GENERATION


@dataclass(frozen=True, slots=True)
class Grant:
    license_id: str
    seats: int
    expires_at: datetime | None

    def valid_at(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    version: str
    type: str = ""
    grants: tuple[Grant, ...] = ()
    total: int = 0  # seats of every grant, valid or expired (kept equal to the grants' sum)
    in_use: int = 0  # every leased seat
    reserved: int = 0  # seats set aside by reservations
    reserved_in_use: int = 0  # leased seats drawn from reservations
    reservation_ids: tuple[str, ...] = ()

    @property
    def key(self) -> FeatureKey:
        return (self.name, self.version)

    @property
    def pool_in_use(self) -> int:
        return self.in_use - self.reserved_in_use

    def valid_total(self, now: datetime) -> int:
        return sum(g.seats for g in self.grants if g.valid_at(now))

    def pool_free(self, now: datetime) -> int:
        """Seats anyone may take: valid seats less reservations less unreserved use."""
        return self.valid_total(now) - self.reserved - self.pool_in_use

    def is_empty(self) -> bool:
        return not self.grants and self.in_use == 0 and self.reserved == 0

    def with_use(self, in_use: int, reserved_in_use: int) -> Feature:
        """``replace(self, in_use=..., reserved_in_use=...)``: every grant and every end of a
        lease makes one, and the generated constructor costs half of ``replace``'s loop.
        Positional, in field order (tests/unit/test_snapshot.py pins the order)."""
        return Feature(
            self.name,
            self.version,
            self.type,
            self.grants,
            self.total,
            in_use,
            self.reserved,
            reserved_in_use,
            self.reservation_ids,
        )


@dataclass(frozen=True, slots=True)
class License:
    license_id: str
    features: tuple[
        tuple[str, str, str, int, datetime | None], ...
    ]  # name, type, version, seats, expiry
    activated_at: datetime
    server_ids: tuple[str, ...] = ()  # License Server IDs it is activated on
    serial: str | None = None  # the vendor's serial (None: an unsigned activation)


@dataclass(frozen=True, slots=True)
class Activation:
    """A license as it was activated, kept after it is deactivated: the site never forgets that
    a serial or license id was used here (a re-activation needs a re-issued entitlement), and a
    deactivation receipt names what it returns."""

    license_id: str
    serial: str | None
    server_ids: tuple[str, ...]
    activated_at: datetime


@dataclass(frozen=True, slots=True)
class Server:
    """A license server node of the site, as the log knows it."""

    node: str
    server_id: str
    registered_at: datetime
    api_url: str | None = None
    # Licenses were activated under the current server_id at some point: such a server
    # must be reset before it can become a backup (the seed's rule).
    ever_licensed: bool = False
    # What the watchdog last saw it doing, since when, and why.
    activity: Activity = Activity.RUNNING
    activity_since: datetime | None = None
    activity_reason: str = ""
    observed_at: datetime | None = None  # the heartbeat time the last observation rests on


@dataclass(frozen=True, slots=True)
class PairSync:
    synced: bool = True
    lag_events: int = 0
    lag_seconds: float = 0.0
    reason: str = ""
    since: datetime | None = None
    observed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    lease_id: str
    name: str
    version: str
    count: int
    device: str
    user: str
    granted_at: datetime
    lease_seconds: int
    reservation_id: str | None = None
    reserved: int = 0  # how many of ``count`` come from the reservation
    secret_hash: str | None = None  # None: granted before lease secrets, no proof needed

    @property
    def key(self) -> FeatureKey:
        return (self.name, self.version)


@dataclass(frozen=True, slots=True)
class Reservation:
    reservation_id: str
    name: str
    version: str
    device: str | None
    user: str | None
    count: int
    created_at: datetime
    in_use: int = 0

    @property
    def key(self) -> FeatureKey:
        return (self.name, self.version)

    @property
    def free(self) -> int:
        return self.count - self.in_use

    def holds_for(self, device: str, user: str) -> bool:
        return (self.device is not None and self.device == device) or (
            self.user is not None and self.user == user
        )


@dataclass(frozen=True, slots=True)
class State:
    epoch: int = 0
    writer_node: str | None = None
    writer_server_id: str | None = None
    licenses: Map = field(default_factory=Map)  # license_id -> License
    features: Map = field(default_factory=Map)  # FeatureKey -> Feature
    leases: Map = field(default_factory=Map)  # lease_id -> Lease
    reservations: Map = field(default_factory=Map)  # reservation_id -> Reservation
    # command_id -> its one answer (``outcomes.Remembered``), for idempotent retries. Two
    # generations bound the memory: a generation closes after OUTCOME_GENERATION of event
    # time, and the one before it is dropped then, so an answer is kept 12 to 24 hours.
    outcomes: Map = field(default_factory=Map)
    older_outcomes: Map = field(default_factory=Map)
    outcomes_since: datetime | None = None
    servers: Map = field(default_factory=Map)  # node -> Server (uninstalled ones are removed)
    activations: Map = field(default_factory=Map)  # license_id -> Activation, ever (never removed)
    serials: Map = field(default_factory=Map)  # serial -> license_id, of signed activations
    pair: tuple[str, str] | None = None  # (primary node, backup node)
    sync: PairSync = PairSync()
    last_at: datetime | None = None

    def with_(self, **changes: object) -> State:
        return replace(self, **changes)

    def decided(self, command_id: str) -> bool:
        return command_id in self.outcomes or command_id in self.older_outcomes

    def answer(self, command_id: str) -> bytes | None:
        """The remembered answer as its ``Reply``'s JSON (the writer sends it on)."""
        remembered: Remembered | bytes | None = self.outcomes.get(
            command_id
        ) or self.older_outcomes.get(command_id)
        return None if remembered is None else answer_json(command_id, remembered)

    def outcome(self, command_id: str) -> Reply | None:
        answer = self.answer(command_id)
        return None if answer is None else Reply.model_validate_json(answer)

    def remember(self, event: Decision) -> State:
        """Record a command's answer; on a generation boundary drop the oldest generation.

        The answer is kept as the values of its reply, not as the event: a retry needs only
        the reply, and they cost about a quarter of the event object (``python -m
        bench.memory`` measures it; the target is at most 1 KB a command id).
        """
        answer = remember(event)
        if not opens_generation(self.outcomes_since, event.at):
            return self.with_(
                outcomes=self.outcomes.set(event.command_id, answer),
                outcomes_since=self.outcomes_since or event.at,
                last_at=event.at,
            )
        return self.with_(
            older_outcomes=self.outcomes,
            outcomes=Map({event.command_id: answer}),
            outcomes_since=event.at,
            last_at=event.at,
        )

    def licenses_on(self, server_id: str) -> list[str]:
        return sorted(lid for lid, lic in self.licenses.items() if server_id in lic.server_ids)

    def role_of(self, node: str) -> Role | None:
        """The node's place in the pair; None when unpaired or not one of the two."""
        if self.pair is None:
            return None
        primary, backup = self.pair
        return Role.PRIMARY if node == primary else Role.BACKUP if node == backup else None
