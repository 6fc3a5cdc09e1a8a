"""What the node's JSON API answers and asks, as models: the read models' rows and the queries.

A row model forbids fields it does not name: a column added to a query in
``projections.queries`` fails loudly (and in the schema test) until its model says what it is,
instead of being dropped from the answer without a word.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, create_model

from events.vocabulary import VOCABULARIES
from services.openapi import Filter, Moment, Query, clamp, clamped
from services.views import IsoTime


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- rows --------------------------------------------------------------------------


class UsageRow(Row):
    """An acquisition held now, with its feature's seats (null if the feature is gone)."""

    lease_id: str
    feature: str
    type: str
    version: str
    count: int
    device: str
    user: str
    since: IsoTime
    lease_seconds: int
    reservation_id: str | None
    in_use: int | None
    total: int | None


class FeatureRow(Row):
    name: str
    type: str
    version: str
    total: int
    in_use: int
    reserved: int
    reserved_in_use: int
    available: int
    expires_at: IsoTime | None  # the earliest expiry among its licenses


class LicenseFeature(Row):
    name: str
    type: str
    version: str
    seats: int
    expires_at: str | None  # as the entitlement gave it (ISO 8601)


class LicenseRow(Row):
    license_id: str
    activated_at: IsoTime
    features: list[LicenseFeature]


class ReservationRow(Row):
    """Seats kept for one device or one user (the other is null)."""

    reservation_id: str
    feature: str
    version: str
    device: str | None
    user: str | None
    count: int
    in_use: int
    created_at: IsoTime


class DenialRow(Row):
    at: IsoTime
    feature: str
    version: str
    device: str
    user: str
    count: int
    reason: str  # a DenialReason word
    message: str
    command_id: str


class DenialDayRow(Row):
    """How often a feature was denied on one day, and for how many seats."""

    day: date
    feature: str
    version: str
    reason: str  # a DenialReason word
    times: int
    seats: int


class HistoryRow(Row):
    """A change of a feature's seats."""

    at: IsoTime
    feature: str
    version: str
    in_use: int
    total: int


class TimelineRow(Row):
    """A change of a server's or the pair's status, and how long the state it began lasted."""

    at: IsoTime
    kind: str  # the event type
    node: str | None
    server_id: str | None
    server_status: str | None
    pair_status: str | None
    reason: str
    lasted_seconds: float | None  # null while it is the node's current state


# ---- answers -----------------------------------------------------------------------


class Usage(BaseModel):
    """The acquisitions held now; with ``at``, held then (folded from the log, which the other
    fields describe)."""

    usage: list[UsageRow]
    at: str | None = None  # the time asked for, in UTC
    offset: int | None = None  # the last event folded: its stream offset and index
    idx: int | None = None
    event_at: str | None = None
    events: int | None = None  # how many events were folded
    complete: bool | None = None  # False: the log has not gone past ``at`` yet


class Features(BaseModel):
    features: list[FeatureRow]


class Licenses(BaseModel):
    licenses: list[LicenseRow]


class Reservations(BaseModel):
    reservations: list[ReservationRow]


class Denials(BaseModel):
    """The newest denials, newest first."""

    denials: list[DenialRow]


class DenialDays(BaseModel):
    """Denials per day, feature and reason, newest day first; kept for ever."""

    days: list[DenialDayRow]


class History(BaseModel):
    """The newest changes of seats, oldest first."""

    history: list[HistoryRow]


class Timeline(BaseModel):
    """Status changes, newest first."""

    timeline: list[TimelineRow]


def _words(name: str, enum: Any) -> Any:
    """A model naming every member of a vocabulary and its word, so the schema lists them."""
    fields: dict[str, Any] = {m.name: (Literal[m.value], m.value) for m in enum}
    return create_model(f"{enum.__name__}Words", __doc__=enum.__doc__, **fields)


# ``{vocabulary: {MEMBER: word}}``, one field per vocabulary of events/vocabulary.py.
Vocabulary = create_model(
    "Vocabulary",
    __doc__="Every word the system says, by vocabulary and member name.",
    **{name: (_words(name, enum), ...) for name, enum in VOCABULARIES.items()},
)


# ---- queries -----------------------------------------------------------------------


class UsageQuery(Query):
    at: Moment = None  # who held what at this time (ISO 8601 with an offset)
    feature: Filter = None
    device: Filter = None
    user: Filter = None


class DenialsQuery(Query):
    limit: Annotated[int, clamp(1, 10_000)] = clamped(100, 1, 10_000, "the newest this many")
    feature: Filter = None


class DenialDaysQuery(Query):
    days: Annotated[int, clamp(1, 36_600)] = clamped(90, 1, 36_600, "the newest this many days")
    feature: Filter = None


class HistoryQuery(Query):
    limit: Annotated[int, clamp(1, 100_000)] = clamped(10_000, 1, 100_000, "the newest this many")
    feature: Filter = None
    version: Filter = None


class TimelineQuery(Query):
    limit: Annotated[int, clamp(1, 10_000)] = clamped(500, 1, 10_000, "the newest this many")
    node: Filter = None
