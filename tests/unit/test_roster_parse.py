"""Reading and checking roster files: the plain core of the roster import, without a database."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from services.survey.roster import (
    COLUMNS,
    MAX_LENGTHS,
    Rejection,
    RosterFileError,
    RosterRow,
    parse_row,
    read_rows,
    write_rejections_csv,
)

GOOD = {
    "registration_no": "BLK-2024-001",
    "full_name": "Budi Santoso",
    "gender": "L",
    "birth_date": "1999-03-05",
    "nik": "6474010503990001",
    "program": "Welding",
    "cohort": "Angkatan 1",
    "training_start": "2024-01-08",
    "training_end": "2024-03-29",
    "phone": "0812-3456-7890",
    "email": "Budi@Example.com",
}


def csv_bytes(
    header: list[str], *rows: list[str], delimiter: str = ",", bom: bool = False
) -> bytes:
    text = "\n".join(delimiter.join(cells) for cells in (header, *rows)) + "\n"
    return ("\ufeff" if bom else "").encode() + text.encode()


def read_csv(data: bytes) -> list[tuple[int, dict[str, str]]]:
    return list(read_rows(io.BytesIO(data), "roster.csv"))


def parsed(**changes: str) -> RosterRow | Rejection:
    return parse_row(7, {**GOOD, **changes})


# --- reading files -----------------------------------------------------------------------


def test_english_and_indonesian_headers_read_the_same_row() -> None:
    english = csv_bytes(list(COLUMNS), list(GOOD.values()))
    indonesian = csv_bytes(list(COLUMNS.values()), list(GOOD.values()))
    assert read_csv(english) == read_csv(indonesian) == [(2, GOOD)]


def test_headers_ignore_case_and_surrounding_spaces() -> None:
    header = [f"  {name.upper()} " for name in COLUMNS.values()]
    header[0] = " No Peserta "  # as typed in a spreadsheet
    assert read_csv(csv_bytes(header, list(GOOD.values()))) == [(2, GOOD)]


def test_semicolon_csv_with_bom_is_read() -> None:
    data = csv_bytes(list(COLUMNS.values()), list(GOOD.values()), delimiter=";", bom=True)
    assert read_csv(data) == [(2, GOOD)]


def test_comma_csv_with_bom_is_read() -> None:
    data = csv_bytes(list(COLUMNS), list(GOOD.values()), bom=True)
    assert read_csv(data) == [(2, GOOD)]


def test_line_numbers_count_blank_lines_and_multiline_values() -> None:
    good = ",".join(GOOD.values())
    data = (
        ",".join(COLUMNS)
        + f"\n{good}\n\n"
        + good.replace("Budi Santoso", '"Budi\nSantoso"').replace("001", "002")
        + "\n"
        + good.replace("001", "003")
        + "\n"
    ).encode()
    assert [line for line, _ in read_csv(data)] == [2, 4, 6]


def test_reading_leaves_the_callers_file_open() -> None:
    file = io.BytesIO(csv_bytes(list(COLUMNS), list(GOOD.values())))
    rows = read_rows(file, "roster.csv")
    assert list(rows) == [(2, GOOD)]
    del rows
    assert not file.closed


def test_unknown_columns_are_kept_for_the_rejections_file() -> None:
    data = csv_bytes([*COLUMNS, "Keterangan"], [*GOOD.values(), "pindah"])
    assert read_csv(data) == [(2, {**GOOD, "Keterangan": "pindah"})]


def test_missing_required_column_names_it() -> None:
    header = [column for column in COLUMNS if column != "cohort"]
    with pytest.raises(RosterFileError, match=r"cohort \(angkatan\)"):
        read_csv(csv_bytes(header))


def test_a_column_given_twice_is_refused() -> None:
    with pytest.raises(RosterFileError, match="full_name"):
        read_csv(csv_bytes([*COLUMNS, "nama"]))


def test_non_utf8_file_is_refused_plainly() -> None:
    data = csv_bytes(list(COLUMNS), list(GOOD.values())).replace(b"Budi", b"B\xe9di")
    with pytest.raises(RosterFileError, match="UTF-8"):
        read_csv(data)


def test_xlsx_with_real_date_cells(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(COLUMNS.values()))
    sheet.append(
        [
            "BLK-2024-001",
            "Budi Santoso",
            "l",
            datetime(1999, 3, 5),
            "6474010503990001",
            "Welding",
            "Angkatan 1",
            date(2024, 1, 8),
            datetime(2024, 3, 29),
            812345678901,  # typed as a number: Excel dropped the leading 0
            None,
        ]
    )
    sheet.append([None] * len(COLUMNS))  # blank rows are skipped but still counted
    sheet.append(["BLK-2024-002", "Siti", "P", "05/03/1999", None, "Welding", "Angkatan 1"])
    path = tmp_path / "roster.xlsx"
    workbook.save(path)
    with path.open("rb") as file:
        rows = list(read_rows(file, "Roster.XLSX"))
    assert [line for line, _ in rows] == [2, 4]
    first = parse_row(*rows[0])
    assert first == RosterRow(
        line=2,
        registration_no="BLK-2024-001",
        full_name="Budi Santoso",
        gender="L",
        birth_date=date(1999, 3, 5),
        nik="6474010503990001",
        program="Welding",
        cohort="Angkatan 1",
        training_start=date(2024, 1, 8),
        training_end=date(2024, 3, 29),
        phone="+62812345678901",
    )
    second = parse_row(*rows[1])
    assert isinstance(second, Rejection)
    assert (second.line, second.column) == (4, "training_start")


def test_csv_length_hint_estimates_the_rows() -> None:
    rows = read_rows(io.BytesIO(csv_bytes(list(COLUMNS), *[list(GOOD.values())] * 3)), "r.csv")
    assert rows.__length_hint__() == 3  # type: ignore[attr-defined]


# --- checking one row --------------------------------------------------------------------


def test_a_good_row_is_normalised() -> None:
    assert parsed() == RosterRow(
        line=7,
        registration_no="BLK-2024-001",
        full_name="Budi Santoso",
        gender="L",
        birth_date=date(1999, 3, 5),
        nik="6474010503990001",
        program="Welding",
        cohort="Angkatan 1",
        training_start=date(2024, 1, 8),
        training_end=date(2024, 3, 29),
        phone="+6281234567890",
        email="budi@example.com",
    )


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("registration_no", "", "required"),
        ("registration_no", "X" * 65, "longer than 64"),
        ("full_name", "  ", "required"),
        ("full_name", "Budi\x00", "control character"),
        ("gender", "", "required"),
        ("gender", "X", "not a gender"),
        ("birth_date", "5 Maret 1999", "not a date"),
        ("birth_date", "1999-02-30", "not a valid date"),
        ("birth_date", "\u0661\u0669\u0669\u0669-03-05", "not a date"),
        ("birth_date", "2024-02-01", "after training started"),
        ("nik", "647401050399", "16 digits"),
        ("nik", "647401050399000A", "16 digits"),
        ("program", "", "required"),
        ("cohort", "", "required"),
        ("training_start", "", "required"),
        ("training_start", "31/02/2024", "not a valid date"),
        ("training_end", "", "required"),
        ("training_end", "2023-12-31", "before it starts"),
        ("phone", "0812", "not a valid phone number"),
        ("phone", "nomor hp", "not a valid phone number"),
        ("email", "budi@", "not an email address"),
        ("email", "budi santoso@example.com", "not an email address"),
    ],
)
def test_each_error_names_its_line_column_and_problem(
    column: str, value: str, message: str
) -> None:
    raw = {**GOOD, column: value}
    rejection = parse_row(7, raw)
    assert isinstance(rejection, Rejection)
    assert (rejection.line, rejection.column) == (7, column)
    assert message in rejection.message
    assert rejection.raw == raw


def test_a_missing_key_is_a_required_value() -> None:
    raw = {key: value for key, value in GOOD.items() if key != "program"}
    rejection = parse_row(3, raw)
    assert isinstance(rejection, Rejection)
    assert (rejection.line, rejection.column) == (3, "program")


@pytest.mark.parametrize(
    "phone",
    ["081234567890", "6281234567890", "+62 812-3456-7890", "(0812) 3456 7890", "81234567890"],
)
def test_phone_forms_normalise_to_one_e164_number(phone: str) -> None:
    row = parsed(phone=phone)
    assert isinstance(row, RosterRow)
    assert row.phone == "+6281234567890"


def phonenumbers_reading(value: str) -> str | None:
    """The phone rule stated plainly: what phonenumbers.parse makes of the value, if valid."""
    try:
        number = phonenumbers.parse(value, "ID")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


PHONE_LIKE = st.builds(
    lambda prefix, groups, separator: prefix + separator.join(groups),
    st.sampled_from(["0", "+62 ", "62", "00", "+620", "0812", "+62812", "62 813", "0541", "+1 "]),
    st.lists(st.text("0123456789", min_size=1, max_size=4), min_size=1, max_size=4),
    st.sampled_from(["", " ", "-", ".", ") "]),
)


# No deadline: phonenumbers' first parse of a region loads its metadata (~0.5 s on a loaded
# machine), which is no property of the rule under test.
@settings(deadline=None)
@given(PHONE_LIKE)
def test_phone_numbers_are_read_as_phonenumbers_reads_them(value: str) -> None:
    # parse_row takes a shortcut for the common Indonesian forms; it must never disagree.
    row = parsed(phone=value)
    expected = phonenumbers_reading(value)
    if expected is None:
        assert isinstance(row, Rejection) and row.column == "phone"
    else:
        assert isinstance(row, RosterRow) and row.phone == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("05/03/1999", date(1999, 3, 5)), ("5/3/1999", date(1999, 3, 5)), ("1999-03-05", None)],
)
def test_dates_day_first_or_iso(value: str, expected: date | None) -> None:
    row = parsed(birth_date=value)
    assert isinstance(row, RosterRow)
    assert row.birth_date == (expected or date(1999, 3, 5))


@pytest.mark.parametrize(
    ("value", "stored"),
    [("L", "L"), ("p", "P"), ("M", "L"), ("f", "P"), (" Laki-laki ", "L"), ("Perempuan", "P")],
)
def test_gender_is_stored_as_l_or_p(value: str, stored: str) -> None:
    row = parsed(gender=value)
    assert isinstance(row, RosterRow)
    assert row.gender == stored


def test_optional_values_may_be_blank_and_spaces_collapse() -> None:
    row = parsed(birth_date="", nik=" ", phone="", email="", program="  Teknik   Las ")
    assert isinstance(row, RosterRow)
    assert (row.birth_date, row.nik, row.phone, row.email) == (None, None, None, None)
    assert row.program == "Teknik Las"


COLUMN_NAMES = st.sampled_from([*COLUMNS, *COLUMNS.values(), "other"])


@given(
    line=st.integers(min_value=2, max_value=10**6),
    raw=st.dictionaries(COLUMN_NAMES, st.text(max_size=40))
    | st.fixed_dictionaries({column: st.text(max_size=30) for column in COLUMNS}),
    good_base=st.booleans(),
)
def test_parse_row_never_raises_and_keeps_its_promises(
    line: int, raw: dict[str, str], good_base: bool
) -> None:
    values = {**GOOD, **raw} if good_base else raw
    result = parse_row(line, values)
    assert result.line == line
    if isinstance(result, Rejection):
        assert result.column in COLUMNS
        assert result.message
        assert result.raw == values
        return
    assert isinstance(result, RosterRow)
    assert result.gender in ("L", "P")
    assert result.training_start <= result.training_end
    assert result.phone is None or result.phone.startswith("+")
    assert result.nik is None or (len(result.nik) == 16 and result.nik.isdigit())
    for column, limit in MAX_LENGTHS.items():
        value = getattr(result, column)
        assert value is None or 0 < len(value) <= limit
        assert value is None or value == value.strip()


# --- writing rejections ------------------------------------------------------------------


def test_rejections_csv_round_trips_through_read_rows() -> None:
    raw = {**GOOD, "gender": "X", "Keterangan": "pindah; kota"}
    rejection = parse_row(5, raw)
    assert isinstance(rejection, Rejection)
    out = io.StringIO()
    write_rejections_csv([rejection], out)
    [(line, values)] = read_csv(out.getvalue().encode())
    assert line == 2
    assert values == {**raw, "line": "5", "column": "gender", "error": rejection.message}


def test_rejections_csv_is_inert_in_a_spreadsheet_and_imports_again_as_it_was() -> None:
    # A typed formula must not run when staff open the report; +62 phones must survive.
    raw = {**GOOD, "full_name": "=HYPERLINK(\"http://x\")", "phone": "+62 812-3456-7890",
           "gender": "X"}
    rejection = parse_row(7, raw)
    assert isinstance(rejection, Rejection)
    out = io.StringIO()
    write_rejections_csv([rejection], out)
    assert "'=HYPERLINK" in out.getvalue() and "'+62 812" in out.getvalue()
    [(_line, values)] = read_csv(out.getvalue().encode())
    fixed = parse_row(2, {**values, "gender": "L"})
    assert not isinstance(fixed, Rejection)
    assert fixed.full_name == raw["full_name"]
    assert fixed.phone == "+6281234567890"
