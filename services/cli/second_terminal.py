"""What ``licensing up`` says once the pair runs: how to use it from another terminal.

It also writes ``.run/site.env`` (``local_site.remember``), so the commands it suggests
work as printed: no export, no copied key.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any

from services.cli.api import fetch
from services.cli.local_secrets import USERS
from services.cli.local_site import RUN_DIR, SECRETS_FILE, SECRETS_VAR, remember
from services.cli.output import note
from services.config.settings import Settings

SEAT_FEATURE_MAX = 10_000  # more seats than this is a counted quantity (tags), not a seat
EXAMPLE = ("InTouch", "2017")  # when the site has no license yet
HMI_WORD = "intouch"  # the seed's HMI: the example acquires for a device HMI-7


def executable(directory: Path) -> str:
    """How to call this CLI from ``directory``: the venv's script, relative if it is inside."""
    script = Path(sys.executable).with_name("licensing")
    if not script.exists():
        return "licensing"
    try:
        return str(script.relative_to(directory))
    except ValueError:
        return str(script)


def example_feature(features: list[dict[str, Any]]) -> tuple[str, str]:
    """A feature to show ``acquire`` with: one counted in seats, an HMI's if the site has one."""
    licensed = [f for f in features if (f.get("total") or 0) > 0]
    seats = [f for f in licensed if f["total"] <= SEAT_FEATURE_MAX]
    seats.sort(key=lambda f: HMI_WORD not in str(f["name"]).lower())  # the example's device
    for feature in seats or licensed:
        return str(feature["name"]), str(feature["version"])
    return EXAMPLE


def admin_names(users_setting: str) -> list[str]:
    """The user names of ``LICENSING_ADMIN_USERS`` (``user:hash,...``), never the hashes."""
    return [entry.split(":", 1)[0] for entry in users_setting.split(",") if ":" in entry]


def how_to_use(
    run_dir: Path,
    license_managers: list[tuple[str, str]],
    feature: tuple[str, str],
    admins: list[str],
    licensing: str,
) -> str:
    """The text: ``license_managers`` are (node, URL) pairs, the primary first."""
    secrets = run_dir / SECRETS_FILE
    if run_dir.name == RUN_DIR:
        prefix = f"cd {shlex.quote(str(run_dir.parent))} && "
        found = "the CLI finds the site's secrets from that directory or below it"
    else:  # a --log-dir outside .run/: the search cannot find it, the variable can
        prefix = f"cd {shlex.quote(str(run_dir))} && {SECRETS_VAR}={shlex.quote(str(secrets))} "
        found = f"{SECRETS_VAR} points the CLI at the site's secrets"
    name, version = (shlex.quote(part) for part in feature)
    pages = ", ".join(f"{url} ({node})" for node, url in license_managers)
    who = (
        f"sign in as {' or '.join(admins)} (the password was printed once, when {secrets} "
        "was made; only its hash is kept)"
        if admins
        else f"no administrator can sign in: set {USERS} (licensing hash-password)"
    )
    return "\n".join(
        [
            f"From another terminal (no exports needed: {found}):",
            f"  {prefix}{licensing} status",
            f"  {prefix}{licensing} acquire {name} {version} --device HMI-7 --user op1 --hold",
            f"  {prefix}{licensing} demo    # product traffic until Ctrl-C: the charts come alive",
            f"Secrets: {secrets} (elsewhere: export {SECRETS_VAR}={shlex.quote(str(secrets))})",
            f"License Manager: {pages}; {who}",
        ]
    )


async def announce(settings: Settings, run_dir: Path, summary: dict[str, Any]) -> None:
    """Remember how to reach the pair in ``site.env`` and tell the user how to use it."""
    run_dir = run_dir.absolute()
    managers = [(row["node"], row["license_manager"]) for row in summary["nodes"]]
    try:
        remember(run_dir, settings, managers[0][1].rstrip("/"))
    except OSError as exc:
        note(f"Could not write {run_dir}: {exc}; the CLI elsewhere needs LICENSING_* variables.")
    (features,) = await fetch(managers[0][1], "/api/features")
    rows = features.get("features") or [] if isinstance(features, dict) else []
    licensing = executable(run_dir.parent if run_dir.name == RUN_DIR else run_dir)
    admins = admin_names(os.environ.get(USERS, ""))
    note(how_to_use(run_dir, managers, example_feature(rows), admins, licensing))
