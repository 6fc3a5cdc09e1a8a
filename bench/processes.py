"""Every process the bench starts: license server nodes, the echo server, the bare stream reader.

Each is a separate OS process, remembered by pid and stopped by pid (SIGTERM, then
SIGKILL); ``kill()`` is the ``kill -9`` of the failover scenario. A bench-local copy
of tests/support/processes.py, so the bench does not depend on the test tree.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.config import AMQP_URL, PG_DSN, REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A child process with its output in a log file."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_dir / f"{name}.log"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0  # time.perf_counter() at spawn
        self.started_wall = 0.0  # time.time() at spawn

    def start(self, stdout: int | None = None) -> "Process":
        log = open(self.log_path, "ab")
        self.started_at, self.started_wall = time.perf_counter(), time.time()
        self.proc = subprocess.Popen(self.argv, cwd=REPO, env=self.env,
                                     stdout=stdout if stdout is not None else log, stderr=log)
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.running:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        """``kill -9`` by pid, and reap it."""
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        if not self.running:
            return
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class NodeProcess(Process):
    """``licensing server --node NAME --http-port PORT`` of one site."""

    def __init__(self, site: str, node: str, log_dir: Path, **env: str) -> None:
        self.site, self.node, self.port = site, node, free_port()
        super().__init__(
            f"{site}-{node}",
            [sys.executable, *(os.environ.get("BENCH_NODE_ENTRY", "-m services.cli.main").split()),
             "server", "--node", node, "--http-port", str(self.port)],
            log_dir,
            {"LICENSING_SITE": site, "LICENSING_AMQP_URL": AMQP_URL, "LICENSING_PG_DSN": PG_DSN, **env},
        )
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def get(self, path: str, timeout: float = 2.0) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
        async with self._session.get(self.url + path) as response:
            return await response.json()

    async def health(self) -> dict[str, Any] | None:
        try:
            return await self.get("/api/health")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError):
            return None

    async def wait_healthy(self, timeout: float = 60.0, interval: float = 0.05) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise RuntimeError(f"{self.node} exited; log {self.log_path}:\n{self.log_tail()}")
            h = await self.health()
            if h and h.get("healthy"):
                return h
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.node} not healthy after {timeout}s:\n{self.log_tail()}")
            await asyncio.sleep(interval)

    async def close_session(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def stop(self, timeout: float = 10.0) -> None:
        self.signal(signal.SIGCONT)
        super().stop(timeout)
