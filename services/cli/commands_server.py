"""``server``: run a license server node."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import click

from services.cli.context import CliContext, pass_cli
from services.cli.parsing import node_name


@click.command()
@click.option(
    "--node", required=True, callback=node_name, help="This node's name (e.g. primary, backup)."
)
@click.option(
    "--http-port", type=click.IntRange(1, 65535), help="Port of the node's HTTP API and dashboard."
)
@pass_cli
def server(ctx: CliContext, node: str, http_port: int | None) -> None:
    """Run a license server node until interrupted."""
    from services.node.node import serve  # loaded only when a node runs: the CLI starts fast

    settings = ctx.settings()
    options: dict[str, Any] = {"node": node}
    if http_port is not None:
        options["http_port"] = http_port
    try:
        run_loop(
            serve(settings, **options),
            settings.event_loop,
            "event_loop" in settings.model_fields_set,
        )
    except KeyboardInterrupt:
        pass


def run_loop(main: Coroutine[Any, Any, None], event_loop: str, chosen: bool = True) -> None:
    """Run the node on the configured event loop (``LICENSING_EVENT_LOOP``).

    Without uvloop (e.g. Windows) the default falls back to asyncio; asking for it does not.
    """
    if event_loop != "uvloop":
        asyncio.run(main)
        return
    try:
        import uvloop
    except ImportError:
        if not chosen:
            asyncio.run(main)
            return
        main.close()
        raise click.UsageError(
            "LICENSING_EVENT_LOOP=uvloop needs uvloop: .venv/bin/pip install uvloop"
        ) from None
    uvloop.run(main)
