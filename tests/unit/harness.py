"""A tiny driver for the pure domain: decide a command, apply its event, keep the state.

It plays the writer's part (promote, stamp epoch/time/command id) without any I/O,
so the tests read as "this command, then that command, then look at the state".
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from events import commands as c
from events.base import Decision
from events.leases import LeaseGranted
from events.writer import WriterPromoted
from services.domain import lease_secrets
from services.domain.decide import Context, decide
from services.domain.evolve import apply
from services.domain.model import State

T0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float = 0, *, days: float = 0) -> datetime:
    return T0 + timedelta(seconds=seconds, days=days)


def grant(
    name: str = "FactoryTalk View SE Client",
    version: str = "13.00",
    seats: int = 1,
    expires_at: datetime | None = None,
    type: str = "Concurrent",
) -> c.FeatureGrant:
    return c.FeatureGrant(name=name, version=version, seats=seats, expires_at=expires_at, type=type)


class Writer:
    """Decides and applies commands one at a time, like the single writer does."""

    def __init__(self, epoch: int = 1, node: str = "a", server_id: str = "A_X", now: datetime = T0):
        self.now = now
        self.state, ignored = apply(
            State(), WriterPromoted(epoch=epoch, node=node, server_id=server_id, at=now)
        )
        assert ignored is None
        self.epoch = epoch
        self.events: list = [WriterPromoted(epoch=epoch, node=node, server_id=server_id, at=now)]
        self._ids = itertools.count(1)
        self.secrets: dict[str, str] = {}  # lease id -> the secret its grant's reply carries

    def context(
        self, command_id: str | None = None, now: datetime | None = None, actor: str | None = None
    ) -> Context:
        return Context(
            command_id=command_id or f"cmd-{next(self._ids)}",
            epoch=self.epoch,
            now=now or self.now,
            actor=actor,
        )

    def run(
        self,
        command: object,
        *,
        command_id: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
    ) -> Decision:
        event = decide(self.state, command, self.context(command_id, now, actor))
        self.state, ignored = apply(self.state, event)
        assert ignored is None, f"the writer's own decision was ignored: {ignored}"
        self.events.append(event)
        if isinstance(event, LeaseGranted):
            self.secrets[event.lease_id] = lease_secrets.secret_for(None, event.command_id)
        return event

    # Shorthands for the commands the tests use most.
    def activate(self, license_id: str, *grants: c.FeatureGrant, **kw) -> Decision:
        return self.run(
            c.ActivateLicense(license_id=license_id, features=list(grants or [grant()])), **kw
        )

    def deactivate(self, license_id: str, **kw) -> Decision:
        return self.run(c.DeactivateLicense(license_id=license_id), **kw)

    def acquire(
        self,
        device: str = "hmi-1",
        user: str = "alice",
        count: int = 1,
        feature: str = "FactoryTalk View SE Client",
        version: str = "13.00",
        **kw,
    ) -> Decision:
        lease_seconds = kw.pop("lease_seconds", 60)
        return self.run(
            c.Acquire(
                feature=feature,
                version=version,
                device=device,
                user=user,
                count=count,
                lease_seconds=lease_seconds,
            ),
            **kw,
        )

    def release(
        self, lease_id: str, reason: str | None = None, secret: str | None = None, **kw
    ) -> Decision:
        """As the holder does: with the lease's secret (pass ``secret`` to send another)."""
        secret = secret if secret is not None else self.secrets.get(lease_id)
        return self.run(c.Release(lease_id=lease_id, reason=reason, lease_secret=secret), **kw)

    def reserve(
        self,
        count: int = 1,
        device: str | None = None,
        user: str | None = None,
        feature: str = "FactoryTalk View SE Client",
        version: str = "13.00",
        **kw,
    ) -> Decision:
        return self.run(
            c.Reserve(feature=feature, version=version, device=device, user=user, count=count), **kw
        )

    def cancel(self, reservation_id: str, **kw) -> Decision:
        return self.run(c.CancelReservation(reservation_id=reservation_id), **kw)

    def feature(self, name: str = "FactoryTalk View SE Client", version: str = "13.00"):
        return self.state.features.get((name, version))
