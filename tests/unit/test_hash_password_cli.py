"""``licensing hash-password``: the hash it prints is what the License Manager checks sign-ins
against.
"""

from __future__ import annotations

from click.testing import CliRunner

from services.auth.passwords import check_password, parse_users
from services.cli.main import cli


def test_a_password_from_stdin_becomes_an_admin_users_entry():
    result = CliRunner().invoke(
        cli, ["hash-password", "--stdin", "--user", "alice"], input="s3cret-passw0rd\n"
    )
    assert result.exit_code == 0, result.output
    users = parse_users(result.output.strip())
    assert list(users) == ["alice"]
    assert check_password("s3cret-passw0rd", users["alice"])
    assert not check_password("s3cret-passw0rd ", users["alice"])


def test_the_prompt_asks_twice_and_never_prints_the_password():
    result = CliRunner().invoke(cli, ["hash-password"], input="plant-admin-1\nplant-admin-1\n")
    assert result.exit_code == 0, result.output
    stored = result.output.strip().splitlines()[-1]
    assert stored.startswith("scrypt$") and check_password("plant-admin-1", stored)
    assert "plant-admin-1" not in result.output

    mismatch = CliRunner().invoke(cli, ["hash-password"], input="plant-admin-1\nplant-admin-2\n")
    assert mismatch.exit_code != 0 and "scrypt$" not in mismatch.output


def test_a_short_password_is_refused():
    result = CliRunner().invoke(cli, ["hash-password", "--stdin"], input="short\n")
    assert result.exit_code == 1 and "at least 8 characters" in result.output
