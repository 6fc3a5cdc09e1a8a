"""The closed set of event types, keyed by their stable ``type`` string."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from events.base import Event
from events.leases import AcquireDenied, LeaseExpired, LeaseGranted, LeaseReleased
from events.licenses import LicenseActivated, LicenseDeactivated
from events.reservations import ReservationCancelled, SeatsReserved
from events.servers import (
    ServerIdReset,
    ServerRegistered,
    ServersPaired,
    ServersUnpaired,
    ServerUninstalled,
    StopRequested,
    SyncRequested,
)
from events.status import PairSyncChanged, ServerStatusChanged
from events.writer import CommandRefused, WriterPromoted

_ALL = (
    WriterPromoted,
    CommandRefused,
    LicenseActivated,
    LicenseDeactivated,
    LeaseGranted,
    AcquireDenied,
    LeaseReleased,
    LeaseExpired,
    SeatsReserved,
    ReservationCancelled,
    ServerRegistered,
    ServersPaired,
    ServersUnpaired,
    ServerIdReset,
    SyncRequested,
    StopRequested,
    ServerUninstalled,
    ServerStatusChanged,
    PairSyncChanged,
)
EVENT_TYPES: dict[str, type[Event]] = {cls.model_fields["type"].default: cls for cls in _ALL}

# Union[_ALL] spreads the tuple into a union; "X | Y" has no spelling for that (UP007).
AnyEvent = Annotated[
    Union[_ALL],  # type: ignore[valid-type]  # noqa: UP007
    Field(discriminator="type"),
]
