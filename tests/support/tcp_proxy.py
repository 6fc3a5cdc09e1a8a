"""A TCP proxy in the test process for injecting network faults between a node and the broker.

Modeled on the proxy aio-pika's own tests use (aiomisc's ``TCPProxy``): it listens on
127.0.0.1, opens one upstream connection per accepted client and pumps bytes both
ways. The faults:

- ``cut()``: every open connection is reset on both sides at once (SO_LINGER 0, so
  the peers see a RST, not an orderly close). The proxy keeps accepting, so a node
  that reconnects gets through again, as after a flapping link.
- ``blackhole()``: a silent partition. Nothing is forwarded any more in either
  direction, but every socket stays open and no close is passed on; new connections
  are accepted and then hang. Peers only notice through their own heartbeats.
- ``heal()``: ends the partition. Bytes held during it are delivered (as TCP would
  retransmit them) and a close that happened meanwhile on one side now reaches the
  other, like the reset a host gets for a connection its peer dropped.

    async with TcpProxy(5672) as proxy:
        url = proxy.amqp_url()

With ``tls`` (a server ``ssl.SSLContext``) it terminates TLS: clients speak amqps:// to it,
and it forwards the plain bytes to the broker (tests/e2e/test_tls.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

CHUNK = 65536


def _reset(writer: asyncio.StreamWriter | None) -> None:
    """Close a socket so that the peer gets a RST."""
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Pipe:
    """One proxied connection: the accepted client side and its upstream side."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Task] = []
        self.closed = False

    def close(self, abrupt: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        for writer in (self.client, self.upstream):
            if writer is None:
                continue
            if abrupt:
                _reset(writer)
            else:
                writer.close()
        for task in self.tasks:
            if task is not asyncio.current_task():
                task.cancel()


class TcpProxy:
    def __init__(
        self,
        target_port: int = 5672,
        target_host: str = "127.0.0.1",
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.target_host, self.target_port, self.host = target_host, target_port, host
        self.tls = tls
        self.port: int | None = None
        self.connections_accepted = 0
        self._server: asyncio.AbstractServer | None = None
        self._pipes: set[_Pipe] = set()
        self._handlers: set[asyncio.Task] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, self.host, 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self._flowing.set()
        tasks = [task for pipe in self._pipes for task in pipe.tasks] + list(self._handlers)
        for pipe in list(self._pipes):
            pipe.close(abrupt=True)
        self._pipes.clear()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def amqp_url(self, user: str = "guest", password: str = "guest", vhost: str = "/") -> str:
        assert self.port is not None, "start the proxy first"
        return f"{self.scheme}://{user}:{password}@{self.host}:{self.port}{vhost}"

    @property
    def scheme(self) -> str:
        return "amqps" if self.tls else "amqp"

    def via(self, amqp_url: str) -> str:
        """``amqp_url`` (its user, password and vhost) through this proxy."""
        assert self.port is not None, "start the proxy first"
        parts = urlsplit(amqp_url)
        login = parts.netloc.rpartition("@")[0]
        netloc = f"{login}@{self.host}:{self.port}" if login else f"{self.host}:{self.port}"
        return urlunsplit((self.scheme, netloc, parts.path, parts.query, ""))

    @property
    def open_connections(self) -> int:
        return sum(1 for pipe in self._pipes if not pipe.closed)

    @property
    def partitioned(self) -> bool:
        return not self._flowing.is_set()

    # ---- faults ----------------------------------------------------------------------

    def cut(self) -> int:
        """Reset every open connection on both sides; returns how many were cut."""
        pipes, self._pipes = list(self._pipes), set()
        for pipe in pipes:
            pipe.close(abrupt=True)
        log.info("proxy :%s cut %d connection(s)", self.port, len(pipes))
        return len(pipes)

    def blackhole(self) -> None:
        """Stop forwarding anything, silently, keeping every socket open."""
        self._flowing.clear()
        log.info("proxy :%s blackholed", self.port)

    def heal(self) -> None:
        self._flowing.set()
        log.info("proxy :%s healed", self.port)

    # ---- forwarding ------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_accepted += 1
        pipe = _Pipe(writer)
        self._pipes.add(pipe)
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            await self._flowing.wait()  # during a partition the handshake never gets through
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
            if pipe.closed:  # cut while we were connecting
                _reset(up_writer)
                return
            pipe.upstream = up_writer
            pipe.tasks += [
                asyncio.create_task(self._pump(reader, up_writer, pipe)),
                asyncio.create_task(self._pump(up_reader, writer, pipe)),
            ]
            await asyncio.gather(*pipe.tasks, return_exceptions=True)
        except (OSError, asyncio.CancelledError):
            pipe.close(abrupt=True)
        finally:
            pipe.close()
            self._pipes.discard(pipe)
            self._handlers.discard(handler)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pipe: _Pipe
    ) -> None:
        """Copy one direction; an EOF closes both sides in order, an error resets them."""
        try:
            while not pipe.closed:
                await self._flowing.wait()
                data = await reader.read(CHUNK)
                # Bytes (or an EOF) read just as a partition began are held, not lost.
                await self._flowing.wait()
                if not data or pipe.closed:
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, ConnectionError):
            pipe.close(abrupt=True)
        finally:
            pipe.close()
