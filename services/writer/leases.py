"""Lease deadlines: soft state that only the writer keeps (invariant 7 in docs/architecture.md).

A deadline means something only while the writer could have heard the renewals that would
move it. So every open lease gets a fresh period whenever the writer may have been deaf:
on promotion (which follows every start and every reconnect to the broker, so a writer that
lost and regained the broker is promoted anew) and when the writer itself stalled (a paused
process, a log that took no appends); see ``Writer``. Products keep their leases on
borrowed time meanwhile (services/client/lease.py) and renew the same leases afterwards.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from events.commands import HeldLease
from services.domain import lease_secrets
from services.domain.model import State


class LeaseClock:
    def __init__(self) -> None:
        self.deadlines: dict[str, datetime] = {}
        self.expiring: set[str] = set()

    def fresh_period_for_all(self, state: State, now: datetime) -> None:
        """On promotion every open lease gets a full period before any expires."""
        self.deadlines = {
            lid: now + timedelta(seconds=lease.lease_seconds) for lid, lease in state.leases.items()
        }
        self.expiring.clear()

    def restart(self, state: State, now: datetime) -> None:
        """After the writer was deaf: a fresh period for every open lease not already expiring
        (an expiry decided before the stall is in flight; it stands)."""
        self.deadlines = {
            lid: now + timedelta(seconds=lease.lease_seconds)
            for lid, lease in state.leases.items()
            if lid not in self.expiring
        }

    def granted(self, lease_id: str, deadline: datetime) -> None:
        self.deadlines[lease_id] = deadline

    def renew(
        self, state: State, held: list[HeldLease], now: datetime
    ) -> tuple[list[str], list[str], list[str]]:
        """The lease ids renewed, gone, and refused (the secret does not prove the lease)."""
        renewed: list[str] = []
        gone: list[str] = []
        refused: list[str] = []
        for h in held:
            lid = h.lease_id
            lease = state.leases.get(lid)
            if lease is None or lid in self.expiring:
                gone.append(lid)
            elif not lease_secrets.proves(h.lease_secret, lease.secret_hash):
                refused.append(lid)
            else:
                self.deadlines[lid] = now + timedelta(seconds=lease.lease_seconds)
                renewed.append(lid)
        return renewed, gone, refused

    def ended(self, lease_id: str) -> None:
        self.deadlines.pop(lease_id, None)
        self.expiring.discard(lease_id)

    def overdue(self, state: State, now: datetime) -> list[str]:
        due = [
            lid
            for lid, deadline in self.deadlines.items()
            if deadline <= now and lid not in self.expiring and lid in state.leases
        ]
        self.expiring.update(due)
        return due
