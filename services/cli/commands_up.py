"""``up``: a primary, a backup and the watchdog on this machine, as separate processes.

What ``make up`` runs. The primary starts first and must be caught up and
registered before the backup starts; then the two are paired if the site has no
pair yet (a refusal is printed in the administrator's words and the nodes keep
running unpaired). The watchdog serves /metrics on a port of its own (9108 unless
told), as each node does beside its API, so a first run can be scraped at once.
Ctrl-C or SIGTERM stops every child by pid: SIGTERM, then SIGKILL after 10 s. A
child that dies with a non-zero exit code stops the rest (exit 1); a node that
exits 0 was stopped by an order (``licensing stop``, the seed's Stop button) and
the others keep running.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import click
from rich.table import Table
from rich.text import Text

from events.commands import PairServers
from services.adapters.broker_admin import BrokerAdminError
from services.adapters.processes import (
    CLI,
    STOP_GRACE_SECONDS,
    ChildProcess,
    NodeProcess,
    NotYet,
    WaitTimedOut,
    stop_all,
    wait_until,
)
from services.cli import first_run, second_terminal
from services.cli.api import ApiUnavailable, get_json
from services.cli.commands_site import ensure_set_up
from services.cli.context import CliContext, json_option, pass_cli
from services.cli.following import read_health
from services.cli.local_secrets import ensure_local_secrets
from services.cli.output import console, emit_json, note
from services.cli.parsing import node_name
from services.client import ClientError, LicenseClient
from services.config.settings import Settings

POLL_SECONDS = 0.2
WATCHDOG_METRICS_PORT = 9108  # Prometheus' conventional range for exporters
T = TypeVar("T")


class Abort(Exception):
    """``up`` cannot go on: the message says why (exit 1)."""


class Interrupted(Exception):
    """SIGINT/SIGTERM during start-up (exit 0)."""


def _log_ending(child: ChildProcess) -> str:
    """ "log PATH ends with:" and its last lines, for a message about the child."""
    return f"log {child.log_path} ends with:\n{child.log_tail(12, indent='    ')}"


def _shown_host(settings: Settings) -> str:
    return "127.0.0.1" if settings.http_host in ("0.0.0.0", "::") else settings.http_host


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the node's server does
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def _unless_stopped(work: Awaitable[T], stop: asyncio.Event) -> T:
    """``work``, unless SIGINT/SIGTERM comes first (then it is cancelled: Interrupted)."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise Interrupted()
    return task.result()


def _check_children(children: list[ChildProcess]) -> None:
    """Abort if a child has exited while starting up."""
    for child in children:
        if child.returncode is not None:
            raise Abort(
                f"{child.name} (pid {child.pid}) {child.exit_words()} while starting; "
                f"its {_log_ending(child)}"
            )


async def _wait_ready(
    session: aiohttp.ClientSession,
    node: NodeProcess,
    children: list[ChildProcess],
    stop: asyncio.Event,
    timeout: float,
) -> dict[str, Any]:
    """Until the node is caught up and ``/api/servers`` lists it under its id; that answer."""

    async def ready() -> dict[str, Any]:
        if stop.is_set():
            raise Interrupted()
        _check_children(children)
        health = await read_health(session, node.url)
        if health is None:
            raise NotYet("its API does not answer yet")
        if not (health.healthy and health.caught_up):
            raise NotYet(f"status {health.status}, caught up: {health.caught_up}")
        try:
            servers = await get_json(session, node.url, "/api/servers")
        except ApiUnavailable as exc:
            raise NotYet(str(exc)) from None
        if isinstance(servers, dict) and any(
            s.get("node") == node.name and s.get("server_id") == health.server_id
            for s in servers.get("servers") or []
        ):
            return servers
        raise NotYet("caught up, not registered in the log yet")

    try:
        return await wait_until(
            ready,
            timeout,
            f"{node.name} ready",
            POLL_SECONDS,
            pause=lambda seconds: _pause(stop, seconds),
        )
    except WaitTimedOut as exc:
        raise Abort(
            f"{node.name} did not become healthy and registered within {timeout:g} s "
            f"({exc.last}); its {_log_ending(node)}"
        ) from None


