"""``hash-password``: make an administrator's entry for LICENSING_ADMIN_USERS."""

from __future__ import annotations

import sys

import click

from services.auth.passwords import hash_password as scrypt_hash

MIN_LENGTH = 8


@click.command("hash-password")
@click.option(
    "--stdin",
    "from_stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts) "
    "instead of prompting.",
)
@click.option(
    "--user",
    metavar="NAME",
    help="Print a whole LICENSING_ADMIN_USERS entry (NAME:hash) instead of the hash alone.",
)
def hash_password(from_stdin: bool, user: str | None) -> None:
    """Print the scrypt hash of an administrator's password.

    Put it in LICENSING_ADMIN_USERS on every node as ``user:hash`` (several
    administrators separated by commas); the License Manager checks sign-ins against it.
    The password itself is never stored.
    """
    if user is not None and (not user or any(c in user for c in ":, \t")):
        raise click.UsageError("the user name must not be empty or contain ':', ',' or spaces")
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_LENGTH:
        click.echo(
            f"licensing: refused: the password must have at least {MIN_LENGTH} characters", err=True
        )
        sys.exit(1)
    stored = scrypt_hash(password)
    click.echo(f"{user}:{stored}" if user else stored)
