"""Events about entitlements."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from events import limits
from events.base import Decision
from events.commands import FeatureGrant
from events.signed import SignedDocument
from events.storable import Int64, Text
from events.upcasting import upcaster


class LicenseActivated(Decision):
    """v2 carries the whole signed entitlement (None: unsigned, the demo and test mode)."""

    SCHEMA_VERSION: ClassVar[int] = 2
    schema_version: Int64 = 2
    type: Literal["LicenseActivated"] = "LicenseActivated"
    license_id: Text = Field(max_length=limits.MAX_NAME)
    features: list[FeatureGrant]
    server_ids: list[Text] = []  # the License Server IDs it was activated on (the pair, or alone)
    entitlement: SignedDocument | None = None


@upcaster("LicenseActivated", 1)
def _unsigned_before_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "entitlement": None}


class LicenseDeactivated(Decision):
    type: Literal["LicenseDeactivated"] = "LicenseDeactivated"
    license_id: Text = Field(max_length=limits.MAX_NAME)
