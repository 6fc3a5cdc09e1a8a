"""``site setup`` / ``site remove``: the site's broker users and their permissions.

Setup makes the node, product and watchdog users (services/adapters/broker_admin.py) with
fresh passwords and keeps their AMQP URLs in the site's secrets file; the URL a command is
given (``--amqp-url``) says which broker and vhost, its credentials are not used.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from events.vocabulary import ErrorCode
from services.adapters.broker_admin import ROLES, BrokerAdmin, BrokerAdminError, vhost_of
from services.cli.context import CliContext, json_option, pass_cli
from services.cli.local_secrets import store_broker_users, stored_broker_urls
from services.cli.output import emit_json, fail
from services.client.redact import redact_url
from services.config.settings import Settings

SECRETS = Path(".run/secrets.env")


def admin_for(settings: Settings) -> BrokerAdmin:
    return BrokerAdmin(settings.broker_admin_url, vhost_of(settings.amqp_url))


async def set_up(settings: Settings, secrets: Path) -> dict[str, str]:
    """Make the site's users, keep them in ``secrets``; their AMQP URLs by role."""
    users = await admin_for(settings).setup(settings.site)
    made = {user.role: (user.amqp_url(settings.amqp_url), user.password) for user in users}
    store_broker_users(secrets, made)
    return {role: url for role, (url, _password) in made.items()}


async def ensure_set_up(settings: Settings, secrets: Path) -> tuple[dict[str, str], bool]:
    """The site's users from ``secrets``, made first if they are not there (or for another
    site); True when they were made now."""
    stored = stored_broker_urls(secrets, ROLES)
    names = {role: f"licensing-{settings.site}-{role}@" for role in ROLES}
    if len(stored) == len(ROLES) and all(names[r] in url for r, url in stored.items()):
        return stored, False
    return await set_up(settings, secrets), True


secrets_option = click.option(
    "--secrets",
    type=click.Path(dir_okay=False, path_type=Path),
    default=SECRETS,
    show_default=True,
    help="The site's secrets file: the users' AMQP URLs and passwords go there.",
)


@click.group()
def site() -> None:
    """Set up or remove the site's broker users (node, product, watchdog)."""


@site.command("setup")
@secrets_option
@json_option
@pass_cli
def setup(ctx: CliContext, secrets: Path) -> None:
    """Make (or renew) the site's broker users and permissions; URLs into the secrets file."""
    settings = ctx.settings()
    try:
        urls = asyncio.run(set_up(settings, secrets))
    except BrokerAdminError as exc:
        fail(ctx, ErrorCode.UNAVAILABLE, str(exc))
    if ctx.json:
        emit_json(
            {
                "ok": True,
                "site": settings.site,
                "secrets": str(secrets),
                "users": {role: redact_url(url) for role, url in urls.items()},
            }
        )
        return
    for role, url in urls.items():
        click.echo(f"{role:9} {redact_url(url)}")
    click.echo(f"Passwords and URLs are in {secrets}. Products use the product URL.")


@site.command("remove")
@json_option
@pass_cli
def remove(ctx: CliContext) -> None:
    """Delete the site's broker users (by exact name) and their permissions."""
    settings = ctx.settings()
    try:
        asyncio.run(admin_for(settings).remove(settings.site))
    except BrokerAdminError as exc:
        fail(ctx, ErrorCode.UNAVAILABLE, str(exc))
    if ctx.json:
        emit_json({"ok": True, "site": settings.site})
    else:
        click.echo(f"Removed the broker users of site {settings.site}.")
