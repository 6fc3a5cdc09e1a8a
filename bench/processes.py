"""Every process the bench starts: license server nodes, the echo server, the bare stream reader.

Each is a child of services/adapters/processes.py (the helper ``licensing up`` and the
tests use too), remembered by pid and stopped by pid (SIGTERM, then SIGKILL); ``kill()``
is the ``kill -9`` of the failover scenario. What is the bench's own: run from the
repository, logs named after the site, and one HTTP session per node, as the bench polls
the nodes' health often.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from bench.config import AMQP_URL, PG_DSN, REPO
from services.adapters import processes
from services.adapters.processes import free_port


class Process(processes.ChildProcess):
    """A child process of the bench with its output in ``LOG_DIR/NAME.log``."""

    def __init__(
        self, name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None
    ) -> None:
        super().__init__(name, argv, log_dir / f"{name}.log", env, cwd=REPO)


class NodeProcess(processes.NodeProcess):
    """``licensing server --node NAME --http-port PORT`` of one site."""

    def __init__(self, site: str, node: str, log_dir: Path, **env: str) -> None:
        # BENCH_NODE_ENTRY: another entry point, for experiments (bench/README.md, Profiling).
        entry = [
            sys.executable,
            *os.environ.get("BENCH_NODE_ENTRY", "-m services.cli.main").split(),
        ]
        site_env = {
            "LICENSING_SITE": site,
            "LICENSING_AMQP_URL": AMQP_URL,
            "LICENSING_PG_DSN": PG_DSN,
        }
        super().__init__(
            node,
            free_port(),
            log_dir / f"{site}-{node}.log",
            {**site_env, **env},
            cwd=REPO,
            entry=entry,
            keep_session=True,
        )
        self.site = site

    async def wait_healthy(
        self, timeout: float = 60.0, interval: float = processes.POLL_SECONDS
    ) -> dict[str, Any]:
        return await super().wait_healthy(timeout, interval)
