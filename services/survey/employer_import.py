"""Importing the industry partners a centre already knows (CSV or XLSX), one company a row.

The file is read by the roster's reader (services/survey/roster.py `read_rows`: the upload
checks by content, Indonesian or English headers, ";" or "," CSV, formula-guarded cells
read back as they were), with this file's columns. Each row is checked like an entry on the
staff page and recorded through the same deduplication (services/survey/employers.py), so
a company already on record gains only the values it lacked, and a contact on the row is
added to it unless already there. A row with problems is rejected whole, naming each
column as the file named it; the others are recorded. The caller commits and audits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO

from sqlalchemy.orm import Session

from services.survey import employers
from services.survey.roster import FileColumns, Problem, RosterFileError, read_rows

# English name → Indonesian header.
COLUMNS: dict[str, str] = {
    "name": "nama_perusahaan",
    "kbli_section": "kbli",
    "city": "kota",
    "address": "alamat",
    "phone": "telepon",
    "email": "email",
    "contact_name": "nama_kontak",
    "contact_position": "jabatan_kontak",
    "contact_phone": "hp_kontak",
    "contact_email": "email_kontak",
}
LAYOUT = FileColumns(COLUMNS, ("name",))
CONTACT_COLUMNS = {"contact_name": "name", "contact_position": "position",
                   "contact_phone": "phone", "contact_email": "email"}
MAX_ROWS = 5000  # a list of partners, not a register: larger files are refused whole


class EmployerFileError(RosterFileError):
    """The file as a whole cannot be read as a list of companies."""


@dataclass(frozen=True)
class RejectedRow:
    line: int
    problems: tuple[Problem, ...]


@dataclass
class EmployerImport:
    created: int = 0
    matched: int = 0
    contacts_added: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)


def import_employers(session: Session, file: IO[bytes], filename: str) -> EmployerImport:
    """Record every valid row; see the module's docstring. Raises EmployerFileError (or the
    reader's RosterFileError) when the file is no list of companies."""
    rows = read_rows(file, filename, LAYOUT)
    summary = EmployerImport()
    for count, (line, raw) in enumerate(rows, start=1):
        if count > MAX_ROWS:
            raise EmployerFileError(f"the file has more than {MAX_ROWS} rows; split it")
        company, problems = employers.check_employer(raw)
        contact = None
        if raw.get("contact_name", "").strip() or any(
                raw.get(column, "").strip() for column in CONTACT_COLUMNS):
            contact_raw = {record: raw.get(column, "") for column, record in
                           CONTACT_COLUMNS.items()}
            contact, contact_problems = employers.check_contact(contact_raw)
            by_record = {record: column for column, record in CONTACT_COLUMNS.items()}
            problems += [Problem(by_record[p.column], p.code, p.values)
                         for p in contact_problems]
        if problems or company is None:
            summary.rejected.append(RejectedRow(line, tuple(problems)))
            continue
        employer, created = employers.record_employer(session, company, source="import")
        if created:
            summary.created += 1
        else:
            summary.matched += 1
        if contact is not None:
            _, added = employers.record_contact(session, employer, contact, source="import")
            summary.contacts_added += added
    summary.titles = dict(getattr(rows, "titles", {}))
    return summary
