"""Events about seats set aside for a device or a user."""

from __future__ import annotations

from typing import Literal

from events.base import Decision


class SeatsReserved(Decision):
    type: Literal["SeatsReserved"] = "SeatsReserved"
    reservation_id: str
    feature: str
    version: str
    device: str | None = None
    user: str | None = None
    count: int


class ReservationCancelled(Decision):
    type: Literal["ReservationCancelled"] = "ReservationCancelled"
    reservation_id: str
