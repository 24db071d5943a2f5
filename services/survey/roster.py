"""Reading and checking a roster file (CSV or XLSX): the plain core of the roster import.

`read_rows` turns a file into (line, values) pairs with the columns under their English
names, whichever language the header used; `parse_row` checks one row and returns either a
`RosterRow` ready to store or a `Rejection` naming the line, the column and the problem.
Nothing here touches the database: rules that need other rows or stored data (a
registration number seen twice, a cohort's training dates) live in `roster_import`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any, TextIO, TypeVar

import phonenumbers

from shared.bidi import BIDI_CONTROL
from shared.csvsafe import restore_cell, safe_cell
from shared.uploads import UploadRejected, check_spreadsheet

# The columns in the order a roster file lists them, each with its Indonesian header.
COLUMNS: dict[str, str] = {
    "registration_no": "no_peserta",
    "full_name": "nama",
    "gender": "jenis_kelamin",
    "birth_date": "tanggal_lahir",
    "nik": "nik",
    "program": "kejuruan",
    "cohort": "angkatan",
    "training_start": "tanggal_mulai",
    "training_end": "tanggal_selesai",
    "phone": "no_hp",
    "email": "email",
}
REQUIRED_COLUMNS = (
    "registration_no",
    "full_name",
    "gender",
    "program",
    "cohort",
    "training_start",
    "training_end",
)
HEADER_ALIASES: dict[str, str] = {
    alias: column for column, indonesian in COLUMNS.items() for alias in (column, indonesian)
}
# Column widths of the alumni, programs and cohorts tables: PostgreSQL refuses longer values,
# and one such row must not fail the whole chunk it travels in.
MAX_LENGTHS = {
    "registration_no": 64,
    "full_name": 200,
    "program": 200,
    "cohort": 100,
    "email": 254,
}
GENDERS = {
    "L": "L",
    "P": "P",
    "M": "L",
    "F": "P",
    "LAKI-LAKI": "L",
    "PEREMPUAN": "P",
    "MALE": "L",
    "FEMALE": "P",
}
REJECTION_COLUMNS = ("line", "column", "error")
PHONE_REGION = "ID"

_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DAY_FIRST_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_NIK = re.compile(r"[0-9]{16}")
# A national number after the trunk prefix 0 or +62; one starting 0 again is left to the parser.
_INDONESIAN_PHONE = re.compile(r"(?:\+62|0)([1-9][0-9]{6,16})")
_PHONE_SEPARATORS = str.maketrans("", "", " -.()")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
# Unicode categories Cc (control codes) and Cs (lone surrogates, which no encoder accepts).
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CSV_DELIMITERS = (",", ";", "\t")
_T = TypeVar("_T")


class RosterFileError(ValueError):
    """The file as a whole cannot be read as a roster (no header, missing columns...)."""


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One valid roster line, normalised: gender L/P, phone E.164, email lower case."""

    line: int
    registration_no: str
    full_name: str
    gender: str
    program: str
    cohort: str
    training_start: date
    training_end: date
    birth_date: date | None = None
    nik: str | None = None
    phone: str | None = None
    email: str | None = None


