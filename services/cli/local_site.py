"""Finding the site that ``licensing up`` runs on this machine, so a second terminal needs no
exports.

``up`` keeps the site's secrets in ``.run/secrets.env`` (``local_secrets``) and, beside them,
how to reach the pair in ``.run/site.env`` (site, broker URL, the primary's API). The CLI looks
for them, like git looks for ``.git``: in the working directory, then in each parent, and
stops at the first directory that has ``.run/secrets.env``. It never looks above a
repository root (a directory holding ``.git``), so a checkout does not pick up a stray file
from a directory above it; outside a repository it looks up to ``/``.

``LICENSING_SECRETS`` overrides the search: the path of a ``secrets.env``, or of a
directory holding ``.run/secrets.env`` (or ``secrets.env``). Set to the empty string, it
turns the search off. Variables set in the environment always win over the files, and
``secrets.env`` wins over ``site.env``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# One parser for the files up writes (private there: that module is being extended in parallel).
from services.cli.local_secrets import KEY
from services.cli.local_secrets import _read as read_env_file
from services.config.settings import Settings

RUN_DIR, SECRETS_FILE, SITE_FILE = ".run", "secrets.env", "site.env"
SECRETS_VAR = "LICENSING_SECRETS"
API_URL_VAR = "LICENSING_API_URL"  # not a node setting: the CLI's read commands take it
PREFIX = "LICENSING_"
# The broker user ``licensing site setup`` keeps for products: the CLI sends as a product does
# (admin commands are signed with the admin key, not given a broker user of their own).
PRODUCT_BROKER_URL = "LICENSING_BROKER_PRODUCT_URL"
WRITTEN_BY_UP = "written by licensing up"


class SecretsNotFound(Exception):
    """``LICENSING_SECRETS`` points at nothing: the message says where it looked."""


@dataclass(frozen=True)
class LocalSite:
    """What the files say, and the values of it the environment does not already set."""

    secrets: Path
    values: dict[str, str] = field(default_factory=dict)

    def settings_fields(self) -> dict[str, str]:
        """Settings fields (``amqp_url``, ``admin_key``, ...) to construct ``Settings`` with."""
        names = Settings.model_fields
        return {
            name: value
            for key, value in self.values.items()
            if (name := key.removeprefix(PREFIX).lower()) in names
        }

    @property
    def api_url(self) -> str | None:
        return self.values.get(API_URL_VAR)


def _secrets_in(directory: Path) -> Path | None:
    for candidate in (directory / RUN_DIR / SECRETS_FILE, directory / SECRETS_FILE):
        if candidate.is_file():
            return candidate
    return None


def locate(cwd: Path, environ: Mapping[str, str]) -> Path | None:
    """The ``secrets.env`` this command uses, or None (see the module's docstring)."""
    pointed = environ.get(SECRETS_VAR)
    if pointed is not None:
        if not pointed:
            return None
        path = Path(pointed).expanduser()
        found = _secrets_in(path) if path.is_dir() else path if path.is_file() else None
        if found is None:
            raise SecretsNotFound(
                f"{SECRETS_VAR}={pointed} names no secrets file: point it at the "
                f"{RUN_DIR}/{SECRETS_FILE} that 'licensing up' wrote, or at its directory"
            )
        return found
    for directory in (cwd, *cwd.parents):
        candidate = directory / RUN_DIR / SECRETS_FILE
        if candidate.is_file():
            return candidate
        if (directory / ".git").exists():
            return None  # the repository root: what lies above belongs to someone else
    return None


def load(secrets: Path, environ: Mapping[str, str]) -> LocalSite:
    """The ``LICENSING_*`` values of ``site.env`` and ``secrets.env`` the environment lacks."""
    stored = {**read_env_file(secrets.with_name(SITE_FILE)), **read_env_file(secrets)}
    if PRODUCT_BROKER_URL in stored:
        stored["LICENSING_AMQP_URL"] = stored[PRODUCT_BROKER_URL]
    values = {
        key: value
        for key, value in stored.items()
        if key.startswith(PREFIX) and key != SECRETS_VAR and key not in environ
    }
    return LocalSite(secrets, values)


def find(cwd: Path, environ: Mapping[str, str] = os.environ) -> LocalSite | None:
    """The local site for a command run in ``cwd``; None if there is none."""
    secrets = locate(cwd, environ)
    return load(secrets, environ) if secrets is not None else None


def remember(run_dir: Path, settings: Settings, api_url: str) -> Path:
    """Write ``site.env`` beside the secrets: how a second terminal reaches this pair.

    Mode 600 like the secrets: a broker URL can carry a password.
    """
    path = run_dir / SITE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(
        f"# {WRITTEN_BY_UP} on each start: how the CLI reaches this pair\n"
        f"LICENSING_SITE={settings.site}\n"
        f"LICENSING_AMQP_URL={settings.amqp_url}\n"
        f"{API_URL_VAR}={api_url}\n"
    )
    return path


def where_keys_live(local: LocalSite | None, environ: Mapping[str, str] = os.environ) -> str:
    """What to tell someone whose admin command was refused for want of the right key."""
    how = (
        f"set {KEY}, or run from the directory where 'licensing up' wrote "
        f"{RUN_DIR}/{SECRETS_FILE}, or point {SECRETS_VAR} at it"
    )
    if KEY in environ:
        return f"the admin key in {KEY} is not this site's: {how}"
    if local is not None and KEY in local.values:
        return f"the admin key in {local.secrets} is not this site's: {how}"
    if local is not None:
        return f"{local.secrets} holds no {KEY}: {how}"
    return f"no admin key found: {how}"
