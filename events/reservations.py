"""Events about seats set aside for a device or a user."""

from __future__ import annotations

from typing import Literal

from events.base import Decision
from events.storable import Int64, Text


class SeatsReserved(Decision):
    type: Literal["SeatsReserved"] = "SeatsReserved"
    reservation_id: Text
    feature: Text
    version: Text
    device: Text | None = None
    user: Text | None = None
    count: Int64


class ReservationCancelled(Decision):
    type: Literal["ReservationCancelled"] = "ReservationCancelled"
    reservation_id: Text
