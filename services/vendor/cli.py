"""``licensing vendor ...``: what the vendor runs on its own machine.

Nothing here talks to a site: files in, files out. The private key never leaves the
vendor; a site is configured with the public key only (``LICENSING_VENDOR_KEYS``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import orjson
from pydantic import ValidationError

from events.codec import describe_validation_error
from events.commands import FeatureGrant
from services.trust import entitlement, keys, receipt, signed
from services.trust.request import ActivationRequest

FilePath = click.Path(dir_okay=False, path_type=Path)


@click.group()
def vendor() -> None:
    """The vendor's side: make keys, issue signed entitlements, check deactivation receipts."""


@vendor.command()
@click.option(
    "--out",
    "out",
    type=FilePath,
    required=True,
    help="The private key file to write (mode 600); the public key goes to FILE.pub.",
)
def keygen(out: Path) -> None:
    """Make an Ed25519 key pair. Configure sites with the public key (LICENSING_VENDOR_KEYS)."""
    if out.exists():
        raise click.UsageError(f"{out} exists; a vendor key is never overwritten")
    private = keys.new_private_key()
    out.write_text(private + "\n")
    out.chmod(0o600)
    public = keys.public_text(private)
    out.with_suffix(out.suffix + ".pub").write_text(public + "\n")
    click.echo(f"Key {keys.key_id(public)}; public key (for LICENSING_VENDOR_KEYS): {public}")


def parse_feature(text: str) -> FeatureGrant:
    """``NAME:VERSION:TYPE:SEATS[:EXPIRY]``; TYPE may be empty, EXPIRY is an ISO date or time (UTC
    if it names no offset). Names and versions cannot contain ':' here."""
    parts = text.split(":", 4)
    if len(parts) < 4 or not parts[3].strip().isdigit():
        raise click.BadParameter(
            f"{text!r} is not NAME:VERSION:TYPE:SEATS[:EXPIRY]", param_hint="--feature"
        )
    fields: dict[str, Any] = {
        "name": parts[0],
        "version": parts[1],
        "type": parts[2],
        "seats": int(parts[3]),
    }
    if len(parts) == 5:
        fields["expires_at"] = _when(parts[4], "--feature")
    try:
        return FeatureGrant(**fields)
    except ValidationError as exc:
        raise click.BadParameter(describe_validation_error(exc), param_hint="--feature") from None


def _when(text: str, hint: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO date or time", param_hint=hint) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _read_request(path: Path) -> ActivationRequest:
    try:
        return ActivationRequest.model_validate(orjson.loads(path.read_bytes()))
    except (orjson.JSONDecodeError, ValidationError, OSError) as exc:
        raise click.BadParameter(
            f"not an activation request: {str(exc).splitlines()[0]}", param_hint="--request"
        ) from None


@vendor.command()
@click.option(
    "--request",
    "request_path",
    type=FilePath,
    required=True,
    help="The site's activation request (licensing activation-request).",
)
@click.option(
    "--key", "key_path", type=FilePath, required=True, help="The vendor's private key file."
)
@click.option("--license-id", required=True)
@click.option("--customer", required=True)
@click.option("--serial", required=True, help="The vendor's serial number of this sale (unique).")
@click.option(
    "--feature",
    "features",
    multiple=True,
    required=True,
    metavar="NAME:VERSION:TYPE:SEATS[:EXPIRY]",
    help="A feature sold (repeatable).",
)
@click.option(
    "--valid-days",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="The site can activate it within this many days from now.",
)
@click.option("--out", "out", type=FilePath, required=True, help="The entitlement file to write.")
def issue(
    request_path: Path,
    key_path: Path,
    license_id: str,
    customer: str,
    serial: str,
    features: tuple[str, ...],
    valid_days: float,
    out: Path,
) -> None:
    """Issue an entitlement bound to the License Server IDs of an activation request."""
    req = _read_request(request_path)
    try:
        private = key_path.read_text().strip()
        keys.load_private(private)
    except (OSError, keys.BadKey) as exc:
        raise click.BadParameter(str(exc), param_hint="--key") from None
    now = datetime.now(UTC)
    try:
        terms = entitlement.Terms(
            license_id=license_id,
            serial=serial,
            customer=customer,
            site=req.site,
            server_ids=req.server_ids,
            features=[parse_feature(f) for f in features],
            not_before=now - timedelta(minutes=5),  # a site's clock may be a little behind
            not_after=now + timedelta(days=valid_days),
            nonce=req.nonce,
            issued_at=now,
        )
    except ValidationError as exc:
        raise click.UsageError(describe_validation_error(exc)) from None
    document = entitlement.issue(terms, private)
    out.write_bytes(signed.dumps(document))
    click.echo(
        f"Entitlement {license_id} (serial {serial}) for {', '.join(req.server_ids)}, "
        f"signed with {document.key_id}, activatable until "
        f"{terms.not_after.isoformat()}: {out}"
    )


@vendor.command("verify-receipt")
@click.argument("receipt_path", type=FilePath)
@click.option(
    "--request",
    "request_path",
    type=FilePath,
    required=True,
    help="The site's activation request: its site public key is what must have signed.",
)
def verify_receipt(receipt_path: Path, request_path: Path) -> None:
    """Check a site's deactivation receipt; exit 1 if it is not the site's, unchanged."""
    req = _read_request(request_path)
    if not req.site_public_key:
        raise click.UsageError("the activation request carries no site public key to check against")
    try:
        terms = receipt.verify(signed.loads(receipt_path.read_bytes()), req.site_public_key)
    except (OSError, signed.Unreadable, receipt.BadReceipt) as exc:
        click.echo(f"Receipt NOT valid: {exc}", err=True)
        raise click.exceptions.Exit(1) from exc
    click.echo(
        f"Receipt valid: license {terms.license_id} (serial {terms.serial}) deactivated on "
        f"site {terms.site} ({', '.join(terms.server_ids)}) at "
        f"{terms.deactivated_at.isoformat()}, log offset {terms.log_offset}."
    )