async def _pair(ctx: CliContext, settings: Settings, primary: str, backup: str) -> bool:
    actor = ctx.actor or "licensing-up"
    try:
        async with LicenseClient(
            settings, timeout=ctx.timeout, attempt_timeout=ctx.attempt_timeout, actor=actor
        ) as client:
            reply = await client.send(PairServers(primary=primary, backup=backup))
    except ClientError as exc:
        note(f"Not paired: {exc.message}")
        return False
    if reply.ok:
        note(f"Paired: {primary} is the primary, {backup} the backup.")
        return True
    note(f"Not paired: {reply.error.message if reply.error else 'refused'}")
    note(
        "The nodes keep running unpaired; fix the cause, then run 'licensing pair "
        f"{primary} {backup}'."
    )
    return False


async def _servers_with_pair(
    session: aiohttp.ClientSession, url: str, stop: asyncio.Event, seconds: float = 5.0
) -> dict[str, Any] | None:
    """``/api/servers`` once it shows a pair (or the last answer after ``seconds``)."""
    deadline = time.monotonic() + seconds
    servers = None
    while True:
        try:
            servers = await get_json(session, url, "/api/servers")
        except ApiUnavailable:
            pass
        if (
            (isinstance(servers, dict) and servers.get("pair"))
            or time.monotonic() > deadline
            or stop.is_set()
        ):
            return servers if isinstance(servers, dict) else None
        await _pause(stop, POLL_SECONDS)


def _metrics_url(host: str, port: int) -> str:
    return f"http://{host}:{port}/metrics"


def _summary(
    settings: Settings,
    servers: dict[str, Any] | None,
    nodes: list[NodeProcess],
    watchdog: ChildProcess | None,
    watchdog_metrics: str | None,
    log_dir: Path,
) -> dict[str, Any]:
    entries = {s.get("node"): s for s in (servers or {}).get("servers") or []}
    rows = []
    for child in nodes:
        entry = entries.get(child.name, {})
        url = (entry.get("api_url") or child.url).rstrip("/")
        rows.append(
            {
                "node": child.name,
                "role": entry.get("role"),
                "server_id": entry.get("server_id"),
                "license_manager": f"{url}/",
                "health": f"{url}/api/health",
                "metrics": f"{url}/metrics",
                "pid": child.pid,
                "log": str(child.log_path),
            }
        )
    return {
        "ok": True,
        "site": settings.site,
        "pair": (servers or {}).get("pair"),
        "nodes": rows,
        "watchdog": (
            {"pid": watchdog.pid, "log": str(watchdog.log_path), "metrics": watchdog_metrics}
            if watchdog
            else None
        ),
        "logs": str(log_dir),
    }


def _table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"Site {summary['site']}")
    columns = {
        "node": "Node",
        "role": "Role",
        "server_id": "License Server ID",
        "license_manager": "License Manager",
        "health": "Health",
        "metrics": "Metrics",
        "pid": "PID",
    }
    for column in columns.values():
        table.add_column(column)
    watchdog = summary["watchdog"]
    rows = [*summary["nodes"], *([{**watchdog, "node": "watchdog"}] if watchdog else [])]
    for row in rows:
        table.add_row(
            *(Text(str(row.get(key) if row.get(key) is not None else "")) for key in columns)
        )
    return table


async def _supervise(children: list[ChildProcess], stop: asyncio.Event) -> int:
    reported: set[int] = set()  # pids whose exit has been told
    while not stop.is_set():
        for child in children:
            if child.returncode is None or child.pid in reported:
                continue
            await _pause(stop, 0.3)  # a Ctrl-C reaches the whole process group: let ours land first
            if stop.is_set():
                return 0
            reported.add(child.pid)
            if child.returncode == 0:
                note(
                    f"{child.name} (pid {child.pid}) stopped with exit code 0 (by an order such as "
                    f"'licensing stop {child.name}'); the others keep running."
                )
                continue
            note(
                f"{child.name} (pid {child.pid}) {child.exit_words()} unexpectedly; "
                f"stopping the others. Its {_log_ending(child)}"
            )
            return 1
        if all(not child.running for child in children):
            note("Every process has stopped.")
            return 0
        await _pause(stop, 0.5)
    return 0


