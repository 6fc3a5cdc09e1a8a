"""decide(state, command, context) -> one event, or None. Pure: no clock, no I/O.

Every command yields exactly one event (a grant, a denial, a refusal, ...), so a
command id names one fact in the log and a retry finds it. The one exception is a
watchdog observation that changes nothing (``services.domain.watch``): it yields
None, nothing enters the log, and the writer answers ``changed: false``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import singledispatch

from events import commands as c
from events.base import Decision
from events.leases import AcquireDenied, LeaseExpired, LeaseGranted, LeaseReleased
from events.licenses import LicenseActivated, LicenseDeactivated
from events.replies import DenialReason, ErrorCode
from events.reservations import ReservationCancelled, SeatsReserved
from events.writer import CommandRefused
from services.domain import entitlements, lease_secrets
from services.domain.entitlements import activation_targets
from services.domain.model import Reservation, State
from services.trust.keys import Trust

_IDS = uuid.UUID("5b0c1f0e-3c41-4c7a-9d55-6f1d2a7e8b90")


@dataclass(frozen=True, slots=True)
class Context:
    """What the writer knows about a command besides its body."""

    command_id: str
    epoch: int
    now: datetime
    actor: str | None = None
    trust: Trust = Trust()  # the vendor keys the site trusts (none: unsigned activations accepted)
    lease_key: str | None = None  # derives lease secrets (the first node key; None: open site)

    def stamp(self) -> dict:
        return {
            "command_id": self.command_id,
            "epoch": self.epoch,
            "at": self.now,
            "actor": self.actor,
        }

    def derived_id(self, prefix: str) -> str:
        """An id that a retry of the same command reproduces."""
        return f"{prefix}-{uuid.uuid5(_IDS, self.command_id).hex[:20]}"


@dataclass(frozen=True, slots=True)
class ExpireLease:
    """Internal command: the writer saw no renewal in time (never sent on the wire)."""

    lease_id: str
    type: str = "ExpireLease"


def refuse(ctx: Context, command: object, code: ErrorCode, message: str) -> CommandRefused:
    return CommandRefused(
        command_type=getattr(command, "type", type(command).__name__),
        code=code,
        message=message,
        **ctx.stamp(),
    )


def decide(state: State, command: object, ctx: Context) -> Decision | None:
    """The command's one event; None only for an observation that changes nothing."""
    return _decide(command, state, ctx)


@singledispatch
def _decide(command: object, state: State, ctx: Context) -> Decision | None:
    raise TypeError(f"no decision for {type(command).__name__}")


@_decide.register
def _activate(command: c.ActivateLicense, state: State, ctx: Context) -> Decision:
    if command.license_id in state.licenses and command.entitlement is None:
        return refuse(
            ctx,
            command,
            ErrorCode.CONFLICT,
            f"license {command.license_id} is already activated; deactivate it first",
        )
    problem = entitlements.problem(state, command.entitlement, ctx.now, ctx.trust)
    if problem is not None:
        return refuse(ctx, command, problem.code, problem.message)
    if command.entitlement is not None and not entitlements.matches(
        command.entitlement, command.license_id, command.features
    ):
        return refuse(
            ctx,
            command,
            ErrorCode.BAD_SIGNATURE,
            "the command's license id or features differ from its signed entitlement; "
            "send the entitlement file as it is (licensing activate FILE)",
        )
    return LicenseActivated(
        license_id=command.license_id,
        features=command.features,
        server_ids=activation_targets(state),
        entitlement=command.entitlement,
        **ctx.stamp(),
    )


@_decide.register
def _deactivate(command: c.DeactivateLicense, state: State, ctx: Context) -> Decision:
    lic = state.licenses.get(command.license_id)
    if lic is None:
        return refuse(
            ctx, command, ErrorCode.NOT_FOUND, f"license {command.license_id} is not activated"
        )
    busy = []
    for name, _type, version, seats, expires_at in lic.features:
        f = state.features[(name, version)]
        committed = f.pool_in_use + f.reserved
        # Expired seats of other licenses cannot stand in for this license's valid ones.
        valid_own = seats if expires_at is None or expires_at > ctx.now else 0
        if f.total - seats < committed or (
            valid_own and f.valid_total(ctx.now) - valid_own < committed
        ):
            busy.append(f"{name} {version} ({f.in_use} in use, {f.reserved} reserved)")
    if busy:
        return refuse(
            ctx,
            command,
            ErrorCode.IN_USE,
            f"license {command.license_id} cannot be deactivated while its seats are in use "
            f"or reserved: {', '.join(busy)}; release those seats or cancel the reservations first",
        )
    return LicenseDeactivated(license_id=command.license_id, **ctx.stamp())


def _reservation_for(state: State, command: c.Acquire) -> Reservation | None:
    feature = state.features[(command.feature, command.version)]
    best = None
    for rid in feature.reservation_ids:
        r = state.reservations[rid]
        if (
            r.holds_for(command.device, command.user)
            and r.free > 0
            and (best is None or r.free > best.free)
        ):
            best = r
    return best


