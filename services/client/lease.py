"""A granted lease: renewed in the background until it is released or lost.

Renewals are sent every ``lease_seconds / 3``. A renewal that times out is retried
soon after (a failover of the writer takes seconds, a lease lasts a minute); a
renewal whose reply says the lease is gone marks the lease ``lost`` and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Protocol

from events.replies import ErrorCode, Reply
from services.client.errors import ClientError
from services.client.rpc import new_command_id

log = logging.getLogger(__name__)

RETRY_PAUSE = 0.5
_RENEWERS: set[asyncio.Task[None]] = set()  # the loop holds tasks weakly; this keeps renewers alive


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
        self, client: _Sender, reply: Reply, *, lease_seconds: int, renew_every: float | None = None
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
        self.lost = False
        self.released = False
        self.renewals = 0
        self._client = client
        self._lost_event = asyncio.Event()
        self._release_lock = asyncio.Lock()
        self._release_id = new_command_id()  # one logical release, however often it is retried
        self._release_reply: Reply | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        state = "lost" if self.lost else "released" if self.released else "held"
        return f"<Lease {self.lease_id} {self.feature} {self.version} x{self.count} {state}>"

    @property
    def held(self) -> bool:
        return not (self.lost or self.released)

    def start(self) -> None:
        if self._task is None and self.held:
            self._task = asyncio.create_task(self._renew_forever(), name=f"renew-{self.lease_id}")
            _RENEWERS.add(self._task)
            self._task.add_done_callback(_RENEWERS.discard)

    async def wait_lost(self) -> None:
        """Return when the server said the lease is gone."""
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
                reply = await self._client.renew(
                    {self.lease_id: self.lease_secret}, timeout=max(self.renew_every, 1.0)
                )
            except Exception as exc:  # a timeout, a broker outage: never let the renewer die
                log.warning("renewing lease %s failed: %s; retrying", self.lease_id, exc)
                delay = min(RETRY_PAUSE, self.renew_every)
                continue
            if self._gone(reply):
                log.warning("lease %s is gone on the server", self.lease_id)
                self.lost = True
                self._lost_event.set()
                return
            if not reply.ok:
                log.warning("renewing lease %s refused: %s", self.lease_id, reply.error)
                delay = min(RETRY_PAUSE, self.renew_every)
                continue
            self.renewals += 1
            self.expires_at = datetime.now(UTC) + timedelta(seconds=self.lease_seconds)

    def _gone(self, reply: Reply) -> bool:
        if not reply.ok:
            return reply.error is not None and reply.error.code == ErrorCode.NOT_FOUND
        return self.lease_id in ((reply.result or {}).get("gone") or [])
