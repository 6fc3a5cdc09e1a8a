"""``activate``, ``deactivate`` and ``activation-request``: license entitlements."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import IO

import click
import orjson

from events.commands import ActivateLicense, DeactivateLicense
from services.cli.api import DEFAULT_API_URL, ApiUnavailable, fetch
from services.cli.context import CliContext, json_option, pass_cli
from services.cli.output import emit_json, fail, finish, note
from services.cli.parsing import build, load_entitlement, parse_feature
from services.cli.running import with_client
from services.trust import entitlement, request, signed


@click.command()
@click.argument("file", type=click.File("rb"), required=False)
@click.option("--license-id", help="License id (instead of FILE; unsigned: demo and test mode).")
@click.option(
    "--feature",
    "features",
    multiple=True,
    metavar="NAME:VERSION:SEATS[:TYPE]",
    help="A feature of the license (repeatable; instead of FILE).",
)
@json_option
@pass_cli
def activate(
    ctx: CliContext, file: IO[bytes] | None, license_id: str | None, features: tuple[str, ...]
) -> None:
    """Activate a license from an entitlement FILE (the vendor's signed file, or unsigned JSON),
    or from --license-id and --feature (unsigned: only a site without vendor keys accepts them)."""
    if file is not None and (license_id or features):
        raise click.UsageError("give either FILE or --license-id/--feature, not both")
    if file is not None:
        command = _from_file(file.read())
    else:
        if not license_id or not features:
            raise click.UsageError(
                "give an entitlement FILE, or --license-id with at least one --feature"
            )
        grants = [parse_feature(text) for text in features]
        command = build(ActivateLicense, "--feature", license_id=license_id, features=grants)
    reply = with_client(ctx, lambda client: client.send(command))
    finish(
        ctx,
        reply,
        lambda r: click.echo(
            f"Activated license {command.license_id} ({len(command.features)} feature(s))."
        ),
    )


def _from_file(text: bytes) -> ActivateLicense:
    """A signed entitlement travels whole (the writer and every node verify it); the license id
    and features are read from it only to fill the command's fields."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="FILE") from None
    if isinstance(data, dict) and "signature" in data:
        try:
            document = signed.loads(text)
            terms = entitlement.read(document)
        except signed.Unreadable as exc:
            raise click.BadParameter(str(exc), param_hint="FILE") from None
        return build(
            ActivateLicense,
            "FILE",
            license_id=terms.license_id,
            features=terms.features,
            entitlement=document,
        )
    data = load_entitlement(BytesIO(text))
    return build(ActivateLicense, "FILE", license_id=data["license_id"], features=data["features"])


@click.command()
@click.argument("license_id")
@click.option(
    "--receipt",
    "receipt_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the site's signed deactivation receipt to this file (for the vendor).",
)
@json_option
@pass_cli
def deactivate(ctx: CliContext, license_id: str, receipt_path: Path | None) -> None:
    """Deactivate license LICENSE_ID (with --receipt: keep the site's signed receipt)."""
    command = build(DeactivateLicense, "LICENSE_ID", license_id=license_id)
    reply = with_client(ctx, lambda client: client.send(command))
    receipt = (reply.result or {}).get("receipt") if reply.ok else None
    if receipt_path is not None and receipt is not None:
        receipt_path.write_bytes(orjson.dumps(receipt, option=orjson.OPT_INDENT_2) + b"\n")
    kept = f" Receipt: {receipt_path}" if receipt_path and receipt else ""
    finish(ctx, reply, lambda r: click.echo(f"Deactivated license {license_id}.{kept}"))
    if receipt_path is not None and receipt is None:
        fail(
            ctx,
            "no_receipt",
            f"license {license_id} is deactivated, but the reply carries no receipt: the node "
            f"has no LICENSING_SITE_KEY, or answered a retry from memory",
        )


@click.command("activation-request")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the request (JSON) to send to the vendor.",
)
@click.option(
    "--api",
    "api_url",
    envvar="LICENSING_API_URL",
    default=DEFAULT_API_URL,
    show_default=True,
    help="A node's API (its /api/servers names the License Server IDs).",
)
@json_option
@pass_cli
def activation_request(ctx: CliContext, out: Path, api_url: str) -> None:
    """Write what the vendor needs to issue an entitlement: the site, the pair's License Server
    IDs, the site's public key and a nonce."""
    servers, health = asyncio.run(fetch(api_url, "/api/servers", "/api/health"))
    for answer in (servers, health):
        if isinstance(answer, ApiUnavailable):
            fail(ctx, "unavailable", f"cannot reach the License Manager API at {api_url}: {answer}")
    server_ids = request.activation_targets(servers)
    if not server_ids:
        fail(
            ctx, "not_found", "the site has no registered License Server yet; start its nodes first"
        )
    public = health.get("site_public_key") or ctx.settings().site_public_key()
    if not public:
        note("The site has no LICENSING_SITE_KEY: the vendor cannot check deactivation receipts.")
    made = request.make(
        servers.get("site") or ctx.settings().site, server_ids, public, datetime.now(UTC)
    )
    out.write_bytes(orjson.dumps(made.model_dump(mode="json"), option=orjson.OPT_INDENT_2) + b"\n")
    if ctx.json:
        emit_json({"ok": True, "request": made.model_dump(mode="json"), "file": str(out)})
    else:
        click.echo(
            f"Activation request for site {made.site}, License Server IDs "
            f"{', '.join(server_ids)}: {out}. Send it to the vendor."
        )
