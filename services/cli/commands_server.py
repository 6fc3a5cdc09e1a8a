"""``server``: run a license server node."""

from __future__ import annotations

import asyncio
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
        asyncio.run(serve(settings, **options))
    except KeyboardInterrupt:
        pass
