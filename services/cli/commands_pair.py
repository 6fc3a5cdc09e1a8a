"""``pair`` and ``unpair``: the seed's Enable Backup + Apply, and undoing it."""

from __future__ import annotations

import click

from events.commands import PairServers, UnpairServers
from services.cli.context import CliContext, json_option, pass_cli
from services.cli.output import finish
from services.cli.parsing import build
from services.cli.running import with_client


@click.command()
@click.argument("primary")
@click.argument("backup")
@json_option
@pass_cli
def pair(ctx: CliContext, primary: str, backup: str) -> None:
    """Pair PRIMARY and BACKUP: PRIMARY serves, BACKUP stands by with the same data."""
    command = build(PairServers, "PRIMARY/BACKUP", primary=primary, backup=backup)
    reply = with_client(ctx, lambda client: client.send(command))
    finish(
        ctx, reply, lambda r: click.echo(f"Paired: {primary} is the primary, {backup} the backup.")
    )


@click.command()
@json_option
@pass_cli
def unpair(ctx: CliContext) -> None:
    """Undo the pair (refused while licenses are activated on it)."""
    reply = with_client(ctx, lambda client: client.send(UnpairServers()))
    finish(ctx, reply, lambda r: click.echo("Unpaired: the servers run on their own now."))