async def _shutdown(children: list[ChildProcess]) -> None:
    """SIGTERM every running child (watchdog first, primary last), SIGKILL after the grace
    period."""

    def killing(child: ChildProcess) -> None:
        note(
            f"{child.name} (pid {child.pid}) did not stop within {STOP_GRACE_SECONDS:g} s: "
            f"killing it."
        )

    for child in await stop_all(list(reversed(children)), STOP_GRACE_SECONDS, killing):
        note(f"Stopped {child.name} (pid {child.pid}; it {child.exit_words()}).")


def _banner(child: ChildProcess) -> str:
    """The line each run starts its log with: the log is appended to, run after run."""
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    return f"==== licensing up: {' '.join(child.argv[1:])} at {stamp} ===="


async def _up(
    ctx: CliContext,
    settings: Settings,
    names: tuple[str, str],
    ports: tuple[int, int],
    with_watchdog: bool,
    watchdog_metrics_port: int,
    log_dir: Path,
    start_timeout: float,
    broker_urls: dict[str, str],
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Each process with its role's broker user; this command itself sends as a product does.
    env = {"LICENSING_SITE": settings.site, "LICENSING_AMQP_URL": broker_urls["node"]}
    watchdog_env = {**env, "LICENSING_AMQP_URL": broker_urls["watchdog"]}
    settings = settings.model_copy(update={"amqp_url": broker_urls["product"]})
    host = _shown_host(settings)
    nodes = [
        NodeProcess(name, port, log_dir / f"{name}.log", env, host=host)
        for name, port in zip(names, ports, strict=True)
    ]
    children: list[ChildProcess] = []
    watchdog: ChildProcess | None = None
    watchdog_metrics = _metrics_url(host, watchdog_metrics_port) if watchdog_metrics_port else None
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2.0)) as session:
            servers: dict[str, Any] | None = None
            for role, child in zip(("primary", "backup"), nodes, strict=True):
                note(f"Starting {child.name} ({role}) on {child.url} — log {child.log_path}")
                children.append(child.start(banner=_banner(child)))
                servers = await _wait_ready(session, child, children, stop, start_timeout)
                note(f"{child.name} is up (pid {child.pid}).")
            if with_watchdog:
                metrics = ["--metrics-port", str(watchdog_metrics_port)] if watchdog_metrics else []
                watchdog = ChildProcess(
                    "watchdog", [*CLI, "watchdog", *metrics], log_dir / "watchdog.log", watchdog_env
                )
                serving = f"metrics on {watchdog_metrics} — " if watchdog_metrics else ""
                note(f"Starting the watchdog — {serving}log {watchdog.log_path}")
                children.append(watchdog.start(banner=_banner(watchdog)))
            assert servers is not None
            pair = servers.get("pair")
            if pair is None:
                if await _unless_stopped(_pair(ctx, settings, *names), stop):
                    demo_license = first_run.activate_demo(
                        settings, nodes[0].url or "", log_dir.parent
                    )
                    await _unless_stopped(demo_license, stop)
            elif (pair.get("primary"), pair.get("backup")) != names:
                note(
                    f"The site is already paired: {pair.get('primary')} (primary) and "
                    f"{pair.get('backup')} (backup); not pairing {names[0]} and {names[1]}."
                )
            _check_children(children)
            servers = await _servers_with_pair(session, nodes[0].url, stop)
        summary = _summary(settings, servers, nodes, watchdog, watchdog_metrics, log_dir)
        if ctx.json:
            emit_json(summary)
        else:
            console().print(_table(summary))
        await second_terminal.announce(settings, log_dir.parent, summary)
        scraped = [f"{row['metrics']} ({row['node']})" for row in summary["nodes"]]
        if watchdog_metrics and watchdog:
            scraped.append(f"{watchdog_metrics} (watchdog: the pair's status)")
        note(f"Metrics (Prometheus): {', '.join(scraped)}")
        note(f"Logs: {log_dir}/. Press Ctrl-C to stop every process.")
        return await _supervise(children, stop)
    except Interrupted:
        return 0
    except Abort as exc:
        note(f"licensing up: {exc}")
        return 1
    finally:
        await _shutdown(children)


