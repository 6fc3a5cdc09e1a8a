"""``usage`` and ``status``: what a node's HTTP API shows, as tables."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import click
from pydantic import ValidationError

from services.cli.api import DEFAULT_API_URL, ApiUnavailable, fetch
from services.cli.context import CliContext, json_option, pass_cli
from services.cli.output import console, emit_json, fail, note
from services.cli.parsing import aware_time
from services.cli.tables import health_table, status_table, usage_table
from services.views import Health, ServersView

api_option = click.option(
    "--api",
    "api_url",
    envvar="LICENSING_API_URL",
    default=DEFAULT_API_URL,
    show_default=True,
    help="Base URL of a node's HTTP API.",
)


@click.command()
@click.option(
    "--at",
    callback=aware_time,
    help="The seats in use at this time (ISO 8601 with offset), from the node's log.",
)
@api_option
@json_option
@pass_cli
def usage(ctx: CliContext, api_url: str, at: str | None) -> None:
    """Show the seats in use (Usage Details), now or --at a time in the past."""
    path = "/api/usage"
    if at is not None:
        path += "?" + urlencode({"at": at})
    (data,) = asyncio.run(fetch(api_url, path))
    if isinstance(data, ApiUnavailable):
        fail(
            ctx,
            "unavailable",
            f"cannot read usage from the License Manager API at {api_url}: {data}",
        )
    if ctx.json:
        emit_json(data)
        return
    rows = data.get("usage", []) if isinstance(data, dict) else []
    console().print(usage_table(rows))
    if at is not None and isinstance(data, dict):
        note(
            f"as of {data.get('at')}: the log up to offset {data.get('offset')}"
            f"/{data.get('idx')} ({data.get('events')} events, the last at {data.get('event_at')})"
        )


@click.command()
@api_option
@json_option
@pass_cli
def status(ctx: CliContext, api_url: str) -> None:
    """Show the pair: each server's role, License Server ID, status, and the pair status."""
    servers, health = asyncio.run(fetch(api_url, "/api/servers", "/api/health"))
    if isinstance(servers, ApiUnavailable) and isinstance(health, ApiUnavailable):
        fail(ctx, "unavailable", f"cannot reach the License Manager API at {api_url}: {servers}")
    result: dict[str, Any] = {
        "servers": None if isinstance(servers, Exception) else servers,
        "health": None if isinstance(health, Exception) else health,
    }
    if ctx.json:
        emit_json(result)
        return
    out = console()
    try:
        out.print(status_table(ServersView.model_validate(result["servers"])))
    except ValidationError:
        note(f"servers: {servers}")
    try:
        out.print(health_table(Health.model_validate(result["health"])))
    except ValidationError:
        note(f"health: {health}")
