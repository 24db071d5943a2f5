from __future__ import annotations

import pytest

from shared.config import ConfigError, Settings

STRONG = {
    "JEJAK_ENV": "production",
    "JEJAK_SECRET_KEY": "s" * 40,
    "JEJAK_PII_KEY": "p" * 40,
    "JEJAK_DATABASE_URL": "postgresql+psycopg://jejak@db/jejak",
    "JEJAK_REDIS_URL": "redis://redis:6379/0",
}


def test_production_refuses_the_default_secrets() -> None:
    env = dict(STRONG)
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
    settings.check()  # development accepts the defaults


def test_empty_quiet_hours_means_none() -> None:
    assert Settings.from_env({"JEJAK_QUIET_HOURS": ""}).quiet_hours == ""
