"""Events about seats taken and given back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from events.base import Decision
from events.upcasting import upcaster


class LeaseGranted(Decision):
    """``count`` seats given to device/user; ``reserved`` of them come from ``reservation_id``.

    v2 carries ``secret_hash``, the SHA-256 of the lease secret only the grant's reply holds;
    renewing or releasing the lease needs the secret. None: no proof required (v1 leases)."""

    SCHEMA_VERSION: ClassVar[int] = 2
    schema_version: int = 2
    type: Literal["LeaseGranted"] = "LeaseGranted"
    lease_id: str
    feature: str
    version: str
    device: str
    user: str
    count: int
    lease_seconds: int
    expires_at: datetime
    reservation_id: str | None = None
    reserved: int = 0
    secret_hash: str | None = None


@upcaster("LeaseGranted", 1)
def _no_secret_before_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "secret_hash": None}


class AcquireDenied(Decision):
    """A refused acquire is a fact too: denials are what administrators ask about most."""

    type: Literal["AcquireDenied"] = "AcquireDenied"
    feature: str
    version: str
    device: str
    user: str
    count: int
    reason: str
    message: str


class LeaseReleased(Decision):
    """A lease given back; ``reason`` is set when an administrator forced it."""

    type: Literal["LeaseReleased"] = "LeaseReleased"
    lease_id: str
    reason: str | None = None


class LeaseExpired(Decision):
    """The writer saw no renewal within the lease period (invariant 7)."""

    type: Literal["LeaseExpired"] = "LeaseExpired"
    lease_id: str
