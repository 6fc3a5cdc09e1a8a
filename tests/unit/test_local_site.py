"""The CLI finds the site ``licensing up`` runs from a directory: where it looks, what wins,
and what a refused admin command says about keys.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from services.cli.context import CliContext
from services.cli.local_site import (
    SecretsNotFound,
    find,
    locate,
    remember,
    where_keys_live,
)
from services.cli.main import cli
from services.cli.second_terminal import admin_names, example_feature, how_to_use
from services.config.settings import Settings


def _site(directory: Path, **values: str) -> Path:
    secrets = directory / ".run" / "secrets.env"
    secrets.parent.mkdir(parents=True)
    secrets.write_text(
        "# made by licensing up\n" + "".join(f"{k}={v}\n" for k, v in values.items())
    )
    return secrets


def test_the_search_starts_in_the_working_directory_and_climbs_to_the_repository_root(tmp_path):
    repo = tmp_path / "repo"
    deep = repo / "services" / "cli"
    deep.mkdir(parents=True)
    (repo / ".git").write_text("gitdir: elsewhere\n")  # a worktree's .git is a file
    secrets = _site(repo, LICENSING_ADMIN_KEY="k")
    assert locate(deep, {}) == secrets
    assert locate(repo, {}) == secrets
    # Above the repository root is someone else's: a .run/ there is not this checkout's site.
    secrets.unlink()
    _site(tmp_path, LICENSING_ADMIN_KEY="outer")
    assert locate(deep, {}) is None


def test_outside_a_repository_the_nearest_run_directory_wins(tmp_path):
    outer = _site(tmp_path, LICENSING_ADMIN_KEY="outer")
    inner_dir = tmp_path / "a" / "b"
    inner_dir.mkdir(parents=True)
    assert locate(inner_dir, {}) == outer
    inner = _site(tmp_path / "a", LICENSING_ADMIN_KEY="inner")
    assert locate(inner_dir, {}) == inner


def test_licensing_secrets_points_at_a_file_or_a_directory_and_empty_turns_the_search_off(
    tmp_path,
):
    secrets = _site(tmp_path / "site", LICENSING_ADMIN_KEY="k")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert locate(elsewhere, {"LICENSING_SECRETS": str(secrets)}) == secrets
    assert locate(elsewhere, {"LICENSING_SECRETS": str(tmp_path / "site")}) == secrets
    assert locate(elsewhere, {"LICENSING_SECRETS": str(secrets.parent)}) == secrets
    assert locate(tmp_path / "site", {"LICENSING_SECRETS": ""}) is None
    with pytest.raises(SecretsNotFound, match="names no secrets file"):
        locate(tmp_path / "site", {"LICENSING_SECRETS": str(tmp_path / "nothing")})


def test_the_environment_wins_over_secrets_which_win_over_the_site_file(tmp_path):
    secrets = _site(
        tmp_path,
        LICENSING_ADMIN_KEY="from-file",
        LICENSING_SITE="north",
        LICENSING_BROKER_NODE_PASSWORD="not-a-setting",
        OTHER="ignored",
    )
    remember(secrets.parent, Settings(site="south", amqp_url="amqp://a@h/"), "http://h:9")
    local = find(tmp_path, {"LICENSING_ADMIN_KEY": "from-env"})
    assert local is not None and local.secrets == secrets
    assert local.api_url == "http://h:9"
    assert local.settings_fields() == {"site": "north", "amqp_url": "amqp://a@h/"}
    settings = CliContext(local=local).settings()
    assert (settings.site, settings.amqp_url) == ("north", "amqp://a@h/")
    assert CliContext(site="west", local=local).settings().site == "west"
    unset = find(tmp_path, {})
    assert unset is not None and unset.settings_fields()["admin_key"] == "from-file"
    assert (secrets.parent / "site.env").stat().st_mode & 0o077 == 0


def test_a_product_broker_user_in_the_secrets_is_the_one_the_cli_sends_with(tmp_path):
    _site(tmp_path, LICENSING_BROKER_PRODUCT_URL="amqp://product:pw@h/")
    remember(tmp_path / ".run", Settings(amqp_url="amqp://guest:guest@h/"), "http://h:9")
    local = find(tmp_path, {})
    assert local is not None and local.settings_fields()["amqp_url"] == "amqp://product:pw@h/"


def test_every_refusal_for_a_key_says_where_keys_live(tmp_path):
    how = (
        "set LICENSING_ADMIN_KEY, or run from the directory where 'licensing up' wrote "
        ".run/secrets.env, or point LICENSING_SECRETS at it"
    )
    assert where_keys_live(None, {}) == f"no admin key found: {how}"
    _site(tmp_path, LICENSING_ADMIN_KEY="k")
    keyed = find(tmp_path, {})
    assert where_keys_live(keyed, {}) == (
        f"the admin key in {tmp_path}/.run/secrets.env is not this site's: {how}"
    )
    assert where_keys_live(keyed, {"LICENSING_ADMIN_KEY": "x"}).endswith(how)


def test_the_cli_reads_the_site_files_of_its_directory_and_names_them_when_refused(
    tmp_path, monkeypatch
):
    secrets = _site(tmp_path, LICENSING_ADMIN_KEY="k")
    remember(secrets.parent, Settings(site="north"), "http://127.0.0.1:9")  # nothing listens
    monkeypatch.chdir(tmp_path)
    for name in ("LICENSING_SITE", "LICENSING_API_URL", "LICENSING_SECRETS"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 1 and "http://127.0.0.1:9" in result.output, result.output
    result = CliRunner().invoke(cli, ["status", "--api", "http://127.0.0.1:7"])
    assert "http://127.0.0.1:7" in result.output and ":9" not in result.output
    result = CliRunner().invoke(cli, ["status"], env={"LICENSING_SECRETS": str(tmp_path / "x")})
    assert result.exit_code == 2 and "LICENSING_SECRETS" in result.output


def test_up_tells_a_second_terminal_how_to_use_the_pair():
    text = how_to_use(
        Path("/plant/.run"),
        [("primary", "http://127.0.0.1:8081/"), ("backup", "http://127.0.0.1:8082/")],
        ("InTouch Dev 60K Tags", "2017 (17.0)"),
        ["admin"],
        ".venv/bin/licensing",
    )
    assert "cd /plant && .venv/bin/licensing status" in text
    assert "acquire 'InTouch Dev 60K Tags' '2017 (17.0)' --device HMI-7" in text
    assert "licensing demo" in text
    assert "/plant/.run/secrets.env" in text and "LICENSING_SECRETS" in text
    assert "http://127.0.0.1:8081/ (primary), http://127.0.0.1:8082/ (backup)" in text
    assert "sign in as admin" in text
    elsewhere = how_to_use(Path("/tmp/logs-parent"), [("p", "u")], ("F", "1"), [], "licensing")
    assert "LICENSING_SECRETS=/tmp/logs-parent/secrets.env licensing status" in elsewhere
    assert "LICENSING_ADMIN_USERS" in elsewhere


def test_the_example_feature_is_one_counted_in_seats_and_admins_are_named_without_hashes():
    features = [
        {"name": "Historian Enterprise 3M Tags", "version": "2017", "total": 1000},
        {"name": "Historian Tag Count", "version": "2017", "total": 400_000_000},
        {"name": "InTouch Dev 60K Tags", "version": "2017 (17.0)", "total": 50},
    ]
    assert example_feature(features) == ("InTouch Dev 60K Tags", "2017 (17.0)")
    assert example_feature(features[:1]) == ("Historian Enterprise 3M Tags", "2017")
    assert example_feature(features[1:2]) == ("Historian Tag Count", "2017")
    assert example_feature([]) == ("InTouch", "2017")
    assert admin_names("admin:scrypt$a$b,ops:scrypt$c$d") == ["admin", "ops"]
