"""Personal data outside the encrypted column (issue 13, point 8).

Rejected-rows files (the import page and `jejak alumni import`), raw exports and backups are
written 0600 in 0700 folders under JEJAK_HOME; beat jobs delete them after
JEJAK_PERSONAL_FILES_DAYS days; an erasure takes the person's rows out of the rejected-rows
files or refuses, naming the files it cannot rewrite (backups); the embedded mail and SMS
sinks drop the erased person's messages (through `alumnus.erased`, with a real worker).
Each test gets a home of its own: the session's is shared by every test.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import stat
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from services.cli import main
from shared import db
from shared.celery_app import BEAT_SCHEDULE
from shared.config import ConfigError, Settings
from shared.models import Alumnus, Export, Message
from tests.conftest import wait_for
from tests.integration.test_outreach import create, maildir, run_due, sms_campaign, sms_log
from tests.integration.test_privacy import EMAIL, NIK, person  # noqa: F401 (a fixture)
from tests.integration.test_reports import run
from tests.integration.test_roster_import import roster_csv, roster_row
from tests.integration.test_web_access import csrf_of, login

DAY = 86_400
pytestmark = pytest.mark.timeout(120)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_private(path: Path) -> None:
    assert (oct(mode(path)), oct(mode(path.parent))) == ("0o600", "0o700"), path


@pytest.fixture()
def home(tmp_path) -> Path:
    (tmp_path / "home").mkdir()  # as `jejak up` makes it
    return tmp_path / "home"


@pytest.fixture()
def own_home(settings, home) -> Settings:
    return dataclasses.replace(settings, home=home, quiet_hours="")


def jejak(settings: Settings, home: Path, *args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, env={
        "JEJAK_DATABASE_URL": settings.database_url, "JEJAK_HOME": str(home)})


def rejected_files(home: Path) -> list[Path]:
    return sorted((home / "imports").glob("*-rejected.csv"))


def rejected_numbers(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    return [line.split(",")[header.index("registration_no")] for line in lines[1:]]


@pytest.fixture()
def staff(survey_app, survey, own_home):
    """Survey pages for an admin (adi) in this test's home."""
    from shared.auth import create_user

    survey_app.config["JEJAK_SETTINGS"] = own_home
    with survey_app.app_context():
        create_user(db.session(), "adi", "kata-sandi-adi", "admin")
        db.session().commit()
    client = survey_app.test_client()
    assert login(client, "adi", "kata-sandi-adi").status_code == 302
    return client


def upload_on_the_page(client, roster: bytes) -> str:
    """The upload step alone: kept as a pending import; the preview's address."""
    token = csrf_of(client.get("/import").get_data(as_text=True))
    uploaded = client.post("/import", data={"csrf_token": token, "file": (
        io.BytesIO(roster), "roster.csv")}, content_type="multipart/form-data")
    assert uploaded.status_code == 302
    return uploaded.headers["Location"]


def import_on_the_page(client, roster: bytes):
    """Upload, then apply from the preview (the page imports nothing before that)."""
    preview = client.get(upload_on_the_page(client, roster)).get_data(as_text=True)
    action = re.search(r'action="([^"]+/apply)"', preview).group(1)
    page = client.post(action, data={"csrf_token": csrf_of(preview)})
    assert page.status_code == 200
    return page


# --- 0600 in 0700 ---------------------------------------------------------------------------


