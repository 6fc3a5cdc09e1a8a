"""The ``licensing`` command: global options, and the subcommands registered on it.

Exit codes: 0 success, 1 refused/denied/timeout/unreachable, 2 usage error.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click
from pydantic import ValidationError

from services.cli.commands_auth import hash_password
from services.cli.commands_demo import demo
from services.cli.commands_leases import acquire, release
from services.cli.commands_licenses import activate, activation_request, deactivate
from services.cli.commands_maintenance import replay, reset_id, stop, uninstall
from services.cli.commands_ops import reseed, watchdog
from services.cli.commands_pair import pair, unpair
from services.cli.commands_reports import report
from services.cli.commands_reservations import reserve, unreserve
from services.cli.commands_server import server
from services.cli.commands_site import site
from services.cli.commands_up import up
from services.cli.commands_view import status, usage
from services.cli.context import CliContext
from services.cli.local_site import LocalSite, SecretsNotFound, find
from services.config.logs import setup_logging
from services.config.settings import Settings
from services.vendor.cli import vendor

positive = click.FloatRange(min=0, min_open=True)
# Processes configured by their environment alone: up makes and reads its own .run/, and the
# nodes and the watchdog it starts get exactly what it passes them.
CONFIGURED_BY_ENVIRONMENT = frozenset({"up", "server", "watchdog"})


def _setup_logging(level: int, site: str | None) -> None:
    try:
        settings = Settings(**({"site": site} if site else {}))
    except ValidationError:  # the command that needs them says what is wrong (exit 2)
        setup_logging("text", level, site=site or "default")
        return
    setup_logging(settings.log_format, level, site=settings.site)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--site", envvar="LICENSING_SITE", help="Site name (env LICENSING_SITE).")
@click.option(
    "--amqp-url", envvar="LICENSING_AMQP_URL", help="Broker URL (env LICENSING_AMQP_URL)."
)
@click.option(
    "--timeout",
    envvar="LICENSING_TIMEOUT",
    type=positive,
    default=30.0,
    show_default=True,
    help="Give up on a command after this many seconds.",
)
@click.option(
    "--attempt-timeout",
    envvar="LICENSING_ATTEMPT_TIMEOUT",
    type=positive,
    default=3.0,
    show_default=True,
    help="Resend (same command id) after this many seconds without a reply.",
)
@click.option(
    "--actor", envvar="LICENSING_ACTOR", help="Who the command is sent for (x-actor header)."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of text."
)
@click.option("-v", "--verbose", count=True, help="Log more (repeat for debug).")
@click.pass_context
def cli(
    ctx: click.Context,
    site: str | None,
    amqp_url: str | None,
    timeout: float,
    attempt_timeout: float,
    actor: str | None,
    as_json: bool,
    verbose: int,
) -> None:
    """Administer and use a redundant license server pair."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    _setup_logging(level, site)
    if not verbose:
        logging.getLogger("aiormq").setLevel(logging.CRITICAL)
        logging.getLogger("aio_pika").setLevel(logging.CRITICAL)
    ctx.obj = CliContext(
        site=site,
        amqp_url=amqp_url,
        timeout=timeout,
        attempt_timeout=attempt_timeout,
        actor=actor,
        json=as_json,
        local=_local_site(ctx),
    )


def _local_site(ctx: click.Context) -> LocalSite | None:
    """The site `licensing up` runs from this directory (services/cli/local_site.py)."""
    if ctx.invoked_subcommand in CONFIGURED_BY_ENVIRONMENT:
        return None
    try:
        local = find(Path.cwd())
    except SecretsNotFound as exc:
        raise click.UsageError(str(exc)) from None
    if local is not None and local.api_url:
        # Below --api and LICENSING_API_URL, above the built-in default (click's default_map).
        ctx.default_map = {name: {"api_url": local.api_url} for name in cli.commands}
    return local


for command in (
    server,
    up,
    watchdog,
    activate,
    deactivate,
    acquire,
    release,
    reserve,
    unreserve,
    usage,
    report,
    status,
    pair,
    unpair,
    reset_id,
    replay,
    stop,
    uninstall,
    reseed,
    hash_password,
    vendor,
    activation_request,
    site,
    demo,
):
    cli.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    cli()
