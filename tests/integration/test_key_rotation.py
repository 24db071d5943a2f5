"""Rotating JEJAK_PII_KEY and API tokens with the `jejak` command (docs/security.md)."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from services.cli import main
from shared import db
from shared.auth import create_token
from shared.models import Alumnus, AuditEntry
from shared.pii import hash_nik, protect_nik, reveal_nik

OLD, NEW = "old-pii-key-0123456789", "new-pii-key-9876543210"


def jejak(settings, tmp_path, *argv: str, **env: str):
    return CliRunner().invoke(main, list(argv), env={
        "JEJAK_DATABASE_URL": settings.database_url, "JEJAK_HOME": str(tmp_path), **env})


def niks_of(app) -> dict[int, tuple[bytes, str]]:
    with app.app_context():
        rows = db.session().execute(select(Alumnus.id, Alumnus.nik_encrypted, Alumnus.nik_hash)
                                    .where(Alumnus.nik_encrypted.is_not(None))).all()
    return {row.id: (row.nik_encrypted, row.nik_hash) for row in rows}


def store_niks(app, survey) -> dict[int, str]:
    niks = {}
    with app.app_context():
        session = db.session()
        for index, (alumnus_id, _) in enumerate(survey["alumni"][:5]):
            nik = f"647401050399{index:04d}"
            alumnus = session.get(Alumnus, alumnus_id)
            alumnus.nik_encrypted, alumnus.nik_hash = protect_nik(nik, OLD)
            niks[alumnus_id] = nik
        session.commit()
    return niks


def test_rotate_pii_re_encrypts_every_nik_and_can_be_run_again(
    survey_app, survey, settings, tmp_path
) -> None:
    niks = store_niks(survey_app, survey)
    done = jejak(settings, tmp_path, "keys", "rotate-pii",
                 JEJAK_PII_KEY=NEW, JEJAK_PII_KEY_PREVIOUS=OLD)
    assert done.exit_code == 0, done.output
    assert "rotated 5 NIK(s)" in done.output
    for alumnus_id, (sealed, digest) in niks_of(survey_app).items():
        assert reveal_nik(sealed, NEW) == niks[alumnus_id]
        assert digest == hash_nik(niks[alumnus_id], NEW)
    again = jejak(settings, tmp_path, "keys", "rotate-pii",
                  JEJAK_PII_KEY=NEW, JEJAK_PII_KEY_PREVIOUS=OLD)
    assert again.exit_code == 0 and "rotated 0 NIK(s); 5 already" in again.output
    with survey_app.app_context():
        assert db.session().scalar(select(AuditEntry).where(
            AuditEntry.action == "keys.rotate_pii")) is not None


def test_a_wrong_previous_key_changes_nothing_and_names_the_row(
    survey_app, survey, settings, tmp_path
) -> None:
    store_niks(survey_app, survey)
    before = niks_of(survey_app)
    refused = jejak(settings, tmp_path, "keys", "rotate-pii",
                    JEJAK_PII_KEY=NEW, JEJAK_PII_KEY_PREVIOUS="not-the-key-0123456789")
    assert refused.exit_code != 0
    assert f"alumnus id {min(before)}" in refused.output
    assert niks_of(survey_app) == before


def test_rotation_refuses_while_erasure_tombstones_would_stop_matching(
    survey_app, survey, settings, tmp_path
) -> None:
    store_niks(survey_app, survey)
    with survey_app.app_context():
        db.session().get(Alumnus, survey["alumni"][5][0]).registration_no = "erased:abc"
        db.session().commit()
    argv = ("keys", "rotate-pii")
    env = {"JEJAK_PII_KEY": NEW, "JEJAK_PII_KEY_PREVIOUS": OLD}
    refused = jejak(settings, tmp_path, *argv, **env)
    assert refused.exit_code != 0 and "tombstones" in refused.output
    forced = jejak(settings, tmp_path, *argv, "--forget-erasure-tombstones", **env)
    assert forced.exit_code == 0, forced.output


def test_a_revoked_api_token_stops_working_at_once(survey_app, settings, tmp_path) -> None:
    with survey_app.app_context():
        value = create_token(db.session(), "operator", name="partner")
        db.session().commit()
    client = survey_app.test_client()
    headers = {"Authorization": f"Bearer {value}"}
    assert client.get("/api/v1/alumni", headers=headers).status_code == 200
    listed = jejak(settings, tmp_path, "token", "list")
    assert listed.exit_code == 0 and "partner\toperator" in listed.output
    assert value not in listed.output
    token_id = listed.output.split("\t")[0]
    revoked = jejak(settings, tmp_path, "token", "revoke", token_id)
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/v1/alumni", headers=headers).status_code == 401
    assert "revoked" in jejak(settings, tmp_path, "token", "list").output