def test_the_cli_writes_rejected_rows_0600_in_a_0700_folder_under_home(
    settings, clean_db, home, tmp_path
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_bytes(roster_csv([roster_row(1), roster_row(2, gender="X")]))
    done = jejak(settings, home, "alumni", "import", str(roster))
    assert done.exit_code == 0, done.output
    [written] = rejected_files(home)
    assert f"rejected rows written to {written}" in done.output
    assert rejected_numbers(written) == ["BLK-002"]
    assert_private(written)
    assert not (tmp_path / "roster-rejected.csv").exists()  # never beside a shared input


def test_the_import_page_writes_rejected_rows_0600_in_a_0700_folder(staff, home) -> None:
    (home / "imports").mkdir(parents=True)
    os.chmod(home / "imports", 0o755)  # as an older version left it: tightened
    import_on_the_page(staff, roster_csv([roster_row(1), roster_row(2, gender="X")]))
    [written] = rejected_files(home)
    assert_private(written)
    download = staff.get(f"/imports/{written.name}")
    assert download.status_code == 200 and b"BLK-002" in download.data


def test_a_raw_export_is_written_0600_in_a_0700_folder(analytics_app, survey, own_home) -> None:
    analytics_app.config["JEJAK_SETTINGS"] = own_home
    with analytics_app.app_context():
        export = Export(kind="raw_xlsx", params={"wave": "ts-2026", "wave_id": survey["wave_id"]})
        db.session().add(export)
        db.session().commit()
        export_id = export.id
    done = run(analytics_app, export_id)
    assert done.status == "done", done.error
    assert Path(done.path).parent == own_home.home / "exports"
    assert_private(Path(done.path))


def test_a_backup_is_written_0600_in_a_0700_folder(settings, clean_db, home, tmp_path) -> None:
    made = jejak(settings, home, "backup")
    assert made.exit_code == 0, made.output
    [written] = sorted((home / "backups").iterdir())
    assert written.name.startswith("jejak-") and written.suffix == ".dump"
    assert_private(written)

    chosen = tmp_path / "elsewhere" / "jejak-2026-12-07.dump"
    assert jejak(settings, home, "backup", str(chosen)).exit_code == 0
    assert_private(chosen)

    shared_folder = tmp_path / "shared"
    shared_folder.mkdir()
    os.chmod(shared_folder, 0o755)
    refused = jejak(settings, home, "backup", str(shared_folder / "jejak.dump"))
    assert refused.exit_code != 0 and f"chmod 700 {shared_folder}" in refused.output
    assert not list(shared_folder.iterdir()) and mode(shared_folder) == 0o755


# --- expiry -----------------------------------------------------------------------------------


def aged(path: Path, days: float, now: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("personal data\n")
    os.utime(path, (now - days * DAY, now - days * DAY))
    return path


def test_the_setting_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).personal_files_days == 7
    assert Settings.from_env({"JEJAK_PERSONAL_FILES_DAYS": "30"}).personal_files_days == 30
    for wrong in ("0", "-1", "seven", "1.5"):
        with pytest.raises(ConfigError, match="JEJAK_PERSONAL_FILES_DAYS"):
            Settings.from_env({"JEJAK_PERSONAL_FILES_DAYS": wrong})


def test_the_beat_jobs_delete_personal_files_older_than_the_setting_and_keep_younger_ones(
    worker_app, settings, home
) -> None:
    from services.analytics import tasks as analytics_tasks
    from services.analytics.reports.privacy import EXPIRED
    from services.survey import tasks as survey_tasks

    scheduled = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert {"survey.expire_personal_files", "analytics.expire_personal_files"} <= scheduled
    now = time.time()
    files = {(folder, age): aged(home / folder / f"{age}d-{name}", age, now)
             for folder, name in (("imports", "x-rejected.csv"), ("backups", "jejak.dump"))
             for age in (8, 6)}
    exports = {}
    with worker_app.app_context():
        session = db.session()
        for kind, age in (("raw_xlsx", 8), ("raw_xlsx", 6), ("xlsx", 8)):
            export_id = uuid.uuid4()
            path = aged(home / "exports" / f"{export_id}.xlsx", age, now)
            session.add(Export(id=export_id, kind=kind, params={}, status="done",
                               path=str(path)))
            exports[(kind, age)] = (export_id, path)
        session.commit()

    def run_beat_jobs(days: int) -> None:
        worker_app.config["JEJAK_SETTINGS"] = dataclasses.replace(
            settings, home=home, personal_files_days=days)
        with worker_app.app_context():
            survey_tasks.expire_personal_files.run()
            analytics_tasks.expire_personal_files.run()

    def export_state(key: tuple[str, int]) -> tuple[str, str | None, bool]:
        export_id, path = exports[key]
        with worker_app.app_context():
            row = db.session().get(Export, export_id)
            return row.status, row.error, path.exists()

    run_beat_jobs(7)
    assert {key for key, path in files.items() if path.exists()} == {
        ("imports", 6), ("backups", 6)}
    assert export_state(("raw_xlsx", 8)) == ("failed", EXPIRED.format(days=7), False)
    assert export_state(("raw_xlsx", 6)) == ("done", None, True)
    assert export_state(("xlsx", 8)) == ("done", None, True)  # aggregates: no personal data

    run_beat_jobs(5)
    assert not any(path.exists() for path in files.values())
    assert export_state(("raw_xlsx", 6)) == ("failed", EXPIRED.format(days=5), False)


# --- erasure ----------------------------------------------------------------------------------


def erase(survey_app, survey, alumnus_id: int):
    return survey_app.test_client().post(f"/api/v1/alumni/{alumnus_id}/erase",
                                         headers=survey["headers"]["admin"])


def test_erasure_rewrites_rejected_rows_files_without_the_person(
    survey_app, survey, person, staff, home, settings  # noqa: F811 (person is a fixture)
) -> None:
    # Alumnus 0 (REG-000, NIK, EMAIL, +628120000000) appears in three rejected rows: by
    # number, by NIK under a mistyped number, and by phone typed the local way.
    roster = roster_csv([
        roster_row(1, registration_no="REG-000", gender="X"),
        roster_row(2, registration_no="REG-0OO", nik=NIK, birth_date="31/02/2000"),
        roster_row(3, phone="0812-0000-000", gender="?"),
        roster_row(4, gender="X"),
    ])
    import_on_the_page(staff, roster)
    cli_roster = home.parent / "roster.csv"
    cli_roster.write_bytes(roster_csv([roster_row(5, email=EMAIL.upper(), gender="X"),
                                       roster_row(6, gender="X")]))
    assert jejak(settings, home, "alumni", "import",
                 str(cli_roster)).exit_code == 0
    files = rejected_files(home)
    assert sorted(map(rejected_numbers, files)) == [
        ["BLK-005", "BLK-006"], ["REG-000", "REG-0OO", "BLK-003", "BLK-004"]]
    written_at = {path: path.stat().st_mtime_ns for path in files}

    erased = erase(survey_app, survey, person)
    assert erased.status_code == 200, erased.get_json()
    assert erased.get_json()["rejected_rows_removed"] == 4
    assert sorted(map(rejected_numbers, files)) == [["BLK-004"], ["BLK-006"]]
    for path in files:
        assert_private(path)
        assert path.stat().st_mtime_ns == written_at[path]  # still expires when it would have
        assert NIK not in path.read_text() and EMAIL not in path.read_text().lower()


def test_erasure_deletes_pending_uploads_that_name_the_person(
    survey_app, survey, person, staff, home  # noqa: F811 (person is a fixture)
) -> None:
    upload_on_the_page(staff, roster_csv([roster_row(1, registration_no="REG-000")]))
    upload_on_the_page(staff, roster_csv([roster_row(2)]))
    pending = sorted((home / "imports").glob("*-pending.csv"))
    assert len(pending) == 2
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in pending)
    assert erase(survey_app, survey, person).status_code == 200
    left = sorted((home / "imports").glob("*-pending.csv"))
    assert len(left) == 1 and b"REG-000" not in left[0].read_bytes()