# What can be wrong with a value, as sentences with named parts: `column` is the column as
# the file names it (`nama`, or `full_name` when the file's header says so). The pages
# translate these sentences (services/survey/import_texts.py); the English is the msgid.
PROBLEM_TEXTS: dict[str, str] = {
    "required": "%(column)s is required",
    "control": "%(column)s contains a control character",
    "bidi": "%(column)s contains a bidirectional control character (U+202A to U+202E, U+2066 "
            "to U+2069); retype the value.",
    "too_long": "%(column)s is longer than %(limit)s characters",
    "gender": "%(column)s: '%(value)s' is not a gender: use L or P (or M or F)",
    "date_format": "%(column)s: '%(value)s' is not a date: use YYYY-MM-DD or DD/MM/YYYY",
    "date_invalid": "%(column)s: '%(value)s' is not a valid date",
    "nik": "%(column)s: a NIK has exactly 16 digits",
    "phone": "%(column)s: '%(value)s' is not a valid phone number",
    "email": "%(column)s: '%(value)s' is not an email address",
    "end_before_start": "%(column)s: training ends (%(end)s) before it starts (%(start)s)",
    "born_after_start": "%(column)s: born (%(birth)s) after training started (%(start)s)",
    "duplicate": "%(column)s: '%(value)s' already appears on line %(first)s",
    "erased": "%(column)s: this alumnus's personal data was erased on request; the row is "
              "not imported again",
    "cohort_dates": "%(column)s: cohort '%(cohort)s' of '%(program)s' runs from %(start)s to "
                    "%(end)s; this row says %(row_start)s to %(row_end)s",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a row: the column (its English name), a code of PROBLEM_TEXTS and
    the values its sentence names."""

    column: str
    code: str
    values: Mapping[str, str] = field(default_factory=dict)

    def text(self, titles: Mapping[str, str] | None = None,
             template: str | None = None) -> str:
        """The sentence, naming the column as the file did (`titles`: name → header);
        `template` is the translated PROBLEM_TEXTS entry, English when not given."""
        title = (titles or {}).get(self.column, self.column)
        return (template or PROBLEM_TEXTS[self.code]) % {**self.values, "column": title}


@dataclass(frozen=True, slots=True)
class Rejection:
    """A line that was not imported: where (line as numbered in the file), which column, why.

    `problems` lists everything wrong with the row at once, in file order; `column` and
    `message` are the first column and all the sentences in English (logs, the CLI).
    """

    line: int
    column: str
    message: str
    raw: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()

    @classmethod
    def of(cls, line: int, problems: list[Problem], raw: Mapping[str, str],
           titles: Mapping[str, str] | None = None) -> Rejection:
        return cls(line, problems[0].column,
                   "; ".join(problem.text(titles) for problem in problems), dict(raw),
                   tuple(problems))


class _InvalidValue(ValueError):
    def __init__(self, column: str, code: str, **values: Any) -> None:
        super().__init__(code)
        self.problem = Problem(column, code, {k: str(v) for k, v in values.items()})


# --- reading files ----------------------------------------------------------------------


class _Rows(Iterator[tuple[int, dict[str, str]]]):
    """The rows of a file, with an estimate of their number for progress reports."""

    def __init__(self, rows: Iterator[tuple[int, dict[str, str]]], expected: int,
                 titles: dict[str, str]) -> None:
        self._rows = rows
        self._expected = expected
        # name → the header as the file wrote it, in the file's order; filled when the
        # header row is read (before the first row comes out).
        self.titles = titles

    def __next__(self) -> tuple[int, dict[str, str]]:
        return next(self._rows)

    def __length_hint__(self) -> int:
        return self._expected


@dataclass(frozen=True)
class FileColumns:
    """The columns a kind of file has: English name → Indonesian header, and the required
    ones. The roster's are `ROSTER`; the employer import has its own (employers.py)."""

    columns: Mapping[str, str]
    required: tuple[str, ...]

    def column_name(self, title: str) -> str:
        header = normalise_header(title)
        for column, indonesian in self.columns.items():
            if header in (column, indonesian):
                return column
        return title.strip()


def read_rows(file: IO[bytes], filename: str, layout: FileColumns | None = None
              ) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line, values) for each non-blank row of a roster file, header being line 1.
    `layout`: another sort of file read the same way (the roster's columns when None).

    The format follows the file name's extension (.xlsx, otherwise CSV). Headers are matched
    case-insensitively in English or Indonesian; columns the roster does not know are kept
    under their own header so a rejected row can be written back whole. Raises
    RosterFileError when the file cannot be a roster at all. The iterator's length hint is
    the expected number of rows (0 when unknown).
    """
    try:  # by content, before any parser (shared/uploads.py: type, zip bombs, damage)
        kind = check_spreadsheet(file, filename)
    except UploadRejected as exc:
        raise RosterFileError(str(exc)) from exc
    if kind == "xlsx":
        return _read_xlsx(file, layout)
    return _read_csv(file, layout)


def normalise_header(header: str) -> str:
    # "No Peserta", " no-peserta " and "NO_PESERTA" all mean no_peserta.
    return re.sub(r"[\s\-]+", "_", header.strip().lower())


def column_name(title: str) -> str:
    """The roster's name for a header as a file wrote it ("No Peserta" → registration_no);
    a header the roster does not know keeps its own text."""
    return HEADER_ALIASES.get(normalise_header(title), title.strip())


def _columns_of(header: list[str], titles: dict[str, str] | None = None,
                kind: FileColumns | None = None) -> list[str]:
    columns: list[str] = []
    for position, title in enumerate(header, start=1):
        name = column_name(title) if kind is None else kind.column_name(title)
        if not name:
            name = f"column_{position}"
        if name in columns:
            raise RosterFileError(f"column {name!r} appears more than once in the header")
        columns.append(name)
        if titles is not None:
            titles[name] = title.strip() or name
    required, names = ((REQUIRED_COLUMNS, COLUMNS) if kind is None
                       else (kind.required, kind.columns))
    missing = [column for column in required if column not in columns]
    if missing:
        raise RosterFileError(
            "the header lacks required columns: "
            + ", ".join(f"{column} ({names[column]})" for column in missing)
        )
    return columns


def _rows_with_header(
    records: Iterable[tuple[int, list[str]]], titles: dict[str, str] | None = None,
    kind: FileColumns | None = None,
) -> Iterator[tuple[int, dict[str, str]]]:
    records = iter(records)
    for _line, header in records:
        if "".join(header).strip():
            break
    else:
        raise RosterFileError("the file has no header row")
    columns = _columns_of(header, titles, kind)
    for line, cells in records:
        if not "".join(cells).strip():
            continue  # spreadsheets often end in blank rows
        values = dict(zip(columns, cells, strict=False))
        if len(cells) > len(columns):
            values.update(_beyond_header(cells, len(columns)))
            if titles is not None:
                for name in values:
                    titles.setdefault(name, name)
        yield line, values


def _beyond_header(cells: list[str], width: int) -> dict[str, str]:
    # A value under no header is still part of the row, kept for the rejections file.
    return {
        f"column_{position}": cell
        for position, cell in enumerate(cells[width:], start=width + 1)
        if cell.strip()
    }


def _read_csv(file: IO[bytes], kind: FileColumns | None = None
              ) -> Iterator[tuple[int, dict[str, str]]]:
    expected = 0
    if file.seekable():
        start = file.tell()
        newlines = sum(block.count(b"\n") for block in iter(lambda: file.read(1 << 20), b""))
        expected = max(newlines - 1, 0)
        file.seek(start)
    titles: dict[str, str] = {}
    return _Rows(_csv_records(file, titles, kind), expected, titles)


def _csv_records(file: IO[bytes], titles: dict[str, str],
                 kind: FileColumns | None = None) -> Iterator[tuple[int, dict[str, str]]]:
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        first_line = text.readline()
        # Indonesian Excel writes ";" (the comma is the decimal separator there): the header
        # line, which holds no decimals, tells which separator the file uses.
        delimiter = max(_CSV_DELIMITERS, key=first_line.count)
        reader = csv.reader(_chain_first(first_line, text), delimiter=delimiter)

        def numbered() -> Iterator[tuple[int, list[str]]]:
            line = 1
            for cells in reader:
                yield line, cells
                # A quoted value may span lines; the next record starts after them.
                line = reader.line_num + 1

        yield from _rows_with_header(numbered(), titles, kind)
    except UnicodeDecodeError as exc:
        raise RosterFileError(
            "the file is not UTF-8 text: save it as 'CSV UTF-8' or as an Excel workbook"
        ) from exc
    except csv.Error as exc:
        raise RosterFileError(f"the CSV file is malformed: {exc}") from exc
    finally:
        # The caller owns the file: a collected wrapper would close it.
        text.detach()


def _chain_first(first_line: str, text: TextIO) -> Iterator[str]:
    yield first_line
    # Not `yield from text`: closing this generator would then close the wrapper, which by
    # then is detached (ValueError at garbage collection) and must never close the file.
    for line in text:  # noqa: UP028
        yield line


def _read_xlsx(file: IO[bytes], kind: FileColumns | None = None
               ) -> Iterator[tuple[int, dict[str, str]]]:
    from openpyxl import load_workbook  # only XLSX imports pay for loading openpyxl

    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and XML errors alike
        raise RosterFileError(f"the file is not a readable Excel workbook: {exc}") from exc
    sheet = workbook.worksheets[0]
    expected = max((sheet.max_row or 1) - 1, 0)
    # Some writers record wrong sheet dimensions, and read-only mode would stop there.
    sheet.reset_dimensions()

    def records() -> Iterator[tuple[int, list[str]]]:
        try:
            for line, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield line, [cell_text(value) for value in row]
        finally:
            workbook.close()

    titles: dict[str, str] = {}
    return _Rows(_rows_with_header(records(), titles, kind), expected, titles)


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a CSV would hold (dates as YYYY-MM-DD)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        # Numbers typed into Excel arrive as floats: 812345678.0 is the phone 812345678.
        return str(int(value))
    return str(value)


# --- checking one row -------------------------------------------------------------------


def parse_row(
    line: int, raw: Mapping[str, str], titles: Mapping[str, str] | None = None
) -> RosterRow | Rejection:
    """Check one row's values; a row with problems is rejected with all of them at once, in
    file order (`titles`: how the file named each column, for the sentences)."""
    problems: list[Problem] = []

    def check(column: str, parse: Callable[[str, str], _T], required: bool) -> _T | None:
        try:
            return (_required if required else _optional)(raw, column, parse)
        except _InvalidValue as invalid:
            problems.append(invalid.problem)
            return None

    registration_no = check("registration_no", _name, True)
    full_name = check("full_name", _name, True)
    gender = check("gender", _gender, True)
    birth_date = check("birth_date", _date, False)
    nik = check("nik", _nik, False)
    program = check("program", _name, True)
    cohort = check("cohort", _name, True)
    training_start = check("training_start", _date, True)
    training_end = check("training_end", _date, True)
    if training_start and training_end and training_end < training_start:
        problems.append(Problem("training_end", "end_before_start",
                                {"end": str(training_end), "start": str(training_start)}))
    if birth_date is not None and training_start and birth_date >= training_start:
        # Usually day and month swapped, or the training date typed into this column.
        problems.append(Problem("birth_date", "born_after_start",
                                {"birth": str(birth_date), "start": str(training_start)}))
    phone = check("phone", _phone, False)
    email = check("email", _email, False)
    if problems:
        order = list(raw)
        problems.sort(key=lambda p: order.index(p.column) if p.column in order else len(order))
        return Rejection.of(line, problems, raw, titles)
    assert registration_no and full_name and gender and program and cohort
    assert training_start and training_end
    return RosterRow(
        line=line,
        registration_no=registration_no,
        full_name=full_name,
        gender=gender,
        program=program,
        cohort=cohort,
        training_start=training_start,
        training_end=training_end,
        birth_date=birth_date,
        nik=nik,
        phone=phone,
        email=email,
    )


def _value(raw: Mapping[str, str], column: str) -> str | None:
    value = raw.get(column)
    value = restore_cell(value.strip()) if isinstance(value, str) else ""
    if not value:
        return None
    # PostgreSQL refuses NUL in text, and no roster value has a reason to hold control codes.
    if _CONTROL_CHARACTER.search(value):
        raise _InvalidValue(column, "control")
    if BIDI_CONTROL.search(value):  # names staff read: no text that reorders itself
        raise _InvalidValue(column, "bidi")
    return value


def _required(raw: Mapping[str, str], column: str, parse: Callable[[str, str], _T]) -> _T:
    value = _value(raw, column)
    if value is None:
        raise _InvalidValue(column, "required")
    return parse(column, value)


def _optional(raw: Mapping[str, str], column: str, parse: Callable[[str, str], _T]) -> _T | None:
    value = _value(raw, column)
    return None if value is None else parse(column, value)


def _name(column: str, value: str) -> str:
    # Runs of spaces are typing noise; collapsing them lets "Teknik  Las" match "Teknik Las".
    value = " ".join(value.split())
    limit = MAX_LENGTHS[column]
    if len(value) > limit:
        raise _InvalidValue(column, "too_long", limit=limit)
    return value


def _gender(column: str, value: str) -> str:
    gender = GENDERS.get(value.upper())
    if gender is None:
        raise _InvalidValue(column, "gender", value=value)
    return gender


def _date(column: str, value: str) -> date:
    if iso := _ISO_DATE.fullmatch(value):
        year, month, day = iso.groups()
    elif day_first := _DAY_FIRST_DATE.fullmatch(value):
        day, month, year = day_first.groups()
    else:
        raise _InvalidValue(column, "date_format", value=value)
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise _InvalidValue(column, "date_invalid", value=value) from None


def _nik(column: str, value: str) -> str:
    digits = "".join(value.split())
    if not _NIK.fullmatch(digits):
        raise _InvalidValue(column, "nik")
    return digits


def _phone(column: str, value: str) -> str:
    # Most roster numbers are Indonesian mobiles, typed 0812-... or +62 812...: building
    # those directly skips phonenumbers.parse, and matching them against phonenumbers' own
    # mobile pattern skips is_valid_number, which tries ten number types in turn (together
    # the slowest steps of a large import). Every other form gets the full treatment.
    local = _INDONESIAN_PHONE.fullmatch(value.translate(_PHONE_SEPARATORS))
    if local:
        national_number = local[1]
        if _is_indonesian_mobile(national_number) or phonenumbers.is_valid_number(
            phonenumbers.PhoneNumber(country_code=62, national_number=int(national_number))
        ):
            return "+62" + national_number
    try:
        number = phonenumbers.parse(value, PHONE_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise _InvalidValue(column, "phone", value=value)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_phone(value: str) -> str | None:
    """A phone number as a person types it (0812-…, +62 812 …, 62812…) in the roster's
    E.164 form, so it compares with Alumnus.phone; None when it is no valid number."""
    typed = value.strip()
    if typed[:2] == "62":
        typed = "+" + typed
    try:
        return _phone("phone", typed)
    except _InvalidValue:
        return None


def _number_descriptions() -> tuple[tuple[frozenset[int], re.Pattern[str]], ...]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(PHONE_REGION)
    return tuple(
        (frozenset(description.possible_length), re.compile(description.national_number_pattern))
        for description in (metadata.general_desc, metadata.mobile)
    )


# phonenumbers' general and mobile descriptions for Indonesia, compiled once.
_MOBILE_DESCRIPTIONS = _number_descriptions()


def _is_indonesian_mobile(national_number: str) -> bool:
    """True when phonenumbers would type the number as mobile, so is_valid_number holds.

    The same test phonenumbers makes (possible lengths, then the pattern; an empty length
    list means "as the general description"); False only means "ask phonenumbers".
    """
    return all(
        (not lengths or len(national_number) in lengths) and pattern.fullmatch(national_number)
        for lengths, pattern in _MOBILE_DESCRIPTIONS
    )


def _email(column: str, value: str) -> str:
    if len(value) > MAX_LENGTHS[column] or not _EMAIL.fullmatch(value):
        raise _InvalidValue(column, "email", value=value)
    # Lower case so one address is stored one way (and an opt-out by address matches it).
    return value.lower()


# --- writing rejections -----------------------------------------------------------------


def write_rejections_csv(
    rejections: Iterable[Rejection],
    file: TextIO,
    titles: Mapping[str, str] | None = None,
    describe: Callable[[Problem], str] | None = None,
) -> None:
    """Write rejected rows as CSV: their original values, then line, column and error.

    With `titles` (the file's headers, `read_rows(...).titles`), the columns keep the
    uploaded headers and their order, so the file can be corrected and imported again as
    it is (the three extra columns are ignored then); without, the roster's order under
    the English names. `column` names every column with a problem as the file named it,
    `error` says every problem (`describe`: a translated sentence per problem).
    """
    rejections = list(rejections)
    titles = dict(titles or {})
    extra: dict[str, None] = {}
    for rejection in rejections:
        for column in rejection.raw:
            if column not in COLUMNS and column not in REJECTION_COLUMNS and column not in titles:
                extra[column] = None
    if titles:
        names = [name for name in titles if name not in REJECTION_COLUMNS] + list(extra)
        header = [titles.get(name, name) for name in names]
    else:
        present = {column for rejection in rejections for column in rejection.raw}
        names = [column for column in COLUMNS
                 if column in present or column in REQUIRED_COLUMNS] + list(extra)
        header = list(names)
    writer = csv.writer(file)
    writer.writerow(header + list(REJECTION_COLUMNS))
    for rejection in rejections:
        problems = rejection.problems
        column = ", ".join(dict.fromkeys(titles.get(p.column, p.column) for p in problems)) \
            if problems else titles.get(rejection.column, rejection.column)
        error = "; ".join((describe or (lambda p: p.text(titles)))(p) for p in problems) \
            if problems else rejection.message
        values = [rejection.raw.get(name, "") for name in names]
        # Alumni typed these values: a spreadsheet must not run them (the parser undoes this).
        writer.writerow([safe_cell(value) for value in
                         [*values, str(rejection.line), column, error]])


def parse_contact(column: str, value: str) -> str | None:
    """A phone number (E.164) or an email (lower case) checked as the import checks it, for
    staff correcting one alumnus's contact (services/survey/followup.py); empty clears it.

    `column` is "phone" or "email"; raises ValueError (with `.problem`, a Problem) when it is
    invalid.
    """
    value = value.strip()
    if not value:
        return None
    return (_phone if column == "phone" else _email)(column, value)


# What `check_fields` accepts: the kinds of value a record other than a roster row holds.
FIELD_KINDS = ("text", "phone", "email")


def check_fields(
    raw: Mapping[str, str], fields: Mapping[str, tuple[str, bool, int]],
) -> tuple[dict[str, str | None], list[Problem]]:
    """Check `raw`'s values as a roster row's are checked, for other records (an employer,
    a supervisor: services/survey/employers.py): `fields` maps a column to (kind, required,
    longest). Text has its runs of spaces collapsed; phones become E.164 and emails lower
    case; control and bidirectional characters are refused; a value exported by Jejak with
    its formula guard (shared.csvsafe) reads back as it was. Returns the values (None when
    empty) and every problem, in `fields` order."""
    values: dict[str, str | None] = {}
    problems: list[Problem] = []
    for column, (kind, required, longest) in fields.items():
        try:
            value = _value(raw, column)
            if value is None:
                if required:
                    raise _InvalidValue(column, "required")
            elif kind == "phone":
                value = _phone(column, value)
            elif kind == "email":
                value = _email(column, value)
            else:
                value = " ".join(value.split())
                if len(value) > longest:
                    raise _InvalidValue(column, "too_long", limit=longest)
            values[column] = value
        except _InvalidValue as invalid:
            problems.append(invalid.problem)
            values[column] = None
    return values, problems
