from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

import pytest

from shared.config import (
    DEFAULT_PII_KEY,
    DEFAULT_SECRET,
    KEY_FILE_NAME,
    ConfigError,
    Settings,
    read_key_file,
)

STRONG = {
    "JEJAK_ENV": "production",
    "JEJAK_SECRET_KEY": "s" * 40,
    "JEJAK_PII_KEY": "p" * 40,
    "JEJAK_DATABASE_URL": "postgresql+psycopg://jejak@db/jejak",
    "JEJAK_REDIS_URL": "redis://redis:6379/0",
}


def test_production_refuses_the_default_secrets(tmp_path: Path) -> None:
    env = {**STRONG, "JEJAK_HOME": str(tmp_path)}  # a data directory with no key file
    del env["JEJAK_SECRET_KEY"]
    with pytest.raises(ConfigError, match="JEJAK_SECRET_KEY"):
        Settings.from_env(env).check()


def test_production_refuses_sqlite_and_a_missing_broker() -> None:
    with pytest.raises(ConfigError, match="JEJAK_DATABASE_URL"):
        Settings.from_env({**STRONG, "JEJAK_DATABASE_URL": ""}).check()
    with pytest.raises(ConfigError, match="JEJAK_REDIS_URL"):
        Settings.from_env({**STRONG, "JEJAK_REDIS_URL": ""}).check()


def test_production_with_real_secrets_starts() -> None:
    Settings.from_env(STRONG).check()


def test_development_defaults_to_sqlite_under_var_and_quiet_hours() -> None:
    settings = Settings.from_env({"JEJAK_HOME": "/tmp/jejak-home"})
    assert settings.database_url == "sqlite:////tmp/jejak-home/jejak.db"
    assert settings.quiet_hours == "20:00-07:00"


def test_empty_quiet_hours_means_none() -> None:
    assert Settings.from_env({"JEJAK_QUIET_HOURS": ""}).quiet_hours == ""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_first_command_makes_private_keys_and_every_later_one_reuses_them(
    tmp_path: Path,
) -> None:
    home = tmp_path / "var"
    first = Settings.from_env({"JEJAK_HOME": str(home)}, make_keys=True)
    first.check()
    key_file = home / KEY_FILE_NAME
    assert mode(key_file) == 0o600 and mode(home) == 0o700
    assert read_key_file(key_file) == {"JEJAK_SECRET_KEY": first.secret_key,
                                       "JEJAK_PII_KEY": first.pii_key}
    assert first.secret_key != first.pii_key
    assert {first.secret_key, first.pii_key}.isdisjoint({DEFAULT_SECRET, DEFAULT_PII_KEY})
    # Later commands, and processes that only read settings (gunicorn, the worker's app).
    again = Settings.from_env({"JEJAK_HOME": str(home)}, make_keys=True)
    read_only = Settings.from_env({"JEJAK_HOME": str(home)})
    assert (again.secret_key, again.pii_key) == (first.secret_key, first.pii_key)
    assert (read_only.secret_key, read_only.pii_key) == (first.secret_key, first.pii_key)
    other = Settings.from_env({"JEJAK_HOME": str(tmp_path / "other")}, make_keys=True)
    assert {other.secret_key, other.pii_key}.isdisjoint({first.secret_key, first.pii_key})


def test_a_data_directory_made_by_an_older_version_becomes_private(tmp_path: Path) -> None:
    home = tmp_path / "var"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    Settings.from_env({"JEJAK_HOME": str(home)}, make_keys=True)
    assert mode(home) == 0o700


def _make_keys(home: str, barrier, results) -> None:
    barrier.wait()
    settings = Settings.from_env({"JEJAK_HOME": home}, make_keys=True)
    results.put((settings.secret_key, settings.pii_key))


