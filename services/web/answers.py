"""What the License Manager's JSON endpoints answer and ask, as models (capacity, session, Manage).

Their schemas go into the node's OpenAPI document next to the API's (services/node/openapi.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.openapi import Query, clamp, clamped
from services.web.capacity import PERIODS

Period = Literal[tuple(PERIODS)]


# ---- /api/capacity -----------------------------------------------------------------


class CapacityQuery(Query):
    period: Period = Field("day", description="how far back the chart reaches")
    buckets: Annotated[int, clamp(10, 600)] = clamped(120, 10, 600, "at most about this many")


class Folded(BaseModel):
    """Checks ``capacity.fold``'s dict: a key it adds fails loudly until it is named here."""

    model_config = ConfigDict(extra="forbid")


class Seats(Folded):
    in_use: int
    total: int


# [bucket start, peak in use, low, in use at its end, total at its end]
Point = tuple[str, int, int, int, int]
# [bucket start, denials, seats denied, {reason: denials}]
DenialMark = tuple[str, int, int, dict[str, int]]


class FeatureCapacity(Folded):
    """One feature's chart: where it started, a point per bucket, its denials, its peak."""

    feature: str
    version: str
    type: str
    total_now: int
    in_use_now: int
    reserved_now: int
    start: Seats | None
    points: list[Point]
    denials: list[DenialMark]
    peak: int
    peak_at: str | None
    most_total: int
    denied_times: int
    denied_seats: int
    denied_reasons: dict[str, int]


class Capacity(Folded):
    """In use against owned over a period, per feature, folded into time buckets."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    period: Period
    from_: str = Field(alias="from")
    to: str
    bucket_seconds: int
    now: str
    features: list[FeatureCapacity]
    truncated: bool = False  # SQL stopped at its cap of points (capacity.MAX_POINTS)

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


# ---- /api/session ------------------------------------------------------------------


class SessionView(BaseModel):
    """Who is signed in on this page, its CSRF token, and this node's site."""

    user: str | None
    csrf: str
    admins_configured: bool
    no_admins_message: str | None
    node: str
    site: str
    admin_key: bool
    vendor_keys: list[str] = []  # the vendor key ids the site trusts (empty: unsigned accepted)
    site_key: bool = False  # the site can sign deactivation receipts


# ---- /api/manage/{action} ----------------------------------------------------------


class ManageForm(BaseModel):
    """The fields the Manage actions read, each by the actions that need it (services/web/manage.py
    builds and checks the command; this names the fields for the document)."""

    model_config = ConfigDict(extra="allow")

    primary: str | None = Field(None, description="pair: the primary server")
    backup: str | None = Field(None, description="pair: the backup server")
    node: str | None = Field(None, description="stop, reset, sync: the server")
    from_peer: str | None = Field(None, description="sync: the peer to copy the log from")
    license_id: str | None = Field(None, description="activate, deactivate: the license")
    features: list[dict[str, Any]] | None = Field(
        None, description="activate: the entitlement's features (name, type, version, seats)"
    )
    feature: str | None = Field(None, description="reserve: the feature")
    version: str | None = Field(None, description="reserve: its version")
    count: int | None = Field(None, description="reserve: how many seats")
    holder: str | None = Field(None, description="reserve: the device or user name")
    holder_type: Literal["device", "user"] | None = Field(None, description="reserve: which")
    lease_id: str | None = Field(None, description="release: the acquisition")
    reason: str | None = Field(None, description="release: why it is force-released")
    reservation_id: str | None = Field(None, description="unreserve: the reservation")


class ManageError(BaseModel):
    code: str  # an ErrorCode word, or the page's own: csrf, login, no_admins
    message: str
    reason: str | None = None  # a DenialReason word, for a denial


class ManageAnswer(BaseModel):
    """A Manage action's outcome in words; ``ok`` says whether it was done."""

    ok: bool
    message: str
    command_id: str | None = None
    result: dict[str, Any] | None = None
    actor: str | None = None
    error: ManageError | None = None
    title: str | None = None  # an activation refusal in the administrator's words
    advice: str | None = None  # and what to do about it

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)
