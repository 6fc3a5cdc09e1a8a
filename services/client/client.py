"""``LicenseClient``: what a product or the CLI uses to talk to a site's license server pair.

    async with LicenseClient(settings) as client:
        async with client.acquire("InTouch", "2017", device="HMI-1", user="op") as lease:
            ...                      # renewed in the background, released on exit
        lease.state                  # held; borrowed while the pair is out of reach; lost

Commands go to the site's commands queue; whichever node is the writer answers.
A writer failover is invisible: commands wait in the queue, and the client
resends (same command id) until the overall deadline.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Generator, Iterable
from types import TracebackType
from typing import Any

from events.base import Command
from events.commands import (
    Acquire,
    ActivateLicense,
    CancelReservation,
    DeactivateLicense,
    FeatureGrant,
    HeldLease,
    Release,
    RenewLeases,
    Reserve,
)
from events.limits import DEFAULT_LEASE_SECONDS
from events.replies import Reply
from services.adapters.brokers import BrokerList
from services.adapters.topology import Topology
from services.client.broker import Broker
from services.client.errors import LicenseDenied, ProtocolError
from services.client.lease import Lease
from services.client.rpc import Rpc
from services.config.settings import Settings

DEFAULT_ATTEMPT_TIMEOUT = 3.0
DEFAULT_TIMEOUT = 30.0


class LicenseClient:
    """An async client of one site. Safe to share between many concurrent tasks."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        attempt_timeout: float = DEFAULT_ATTEMPT_TIMEOUT,
        timeout: float = DEFAULT_TIMEOUT,
        actor: str | None = None,
    ) -> None:
        if attempt_timeout <= 0 or timeout <= 0:
            raise ValueError("timeouts must be positive")
        self.settings = settings or Settings()
        self.topology = Topology(self.settings.site, self.settings.replicas)
        self.actor = actor
        self._rpc = Rpc(
            self.topology.commands,
            attempt_timeout=attempt_timeout,
            timeout=timeout,
            admin_key=self.settings.admin_key_value(),
            node_key=next(iter(self.settings.node_key_secrets()), None),
        )
        self._broker = Broker(
            BrokerList.from_settings(self.settings), self.topology, self._rpc.on_reply
        )
        self._rpc.broker = (
            self._broker
        )  # connects lazily on the first send if open() was not called
        self._leases: weakref.WeakSet[Lease] = weakref.WeakSet()

    @property
    def timeout(self) -> float:
        return self._rpc.timeout

    @property
    def broker_url(self) -> str:
        """The broker URLs, without their passwords."""
        return self._broker.url

    @property
    def broker(self) -> str | None:
        """``host:port`` of the broker node the client last connected to."""
        return self._broker.reached

    # -- lifecycle ---------------------------------------------------------------------

    @classmethod
    async def connect(cls, settings: Settings | None = None, **options: Any) -> LicenseClient:
        """A connected client; ``BrokerUnavailable`` if the broker is not reachable in time."""
        client = cls(settings, **options)
        await client.open()
        return client

    async def open(self, timeout: float | None = None) -> None:
        """Connect now (``send`` would connect on first use); ``BrokerUnavailable`` if not in
        time."""
        loop = asyncio.get_running_loop()
        await self._broker.link(loop.time() + (self.timeout if timeout is None else timeout))

    async def close(self) -> None:
        """Stop renewing leases (they are not released: they expire) and disconnect."""
        for lease in list(self._leases):
            await lease.stop_renewing()
        self._rpc.broker = None
        self._rpc.fail_all("the client was closed")
        await self._broker.close()

    async def __aenter__(self) -> LicenseClient:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the one primitive -------------------------------------------------------------

    async def send(
        self,
        command: Command,
        *,
        command_id: str | None = None,
        timeout: float | None = None,
        actor: str | None = None,
    ) -> Reply:
        """Send a command and return the writer's reply (ok or not).

        Raises ``CommandTimeout`` if nobody answers before ``timeout`` (default: the
        client's), ``BrokerUnavailable`` if the broker cannot be reached in that time.
        Pass the same ``command_id`` to repeat a logical command (the server then
        returns the first result).
        """
        return await self._rpc.call(
            command,
            command_id=command_id,
            timeout=timeout,
            actor=actor if actor is not None else self.actor,
        )

    # -- administration ----------------------------------------------------------------

    async def activate(
        self, license_id: str, features: Iterable[FeatureGrant | dict[str, Any]], **send: Any
    ) -> Reply:
        grants = [
            f if isinstance(f, FeatureGrant) else FeatureGrant.model_validate(f) for f in features
        ]
        return await self.send(ActivateLicense(license_id=license_id, features=grants), **send)

    async def deactivate(self, license_id: str, **send: Any) -> Reply:
        return await self.send(DeactivateLicense(license_id=license_id), **send)

    async def reserve(
        self,
        feature: str,
        version: str,
        count: int = 1,
        device: str | None = None,
        user: str | None = None,
        **send: Any,
    ) -> Reply:
        command = Reserve(feature=feature, version=version, count=count, device=device, user=user)
        return await self.send(command, **send)

    async def unreserve(self, reservation_id: str, **send: Any) -> Reply:
        return await self.send(CancelReservation(reservation_id=reservation_id), **send)

    # -- leases ------------------------------------------------------------------------

    async def release(
        self,
        lease_id: str,
        reason: str | None = None,
        *,
        lease_secret: str | None = None,
        **send: Any,
    ) -> Reply:
        """Give a lease back: its holder with ``lease_secret`` (from the grant's reply), an
        administrator with a ``reason`` (a force-release, signed with the admin key)."""
        command = Release(lease_id=lease_id, reason=reason, lease_secret=lease_secret)
        return await self.send(command, **send)

    async def renew(self, leases: dict[str, str | None], **send: Any) -> Reply:
        """Renew leases, each ``{lease_id: lease_secret}``."""
        held = [HeldLease(lease_id=i, lease_secret=s) for i, s in leases.items()]
        return await self.send(RenewLeases(leases=held), **send)

    def acquire(
        self,
        feature: str,
        version: str,
        device: str,
        user: str,
        count: int = 1,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        *,
        renew_every: float | None = None,
        **send: Any,
    ) -> _Acquiring:
        """Take seats. ``await client.acquire(...)`` gives a renewing ``Lease``;
        ``async with client.acquire(...) as lease`` also releases it on exit.
        Raises ``LicenseDenied`` (``.code``, ``.reason``, ``.message``) on a refusal."""
        command = Acquire(
            feature=feature,
            version=version,
            device=device,
            user=user,
            count=count,
            lease_seconds=lease_seconds,
        )

        async def take() -> Lease:
            reply = await self.send(command, **send)
            if not reply.ok:
                raise LicenseDenied(reply)
            if not (reply.result or {}).get("lease_id"):
                raise ProtocolError(f"an acquire was granted without a lease id: {reply.result}")
            lease = Lease(
                self,
                reply,
                lease_seconds=lease_seconds,
                renew_every=renew_every,
                grace_seconds=self.settings.grace_seconds,
            )
            self._leases.add(lease)
            lease.start()
            return lease

        return _Acquiring(take)


class _Acquiring:
    """What ``acquire`` returns: awaitable (a Lease) and an async context manager."""

    def __init__(self, take: Callable[[], Awaitable[Lease]]) -> None:
        self._take = take
        self._lease: Lease | None = None

    def __await__(self) -> Generator[Any, None, Lease]:
        return self._take().__await__()

    async def __aenter__(self) -> Lease:
        self._lease = await self._take()
        return await self._lease.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._lease is not None
        await self._lease.__aexit__(exc_type, exc, tb)
