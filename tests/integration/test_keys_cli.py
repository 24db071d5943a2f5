"""The key file from the `jejak` command's side: `jejak backup` says which key its NIKs
need, and an installation that ran on the development keys (before the key file existed)
upgrades as docs/operations.md section 5 says."""

from __future__ import annotations

import os
import sqlite3
import stat

from click.testing import CliRunner
from sqlalchemy import select

from services.cli import main
from shared import db
from shared.config import DEFAULT_PII_KEY, KEY_FILE_NAME, read_key_file
from shared.models import Alumnus
from shared.pii import hash_nik, protect_nik, reveal_nik


def test_niks_stored_under_the_development_key_move_to_the_key_file_with_rotate_pii(
    survey_app, survey, settings, tmp_path
) -> None:
    niks = {}
    with survey_app.app_context():
        session = db.session()
        for index, (alumnus_id, _) in enumerate(survey["alumni"][:3]):
            niks[alumnus_id] = f"647401050399{index:04d}"
            alumnus = session.get(Alumnus, alumnus_id)
            alumnus.nik_encrypted, alumnus.nik_hash = protect_nik(niks[alumnus_id],
                                                                  DEFAULT_PII_KEY)
        session.commit()
    done = CliRunner().invoke(main, ["keys", "rotate-pii"], env={
        "JEJAK_DATABASE_URL": settings.database_url, "JEJAK_HOME": str(tmp_path),
        "JEJAK_PII_KEY_PREVIOUS": DEFAULT_PII_KEY})
    assert done.exit_code == 0, done.output
    assert "rotated 3 NIK(s)" in done.output
    key = read_key_file(tmp_path / KEY_FILE_NAME)["JEJAK_PII_KEY"]
    with survey_app.app_context():
        rows = db.session().execute(select(Alumnus.id, Alumnus.nik_encrypted, Alumnus.nik_hash)
                                    .where(Alumnus.nik_encrypted.is_not(None))).all()
    assert {row.id: reveal_nik(row.nik_encrypted, key) for row in rows} == niks
    assert all(row.nik_hash == hash_nik(niks[row.id], key) for row in rows)


def test_backup_names_the_key_file_a_backup_cannot_decrypt_niks_without(tmp_path) -> None:
    database = tmp_path / "var" / "jejak.db"
    database.parent.mkdir()
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE alumni (id INTEGER)")
    env = {"JEJAK_HOME": str(tmp_path / "var"), "JEJAK_DATABASE_URL": f"sqlite:///{database}"}
    done = CliRunner().invoke(main, ["backup", str(tmp_path / "backup.db")], env=env)
    assert done.exit_code == 0, done.output
    key_file = tmp_path / "var" / KEY_FILE_NAME
    assert f"encrypted with the key file {key_file}" in done.output
    assert "a backup without it cannot decrypt them" in done.output
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    # Keys set in the environment: the reminder names the variable, not a file.
    done = CliRunner().invoke(main, ["backup", str(tmp_path / "backup-2.db")], env={
        **env, "JEJAK_SECRET_KEY": "s" * 40, "JEJAK_PII_KEY": "p" * 40})
    assert done.exit_code == 0, done.output
    assert "encrypted with JEJAK_PII_KEY (set in the environment)" in done.output
