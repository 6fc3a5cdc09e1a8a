"""``report``: a node's history as CSV (usage, denials, the status timeline), streamed to a file.

The node writes the CSV (``GET /api/reports/<kind>.csv``); this copies it through as it comes,
so a year of history never sits in memory. With ``--json`` the rows are printed as objects.
"""

from __future__ import annotations

import asyncio
import csv
import io
import sys
from typing import IO

import aiohttp
import click

from services.cli.api import ApiUnavailable
from services.cli.commands_view import api_option
from services.cli.context import CliContext, json_option, pass_cli
from services.cli.output import emit_json, fail
from services.cli.parsing import aware_time

CHUNK = 64 * 1024
READ_TIMEOUT = 60.0  # seconds without a byte from the node; a long report may take longer


async def download(api_url: str, path: str, params: dict[str, str], out: IO[bytes]) -> None:
    url = f"{api_url.rstrip('/')}{path}"
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=READ_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, params=params) as response,
        ):
            if response.status != 200:
                text = (await response.text())[:300]
                raise ApiUnavailable(f"GET {url} answered HTTP {response.status}: {text}")
            async for chunk in response.content.iter_chunked(CHUNK):
                out.write(chunk)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise ApiUnavailable(f"GET {url} failed: {type(exc).__name__}: {exc}") from None


@click.command()
@click.argument("kind", type=click.Choice(["usage", "denials", "timeline"]))
@click.option("--csv", "as_csv", is_flag=True, default=True, help="CSV (the default).")
@click.option(
    "--since", callback=aware_time, help="From this time (ISO 8601 with offset), included."
)
@click.option("--until", callback=aware_time, help="To this time (ISO 8601 with offset), excluded.")
@click.option("--feature", help="Only this feature (usage, denials).")
@click.option("--node", help="Only this server (timeline).")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File (default stdout)."
)
@api_option
@json_option
@pass_cli
def report(
    ctx: CliContext,
    kind: str,
    as_csv: bool,
    since: str | None,
    until: str | None,
    feature: str | None,
    node: str | None,
    output: str | None,
    api_url: str,
) -> None:
    """Export usage history, denials or the status timeline as CSV (a header row, UTC times)."""
    if feature and kind == "timeline":
        raise click.BadParameter("the timeline is narrowed by --node", param_hint="--feature")
    if node and kind != "timeline":
        raise click.BadParameter(f"the {kind} report is narrowed by --feature", param_hint="--node")
    asked = {"since": since, "until": until, "feature": feature, "node": node}
    params = {name: value for name, value in asked.items() if value}
    path = f"/api/reports/{kind}.csv"
    buffer = io.BytesIO() if ctx.json else None
    try:
        if buffer is not None:
            asyncio.run(download(api_url, path, params, buffer))
        elif output:
            with open(output, "wb") as out:
                asyncio.run(download(api_url, path, params, out))
        else:
            asyncio.run(download(api_url, path, params, sys.stdout.buffer))
            sys.stdout.buffer.flush()
    except ApiUnavailable as exc:
        fail(ctx, "unavailable", f"cannot read the {kind} report: {exc}")
    if buffer is not None:
        rows = list(csv.DictReader(io.StringIO(buffer.getvalue().decode(), newline="")))
        emit_json({"report": kind, "rows": rows})
