"""``watchdog`` (run the site's watchdog) and ``reseed`` (rebuild a lost stream from a node's
copy).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import click

from services.cli.context import CliContext, json_option, pass_cli
from services.cli.output import emit_json, fail
from services.cli.parsing import node_name

positive = click.FloatRange(min=0, min_open=True)


@click.command()
@click.option(
    "--detect-seconds", type=positive, help="Declare a silent node gone after this many seconds."
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    envvar="LICENSING_WATCHDOG_METRICS_PORT",
    help="Serve /metrics (Prometheus) on this port (env LICENSING_WATCHDOG_METRICS_PORT).",
)
@pass_cli
def watchdog(ctx: CliContext, detect_seconds: float | None, metrics_port: int | None) -> None:
    """Run the site's watchdog until interrupted: node heartbeats become status events
    (the tiles)."""
    # Imported here, not at the top: every other CLI command starts without loading it.
    from services.watchdog.service import run

    settings = ctx.settings()
    options: dict[str, Any] = {}
    if detect_seconds is not None:
        options["detect_seconds"] = detect_seconds
    if metrics_port is not None:
        options["metrics_port"] = metrics_port
    # SIGTERM (how 'licensing up' stops it) takes the Ctrl-C path: asyncio.run cancels the
    # watchdog's task, so it closes its connection instead of dying mid-publish.
    signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))
    try:
        asyncio.run(run(settings, **options))
    except KeyboardInterrupt:
        pass


@click.command()
@click.option(
    "--from",
    "from_node",
    required=True,
    metavar="NODE",
    callback=node_name,
    help="The node whose own copy of the log (its event_log table) re-seeds the stream.",
)
@json_option
@pass_cli
def reseed(ctx: CliContext, from_node: str) -> None:
    """Re-publish the log into the site's stream from NODE's copy (after the broker lost it)."""
    from services.replay.reseed import reseed as reseed_stream  # loaded only when it runs

    settings = ctx.settings()
    try:
        count = asyncio.run(reseed_stream(settings, from_node=from_node))
    except KeyboardInterrupt:
        fail(ctx, "interrupted", "reseed was interrupted before it finished")
    except Exception as exc:  # its failures are for the administrator to read, not a traceback
        code = getattr(exc, "code", None)
        if code:  # a refusal, already in words
            fail(ctx, str(code), f"reseed from {from_node} refused: {exc}")
        fail(ctx, "reseed_failed", f"reseed from {from_node} failed: {type(exc).__name__}: {exc}")
    if ctx.json:
        emit_json({"ok": True, "events": count})
        return
    click.echo(f"Re-published {count:,} events from {from_node}'s copy of the log into the stream.")
