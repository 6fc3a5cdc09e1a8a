"""Commands: what products, the CLI and the License Manager ask the writer to do."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events import limits
from events.base import Command
from events.signed import SignedDocument
from events.status import ReportPairSync, ReportServerStatus
from events.storable import Instant, Int64, Text
from events.upcasting import upcaster

NameStr = Annotated[Text, Field(min_length=1, max_length=limits.MAX_NAME)]
VersionStr = Annotated[Text, Field(min_length=1, max_length=limits.MAX_VERSION)]
TypeStr = Annotated[Text, Field(max_length=limits.MAX_NAME)]


class FeatureGrant(Command):
    """One feature of an entitlement: ``seats`` of ``name`` at ``version``."""

    name: NameStr
    type: TypeStr = ""
    version: VersionStr
    seats: Int64 = Field(ge=1, le=limits.MAX_SEATS)
    expires_at: Instant | None = None  # with a UTC offset: naive times are ambiguous


class ActivateLicense(Command):
    """Activate a license. With ``entitlement`` (a vendor-signed document) its license id and
    features must be the entitlement's; without one it is an unsigned activation, which only a
    site without vendor keys accepts (demo and test mode)."""

    type: Literal["ActivateLicense"] = "ActivateLicense"
    ADMIN = True
    license_id: NameStr
    features: list[FeatureGrant] = Field(min_length=1, max_length=limits.MAX_FEATURES_PER_LICENSE)
    entitlement: SignedDocument | None = None

    @model_validator(mode="after")
    def _features_unique(self) -> ActivateLicense:
        keys = [(f.name, f.version) for f in self.features]
        if len(keys) != len(set(keys)):
            raise ValueError("a license lists the same feature and version twice")
        return self


class DeactivateLicense(Command):
    type: Literal["DeactivateLicense"] = "DeactivateLicense"
    ADMIN = True
    license_id: NameStr


class Acquire(Command):
    type: Literal["Acquire"] = "Acquire"
    feature: NameStr
    version: VersionStr
    device: NameStr
    user: NameStr
    count: Int64 = Field(default=1, ge=1, le=limits.MAX_ACQUIRE_COUNT)
    lease_seconds: Int64 = Field(
        default=limits.DEFAULT_LEASE_SECONDS,
        ge=limits.MIN_LEASE_SECONDS,
        le=limits.MAX_LEASE_SECONDS,
    )


SecretStr = Annotated[str, Field(min_length=1, max_length=limits.MAX_NAME)]


class Release(Command):
    """Give a lease back, proven by its ``lease_secret`` (the grant's reply holds it). With a
    ``reason`` it is an administrator's force-release, signed with the admin key instead."""

    type: Literal["Release"] = "Release"
    lease_id: NameStr
    reason: Text | None = Field(default=None, max_length=limits.MAX_REASON)
    lease_secret: SecretStr | None = None


class HeldLease(BaseModel):
    """A lease and the secret that proves it is held."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    lease_id: NameStr
    lease_secret: SecretStr | None = None


class RenewLeases(Command):
    """Keep leases alive. Renewals are soft state in the writer: no event is written.

    v2 names each lease with its secret; a v1 renewal (bare lease ids) proves nothing, so it
    renews only leases granted before secrets."""

    SCHEMA_VERSION: ClassVar[int] = 2
    schema_version: int = 2
    type: Literal["RenewLeases"] = "RenewLeases"
    leases: list[HeldLease] = Field(min_length=1, max_length=limits.MAX_LEASES_PER_RENEWAL)


@upcaster("RenewLeases", 1)
def _ids_without_secrets_before_v2(data: dict[str, Any]) -> dict[str, Any]:
    if "leases" in data and "lease_ids" not in data:
        return data  # already in v2's shape, sent without its schema_version: take it as is
    old = {k: v for k, v in data.items() if k != "lease_ids"}
    ids = data.get("lease_ids")
    leases = [{"lease_id": i} for i in ids] if isinstance(ids, list) else ids
    return {**old, "leases": leases}


class Reserve(Command):
    """Set ``count`` seats of a feature aside for one device or one user."""

    type: Literal["Reserve"] = "Reserve"
    ADMIN = True
    feature: NameStr
    version: VersionStr
    device: NameStr | None = None
    user: NameStr | None = None
    count: Int64 = Field(default=1, ge=1, le=limits.MAX_SEATS)

    @model_validator(mode="after")
    def _one_holder(self) -> Reserve:
        if (self.device is None) == (self.user is None):
            raise ValueError("a reservation is for exactly one of device or user")
        return self


class CancelReservation(Command):
    type: Literal["CancelReservation"] = "CancelReservation"
    ADMIN = True
    reservation_id: NameStr


# ---- servers and the pair (the seed's Manage panel) ------------------------------------


class RegisterServer(Command):
    """Sent by a node when it comes up: its License Server ID and where its API listens."""

    type: Literal["RegisterServer"] = "RegisterServer"
    node: NameStr
    server_id: NameStr
    api_url: Text | None = Field(default=None, max_length=limits.MAX_NAME)


class PairServers(Command):
    """The seed's Enable Backup + Apply: ``primary`` serves, ``backup`` stands by."""

    type: Literal["PairServers"] = "PairServers"
    ADMIN = True
    primary: NameStr
    backup: NameStr


class UnpairServers(Command):
    type: Literal["UnpairServers"] = "UnpairServers"
    ADMIN = True


class ResetServerId(Command):
    """The seed's License Server ID Reset: a new id, empty read models, a replay."""

    type: Literal["ResetServerId"] = "ResetServerId"
    ADMIN = True
    node: NameStr


class SyncServer(Command):
    """The seed's Sync: the node empties its read models and replays the log.

    With ``from_peer`` it rebuilds from that peer's ``event_log`` copy instead of the stream.
    """

    type: Literal["SyncServer"] = "SyncServer"
    ADMIN = True
    node: NameStr
    from_peer: NameStr | None = None


class StopServer(Command):
    """The seed's Stop button: the node shuts down gracefully."""

    type: Literal["StopServer"] = "StopServer"
    ADMIN = True
    node: NameStr


class UninstallServer(Command):
    """Remove a node from the site; it stops if it is running."""

    type: Literal["UninstallServer"] = "UninstallServer"
    ADMIN = True
    node: NameStr


_ALL = (
    ActivateLicense,
    DeactivateLicense,
    Acquire,
    Release,
    RenewLeases,
    Reserve,
    CancelReservation,
    RegisterServer,
    PairServers,
    UnpairServers,
    ResetServerId,
    SyncServer,
    StopServer,
    UninstallServer,
    ReportServerStatus,
    ReportPairSync,
)
COMMAND_TYPES: dict[str, type[Command]] = {cls.model_fields["type"].default: cls for cls in _ALL}
# Union[_ALL] spreads the tuple into a union; "X | Y" has no spelling for that (UP007).
AnyCommand = Annotated[
    Union[_ALL],  # type: ignore[valid-type]  # noqa: UP007
    Field(discriminator="type"),
]
