"""Events about seats taken and given back."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from events.base import Decision
from events.storable import Instant, Int64, Text
from events.upcasting import upcaster


class LeaseGranted(Decision):
    """``count`` seats given to device/user; ``reserved`` of them come from ``reservation_id``.

    v2 carries ``secret_hash``, the SHA-256 of the lease secret only the grant's reply holds;
    renewing or releasing the lease needs the secret. None: no proof required (v1 leases)."""

    SCHEMA_VERSION: ClassVar[int] = 2
    schema_version: int = 2
    type: Literal["LeaseGranted"] = "LeaseGranted"
    lease_id: Text
    feature: Text
    version: Text
    device: Text
    user: Text
    count: Int64
    lease_seconds: Int64
    expires_at: Instant
    reservation_id: Text | None = None
    reserved: Int64 = 0
    secret_hash: Text | None = None


@upcaster("LeaseGranted", 1)
def _no_secret_before_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "secret_hash": None}


class AcquireDenied(Decision):
    """A refused acquire is a fact too: denials are what administrators ask about most."""

    type: Literal["AcquireDenied"] = "AcquireDenied"
    feature: Text
    version: Text
    device: Text
    user: Text
    count: Int64
    reason: Text
    message: Text


class LeaseReleased(Decision):
    """A lease given back; ``reason`` is set when an administrator forced it."""

    type: Literal["LeaseReleased"] = "LeaseReleased"
    lease_id: Text
    reason: Text | None = None


class LeaseExpired(Decision):
    """The writer saw no renewal within the lease period (invariant 7)."""

    type: Literal["LeaseExpired"] = "LeaseExpired"
    lease_id: Text
