"""What one batch of events changes in the read models.

Rows of the current-state tables (licenses, features, usage, reservations) are
written from the state after the batch, for the keys the batch touched: present
means upsert, absent means delete. History tables (event_log, denials,
usage_history) get one row per event, keyed by stream position, so a batch that is
written twice fails instead of counting twice. Denials are also counted per day,
feature and reason (``denial_days``), which outlives the pruned denial rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

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
from services.domain import tiles
from services.domain.evolve import reservation_leases
from services.domain.model import FeatureKey, State

_TIMELINE = (
    ServerRegistered,
    ServerStatusChanged,
    PairSyncChanged,
    ServersPaired,
    ServersUnpaired,
    ServerIdReset,
    StopRequested,
    SyncRequested,
    ServerUninstalled,
)


def _timeline_row(after: State, event: Event, offset: int, idx: int) -> tuple:
    node = getattr(event, "node", None)
    server = after.servers.get(node) if node else None
    server_id = (
        getattr(event, "server_id", None)
        or getattr(event, "new_server_id", None)
        or (server.server_id if server else None)
    )
    reason = getattr(event, "reason", "") or ""
    if isinstance(event, PairSyncChanged) and not event.synced:
        reason = f"{reason} ({event.lag_events} events, {event.lag_seconds:.1f} s behind)".strip()
    return (
        offset,
        idx,
        event.at,
        event.type,
        node,
        server_id,
        tiles.server_status(after, node) if node else None,
        tiles.pair_status(after),
        reason,
    )


_CHANGES_SEATS = (LeaseGranted, LeaseReleased, LeaseExpired, LicenseActivated, LicenseDeactivated)
# By exact type (events are not subclassed): a set lookup an event, where a replay spent more
# on ``isinstance`` against these tuples than on writing the rows.
_TIMELINE_TYPES = frozenset(_TIMELINE)
_CHANGES_SEATS_TYPES = frozenset(_CHANGES_SEATS)


@dataclass
class BatchChanges:
    log_rows: list[tuple] = field(default_factory=list)
    denials: list[tuple] = field(default_factory=list)
    history: list[tuple] = field(default_factory=list)
    timeline: list[tuple] = field(default_factory=list)
    licenses: set[str] = field(default_factory=set)
    features: set[FeatureKey] = field(default_factory=set)
    usage: set[str] = field(default_factory=set)
    reservations: set[str] = field(default_factory=set)
    servers: set[str] = field(default_factory=set)
    pair_since: object = None  # the time of the last pair change in the batch, if any
    newest_at: datetime | None = None  # the latest event time applied: the pruning clock

    def denial_days(self) -> list[tuple[date, str, str, str, int, int]]:
        """The batch's denials counted per (UTC day, feature, version, reason): times, seats."""
        times: Counter[tuple[date, str, str, str]] = Counter()
        seats: Counter[tuple[date, str, str, str]] = Counter()
        for _o, _i, at, feature, version, _d, _u, count, reason, _m, _c in self.denials:
            key = (at.astimezone(UTC).date(), feature, version, reason)
            times[key] += 1
            seats[key] += count
        return [(*key, times[key], seats[key]) for key in sorted(times)]

    def record(
        self,
        before: State,
        after: State,
        event: Event,
        offset: int,
        idx: int,
        ignored: str | None,
        body: str,
    ) -> None:
        touched = self.record_before(before, event, offset, idx, ignored, body)
        self.record_after(after, event, offset, idx, ignored, touched)

    def record_before(
        self, before: Any, event: Event, offset: int, idx: int, ignored: str | None, body: str
    ) -> set[FeatureKey]:
        """What an event changes that is read from the state before it (``record``'s first
        half: a fold that edits its state in place calls it before applying the event)."""
        self.log_rows.append((offset, idx, event.type, ignored, body))
        if ignored is not None:
            return set()  # an ignored event's time may be anything: it must not prune
        if self.newest_at is None or event.at > self.newest_at:
            self.newest_at = event.at
        touched_features = self._touch(before, event)
        self.features |= touched_features
        return touched_features

    def record_after(
        self,
        after: Any,
        event: Event,
        offset: int,
        idx: int,
        ignored: str | None,
        touched_features: set[FeatureKey],
    ) -> None:
        """What an event changes that is read from the state after it (``record``'s second half)."""
        if ignored is not None:
            return
        kind = type(event)
        if kind in _TIMELINE_TYPES:
            self.timeline.append(_timeline_row(after, event, offset, idx))
        if kind is AcquireDenied:
            self.denials.append(
                (
                    offset,
                    idx,
                    event.at,
                    event.feature,
                    event.version,
                    event.device,
                    event.user,
                    event.count,
                    event.reason,
                    event.message,
                    event.command_id,
                )
            )
        if kind in _CHANGES_SEATS_TYPES:
            for key in sorted(touched_features):
                f = after.features.get(key)
                self.history.append(
                    (
                        offset,
                        idx,
                        event.at,
                        key[0],
                        key[1],
                        f.in_use if f else 0,
                        f.total if f else 0,
                    )
                )

    def _touch(self, before: Any, event: Event) -> set[FeatureKey]:
        kind = type(event)  # the lease events first: nearly the whole of a busy log
        if kind is LeaseGranted:
            self.usage.add(event.lease_id)
            if event.reservation_id:
                self.reservations.add(event.reservation_id)
            return {(event.feature, event.version)}
        if kind is LeaseReleased or kind is LeaseExpired:
            lease = before.leases[event.lease_id]
            self.usage.add(lease.lease_id)
            if lease.reservation_id:
                self.reservations.add(lease.reservation_id)
            return {lease.key}
        if isinstance(
            event,
            (
                ServerRegistered,
                ServerIdReset,
                ServerUninstalled,
                ServerStatusChanged,
                StopRequested,
            ),
        ):
            self.servers.add(event.node)
            return set()
        if isinstance(event, (ServersPaired, ServersUnpaired)):
            self.pair_since = event.at
            return set()
        if isinstance(event, (LicenseActivated, LicenseDeactivated)):
            self.licenses.add(event.license_id)
            if isinstance(event, LicenseActivated):
                self.servers |= {
                    n for n, s in before.servers.items() if s.server_id in event.server_ids
                }
            lic = before.licenses.get(event.license_id)
            grants = event.features if isinstance(event, LicenseActivated) else []
            keys = {(g.name, g.version) for g in grants}
            if lic is not None:
                keys |= {(name, version) for name, _t, version, _s, _e in lic.features}
            return keys
        if isinstance(event, SeatsReserved):
            self.reservations.add(event.reservation_id)
            return {(event.feature, event.version)}
        if isinstance(event, ReservationCancelled):
            r = before.reservations[event.reservation_id]
            self.reservations.add(r.reservation_id)
            self.usage |= {lease.lease_id for lease in reservation_leases(before, r.reservation_id)}
            return {r.key}
        return set()
