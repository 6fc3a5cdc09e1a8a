"""Child processes on this machine: started with their environment and a log file, stopped by pid.

The one process helper of ``licensing up``, the end-to-end tests and the bench. A child
is remembered by its pid and only that pid is ever signalled, so stopping one never
touches a process somebody else started. Stopping is SIGTERM, then SIGKILL after a grace
period; SIGCONT goes first, because a paused process cannot handle SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Self, TypeVar

import aiohttp

STOP_GRACE_SECONDS = 10.0
POLL_SECONDS = 0.05
CLI = (sys.executable, "-m", "services.cli.main")
T = TypeVar("T")


class NotYet(Exception):
    """Raised by a condition that does not hold yet; the words say why (shown on a timeout)."""


class WaitTimedOut(TimeoutError):
    """A condition did not hold before its deadline; ``last`` is the last reason it gave."""

    def __init__(self, message: str, last: BaseException | None) -> None:
        super().__init__(message)
        self.last = last


async def wait_until(
    check: Callable[[], Awaitable[T | None]],
    timeout: float,
    what: str,
    interval: float = POLL_SECONDS,
    *,
    not_yet: type[BaseException] | tuple[type[BaseException], ...] = NotYet,
    pause: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """``check()``'s first true result, asked every ``interval`` s, for ``timeout`` s at most.

    An exception of the ``not_yet`` kind from ``check`` means "not yet" and is reported if
    time runs out; any other goes to the caller at once. ``pause`` waits between checks
    (``licensing up`` wakes from it on Ctrl-C).
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            result = await check()
        except not_yet as exc:
            result, last = None, exc
        if result:
            return result
        if time.monotonic() > deadline:
            message = f"timed out after {timeout}s waiting for {what} (last: {last!r})"
            raise WaitTimedOut(message, last)
        await pause(interval)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the OS picks it): a node's HTTP port."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ChildProcess:
    """One command as a child process: its environment, its output appended to a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        *,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        # Unbuffered, so that the log is up to date when a failure shows its tail.
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0  # time.perf_counter() at spawn
        self.started_wall = 0.0  # time.time() at spawn

    def start(self, stdout: int | None = None, banner: str | None = None) -> Self:
        """Spawn it; stdout and stderr go to the log unless ``stdout`` says otherwise (PIPE).

        ``banner`` is written to the log first, to tell this run from the ones before it.
        """
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            if banner is not None:
                log.write(f"{banner}\n".encode())
                log.flush()
            self.started_at, self.started_wall = time.perf_counter(), time.time()
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log if stdout is None else stdout,
                stderr=log,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """None while it runs (or before it started); negative: the signal that ended it."""
        return None if self.proc is None else self.proc.poll()

    def exit_words(self) -> str:
        """How it ended: "exited with code 1", "was killed by SIGKILL"."""
        code = self.returncode
        if code is not None and code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"

    def signal(self, sig: int) -> None:
        """Send ``sig`` to its pid, if it still runs."""
        if self.running:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal(signal.SIGCONT)

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM), waking it first if it is paused."""
        self.resume()
        self.signal(signal.SIGTERM)

    def kill(self) -> None:
        """``kill -9`` by pid, and reap it."""
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM, SIGKILL if it still runs after ``grace`` s; returns once it is reaped."""
        if not self.running:
            return
        self.terminate()
        try:
            self.proc.wait(timeout=grace)  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            self.kill()

    async def exited(self) -> int | None:
        """Its exit code once it has exited, without blocking the event loop meanwhile."""
        while self.running:
            await asyncio.sleep(POLL_SECONDS)
        return self.returncode

    def log_tail(self, lines: int = 40, indent: str = "") -> str:
        """The last ``lines`` lines of its log, each after ``indent``; "" if there is no log."""
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\n".join(f"{indent}{line}" for line in tail)


async def stop_all(
    children: Sequence[ChildProcess],
    grace: float = STOP_GRACE_SECONDS,
    killing: Callable[[ChildProcess], object] = lambda child: None,
) -> list[ChildProcess]:
    """Stop the running children: SIGTERM in this order, SIGKILL after ``grace`` s.

    Returns those it stopped. The grace period is shared, so a whole set stops within
    ``grace`` s. ``killing`` hears of each child about to be killed.
    """
    alive = [child for child in children if child.running]
    for child in alive:
        child.terminate()
    deadline = time.monotonic() + grace
    while any(child.running for child in alive) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    for child in alive:
        if child.running:
            killing(child)
            child.signal(signal.SIGKILL)
    for child in alive:
        await child.exited()
    return alive


class NodeProcess(ChildProcess):
    """``licensing server --node NODE --http-port PORT``: a child whose HTTP API says how it is."""

    def __init__(
        self,
        node: str,
        port: int,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        *,
        cwd: Path | None = None,
        host: str = "127.0.0.1",
        entry: Sequence[str] = CLI,
        keep_session: bool = False,
    ) -> None:
        argv = [*entry, "server", "--node", node, "--http-port", str(port)]
        super().__init__(node, argv, log_path, env, cwd=cwd)
        self.node, self.port = node, port
        self.url = f"http://{host}:{port}"
        # One HTTP session for every request, for callers that ask often (the bench); they
        # close it with close_session(). Otherwise each request has a session of its own.
        self.keep_session = keep_session
        self._session: aiohttp.ClientSession | None = None

    async def get(self, path: str, timeout: float = 2.0) -> Any:
        """``path`` of its API as JSON, whatever the HTTP status (an unhealthy node answers 503)."""
        async with AsyncExitStack() as stack:
            if not self.keep_session:
                session = await stack.enter_async_context(aiohttp.ClientSession())
            else:
                if self._session is None or self._session.closed:
                    self._session = aiohttp.ClientSession()
                session = self._session
            request = session.get(self.url + path, timeout=aiohttp.ClientTimeout(total=timeout))
            async with request as response:
                return await response.json()

    async def close_session(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def health(self) -> dict[str, Any] | None:
        """Its ``/api/health``; None if it does not answer (yet, or any more)."""
        try:
            return await self.get("/api/health")
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
            return None

    async def wait_healthy(
        self, timeout: float = 30.0, interval: float = POLL_SECONDS
    ) -> dict[str, Any]:
        """Its ``/api/health`` once it says healthy; RuntimeError if it exits first."""

        async def healthy() -> dict[str, Any]:
            if self.returncode is not None:
                raise RuntimeError(f"{self.node} {self.exit_words()}; {self._log_words()}")
            health = await self.health()
            if health is None:
                raise NotYet("its API does not answer")
            if not health.get("healthy"):
                raise NotYet(f"status {health.get('status')}")
            return health

        try:
            return await wait_until(healthy, timeout, f"{self.node} healthy", interval)
        except WaitTimedOut as exc:
            raise WaitTimedOut(f"{exc}; {self._log_words()}", exc.last) from None

    def _log_words(self) -> str:
        return f"its log {self.log_path} ends with:\n{self.log_tail(30)}"
