"""License server nodes as separate OS processes, stopped by pid."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.sites import AMQP_URL, PG_DSN
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChildProcess:
    """One ``licensing`` subcommand of a site as its own OS process, logged to a file, stopped by pid."""

    def __init__(self, site: str, name: str, args: list[str], log_dir: Path, **env: str) -> None:
        self.site, self.node, self.args = site, name, args
        self.log_path = log_dir / f"{name}.log"
        self.env = {**os.environ, "LICENSING_SITE": site, "LICENSING_AMQP_URL": AMQP_URL,
                    "LICENSING_PG_DSN": PG_DSN, "PYTHONUNBUFFERED": "1", **env}
        self.proc: subprocess.Popen | None = None

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "services.cli.main", *self.args],
                                     cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class ServiceProcess(ChildProcess):
    """Any long-running ``licensing`` subcommand of a site (e.g. the watchdog)."""

    def __init__(self, site, name: str, args: list[str], **env: str) -> None:
        super().__init__(site.name, name, args, site.log_dir, **env)


class NodeProcess(ChildProcess):
    """``licensing server --node NAME --http-port PORT`` in its own process."""

    def __init__(self, site: str, node: str, log_dir: Path, **env: str) -> None:
        self.port = free_port()
        super().__init__(site, node, ["server", "--node", node, "--http-port", str(self.port)], log_dir, **env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def get(self, path: str, timeout: float = 2.0) -> Any:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.get(self.url + path) as response:
                return await response.json()

    async def health(self) -> dict[str, Any] | None:
        try:
            return await self.get("/api/health")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return None

    async def wait_healthy(self, timeout: float = 30.0) -> dict[str, Any]:
        async def ready() -> dict[str, Any] | None:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.node} exited with {self.proc.returncode}; see {self.log_path}")
            h = await self.health()
            return h if h and h.get("healthy") else None

        return await wait_for(ready, timeout, f"{self.node} healthy")

    async def wait_registered(self, timeout: float = 30.0) -> dict[str, Any]:
        """Healthy, and the log knows this node (it registers itself once caught up)."""
        async def registered() -> dict[str, Any] | None:
            servers = (await self.get("/api/servers"))["servers"] if await self.health() else []
            h = await self.health()
            if not h or not h.get("caught_up"):
                return None
            # /api/servers shows the in-memory state; the checkpoint is what Postgres holds,
            # a commit later: settled when they are at the same offset.
            known = any(s["node"] == self.node and s["server_id"] == h["server_id"] for s in servers)
            return h if known and h["offset"] == h["applied_offset"] else None

        return await wait_for(registered, timeout, f"{self.node} registered")
