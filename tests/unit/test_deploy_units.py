"""The systemd units in deploy/ start what the docs say, as a dedicated user."""

from __future__ import annotations

import configparser
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(DEPLOY / name)
    return parser


def test_the_service_starts_jejak_up_at_boot_as_its_own_user_and_restarts_it() -> None:
    unit = _unit("jejak.service")
    service = unit["Service"]
    assert service["ExecStart"].endswith("/.venv/bin/jejak up --host 127.0.0.1 --port 8000")
    assert service["User"] == "jejak" and service["Restart"] == "on-failure"
    assert service["Environment"] == "JEJAK_HOME=/opt/jejak/var"
    assert service["UMask"] == "0077"  # keys, backups and logs readable by jejak only
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_a_timer_backs_up_every_night_into_the_same_data_directory() -> None:
    backup = _unit("jejak-backup.service")["Service"]
    assert backup["ExecStart"].endswith("/.venv/bin/jejak backup")
    assert backup["Environment"] == _unit("jejak.service")["Service"]["Environment"]
    timer = _unit("jejak-backup.timer")["Timer"]
    assert timer["OnCalendar"] == "*-*-* 01:30:00" and timer["Persistent"] == "true"
