"""The raw responses workbook explains itself: a codebook sheet built from the wave's own
questionnaire (issue 14 point 8), read back with openpyxl."""

from __future__ import annotations

from openpyxl import load_workbook

from services.analytics.reports.xlsx import RAW_EXTRA, RAW_FIXED, write_raw_responses
from services.survey.questionnaire.definition import default_definition
from shared import db
from tests.integration.test_reports import report_wave, rows_of  # noqa: F401 (a fixture)


def _every_key(definition) -> set[str]:
    """The default instrument's answer keys, walked here by hand (not by the code under test)."""
    keys: set[str] = set()

    def visit(question) -> None:
        for sub in question.get("questions", ()):
            visit(sub)
        for row in question.get("rows", ()):
            keys.update(row[name] for name in ("key", "key_a", "key_b") if name in row)
        if question["type"] not in ("group", "matrix"):
            keys.add(question["key"])

    for section in definition["sections"]:
        for question in section["questions"]:
            visit(question)
    return keys


def test_the_raw_workbook_has_a_codebook_of_every_question_of_the_default_instrument(
        analytics_app, report_wave, tmp_path) -> None:  # noqa: F811
    out = tmp_path / "raw.xlsx"
    with analytics_app.app_context():
        write_raw_responses(db.session(), report_wave["wave_id"], out)
    workbook = load_workbook(out)
    assert workbook.sheetnames == ["Respons", "Buku kode", "Keterangan"]
    header, *rows = rows_of(workbook["Buku kode"])
    assert header == ("Kode pertanyaan", "Jenis", "Pertanyaan (Indonesia)", "Question (English)",
                      "Kode jawaban", "Label jawaban (Indonesia)", "Answer label (English)",
                      "Rentang")
    coded = {row[0] for row in rows}
    assert coded == _every_key(default_definition())
    # every answer column of the responses sheet is explained
    answer_columns = set(rows_of(workbook["Respons"])[0]) - {n for n, _ in RAW_FIXED} - {RAW_EXTRA}
    assert answer_columns <= coded
    by_key: dict[str, list[tuple]] = {}
    for row in rows:
        by_key.setdefault(row[0], []).append(row)

    status = by_key["f8"]
    assert [row[4] for row in status] == [1, 2, 3, 4, 5]
    assert status[0][1:4] == ("single", "Jelaskan status Anda saat ini",
                              "Describe your current status")
    assert status[2][5:7] == ("Wiraswasta", "Self-employed")
    channels = {row[4]: row[5:7] for row in by_key["f4"]}
    assert channels["f404"] == ("internet/iklan online", "internet/online advertisements")
    assert [(row[4], row[5]) for row in by_key["consent"]] == [(True, "Ya"), (False, "Tidak")]
    # a matrix cell: row label and column in the question text, the whole 1–5 scale
    ethic = by_key["f1761"]
    assert "etika kerja" in ethic[0][2] and "A: tingkat penguasaan" in ethic[0][2]
    assert "work ethic" in ethic[0][3]
    assert [row[4] for row in ethic] == [1, 2, 3, 4, 5]
    assert ethic[0][5] == "sangat rendah" and ethic[4][6] == "very high"
    assert "B: tingkat yang diperlukan" in by_key["f1762"][0][2]
    # a group's questions carry the group's text; numbers carry their range
    assert by_key["f18b"][0][2].startswith("Studi lanjut") and by_key["f18b"][0][4] is None
    assert by_key["f502"][0][7] == "0–120"
