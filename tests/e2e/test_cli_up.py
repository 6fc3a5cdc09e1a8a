"""``licensing up``: a paired primary and backup plus the watchdog as processes; Ctrl-C stops
them all.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.support.processes import REPO, free_port
from tests.support.sites import AMQP_URL, PG_DSN, new_site_name, remove_site
from tests.support.waiting import wait_for


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state, ppid, ...); None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def children_of(pid: int) -> dict[int, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and int(fields[1]) == pid:
            try:
                found[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
            except OSError:
                pass
    return found


def running(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def up_env(site: str) -> dict[str, str]:
    return {
        **os.environ,
        "LICENSING_SITE": site,
        "LICENSING_AMQP_URL": AMQP_URL,
        "LICENSING_PG_DSN": PG_DSN,
        "PYTHONUNBUFFERED": "1",
    }


async def test_up_runs_a_paired_pair_and_the_watchdog_and_ctrl_c_stops_every_child(tmp_path):
    site, ports, metrics_port = new_site_name(), (free_port(), free_port()), free_port()
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    argv = [
        sys.executable,
        "-m",
        "services.cli.main",
        "up",
        "--primary-port",
        str(ports[0]),
        "--backup-port",
        str(ports[1]),
        "--watchdog-metrics-port",
        str(metrics_port),
        "--log-dir",
        str(tmp_path / "logs"),
        "--json",
    ]
    up = subprocess.Popen(
        argv, cwd=REPO, env=up_env(site), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    kids: dict[int, str] = {}
    try:

        async def paired() -> dict | None:
            if up.poll() is not None:
                raise RuntimeError(f"licensing up exited with {up.returncode}: {up.communicate()}")
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
                try:
                    for url in urls:
                        async with session.get(url + "/api/health") as response:
                            if not (await response.json())["caught_up"]:
                                return None
                    async with session.get(urls[0] + "/api/servers") as response:
                        servers = await response.json()
                except (TimeoutError, aiohttp.ClientError, OSError):
                    return None
            return (
                servers if servers["pair"] == {"primary": "primary", "backup": "backup"} else None
            )

        servers = await wait_for(paired, 45, "both nodes up and paired", interval=0.2)
        assert [(s["node"], s["role"], s["api_url"]) for s in servers["servers"]] == [
            ("primary", "primary", urls[0]),
            ("backup", "backup", urls[1]),
        ]
        # A fresh machine: a demo vendor key, and a demo entitlement activated on the new pair.
        licensed = await wait_for(
            lambda: _demo_licensed(urls[0]), 30, "the demo license on the pair"
        )
        assert len(licensed) == 1 and licensed[0].startswith("DEMO-")
        assert json.loads((tmp_path / "demo-vendor.json").read_text())["demo"] is True
        kids = await wait_for(
            lambda: _three(children_of(up.pid)), 10, "three children of licensing up"
        )
        commands = sorted(cmd.split(" services.cli.main ", 1)[-1].strip() for cmd in kids.values())
        assert commands == [
            f"server --node backup --http-port {ports[1]}",
            f"server --node primary --http-port {ports[0]}",
            f"watchdog --metrics-port {metrics_port}",
        ], commands
        # Each child logs in as its role's broker user, never as guest.
        logins = sorted(
            (cmd.split(" services.cli.main ", 1)[-1].split()[0], _amqp_user(pid))
            for pid, cmd in kids.items()
        )
        assert logins == [
            ("server", f"licensing-{site}-node"),
            ("server", f"licensing-{site}-node"),
            ("watchdog", f"licensing-{site}-watchdog"),
        ]
        secrets = (tmp_path / "secrets.env").read_text()
        assert f"LICENSING_BROKER_PRODUCT_URL=amqp://licensing-{site}-product:" in secrets

        up.send_signal(signal.SIGINT)
        out, err = await asyncio.to_thread(up.communicate, timeout=30)
        assert up.returncode == 0, (out, err)
        assert not [pid for pid in kids if running(pid)], err
        summary = json.loads(out)
        assert {row["pid"] for row in summary["nodes"]} | {summary["watchdog"]["pid"]} == set(kids)
        assert [(row["node"], row["role"], row["license_manager"]) for row in summary["nodes"]] == [
            ("primary", "primary", urls[0] + "/"),
            ("backup", "backup", urls[1] + "/"),
        ]
        assert all(row["server_id"] for row in summary["nodes"])
        assert [row["metrics"] for row in summary["nodes"]] == [url + "/metrics" for url in urls]
        assert summary["watchdog"]["metrics"] == f"http://127.0.0.1:{metrics_port}/metrics"
        assert f"Metrics (Prometheus): {urls[0]}/metrics (primary)" in err, err
        assert f"http://127.0.0.1:{metrics_port}/metrics (watchdog" in err, err
        assert {p.name for p in (tmp_path / "logs").iterdir()} == {
            "primary.log",
            "backup.log",
            "watchdog.log",
        }
        assert "Stopped primary" in err and "Stopped backup" in err and "Stopped watchdog" in err
    finally:
        for pid in [up.pid, *kids]:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        if up.poll() is None:
            up.wait(10)
        await remove_site(site, ["primary", "backup"])


def _amqp_user(pid: int) -> str:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    url = next(v for v in environ if v.startswith(b"LICENSING_AMQP_URL=")).decode()
    return url.split("://", 1)[1].split(":", 1)[0]


async def _demo_licensed(url: str) -> list[str] | None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        async with session.get(url + "/api/servers") as response:
            servers = (await response.json())["servers"]
        async with session.get(url + "/api/health") as response:
            health = await response.json()
    # A first run signs everything: entitlements, the log and the node commands.
    signed_only = (
        health["entitlements"].startswith("vendor-signed")
        and health["stream"].startswith("signed")
        and health["node_commands"] == "signed"
    )
    held = [s["licenses"] for s in servers]
    return held[0] if signed_only and len(held) == 2 and held[0] and held[0] == held[1] else None


async def _three(kids: dict[int, str]) -> dict[int, str] | None:
    return kids if len(kids) == 3 else None


async def test_up_refuses_a_busy_port_and_two_nodes_of_one_name(tmp_path):
    site = new_site_name()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        base = [
            sys.executable,
            "-m",
            "services.cli.main",
            "up",
            "--log-dir",
            str(tmp_path),
            "--no-watchdog",
        ]
        taken = await asyncio.to_thread(
            subprocess.run,
            [*base, "--primary-port", str(port), "--backup-port", str(free_port())],
            cwd=REPO,
            env=up_env(site),
            capture_output=True,
            text=True,
            timeout=30,
        )
        with_watchdog = [arg for arg in base if arg != "--no-watchdog"]
        metrics_taken = await asyncio.to_thread(
            subprocess.run,
            [
                *with_watchdog,
                *("--primary-port", str(free_port()), "--backup-port", str(free_port())),
                *("--watchdog-metrics-port", str(port)),
            ],
            cwd=REPO,
            env=up_env(site),
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert (
        taken.returncode == 1
        and f"port {port}" in taken.stderr
        and "already in use" in taken.stderr
    )
    assert metrics_taken.returncode == 1, metrics_taken.stderr
    assert f"port {port} on 127.0.0.1 (for the watchdog's metrics)" in metrics_taken.stderr
    assert "--watchdog-metrics-port" in metrics_taken.stderr
    same = await asyncio.to_thread(
        subprocess.run,
        [*base, "--primary", "x", "--backup", "x"],
        cwd=REPO,
        env=up_env(site),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert same.returncode == 2 and "different names" in same.stderr