@_decide.register
def _acquire(command: c.Acquire, state: State, ctx: Context) -> Decision:
    def deny(reason: DenialReason, message: str) -> AcquireDenied:
        return AcquireDenied(
            feature=command.feature,
            version=command.version,
            device=command.device,
            user=command.user,
            count=command.count,
            reason=reason,
            message=message,
            **ctx.stamp(),
        )

    what = f"{command.feature} {command.version}"
    feature = state.features.get((command.feature, command.version))
    if feature is None:
        return deny(DenialReason.UNKNOWN_FEATURE, f"no activated license provides {what}")
    valid = feature.valid_total(ctx.now)
    if valid == 0:
        return deny(DenialReason.EXPIRED, f"every license for {what} has expired")
    reservation = _reservation_for(state, command)
    from_reservation = min(command.count, reservation.free) if reservation else 0
    from_pool = command.count - from_reservation
    if feature.in_use + command.count > valid or from_pool > feature.pool_free(ctx.now):
        free_overall = valid - feature.in_use
        if free_overall >= command.count:
            return deny(
                DenialReason.RESERVED,
                f"{free_overall} of {valid} seats of {what} are free but reserved for other "
                "devices or users",
            )
        return deny(
            DenialReason.NO_SEATS,
            f"{command.count} seat(s) of {what} requested, {max(free_overall, 0)} of {valid} free",
        )
    lease_id = ctx.derived_id("L")
    if lease_id in state.leases:  # a command id reused after its answer was forgotten (over 12 h)
        return refuse(
            ctx,
            command,
            ErrorCode.CONFLICT,
            f"command id {ctx.command_id} was used before for lease {lease_id}; "
            "use a new command id",
        )
    return LeaseGranted(
        lease_id=lease_id,
        feature=command.feature,
        version=command.version,
        device=command.device,
        user=command.user,
        count=command.count,
        lease_seconds=command.lease_seconds,
        expires_at=ctx.now + timedelta(seconds=command.lease_seconds),
        reservation_id=reservation.reservation_id if reservation and from_reservation else None,
        reserved=from_reservation,
        secret_hash=lease_secrets.hash_of(lease_secrets.secret_for(ctx.lease_key, ctx.command_id)),
        **ctx.stamp(),
    )


@_decide.register
def _release(command: c.Release, state: State, ctx: Context) -> Decision:
    if command.lease_id not in state.leases:
        return refuse(
            ctx,
            command,
            ErrorCode.NOT_FOUND,
            f"lease {command.lease_id} is not held (already released or expired)",
        )
    # A force-release (with a reason) was authorized by the admin signature at intake.
    lease = state.leases[command.lease_id]
    if command.reason is None and not lease_secrets.proves(command.lease_secret, lease.secret_hash):
        return refuse(
            ctx,
            command,
            ErrorCode.UNAUTHORIZED,
            f"releasing lease {command.lease_id} needs its lease secret (the lease_secret of the "
            "acquire's reply); an administrator force-releases with a reason instead",
        )
    return LeaseReleased(lease_id=command.lease_id, reason=command.reason, **ctx.stamp())


@_decide.register
def _expire(command: ExpireLease, state: State, ctx: Context) -> Decision:
    if command.lease_id not in state.leases:  # the timer raced a release: nothing to expire
        return refuse(ctx, command, ErrorCode.NOT_FOUND, f"lease {command.lease_id} is not held")
    return LeaseExpired(lease_id=command.lease_id, **ctx.stamp())


@_decide.register
def _reserve(command: c.Reserve, state: State, ctx: Context) -> Decision:
    what = f"{command.feature} {command.version}"
    feature = state.features.get((command.feature, command.version))
    if feature is None:
        return refuse(ctx, command, ErrorCode.NOT_FOUND, f"no activated license provides {what}")
    free = feature.pool_free(ctx.now)
    if command.count > free:
        return refuse(
            ctx,
            command,
            ErrorCode.NO_SEATS,
            f"cannot reserve {command.count} seat(s) of {what}: only {max(free, 0)} are free and "
            "unreserved",
        )
    if ctx.derived_id("R") in state.reservations:
        return refuse(
            ctx,
            command,
            ErrorCode.CONFLICT,
            f"command id {ctx.command_id} was used before for a reservation; use a new command id",
        )
    return SeatsReserved(
        reservation_id=ctx.derived_id("R"),
        feature=command.feature,
        version=command.version,
        device=command.device,
        user=command.user,
        count=command.count,
        **ctx.stamp(),
    )


@_decide.register
def _unreserve(command: c.CancelReservation, state: State, ctx: Context) -> Decision:
    if command.reservation_id not in state.reservations:
        return refuse(
            ctx,
            command,
            ErrorCode.NOT_FOUND,
            f"reservation {command.reservation_id} does not exist",
        )
    return ReservationCancelled(reservation_id=command.reservation_id, **ctx.stamp())
