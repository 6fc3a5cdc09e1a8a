"""``reserve`` and ``unreserve``: seats set aside for a device or a user."""

from __future__ import annotations

import click

from events.commands import CancelReservation, Reserve
from services.cli.context import CliContext, json_option, pass_cli
from services.cli.output import finish
from services.cli.parsing import build
from services.cli.running import with_client


@click.command()
@click.argument("feature")
@click.argument("version")
@click.option("--device", help="Reserve for this device.")
@click.option("--user", help="Reserve for this user.")
@click.option(
    "--count", type=click.IntRange(min=1), default=1, show_default=True, help="Seats to reserve."
)
@json_option
@pass_cli
def reserve(
    ctx: CliContext, feature: str, version: str, device: str | None, user: str | None, count: int
) -> None:
    """Reserve seats of FEATURE VERSION for one device or one user; prints the reservation id."""
    if (device is None) == (user is None):
        raise click.UsageError("give exactly one of --device or --user")
    command = build(
        Reserve, None, feature=feature, version=version, device=device, user=user, count=count
    )
    reply = with_client(ctx, lambda client: client.send(command))
    finish(ctx, reply, lambda r: click.echo((r.result or {}).get("reservation_id", "")))


@click.command()
@click.argument("reservation_id")
@json_option
@pass_cli
def unreserve(ctx: CliContext, reservation_id: str) -> None:
    """Cancel reservation RESERVATION_ID."""
    command = build(CancelReservation, "RESERVATION_ID", reservation_id=reservation_id)
    reply = with_client(ctx, lambda client: client.send(command))
    finish(ctx, reply, lambda r: click.echo(f"Cancelled reservation {reservation_id}."))
