"""What every subcommand shares: global options, settings, the ``--json`` flag."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from services.cli.local_site import LocalSite
from services.client.client import DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_TIMEOUT
from services.config.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliContext:
    site: str | None = None
    amqp_url: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    attempt_timeout: float = DEFAULT_ATTEMPT_TIMEOUT
    actor: str | None = None
    json: bool = False
    local: LocalSite | None = None  # the site `licensing up` runs from here, if there is one

    def settings(self) -> Settings:
        """Settings from the environment, then the local site's files (what the environment
        does not set), overridden by --site / --amqp-url; bad values exit 2."""
        overrides = {
            key: value for key, value in (("site", self.site), ("amqp_url", self.amqp_url)) if value
        }
        found = self.local.settings_fields() if self.local else {}
        try:
            return Settings(**{**found, **overrides})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
            )
            raise click.UsageError(f"invalid settings: {problems}") from None


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(CliContext).json = True


def json_option(func: F) -> F:
    """``--json`` on a subcommand: machine-readable output (also accepted before the subcommand)."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        callback=_set_json,
        help="Print machine-readable JSON instead of text.",
    )(func)


pass_cli = click.make_pass_decorator(CliContext, ensure=True)
