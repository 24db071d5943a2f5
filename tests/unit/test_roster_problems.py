"""Every problem of a row at once, named as the file names its columns; the rejected rows
under the uploaded headers; the template that imports as it is. Plain functions, no I/O."""

from __future__ import annotations

import csv
import io

from services.survey.roster import (
    Rejection,
    RosterRow,
    parse_row,
    read_rows,
    write_rejections_csv,
)
from services.survey.roster_template import template_csv, template_xlsx


def rows_of(text: str):
    rows = read_rows(io.BytesIO(text.encode()), "roster.csv")
    return rows, list(rows)


def test_all_problems_of_a_row_come_at_once_in_file_order_with_the_files_names() -> None:
    rows, [(line, raw)] = rows_of(
        "no_peserta;nama;jenis_kelamin;tanggal_lahir;kejuruan;angkatan;tanggal_mulai;"
        "tanggal_selesai;email\n"
        "B-1;;X;2026-01-01;Las;A1;2025-03-01;2025-02-01;bukan-email\n")
    rejection = parse_row(line, raw, rows.titles)
    assert isinstance(rejection, Rejection)
    assert [(p.column, p.code) for p in rejection.problems] == [
        ("full_name", "required"), ("gender", "gender"), ("birth_date", "born_after_start"),
        ("training_end", "end_before_start"), ("email", "email")]
    assert rejection.message == (
        "nama is required; jenis_kelamin: 'X' is not a gender: use L or P (or M or F); "
        "tanggal_lahir: born (2026-01-01) after training started (2025-03-01); "
        "tanggal_selesai: training ends (2025-02-01) before it starts (2025-03-01); "
        "email: 'bukan-email' is not an email address")


def test_a_file_with_english_headers_is_answered_in_its_own_names() -> None:
    rows, [(line, raw)] = rows_of(
        "registration_no,full_name,gender,program,cohort,training_start,training_end\n"
        "B-1,,L,Las,A1,2025-01-01,2025-02-01\n")
    assert parse_row(line, raw, rows.titles).message == "full_name is required"


def test_the_rejected_rows_keep_the_uploaded_headers_and_order() -> None:
    text = ("Nama;No Peserta;catatan;jenis_kelamin;kejuruan;angkatan;tanggal_mulai;"
            "tanggal_selesai\n"
            "Ani;B-1;cek;X;Las;A1;2025-01-01;2025-02-01\n")
    rows, [(line, raw)] = rows_of(text)
    out = io.StringIO()
    write_rejections_csv([parse_row(line, raw, rows.titles)], out, rows.titles)
    table = list(csv.reader(io.StringIO(out.getvalue())))
    assert table == [
        ["Nama", "No Peserta", "catatan", "jenis_kelamin", "kejuruan", "angkatan",
         "tanggal_mulai", "tanggal_selesai", "line", "column", "error"],
        ["Ani", "B-1", "cek", "X", "Las", "A1", "2025-01-01", "2025-02-01", "2",
         "jenis_kelamin", "jenis_kelamin: 'X' is not a gender: use L or P (or M or F)"]]
    # fixed in place, it reads back as a valid row (the three extra columns are ignored)
    table[1][3] = "P"
    fixed = io.StringIO()
    csv.writer(fixed).writerows(table)
    [(line, raw)] = list(read_rows(io.BytesIO(fixed.getvalue().encode()), "again.csv"))
    assert isinstance(parse_row(line, raw), RosterRow)


def test_both_templates_read_back_with_indonesian_headers_and_a_valid_example() -> None:
    for data, name in ((template_csv(), "t.csv"), (template_xlsx(), "t.xlsx")):
        rows = read_rows(io.BytesIO(data), name)
        [(line, raw)] = list(rows)
        assert list(rows.titles.values()) == [
            "no_peserta", "nama", "jenis_kelamin", "tanggal_lahir", "nik", "kejuruan",
            "angkatan", "tanggal_mulai", "tanggal_selesai", "no_hp", "email"]
        row = parse_row(line, raw)
        assert isinstance(row, RosterRow), name
        assert (row.full_name, row.phone) == ("Siti Aminah", "+6281234567890")
