"""Any roster file, however broken: each row imports or is rejected with line, column and
message; the file as a whole may be refused with RosterFileError; nothing else escapes.

tests/unit/test_roster_parse.py holds the same property for one row (parse_row); this one
starts from the bytes of a CSV file, so the reader's quoting, delimiters, BOM, encodings
and line numbering are in the fuzzed path too.
"""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.survey.roster import COLUMNS, RosterFileError, RosterRow, parse_row, read_rows

HEADERS = st.sampled_from([*COLUMNS, *COLUMNS.values(), " No Peserta ", "KETERANGAN", ""])
CELLS = st.sampled_from(
    ["", " ", "L", "P", "x", "2025-01-06", "06/01/2025", "31/02/2025", "0812-3456-7890",
     "+62 812 3456 7890", "a@b.id", "3374012345678901", "Teknik Las", "A1", '"', '""', ";",
     ",", "\n", "\r\n", "\u00a0", "\x00", "=1+1"]
) | st.text(max_size=12)
DELIMITERS = st.sampled_from([",", ";", "\t", "|"])


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    delimiter = draw(DELIMITERS)
    header = draw(st.lists(HEADERS, min_size=0, max_size=len(COLUMNS) + 2))
    rows = draw(st.lists(st.lists(CELLS, max_size=len(header) + 2), max_size=6))
    lines = [delimiter.join(header)] + [delimiter.join(row) for row in rows]
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    return text.encode(encoding, errors="replace")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=csv_files() | st.binary(max_size=300))
def test_any_csv_file_is_read_row_by_row_or_refused_whole(content: bytes) -> None:
    try:
        rows = list(read_rows(io.BytesIO(content), "roster.csv"))
    except RosterFileError as exc:
        assert str(exc)  # says why, for the operator
        return
    lines = [line for line, _ in rows]
    assert lines == sorted(set(lines)) and all(line >= 2 for line in lines)
    for line, values in rows:
        result = parse_row(line, values)
        assert result.line == line
        if not isinstance(result, RosterRow):
            assert result.column in COLUMNS
            assert result.message
