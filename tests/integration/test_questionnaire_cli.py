"""`jejak questionnaire import FILE --key KEY --version N`, against a real database."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from services.cli import main
from shared.models import AuditEntry
from shared.models import Questionnaire as QuestionnaireRow
from tests.xlsforms import SURVEY, workbook


def run(settings, tmp_path, *argv: str):
    return CliRunner().invoke(main, ["questionnaire", "import", *argv], env={
        "JEJAK_DATABASE_URL": settings.database_url, "JEJAK_HOME": str(tmp_path / "home")})


def stored(clean_db) -> list[tuple[str, int, str]]:
    with clean_db.session_factory() as session:
        return [(row.key, row.version, row.title) for row in session.scalars(
            select(QuestionnaireRow).order_by(QuestionnaireRow.id))]


def test_the_cli_imports_a_form_prints_a_summary_and_audits_it(settings, clean_db,
                                                                tmp_path) -> None:
    path = tmp_path / "uji.xlsx"
    path.write_bytes(workbook())
    done = run(settings, tmp_path, str(path), "--key", "uji", "--version", "3")
    assert done.exit_code == 0, done.output
    summary, saved, indicators = done.output.splitlines()
    assert (summary, saved) == (
        "Uji XLSForm: 2 sections, 4 questions; languages: Indonesian, English",
        "saved as uji version 3",
    )
    # The form names no indicator input (no jejak_input column, no blk-tracer item).
    assert indicators.startswith("indicators: It will have 0 of 15 indicators. Not collected "
                                 "by this questionnaire: Status of the alumni, ")
    assert stored(clean_db) == [("uji", 3, "Uji XLSForm")]
    with clean_db.session_factory() as session:
        entry = session.scalar(select(AuditEntry).where(
            AuditEntry.action == "questionnaire.import"))
    assert (entry.actor, entry.target, entry.details) == ("cli", "uji v3", {"file": "uji.xlsx"})


def test_the_cli_refuses_an_existing_version_and_saves_nothing_more(settings, clean_db,
                                                                    tmp_path) -> None:
    path = tmp_path / "uji.xlsx"
    path.write_bytes(workbook())
    assert run(settings, tmp_path, str(path), "--key", "uji", "--version", "1").exit_code == 0
    again = run(settings, tmp_path, str(path), "--key", "uji", "--version", "1")
    assert again.exit_code == 1
    assert "uji version 1 exists; use version 2" in again.output
    assert stored(clean_db) == [("uji", 1, "Uji XLSForm")]


def test_the_cli_prints_each_refusal_and_exits_non_zero(settings, clean_db, tmp_path) -> None:
    path = tmp_path / "rusak.xlsx"
    path.write_bytes(workbook([*SURVEY, ["geopoint", "lokasi", "Lokasi", "", "", "", "", ""]]))
    refused = run(settings, tmp_path, str(path), "--key", "uji", "--version", "1")
    assert refused.exit_code == 1
    lines = refused.output.splitlines()
    assert any("8" in line and "geopoint" in line for line in lines), refused.output
    assert "rusak.xlsx is refused (1 reason(s)); nothing was saved" in refused.output
    assert stored(clean_db) == []


def test_the_cli_refuses_a_file_that_is_not_a_workbook(settings, clean_db, tmp_path) -> None:
    path = tmp_path / "form.csv"
    path.write_text("type,name\ntext,a\n")
    refused = run(settings, tmp_path, str(path), "--key", "uji", "--version", "1")
    assert refused.exit_code == 1
    assert "only .xlsx and .xls workbooks are accepted, not .csv" in refused.output
    assert stored(clean_db) == []