def test_erasure_refuses_and_lists_backups_it_cannot_rewrite(
    survey_app, survey, person, staff, home, settings  # noqa: F811 (person is a fixture)
) -> None:
    import_on_the_page(staff, roster_csv([roster_row(1, registration_no="REG-000",
                                                     gender="X")]))
    [rejected] = rejected_files(home)
    assert jejak(settings, home, "backup").exit_code == 0
    [backup] = sorted((home / "backups").iterdir())
    # Finished before the person was on the roster: it cannot hold them, and is not listed.
    older = aged(home / "backups" / "jejak-2020-01-01.dump", 365 * 5, time.time())

    refused = erase(survey_app, survey, person)
    assert refused.status_code == 409
    assert str(backup) in refused.get_json()["errors"]["files"][0]
    assert str(older) not in refused.get_json()["errors"]["files"][0]
    page = staff.get(f"/alumni/{person}/erase?lang=en")
    confirm = staff.post(f"/alumni/{person}/erase?lang=en", data={
        "csrf_token": csrf_of(page.get_data(as_text=True)), "confirm": "REG-000"})
    assert confirm.status_code == 409
    html = confirm.get_data(as_text=True)
    assert f"<code>{backup}</code>" in html and "Delete them by hand" in html
    with survey_app.app_context():
        assert db.session().get(Alumnus, person).erased_at is None  # nothing was changed
    assert rejected_numbers(rejected) == ["REG-000"]

    backup.unlink()  # the operator deletes it by hand
    assert erase(survey_app, survey, person).status_code == 200
    assert rejected_numbers(rejected) == []


