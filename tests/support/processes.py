"""License server nodes and other ``licensing`` services of a test site, as OS processes.

A thin layer over services/adapters/processes.py (start, stop by pid, pause, kill -9,
logs) that adds the tests' defaults: the test broker and database, a free port, the log
in the test's folder, run from the repository. ``node`` names each process in the logs
that a failed test prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from services.adapters import processes
from services.adapters.processes import free_port
from tests.support.sites import PG_DSN, role_url
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]

__all__ = ["REPO", "NodeProcess", "ServiceProcess", "free_port"]


def site_env(site: str, env: dict[str, str], role: str = "node") -> dict[str, str]:
    """A process of the site, logged in as its role's broker user (``env`` may override)."""
    return {
        "LICENSING_SITE": site,
        "LICENSING_AMQP_URL": role_url(site, role),
        "LICENSING_PG_DSN": PG_DSN,
        **env,
    }


class ServiceProcess(processes.ChildProcess):
    """Any long-running ``licensing`` subcommand of a site (e.g. the watchdog), as ``role``."""

    def __init__(
        self, site, name: str, args: list[str], role: str = "watchdog", **env: str
    ) -> None:
        super().__init__(
            name,
            [*processes.CLI, *args],
            site.log_dir / f"{name}.log",
            site_env(site.name, env, role),
            cwd=REPO,
        )
        self.node = name


class NodeProcess(processes.NodeProcess):
    """``licensing server --node NAME --http-port PORT`` of a test site, on a free port."""

    def __init__(self, site: str, node: str, log_dir: Path, **env: str) -> None:
        super().__init__(node, free_port(), log_dir / f"{node}.log", site_env(site, env), cwd=REPO)

    async def wait_registered(self, timeout: float = 30.0) -> dict[str, Any]:
        """Healthy, and the log knows this node (it registers itself once caught up)."""

        async def registered() -> dict[str, Any] | None:
            # A node still loading its state answers 503 (no "servers") for anything but health,
            # and one busy catching up on a loaded machine may answer late: both are "not yet".
            try:
                servers = (await self.get("/api/servers")).get("servers", [])
            except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
                return None
            h = await self.health()
            if not h or not h.get("caught_up"):
                return None
            # /api/servers shows the in-memory state; the checkpoint is what Postgres holds,
            # a commit later: settled when they are at the same offset.
            known = any(
                s["node"] == self.node and s["server_id"] == h["server_id"] for s in servers
            )
            return h if known and h["offset"] == h["applied_offset"] else None

        return await wait_for(registered, timeout, f"{self.node} registered")
