"""Printing results: text for people, JSON with --json; exit 1 on a refusal."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NoReturn

import click
import orjson
from rich.console import Console

from events.replies import ErrorCode, Reply
from services.cli.context import CliContext
from services.cli.local_site import where_keys_live

EXIT_REFUSED = 1
WIDTH_WHEN_PIPED = 200


def console() -> Console:
    """Rich console on the current stdout; wide when piped, so tables are not squeezed."""
    out = Console(highlight=False)  # created on use: it writes to whatever sys.stdout is now
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out = Console(highlight=False, width=WIDTH_WHEN_PIPED)
    return out


def emit_json(data: Any) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode())


def reply_data(reply: Reply) -> dict[str, Any]:
    return reply.model_dump(mode="json", exclude_none=True)


def fail(ctx: CliContext, code: str, message: str, reason: str | None = None) -> NoReturn:
    """Report a failure (refusal, timeout, unreachable broker or API) and exit 1."""
    # A refused admin command is nearly always a missing key: say where keys live.
    hint = where_keys_live(ctx.local) if code == ErrorCode.UNAUTHORIZED else None
    if ctx.json:
        error = {"code": code, "message": message, **({"reason": reason} if reason else {})}
        emit_json({"ok": False, "error": error, **({"hint": hint} if hint else {})})
    else:
        because = f" (reason: {reason.replace('_', ' ')})" if reason else ""
        click.echo(
            click.style(f"Error [{code}]: ", fg="red", bold=True) + message + because, err=True
        )
        if hint:
            click.echo(f"  {hint}", err=True)
    raise click.exceptions.Exit(EXIT_REFUSED)


def finish(ctx: CliContext, reply: Reply, on_ok: Callable[[Reply], None]) -> None:
    """Print a reply: JSON as is, or ``on_ok`` for a success / the error in words; exit 1 if
    refused."""
    if ctx.json:
        emit_json(reply_data(reply))
        if not reply.ok:
            raise click.exceptions.Exit(EXIT_REFUSED)
        return
    if reply.ok:
        on_ok(reply)
        return
    error = reply.error
    fail(
        ctx,
        error.code if error else "error",
        error.message if error else "refused",
        error.reason if error else None,
    )


def note(message: str) -> None:
    """A remark for a person (stderr), never mixed into what scripts capture."""
    click.echo(message, err=True)
