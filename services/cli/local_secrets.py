"""Secrets for a pair run by ``licensing up`` on one machine, kept in ``.run/secrets.env``.

On the first run, where the environment sets neither ``LICENSING_ADMIN_KEY`` nor
``LICENSING_ADMIN_USERS``, ``up`` makes a random admin key and an administrator
``admin`` with a random password, prints the password once, and keeps only the key
and the password's scrypt hash (file mode 600; ``.run/`` is ignored by git). It also
makes the site's Ed25519 key (``LICENSING_SITE_KEY``, which signs deactivation
receipts) and the site's node key (``LICENSING_NODE_KEYS``, which signs the log, the
heartbeats and the nodes' and watchdog's commands). Later runs read them back. Values set
in the environment always win.

``licensing site setup`` adds the site's broker users (``broker_url_key``): each role's AMQP
URL, password included, and the password alone, for tools that take it apart.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from services.auth.passwords import hash_password
from services.trust.keys import new_private_key

KEY, USERS, SITE_KEY = "LICENSING_ADMIN_KEY", "LICENSING_ADMIN_USERS", "LICENSING_SITE_KEY"
NODE_KEYS = "LICENSING_NODE_KEYS"


def _read(path: Path) -> dict[str, str]:
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                values[name.strip()] = value.strip()
    return values


def broker_url_key(role: str) -> str:
    return f"LICENSING_BROKER_{role.upper()}_URL"


def broker_password_key(role: str) -> str:
    return f"LICENSING_BROKER_{role.upper()}_PASSWORD"


def stored_broker_urls(path: Path, roles: tuple[str, ...]) -> dict[str, str]:
    """The broker URL of each role kept in ``path`` (only the roles it has)."""
    stored = _read(path)
    return {role: stored[broker_url_key(role)] for role in roles if broker_url_key(role) in stored}


def store_broker_users(path: Path, users: dict[str, tuple[str, str]]) -> None:
    """Keep ``{role: (amqp_url, password)}`` in ``path`` (mode 600), replacing older ones."""
    stored = _read(path)
    for role, (url, password) in users.items():
        stored[broker_url_key(role)] = url
        stored[broker_password_key(role)] = password
    _write(path, stored)


def _write(path: Path, stored: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)  # before the secrets go in
    path.write_text(
        "# made by licensing up; keep it private\n"
        + "".join(f"{k}={v}\n" for k, v in stored.items())
    )


def ensure_local_secrets(path: Path = Path(".run/secrets.env")) -> str | None:
    """Put the admin key and users into os.environ; return a new admin password, if one was made."""
    stored = _read(path)
    password = None
    if KEY not in stored:
        stored[KEY] = secrets.token_urlsafe(32)
    if USERS not in stored:
        password = secrets.token_urlsafe(12)
        stored[USERS] = f"admin:{hash_password(password)}"
    if SITE_KEY not in stored:
        stored[SITE_KEY] = new_private_key()
    if NODE_KEYS not in stored:
        stored[NODE_KEYS] = f"n1:{secrets.token_urlsafe(32)}"
    _write(path, stored)
    for name in (KEY, USERS, SITE_KEY, NODE_KEYS):
        os.environ.setdefault(name, stored[name])
    return password if os.environ[USERS] == stored[USERS] else None
