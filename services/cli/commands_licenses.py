"""``activate`` and ``deactivate``: license entitlements."""
from __future__ import annotations

from typing import IO

import click

from events.commands import ActivateLicense, DeactivateLicense
from services.cli.context import CliContext, json_option, pass_cli
from services.cli.output import finish
from services.cli.parsing import build, load_entitlement, parse_feature
from services.cli.running import with_client


@click.command()
@click.argument("file", type=click.File("rb"), required=False)
@click.option("--license-id", help="License id (instead of FILE).")
@click.option("--feature", "features", multiple=True, metavar="NAME:VERSION:SEATS[:TYPE]",
              help="A feature of the license (repeatable; instead of FILE).")
@json_option
@pass_cli
def activate(ctx: CliContext, file: IO[bytes] | None, license_id: str | None, features: tuple[str, ...]) -> None:
    """Activate a license from an entitlement FILE (JSON), or from --license-id and --feature."""
    if file is not None and (license_id or features):
        raise click.UsageError("give either FILE or --license-id/--feature, not both")
    if file is not None:
        data = load_entitlement(file)
        command = build(ActivateLicense, "FILE", license_id=data["license_id"], features=data["features"])
    else:
        if not license_id or not features:
            raise click.UsageError("give an entitlement FILE, or --license-id with at least one --feature")
        grants = [parse_feature(text) for text in features]
        command = build(ActivateLicense, "--feature", license_id=license_id, features=grants)
    reply = with_client(ctx, lambda client: client.send(command))
    finish(ctx, reply, lambda r: click.echo(
        f"Activated license {command.license_id} ({len(command.features)} feature(s))."))


@click.command()
@click.argument("license_id")
@json_option
@pass_cli
def deactivate(ctx: CliContext, license_id: str) -> None:
    """Deactivate license LICENSE_ID."""
    command = build(DeactivateLicense, "LICENSE_ID", license_id=license_id)
    reply = with_client(ctx, lambda client: client.send(command))
    finish(ctx, reply, lambda r: click.echo(f"Deactivated license {license_id}."))
