"""The site's broker addresses: a comma separated list of AMQP URLs, and connecting to one.

``LICENSING_AMQP_URL`` may name every node of a broker cluster. aio-pika's robust
connection knows one URL and reconnects to that same address for ever (docs/cluster-notes.md),
so nothing here relies on it: ``BrokerList.connect`` tries the addresses in turn with
``aio_pika.connect``, starting after the last one that failed, and every component runs its
own reconnection loop around it. Each attempt has a deadline: a paused broker node accepts
the TCP connection and never answers the handshake, so it fails only by timeout.

The parsing and the rotation order are pure (``parse_broker_urls``, ``rotation``); the
connection and the TLS context are the I/O edge.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import aio_pika
import aiormq.exceptions
from aio_pika.abc import AbstractConnection
from yarl import URL

log = logging.getLogger(__name__)

SCHEMES = ("amqp", "amqps")
DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671}
# A live broker answers the handshake in milliseconds; a paused one never does.
CONNECT_ATTEMPT_TIMEOUT = 5.0
DEFAULT_HEARTBEAT = 2
# Refusals of our credentials: when every address refuses, trying again cannot help.
REFUSED = (aiormq.exceptions.AuthenticationError, aiormq.exceptions.ProbableAuthenticationError)


class BrokerSettings(Protocol):
    """What of ``services.config.Settings`` a broker list needs (config is a sibling layer)."""

    amqp_url: str
    heartbeat: int
    amqp_ca_file: str | None
    amqp_cert_file: str | None
    amqp_key_file: str | None


class BadBrokerUrl(ValueError):
    """``LICENSING_AMQP_URL`` holds something that is not a broker URL; says which entry."""


class NoBrokerReachable(ConnectionError):
    """No address of the list answered; the message says what each one did."""


@dataclass(frozen=True)
class BrokerAddress:
    """One broker URL of the list (user, password and vhost may differ per URL)."""

    url: str

    @property
    def parsed(self) -> URL:
        return URL(self.url)

    @property
    def tls(self) -> bool:
        return self.parsed.scheme == "amqps"

    @property
    def host_port(self) -> str:
        """``host:port`` as health shows it."""
        parsed = self.parsed
        return f"{parsed.host}:{parsed.port or DEFAULT_PORTS[parsed.scheme]}"

    @property
    def shown(self) -> str:
        """The URL without its password or query, for logs and errors."""
        return str(self.parsed.with_password(None).with_query(None))

    def with_heartbeat(self, seconds: int) -> str:
        """The URL with an AMQP heartbeat, unless the URL sets its own."""
        parsed = self.parsed
        if "heartbeat" in parsed.query:
            return self.url
        return str(parsed.update_query(heartbeat=seconds))


def parse_broker_urls(setting: str) -> tuple[BrokerAddress, ...]:
    """The addresses of a comma separated URL list, in order; ``BadBrokerUrl`` names the bad one."""
    entries = [entry.strip() for entry in setting.split(",")]
    if not any(entries):
        raise BadBrokerUrl("LICENSING_AMQP_URL is empty: give at least one amqp:// URL")
    addresses = []
    for number, entry in enumerate(entries, start=1):
        where = f"LICENSING_AMQP_URL entry {number}"
        if not entry:
            raise BadBrokerUrl(f"{where} is empty (a doubled or trailing comma?)")
        try:
            parsed = URL(entry)
        except (TypeError, ValueError) as exc:
            raise BadBrokerUrl(f"{where} is not a URL: {exc}") from None
        if parsed.scheme not in SCHEMES:
            raise BadBrokerUrl(f"{where} must start with amqp:// or amqps://")
        if not parsed.host:
            raise BadBrokerUrl(f"{where} names no host")
        addresses.append(BrokerAddress(entry))
    return tuple(addresses)


def rotation(count: int, start: int) -> list[int]:
    """The order to try ``count`` addresses in, beginning at ``start`` and wrapping around."""
    return [(start + step) % count for step in range(count)]


def tls_context(
    ca_file: str | None, cert_file: str | None = None, key_file: str | None = None
) -> ssl.SSLContext:
    """Verify the broker against ``ca_file`` (the system's CAs when unset) and its host name;
    present a client certificate when one is given."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


def _tls_failure(exc: BaseException) -> bool:
    # aiormq wraps the ssl module's error in an AMQPConnectionError that keeps its text.
    cause = exc.__cause__ or exc.__context__
    return isinstance(exc, ssl.SSLError) or isinstance(cause, ssl.SSLError) or "[SSL" in str(exc)


def closed_under_us(connection: AbstractConnection) -> bool:
    """True once the AMQP connection is closed, including the moment before aio-pika knows.

    aio-pika sets its own ``is_closed`` from a callback a few loop turns after aiormq's
    connection closed; meanwhile ``channel()`` raises aiormq's bare ``RuntimeError("... closed")``
    (tests/integration/test_connection_closed.py), which is a lost connection, not a bug.
    """
    if connection.is_closed:
        return True
    transport = getattr(connection, "transport", None)
    return transport is None or transport.connection.is_closed


class BrokerList:
    """Connects to one broker of the list; remembers where to begin the next time."""

    def __init__(
        self,
        addresses: Sequence[BrokerAddress],
        *,
        heartbeat: int,
        ssl_context: ssl.SSLContext | None = None,
        attempt_timeout: float = CONNECT_ATTEMPT_TIMEOUT,
    ) -> None:
        if not addresses:
            raise BadBrokerUrl("no broker address")
        self.addresses = tuple(addresses)
        self.heartbeat = heartbeat
        self.ssl_context = ssl_context
        self.attempt_timeout = attempt_timeout
        self.current: BrokerAddress | None = None
        self._start = 0

    @classmethod
    def from_settings(
        cls, settings: BrokerSettings, attempt_timeout: float = CONNECT_ATTEMPT_TIMEOUT
    ) -> BrokerList:
        addresses = parse_broker_urls(settings.amqp_url)
        context = None
        if any(address.tls for address in addresses):
            context = tls_context(
                settings.amqp_ca_file, settings.amqp_cert_file, settings.amqp_key_file
            )
        return cls(
            addresses,
            heartbeat=settings.heartbeat,
            ssl_context=context,
            attempt_timeout=attempt_timeout,
        )

    @property
    def shown(self) -> str:
        """Every address, without passwords."""
        return ",".join(address.shown for address in self.addresses)

    @property
    def reached(self) -> str | None:
        """``host:port`` of the broker node of the last connection, if any."""
        return self.current.host_port if self.current else None

    def lost(self) -> None:
        """The connection to ``current`` broke: the next ``connect`` begins after it."""
        if self.current is not None:
            self._start = (self.addresses.index(self.current) + 1) % len(self.addresses)
            self.current = None

    async def connect(self, connection_name: str | None = None) -> AbstractConnection:
        """A connection to the first address that answers in time, trying each once."""
        failures = []
        refusals: list[Exception] = []
        properties = {"connection_name": connection_name} if connection_name else None
        for index in rotation(len(self.addresses), self._start):
            address = self.addresses[index]
            try:
                connection = await aio_pika.connect(
                    address.with_heartbeat(self.heartbeat),
                    timeout=self.attempt_timeout,
                    ssl_context=self.ssl_context if address.tls else None,
                    client_properties=properties,
                )
            except REFUSED as exc:
                failures.append(f"{address.shown}: refused ({exc})")
                refusals.append(exc)
                self._start = (index + 1) % len(self.addresses)
                continue
            except (TimeoutError, OSError, aio_pika.exceptions.AMQPError, RuntimeError) as exc:
                text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if _tls_failure(exc):
                    # A certificate the CA does not vouch for: say so, not only "connect failed".
                    text = f"TLS refused ({exc})"
                failures.append(f"{address.shown}: {text}")
                self._start = (index + 1) % len(self.addresses)
                log.info("broker %s not reachable (%s)", address.shown, text)
                continue
            self._start = index
            self.current = address
            log.info("connected to broker %s", address.host_port)
            return connection
        if len(refusals) == len(self.addresses):
            raise refusals[-1]  # every node refused these credentials: a retry cannot help
        raise NoBrokerReachable("no broker reachable: " + "; ".join(failures))
