"""A granted lease: renewed in the background until it is released or lost.

Renewals are sent every ``lease_seconds / 3``. A renewal that times out is retried
soon after (a failover of the writer takes seconds, a lease lasts a minute); a
renewal whose reply says the lease is gone, or refuses our secret, marks the lease
``lost`` and stops.

Borrowed time (the seed's vendor: 20 minutes for client licenses). While renewals fail
because the pair cannot be reached (timeouts, ``unavailable``, a broken connection), the
product keeps its lease for ``grace_seconds`` from the last successful renewal, even past
its lease period: the lease is ``borrowed``, not lost. The writers see no renewals then
either, and give every open lease a fresh period when they hear again (services/writer),
so the same lease renews when the pair returns. Only a refusal or the end of the grace
makes it lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import TracebackType
from typing import Any, Protocol

from events.replies import ErrorCode, Reply
from services.client.errors import ClientError
from services.client.rpc import new_command_id

log = logging.getLogger(__name__)

RETRY_PAUSE = 0.5
DEFAULT_GRACE_SECONDS = 1200.0
_RENEWERS: set[asyncio.Task[None]] = set()  # the loop holds tasks weakly; this keeps renewers alive


class LeaseState(StrEnum):
    """Where a lease handle stands (``Lease.state``)."""

    HELD = "held"  # renewed within its period
    BORROWED = "borrowed"  # the pair cannot be reached: kept on borrowed time
    LOST = "lost"  # the server said it is gone, refused our secret, or the grace ran out
    RELEASED = "released"


class _Unreachable(Exception):
    """A renewal reply that says the pair is out of reach, not that the lease is refused."""


# Reply codes that say "nobody could decide", not "no": the lease may still be ours.
_TRANSIENT = frozenset({ErrorCode.TIMEOUT, ErrorCode.UNAVAILABLE, ErrorCode.NOT_WRITER})


class _Sender(Protocol):
    async def renew(
        self, leases: dict[str, str | None], *, timeout: float | None = None
    ) -> Reply: ...

    async def release(
        self,
        lease_id: str,
        reason: str | None = None,
        *,
        lease_secret: str | None = None,
        command_id: str | None = None,
        timeout: float | None = None,
    ) -> Reply: ...


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


class Lease:
    """Handle on seats held by a product. Use ``async with`` or call ``release()``."""

    def __init__(
        self,
        client: _Sender,
        reply: Reply,
        *,
        lease_seconds: int,
        renew_every: float | None = None,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
    ):
        result = reply.result or {}
        self.reply = reply
        self.lease_id: str = result["lease_id"]
        # The proof that we hold it (renew, release); never logged, never in repr.
        self.lease_secret: str | None = result.get("lease_secret")
        self.feature: str | None = result.get("feature")
        self.version: str | None = result.get("version")
        self.count: int | None = result.get("count")
        self.reservation_id: str | None = result.get("reservation_id")
        self.lease_seconds: int = int(result.get("lease_seconds") or lease_seconds)
        self.expires_at: datetime = _parse_time(result.get("expires_at")) or (
            datetime.now(UTC) + timedelta(seconds=self.lease_seconds)
        )
        self.renew_every: float = renew_every if renew_every is not None else self.lease_seconds / 3
        self.grace_seconds = float(grace_seconds)
        self.lost = False
        self.lost_reason: str | None = None
        self.released = False
        self.borrowed = False  # renewals fail because the pair is out of reach
        self.renewals = 0
        # Monotonic: the grace must not stretch or shrink when the wall clock is set.
        self._last_renewed = time.monotonic()
        self._client = client
        self._lost_event = asyncio.Event()
        self._release_lock = asyncio.Lock()
        self._release_id = new_command_id()  # one logical release, however often it is retried
        self._release_reply: Reply | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<Lease {self.lease_id} {self.feature} {self.version} x{self.count} {self.state}>"

    @property
    def held(self) -> bool:
        """Still ours: neither lost nor released (true on borrowed time too)."""
        return not (self.lost or self.released)

    @property
    def state(self) -> LeaseState:
        if self.lost:
            return LeaseState.LOST
        if self.released:
            return LeaseState.RELEASED
        return LeaseState.BORROWED if self.borrowed else LeaseState.HELD

    @property
    def borrowed_until(self) -> datetime:
        """When the grace ends if no renewal succeeds before: last success + grace."""
        left = self._last_renewed + self.grace_seconds - time.monotonic()
        return datetime.now(UTC) + timedelta(seconds=left)

    def remaining_grace(self) -> float:
        """Seconds of borrowed time left, counted from the last successful renewal."""
        return max(0.0, self._last_renewed + self.grace_seconds - time.monotonic())

    def start(self) -> None:
        if self._task is None and self.held:
            self._task = asyncio.create_task(self._renew_forever(), name=f"renew-{self.lease_id}")
            _RENEWERS.add(self._task)
            self._task.add_done_callback(_RENEWERS.discard)

    async def wait_lost(self) -> None:
        """Return when the lease is lost: the server said so, or the grace ran out."""
        await self._lost_event.wait()

    async def stop_renewing(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def release(
        self, reason: str | None = None, *, timeout: float | None = None
    ) -> Reply | None:
        """Give the seats back (idempotent). Returns the server's reply, None if the lease was
        lost."""
        async with self._release_lock:
            if self._release_reply is not None or self.lost:
                return self._release_reply
            await self.stop_renewing()
            reply = await self._client.release(
                self.lease_id,
                reason,
                lease_secret=self.lease_secret,
                command_id=self._release_id,
                timeout=timeout,
            )
            self._release_reply = reply
            self.released = True
            return reply

    async def __aenter__(self) -> Lease:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.release()
        except ClientError:
            if exc is None:
                raise
            log.warning(
                "could not release lease %s while handling %r", self.lease_id, exc, exc_info=True
            )

    async def _renew_forever(self) -> None:
        delay = self.renew_every
        while True:
            await asyncio.sleep(delay)
            delay = self.renew_every
            try:
                reply = await self._renew_or_break()
            except Exception as exc:  # a timeout, a broker outage: never let the renewer die
                if self._out_of_grace():
                    return
                self._borrow(exc)
                delay = min(RETRY_PAUSE, self.renew_every)
                continue
            why = self._refused(reply)
            if why is not None:
                self._lose(why)
                return
            if self.borrowed:
                log.warning("lease %s renewed again: held, no longer borrowed", self.lease_id)
            self.borrowed = False
            self.renewals += 1
            self._last_renewed = time.monotonic()
            self.expires_at = datetime.now(UTC) + timedelta(seconds=self.lease_seconds)

    async def _renew_or_break(self) -> Reply:
        try:
            return await self._renew()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # stop_renewing(): ours to end
            # When the broker goes silent, aiormq cancels its reader and the channel call in
            # flight ends *cancelled*: a broken connection, which must not end the renewer.
            raise ConnectionError("the broker connection broke during the renewal") from None

    async def _renew(self) -> Reply:
        # On borrowed time, wait no later than the grace's end (but a second at least, what a
        # round trip may need), so the loss is reported when the grace runs out.
        timeout = max(1.0, min(self.renew_every, self.remaining_grace()))
        reply = await self._client.renew({self.lease_id: self.lease_secret}, timeout=timeout)
        if not reply.ok and reply.error is not None and reply.error.code in _TRANSIENT:
            raise _Unreachable(f"{reply.error.code}: {reply.error.message}")
        return reply

    def _borrow(self, exc: Exception) -> None:
        if not self.borrowed:
            log.warning(
                "renewing lease %s failed (%s): on borrowed time for %.0f s",
                self.lease_id,
                exc,
                self.remaining_grace(),
            )
        self.borrowed = True

    def _out_of_grace(self) -> bool:
        if self.remaining_grace() > 0:
            return False
        self._lose(
            f"no renewal reached the license servers for {self.grace_seconds:g} s "
            "(the grace period)"
        )
        return True

    def _lose(self, why: str) -> None:
        log.warning("lease %s is lost: %s", self.lease_id, why)
        self.lost, self.lost_reason, self.borrowed = True, why, False
        self._lost_event.set()

    def _refused(self, reply: Reply) -> str | None:
        """Why the server's answer means the lease is no longer ours (None: renewed)."""
        if not reply.ok:
            error = reply.error
            if error is not None and error.code == ErrorCode.NOT_FOUND:
                return "the server no longer knows the lease (expired or released)"
            return f"the server refused to renew it ({error.code if error else 'no reason'})"
        result = reply.result or {}
        if self.lease_id in (result.get("gone") or []):
            return "the server says the lease is gone (expired or released)"
        if self.lease_id in (result.get("refused") or []):
            return "the server refused the lease secret"
        return None
