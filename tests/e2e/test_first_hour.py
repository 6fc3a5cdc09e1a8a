"""The first hour: ``licensing up`` in a directory, then a second shell with a clean
environment uses the pair from there (no export, no copied key), from elsewhere with
LICENSING_SECRETS, and ``licensing demo`` brings the License Manager to life.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.e2e.test_cli_up import children_of, running
from tests.support.processes import free_port
from tests.support.sites import AMQP_URL, PG_DSN, new_site_name, remove_site
from tests.support.waiting import wait_for

CLI = [sys.executable, "-m", "services.cli.main"]
FEATURE, VERSION = "InTouch Dev 60K Tags", "2017 (17.0)"  # the demo license's 50 seats
DEMO_KINDS = {"HMI", "HIST", "ENG"}  # the demo's devices are HMI-01, HIST-01, ENG-01, ...


def clean_env(**extra: str) -> dict[str, str]:
    """A new shell: no LICENSING_* variable but those given."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {**keep, "PYTHONUNBUFFERED": "1", **extra}


async def licensing(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(
        subprocess.run,
        [*CLI, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def get(url: str) -> dict:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
        async with session.get(url) as response:
            return await response.json()


async def test_a_second_shell_uses_the_pair_without_exports_and_the_demo_brings_it_alive(
    tmp_path,
):
    site, ports = new_site_name(), (free_port(), free_port())
    primary = f"http://127.0.0.1:{ports[0]}"
    here, elsewhere = tmp_path / "plant", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    up_out, up_err = (tmp_path / "up.out").open("w"), (tmp_path / "up.err").open("w")
    up = subprocess.Popen(
        [
            *CLI,
            "up",
            *("--primary-port", str(ports[0]), "--backup-port", str(ports[1])),
            *("--watchdog-metrics-port", str(free_port())),
        ],
        cwd=here,
        env=clean_env(LICENSING_SITE=site, LICENSING_AMQP_URL=AMQP_URL, LICENSING_PG_DSN=PG_DSN),
        stdout=up_out,
        stderr=up_err,
    )
    kids: dict[int, str] = {}
    try:

        async def told() -> str | None:
            if up.poll() is not None:
                raise RuntimeError(f"licensing up exited: {(tmp_path / 'up.err').read_text()}")
            text = (tmp_path / "up.err").read_text()
            return text if "From another terminal" in text else None

        told_text = await wait_for(told, 90, "licensing up telling how to use the pair")
        kids = children_of(up.pid)
        secrets = here / ".run" / "secrets.env"
        assert f"cd {here} && " in told_text and " status" in told_text, told_text
        assert f"acquire '{FEATURE}' '{VERSION}'" in told_text, told_text
        assert str(secrets) in told_text and "LICENSING_SECRETS" in told_text
        assert f"{primary}/ (primary)" in told_text and f":{ports[1]}/ (backup)" in told_text
        assert "sign in as admin" in told_text

        # The second shell, in the directory up ran in: no LICENSING_* variable at all.
        status = await licensing(here, clean_env(), "--json", "status")
        assert status.returncode == 0, status.stderr
        servers = json.loads(status.stdout)["servers"]
        assert servers["site"] == site, servers
        assert servers["pair"] == {"primary": "primary", "backup": "backup"}
        reserved = await licensing(here, clean_env(), "reserve", FEATURE, VERSION, "--device", "D1")
        assert reserved.returncode == 0 and reserved.stdout.startswith("R-"), reserved.stderr
        below = here / "docs" / "notes"  # and from below it, as git finds .git
        below.mkdir(parents=True)
        cancelled = await licensing(below, clean_env(), "unreserve", reserved.stdout.strip())
        assert cancelled.returncode == 0, cancelled.stderr

        # Elsewhere, LICENSING_SECRETS points at the site (site.env beside it says where).
        pointed = clean_env(LICENSING_SECRETS=str(secrets))
        status = await licensing(elsewhere, pointed, "--json", "status")
        assert status.returncode == 0 and json.loads(status.stdout)["servers"]["site"] == site
        reserved = await licensing(elsewhere, pointed, "reserve", FEATURE, VERSION, "--user", "u")
        assert reserved.returncode == 0, reserved.stderr
        cancelled = await licensing(elsewhere, pointed, "unreserve", reserved.stdout.strip())
        assert cancelled.returncode == 0, cancelled.stderr

        # Elsewhere without it, the site is reached but the key is not found: say where it lives.
        bare = clean_env(LICENSING_SITE=site, LICENSING_API_URL=primary)
        refused = await licensing(elsewhere, bare, "reserve", FEATURE, VERSION, "--device", "D2")
        assert refused.returncode == 1 and "unauthorized" in refused.stderr, refused.stderr
        for words in ("LICENSING_ADMIN_KEY", ".run/secrets.env", "LICENSING_SECRETS"):
            assert words in refused.stderr, refused.stderr
        before = await get(f"{primary}/api/history")

        # The demo has a product's rights only: run it where no admin key can be found.
        product = {**bare, "LICENSING_AMQP_URL": AMQP_URL, "LICENSING_SECRETS": ""}
        demo = subprocess.Popen(
            [*CLI, "demo", "--duration", "5", "--rate", "5", "--seed", "1", "--json"],
            cwd=elsewhere,
            env=product,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:

            async def leases() -> list | None:
                return (await get(f"{primary}/api/usage"))["usage"] or None

            held = await wait_for(leases, 10, "the demo's leases in Usage Details")
            assert {row["device"].split("-")[0] for row in held} <= DEMO_KINDS, held
            out, err = await asyncio.to_thread(demo.communicate, timeout=60)
        finally:
            if demo.poll() is None:
                demo.kill()
                demo.wait(10)
        assert demo.returncode == 0, err
        summary = json.loads(out)
        assert summary["acquired"] >= 1 and summary["denied"] >= 1, summary
        assert summary["released"] == summary["acquired"] and summary["errors"] == 0, summary
        assert "acquires" in err and "denials" in err  # the live line

        async def seats_came_and_went() -> list | None:
            history = (await get(f"{primary}/api/history"))["history"][len(before["history"]) :]
            assert any(row["in_use"] > 0 for row in history), history
            assert not (await get(f"{primary}/api/usage"))["usage"]  # every lease released
            return history

        await wait_for(seats_came_and_went, 15, "the demo's seats in the usage history")
        denials = (await get(f"{primary}/api/denials"))["denials"]
        assert any(
            d["reason"] == "no_seats" and d["device"].split("-")[0] in DEMO_KINDS for d in denials
        ), denials
    finally:
        up.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(up.wait, 30)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait(10)
        for pid in kids:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        up_out.close()
        up_err.close()
        await remove_site(site, ["primary", "backup"])
