"""The seed's Maintenance panel: ``reset-id``, ``replay`` (Sync), ``stop`` and ``uninstall``.

Each sends its order through the log, then (unless ``--no-wait``) follows the node
through its HTTP API: a replay with a progress bar until the node matches the
writer's digest, a stop until the node no longer answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import click

from events.base import Command
from events.commands import ResetServerId, StopServer, SyncServer, UninstallServer
from events.replies import Reply
from services.cli.api import ApiUnavailable
from services.cli.commands_view import api_option
from services.cli.context import CliContext, json_option, pass_cli
from services.cli.following import (
    FollowFailed,
    Located,
    follow_replay,
    follow_stop,
    health_once,
    locate,
)
from services.cli.output import emit_json, fail, finish, note
from services.cli.parsing import build
from services.cli.running import with_client
from services.views import Health

positive = click.FloatRange(min=0, min_open=True)


def _wait_options(default_timeout: float) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = click.option(
            "--wait-timeout",
            type=positive,
            default=default_timeout,
            show_default=True,
            help="Give up following the node after this many seconds (exit 1).",
        )(func)
        func = click.option(
            "--no-wait", is_flag=True, help="Send the order and return; do not follow the node."
        )(func)
        return api_option(func)

    return decorate


def _refused(ctx: CliContext, reply: Reply) -> None:
    """Exit 1 with the writer's words if it refused."""
    if not reply.ok:
        finish(ctx, reply, lambda r: None)


def _prepare(ctx: CliContext, api_url: str, node: str, what: str) -> tuple[Located, Health | None]:
    """Before sending: where the node answers and how it is now (None if the site does not
    know it)."""
    hint = "use --no-wait to only send the order"
    try:
        located = asyncio.run(locate(api_url))
    except ApiUnavailable as exc:
        fail(
            ctx,
            "unavailable",
            f"cannot reach the License Manager API at {api_url} to follow {what}: {exc}; {hint}",
        )
    if located.entry(node) is None:
        return located, None  # the writer refuses an unknown node in its own words
    url = located.urls.get(node)
    if url is None:
        fail(
            ctx,
            "unavailable",
            f"{node} publishes no API address (was it started without --http-port?), so "
            f"{what} cannot be followed; {hint}",
        )
    return located, asyncio.run(health_once(url))


def _send(ctx: CliContext, command: Command) -> Reply:
    return with_client(ctx, lambda client: client.send(command))


def _reset_or_replay(
    ctx: CliContext,
    command: ResetServerId | SyncServer,
    api_url: str,
    no_wait: bool,
    wait_timeout: float,
) -> None:
    node = command.node
    new_id = isinstance(command, ResetServerId)
    what = f"the {'reset' if new_id else 'replay'} of {node}"
    if no_wait:
        reply = _send(ctx, command)
        finish(
            ctx,
            reply,
            lambda r: click.echo(
                f"{'Reset of the License Server ID' if new_id else 'Replay'} of {node} ordered; "
                f"follow it with 'licensing status'."
            ),
        )
        return
    located, before = _prepare(ctx, api_url, node, what)
    if before is None and located.entry(node) is not None:
        fail(
            ctx,
            "unavailable",
            f"{node}'s API at {located.urls[node]} does not answer: is it running? "
            f"(--no-wait sends the order anyway; the node carries it out when it is back)",
        )
    reply = _send(ctx, command)
    _refused(ctx, reply)
    if before is None:
        fail(
            ctx,
            "unavailable",
            f"the order was accepted, but {node} is not in {api_url}/api/servers, so "
            f"{what} cannot be followed",
        )
    try:
        done = asyncio.run(
            follow_replay(node, located, before, new_id=new_id, timeout=wait_timeout, show=True)
        )
    except FollowFailed as exc:
        fail(ctx, exc.code, exc.message)
    if ctx.json:
        emit_json({"ok": True, "command_id": reply.command_id, **done.as_dict()})
        return
    if new_id:
        click.echo(f"New License Server ID of {node}: {done.server_id} (was {done.old_server_id})")
    matched = f"{done.matched} ({done.matched_as})" if done.matched != node else done.matched_as
    click.echo(
        f"Replayed {done.events:,} events in {done.elapsed:.1f} s ({done.rate:,.0f} events/s); "
        f"{node} matches {matched} at offset {done.offset}."
    )