def test_the_erasure_page_names_the_files_in_indonesian(
    survey_app, survey, person, staff, home, settings  # noqa: F811 (person is a fixture)
) -> None:
    assert jejak(settings, home, "backup").exit_code == 0
    page = staff.get(f"/alumni/{person}/erase?lang=id")
    confirm = staff.post(f"/alumni/{person}/erase?lang=id", data={
        "csrf_token": csrf_of(page.get_data(as_text=True)), "confirm": "REG-000"})
    assert confirm.status_code == 409
    assert "Hapus berkas ini secara manual" in confirm.get_data(as_text=True)


# --- the embedded sinks -----------------------------------------------------------------------


def test_an_erased_alumnus_messages_leave_the_mail_and_sms_sinks(
    survey_app, outreach_app, worker_app, survey, person, own_home,  # noqa: F811
    celery_worker,
) -> None:
    other = survey["alumni"][1][0]
    with survey_app.app_context():
        db.session().get(Alumnus, other).email = "alumnus.satu@contoh.id"
        db.session().commit()
    for app in (survey_app, outreach_app, worker_app):
        app.config["JEJAK_SETTINGS"] = own_home
    client = outreach_app.test_client()
    sms_campaign(client, survey, day_offsets=(0,))
    emailed = create(client, survey, name="Surel", steps=[{
        "day_offset": 0, "channel": "email",
        "template": {"id": {"subject": "Undangan", "body": "Halo {{ name }}"}}}])
    assert client.post(f"/api/v1/campaigns/{emailed.get_json()['id']}/launch",
                       headers=survey["headers"]["operator"]).status_code == 200
    assert run_due(outreach_app, own_home) == 7  # five SMS, two emails

    def recipients() -> tuple[list[str], list[str]]:
        return (sorted(line["to"] for line in sms_log(own_home)),
                sorted(message["To"] for message in maildir(own_home)))

    sms, mail = recipients()
    assert "+628120000000" in sms and len(sms) == 5
    assert mail == ["alumnus.nol@contoh.id", "alumnus.satu@contoh.id"]

    assert erase(survey_app, survey, person).status_code == 200
    def dropped() -> tuple[list[str], list[str]] | None:
        seen = recipients()
        return seen if (len(seen[0]), len(seen[1])) == (4, 1) else None

    after = wait_for(dropped)
    assert after == (sorted(set(sms) - {"+628120000000"}), ["alumnus.satu@contoh.id"])
    with outreach_app.app_context():
        addresses = db.session().scalars(select(Message.address)
                                         .where(Message.alumnus_id == person)).all()
    assert addresses == [None, None]
    assert all(json.dumps(line).count("+628120000000") == 0 for line in sms_log(own_home))
    assert_private(own_home.home / "outbox" / "sms.log")