port_type = click.IntRange(1, 65535)


@click.command()
@click.option(
    "--primary",
    default="primary",
    show_default=True,
    callback=node_name,
    help="Name of the primary node.",
)
@click.option(
    "--backup",
    default="backup",
    show_default=True,
    callback=node_name,
    help="Name of the backup node.",
)
@click.option(
    "--primary-port",
    type=port_type,
    default=8081,
    show_default=True,
    help="The primary's HTTP port.",
)
@click.option(
    "--backup-port", type=port_type, default=8082, show_default=True, help="The backup's HTTP port."
)
@click.option("--no-watchdog", is_flag=True, help="Do not start the watchdog.")
@click.option(
    "--watchdog-metrics-port",
    type=click.IntRange(0, 65535),
    default=WATCHDOG_METRICS_PORT,
    show_default=True,
    envvar="LICENSING_WATCHDOG_METRICS_PORT",
    help="Where the watchdog serves /metrics (Prometheus); 0: nowhere.",
)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".run/logs"),
    show_default=True,
    help="Where each process writes its log (NODE.log, watchdog.log).",
)
@click.option(
    "--start-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=120.0,
    show_default=True,
    help="Give up if a node is not caught up and registered after this many seconds.",
)
@json_option
@pass_cli
def up(
    ctx: CliContext,
    primary: str,
    backup: str,
    primary_port: int,
    backup_port: int,
    no_watchdog: bool,
    watchdog_metrics_port: int,
    log_dir: Path,
    start_timeout: float,
) -> None:
    """Run a primary, a backup and the watchdog on this machine until Ctrl-C
    (what 'make up' runs)."""
    if primary == backup:
        raise click.BadParameter(
            "the primary and the backup need different names", param_hint="--backup"
        )
    if primary_port == backup_port:
        raise click.BadParameter(
            "the primary and the backup need different ports", param_hint="--backup-port"
        )
    if not no_watchdog and watchdog_metrics_port in (primary_port, backup_port):
        raise click.BadParameter(
            "the watchdog's metrics need a port of their own", param_hint="--watchdog-metrics-port"
        )
    first_run.ensure_demo_vendor(log_dir.parent)  # before the secrets: it looks for a fresh .run/
    new_password = ensure_local_secrets(log_dir.parent / "secrets.env")
    if new_password:
        note(
            f"License Manager administrator: admin / {new_password}  "
            "(shown once; the site's admin key and "
            f"this password's hash are in {log_dir.parent / 'secrets.env'})"
        )
    settings = ctx.settings()
    host = settings.http_host
    wanted = [(primary, primary_port, "--primary-port"), (backup, backup_port, "--backup-port")]
    if watchdog_metrics_port and not no_watchdog:
        wanted.append(("the watchdog's metrics", watchdog_metrics_port, "--watchdog-metrics-port"))
    for name, port, option in wanted:
        if not _port_is_free(host, port):
            note(
                f"licensing up: port {port} on {host} (for {name}) is already in use — is another "
                f"'licensing up' or node running? Choose another with {option}."
            )
            raise click.exceptions.Exit(1)
    log_dir.mkdir(parents=True, exist_ok=True)
    secrets = log_dir.parent / "secrets.env"
    try:
        broker_urls, made = asyncio.run(ensure_set_up(settings, secrets))
    except BrokerAdminError as exc:
        note(f"licensing up: could not set the site's broker users up: {exc}")
        raise click.exceptions.Exit(1) from None
    if made:
        note(
            f"Made the site's broker users (node, product, watchdog); their URLs are in {secrets}."
        )
    note(f"Products connect with LICENSING_AMQP_URL={broker_urls['product']}")
    code = asyncio.run(
        _up(
            ctx,
            settings,
            (primary, backup),
            (primary_port, backup_port),
            not no_watchdog,
            watchdog_metrics_port,
            log_dir,
            start_timeout,
            broker_urls,
        )
    )
    raise click.exceptions.Exit(code)
