"""The ``licensing`` command as an administrator runs it: its own process, on the test broker."""

from __future__ import annotations

import asyncio
import os
import subprocess

from services.adapters.processes import CLI
from tests.support.processes import REPO
from tests.support.sites import AMQP_URL, PG_DSN


async def licensing(
    site, api_url: str, *args: str, columns: int = 120, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess:
    """``licensing --site SITE --actor admin ARGS``, its output captured as text.

    ``api_url`` is the node whose HTTP API it reads; ``columns`` is the width rich lays its
    output out in (the CLI's own is 200 when piped); ``env`` adds to its environment.
    """
    env = {
        **os.environ,
        "LICENSING_AMQP_URL": AMQP_URL,
        "LICENSING_PG_DSN": PG_DSN,
        "LICENSING_API_URL": api_url,
        "COLUMNS": str(columns),
        **env,
    }
    argv = [*CLI, "--site", site.name, "--actor", "admin", *args]
    return await asyncio.to_thread(
        subprocess.run, argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
