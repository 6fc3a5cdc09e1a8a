"""Events about entitlements."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from events import limits
from events.base import Decision
from events.commands import FeatureGrant


class LicenseActivated(Decision):
    type: Literal["LicenseActivated"] = "LicenseActivated"
    license_id: str = Field(max_length=limits.MAX_NAME)
    features: list[FeatureGrant]
    server_ids: list[str] = []  # the License Server IDs it was activated on (the pair, or the lone server)


class LicenseDeactivated(Decision):
    type: Literal["LicenseDeactivated"] = "LicenseDeactivated"
    license_id: str = Field(max_length=limits.MAX_NAME)
