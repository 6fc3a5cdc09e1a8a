"""``acquire`` and ``release``: taking seats and giving them back."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import click

from events import limits
from events.commands import Acquire, Release
from events.replies import Reply
from services.cli.context import CliContext, json_option, pass_cli
from services.cli.output import emit_json, fail, finish, note, reply_data
from services.cli.parsing import build
from services.cli.running import with_client
from services.client import LicenseClient, LicenseDenied


def _print_lease(reply: Reply) -> None:
    result = reply.result or {}
    click.echo(result.get("lease_id", ""))
    if result.get("lease_secret"):  # stdout stays the lease id alone, for scripts
        note(f"Lease secret (to release it: --secret): {result['lease_secret']}")


@click.command()
@click.argument("feature")
@click.argument("version")
@click.option("--device", required=True, help="The device that uses the seats.")
@click.option("--user", required=True, help="The user who uses the seats.")
@click.option(
    "--count", type=click.IntRange(min=1), default=1, show_default=True, help="Seats to take."
)
@click.option(
    "--lease-seconds",
    type=click.IntRange(limits.MIN_LEASE_SECONDS, limits.MAX_LEASE_SECONDS),
    default=limits.DEFAULT_LEASE_SECONDS,
    show_default=True,
    help="Lease period; the lease expires unless renewed within it.",
)
@click.option("--hold", is_flag=True, help="Keep the lease renewed until Ctrl-C, then release it.")
@json_option
@pass_cli
def acquire(
    ctx: CliContext,
    feature: str,
    version: str,
    device: str,
    user: str,
    count: int,
    lease_seconds: int,
    hold: bool,
) -> None:
    """Acquire seats of FEATURE VERSION; prints the lease id."""
    command = build(
        Acquire,
        None,
        feature=feature,
        version=version,
        device=device,
        user=user,
        count=count,
        lease_seconds=lease_seconds,
    )
    if not hold:
        reply = with_client(ctx, lambda client: client.send(command))
        finish(ctx, reply, _print_lease)
        return
    lost = with_client(ctx, lambda client: _hold(ctx, client, command))
    if lost:
        fail(ctx, "lost", "the lease was lost: the license server no longer knows it")


async def _hold(ctx: CliContext, client: LicenseClient, command: Acquire) -> bool:
    """Hold a lease until SIGINT/SIGTERM (then release it) or until it is lost. True if lost."""
    try:
        lease = await client.acquire(
            command.feature,
            command.version,
            command.device,
            command.user,
            command.count,
            command.lease_seconds,
        )
    except LicenseDenied as denied:
        finish(ctx, denied.reply, _print_lease)
        return False
    if ctx.json:
        emit_json(reply_data(lease.reply))
    else:
        _print_lease(lease.reply)
    note(
        f"Holding lease {lease.lease_id}, renewed every {lease.renew_every:.3g} s; press Ctrl-C to "
        "release it."
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(lease.wait_lost())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        if not lease.lost:
            reply = await lease.release()
            if reply is not None and not ctx.json:
                note(
                    f"Released lease {lease.lease_id}."
                    if reply.ok
                    else f"Release refused: {reply.error}"
                )
    return lease.lost


@click.command()
@click.argument("lease_id")
@click.option("--reason", help="Force-release by an administrator, with this reason.")
@click.option("--secret", help="The lease's secret (its acquire printed it): a holder's release.")
@json_option
@pass_cli
def release(ctx: CliContext, lease_id: str, reason: str | None, secret: str | None) -> None:
    """Release lease LEASE_ID: its holder with --secret, an administrator with --reason."""
    if reason is None and secret is None:
        raise click.UsageError(
            "give --secret (the holder's release) or --reason (an administrator's force-release)"
        )
    command = build(Release, None, lease_id=lease_id, reason=reason, lease_secret=secret)
    reply = with_client(ctx, lambda client: client.send(command))
    finish(ctx, reply, lambda r: click.echo(f"Released lease {lease_id}."))