def test_commands_starting_at_once_agree_on_one_pair_of_keys(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(4), context.Queue()
    processes = [context.Process(target=_make_keys, args=(str(tmp_path / "var"), barrier,
                                                          results)) for _ in range(4)]
    for process in processes:
        process.start()
    seen = {results.get(timeout=30) for _ in processes}
    for process in processes:
        process.join(timeout=30)
    assert len(seen) == 1
    assert read_key_file(tmp_path / "var" / KEY_FILE_NAME) == dict(
        zip(("JEJAK_SECRET_KEY", "JEJAK_PII_KEY"), seen.pop(), strict=True))
    assert [path.name for path in (tmp_path / "var").iterdir()] == [KEY_FILE_NAME]


def test_a_key_in_the_environment_wins_over_the_key_file(tmp_path: Path) -> None:
    stored = Settings.from_env({"JEJAK_HOME": str(tmp_path)}, make_keys=True)
    chosen = Settings.from_env({"JEJAK_HOME": str(tmp_path), "JEJAK_SECRET_KEY": "s" * 40},
                               make_keys=True)
    assert chosen.secret_key == "s" * 40
    assert chosen.pii_key == stored.pii_key  # the one not set still comes from the file


def test_keys_in_the_environment_make_no_key_file(tmp_path: Path) -> None:
    Settings.from_env({"JEJAK_HOME": str(tmp_path / "var"), "JEJAK_SECRET_KEY": "s" * 40,
                       "JEJAK_PII_KEY": "p" * 40}, make_keys=True).check()
    assert not (tmp_path / "var" / KEY_FILE_NAME).exists()


def test_reading_settings_alone_makes_no_keys_and_refuses_to_run(tmp_path: Path) -> None:
    settings = Settings.from_env({"JEJAK_HOME": str(tmp_path / "var")})
    assert not (tmp_path / "var").exists()
    with pytest.raises(ConfigError, match="JEJAK_SECRET_KEY is missing or empty"):
        settings.check()


@pytest.mark.parametrize("env", ["development", "production"])
@pytest.mark.parametrize(("name", "value", "problem"), [
    ("JEJAK_SECRET_KEY", DEFAULT_SECRET, "a published development key"),
    ("JEJAK_SECRET_KEY", DEFAULT_PII_KEY, "a published development key"),
    ("JEJAK_PII_KEY", DEFAULT_PII_KEY, "a published development key"),
    ("JEJAK_SECRET_KEY", "short-key-15chr", "shorter than 16 characters"),
    ("JEJAK_PII_KEY", "", "missing or empty"),
])
def test_a_short_or_published_key_is_refused_in_every_mode_saying_how_to_fix_it(
    tmp_path: Path, env: str, name: str, value: str, problem: str
) -> None:
    settings = Settings.from_env({**STRONG, "JEJAK_ENV": env, "JEJAK_HOME": str(tmp_path),
                                  name: value})
    with pytest.raises(ConfigError) as refused:
        settings.check()
    message = str(refused.value)
    assert message.startswith(f"{name} is {problem}")
    assert f"Remove {name} from the environment" in message  # then the key file is used
    assert str(tmp_path / KEY_FILE_NAME) in message
    assert "secrets.token_urlsafe(32)" in message  # or how to make a good one


def test_a_key_of_sixteen_characters_is_enough() -> None:
    Settings.from_env({**STRONG, "JEJAK_ENV": "development",
                       "JEJAK_SECRET_KEY": "k" * 16}).check()


@pytest.mark.parametrize("value", ["prod", "dev", "Production", "test", ""])
def test_jejak_env_is_development_or_production_and_nothing_else(value: str) -> None:
    with pytest.raises(ConfigError, match="JEJAK_ENV must be development or production"):
        Settings.from_env({**STRONG, "JEJAK_ENV": value}).check()


def test_only_a_loopback_host_is_served_without_the_plain_http_warning() -> None:
    from services.cli import plain_http_warning

    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        assert plain_http_warning(host) is None, host
    for host in ("0.0.0.0", "::", "192.168.1.20", "jejak.local", ""):
        warning = plain_http_warning(host)
        assert warning and "plain HTTP" in warning and "TLS" in warning, host
        assert "docs/operations.md" in warning


def test_the_worker_metrics_port_is_off_unless_set_and_must_be_a_port() -> None:
    assert Settings.from_env(STRONG).worker_metrics_port == 0
    assert Settings.from_env({**STRONG, "JEJAK_WORKER_METRICS_PORT": "9100"}
                             ).worker_metrics_port == 9100
    for wrong in ("nine", "-1", "70000"):
        with pytest.raises(ConfigError, match="JEJAK_WORKER_METRICS_PORT"):
            Settings.from_env({**STRONG, "JEJAK_WORKER_METRICS_PORT": wrong})


def test_the_bounce_mailbox_is_read_only_when_configured() -> None:
    assert Settings.from_env(STRONG).bounce_imap_url == ""
    url = "imaps://bounces:secret@imap.example.test:993/INBOX"
    assert Settings.from_env({**STRONG, "JEJAK_BOUNCE_IMAP_URL": url}).bounce_imap_url == url