@click.command("reset-id")
@click.argument("node")
@_wait_options(600.0)
@json_option
@pass_cli
def reset_id(ctx: CliContext, node: str, api_url: str, no_wait: bool, wait_timeout: float) -> None:
    """Reset NODE's License Server ID; it empties its read models and replays the log.

    Follows the replay with a progress bar and prints the new License Server ID.
    """
    _reset_or_replay(ctx, build(ResetServerId, "NODE", node=node), api_url, no_wait, wait_timeout)


@click.command()
@click.argument("node")
@click.option(
    "--from-peer", metavar="PEER", help="Rebuild from PEER's copy of the log instead of the stream."
)
@_wait_options(600.0)
@json_option
@pass_cli
def replay(
    ctx: CliContext,
    node: str,
    from_peer: str | None,
    api_url: str,
    no_wait: bool,
    wait_timeout: float,
) -> None:
    """The seed's Sync: NODE empties its read models and replays the log, with a progress bar."""
    _reset_or_replay(
        ctx,
        build(SyncServer, "NODE", node=node, from_peer=from_peer),
        api_url,
        no_wait,
        wait_timeout,
    )


def _stop_like(
    ctx: CliContext,
    command: StopServer | UninstallServer,
    api_url: str,
    no_wait: bool,
    wait_timeout: float,
    past: str,
) -> None:
    node = command.node
    if no_wait:
        reply = _send(ctx, command)
        finish(ctx, reply, lambda r: click.echo(f"{node}: {past} ordered."))
        return
    located, before = _prepare(ctx, api_url, node, f"the stop of {node}")
    reply = _send(ctx, command)
    _refused(ctx, reply)
    url = located.urls.get(node)
    if url is None:
        fail(
            ctx,
            "unavailable",
            f"the order was accepted, but {node} is not in {api_url}/api/servers, so its "
            f"stop cannot be followed",
        )
    if before is None:
        how, elapsed = "it was not answering even before the order", 0.0
    else:
        try:
            how, elapsed = asyncio.run(follow_stop(node, url, timeout=wait_timeout))
        except FollowFailed as exc:
            fail(ctx, exc.code, exc.message)
    entry = located.entry(node)
    server_id = (before.server_id if before else None) or (entry.server_id if entry else None)
    if ctx.json:
        emit_json(
            {
                "ok": True,
                "command_id": reply.command_id,
                "node": node,
                "server_id": server_id,
                "stopped": True,
                "how": how,
                "elapsed": round(elapsed, 3),
            }
        )
        return
    click.echo(f"{node} ({server_id}) {past}: {how} ({elapsed:.1f} s).")
    if before is None:
        note(f"{node} will carry out the order when it comes back.")


@click.command()
@click.argument("node")
@_wait_options(60.0)
@json_option
@pass_cli
def stop(ctx: CliContext, node: str, api_url: str, no_wait: bool, wait_timeout: float) -> None:
    """The seed's Stop button: NODE shuts down gracefully; waits until it has."""
    _stop_like(ctx, build(StopServer, "NODE", node=node), api_url, no_wait, wait_timeout, "stopped")


@click.command()
@click.argument("node")
@_wait_options(60.0)
@json_option
@pass_cli
def uninstall(ctx: CliContext, node: str, api_url: str, no_wait: bool, wait_timeout: float) -> None:
    """Remove NODE from the site; it stops if it is running (waits until it has)."""
    _stop_like(
        ctx,
        build(UninstallServer, "NODE", node=node),
        api_url,
        no_wait,
        wait_timeout,
        "uninstalled",
    )
