"""The roster import's unit of work: checked rows in, programs, cohorts and alumni upserted.

Rows are taken in chunks and each chunk is one transaction (SQLite holds its write lock for
a whole transaction, docs/decisions.md §2): a few set-based statements per chunk, never a
query per row, on SQLite and PostgreSQL alike. Each chunk that changed alumni announces
them with one `alumni.imported` event written in the same transaction.

Rules that need more than one row or stored data live here: a registration number may
appear once per file; a cohort's training dates are those of the first row that created
it; an erased alumnus is never brought back. A blank optional value (birth date, NIK,
phone, email) keeps what is stored: a roster export lacking phone numbers must not wipe
the ones collected earlier.
"""

from __future__ import annotations

import csv
import operator
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Row, Table, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from services.survey.roster import (
    Problem,
    Rejection,
    RosterFileError,
    RosterRow,
    column_name,
    parse_row,
    read_rows,
    write_rejections_csv,
)
from shared.csvsafe import restore_cell
from shared.db import in_list, is_postgres
from shared.event_types import AlumniImported
from shared.events import publish
from shared.models import Alumnus, Cohort, Program, utcnow
from shared.personal_files import IMPORTS, open_private, private_folder
from shared.pii import hash_nik, protect_nik, tombstone

__all__ = ["ImportSummary", "import_roster", "write_rejections_csv", "write_rejected_rows",
           "Identifiers", "plan_rejected_rows_erasure"]

ProgressCallback = Callable[[int, int | None], None]

# The stored fields an import may change, compared to decide "unchanged".
_COMPARED = (
    "full_name",
    "gender",
    "birth_date",
    "nik_hash",
    "phone",
    "email",
    "cohort_id",
)


@dataclass
class ImportSummary:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.rejections)


@dataclass(frozen=True)
class _CohortDates:
    id: int
    program_name: str
    label: str
    training_start: date
    training_end: date


@dataclass
class _Catalogue:
    """Programs and cohorts known so far, matched case-insensitively: "OTOMOTIF" is Otomotif.

    Both tables are small (tens of programs, hundreds of cohorts), so they are loaded once
    and grow as chunks create entries; nothing is queried per row.
    """

    programs: dict[str, int] = field(default_factory=dict)
    program_names: dict[int, str] = field(default_factory=dict)
    cohorts: dict[tuple[int, str], _CohortDates] = field(default_factory=dict)

    def load_programs(self, session: Session, names: Iterable[str] | None = None) -> None:
        query = select(Program.id, Program.name).order_by(Program.id)
        if names is not None:
            query = query.where(Program.name.in_(list(names)))
        for program_id, name in session.execute(query):
            self.programs.setdefault(name.casefold(), program_id)
            self.program_names[program_id] = name

    def load_cohorts(self, session: Session, program_ids: Iterable[int] | None = None) -> None:
        query = select(Cohort, Program.name).join(Cohort.program).order_by(Cohort.id)
        if program_ids is not None:
            query = query.where(Cohort.program_id.in_(list(program_ids)))
        for cohort, program_name in session.execute(query):
            self.cohorts.setdefault(
                (cohort.program_id, cohort.label.casefold()),
                _CohortDates(
                    cohort.id,
                    program_name,
                    cohort.label,
                    cohort.training_start,
                    cohort.training_end,
                ),
            )

    def program_id(self, row: RosterRow) -> int | None:
        return self.programs.get(row.program.casefold())

    def cohort(self, row: RosterRow) -> _CohortDates | None:
        program_id = self.program_id(row)
        if program_id is None:
            return None
        return self.cohorts.get((program_id, row.cohort.casefold()))


@dataclass
class _ChunkOutcome:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejections: list[Rejection] = field(default_factory=list)


def import_roster(
    session_factory: sessionmaker[Session],
    rows_iter: Iterable[tuple[int, dict[str, str]]],
    *,
    pii_key: str,
    on_progress: ProgressCallback | None = None,
    chunk_size: int = 2000,
) -> ImportSummary:
    """Import (line, values) pairs as `read_rows` yields them; one transaction per chunk.

    `on_progress(rows_done, rows_total)` runs after each committed chunk; the total is None
    until known (the iterator's length hint, and the exact count at the last chunk). An
    error (a database failure, a file unreadable halfway) stops the import with the earlier
    chunks committed; importing the file again is safe, as stored rows count as unchanged.
    """
    expected = operator.length_hint(rows_iter, 0)
    # How the file named its columns (filled as the header is read), for the sentences.
    titles: dict[str, str] = getattr(rows_iter, "titles", {})
    summary = ImportSummary()
    catalogue = _Catalogue()
    first_line_of: dict[str, int] = {}
    done = 0
    with session_factory() as session, session.begin():
        catalogue.load_programs(session)
        catalogue.load_cohorts(session)

    def store(rows: list[tuple[RosterRow, dict[str, str]]]) -> _ChunkOutcome:
        with session_factory() as session, session.begin():
            return _import_chunk(session, rows, catalogue, pii_key, titles)

    def collect(writing: Future[_ChunkOutcome], size: int, final: bool) -> None:
        nonlocal done
        outcome = writing.result()
        summary.imported += outcome.imported
        summary.updated += outcome.updated
        summary.unchanged += outcome.unchanged
        summary.rejections.extend(outcome.rejections)
        done += size
        if on_progress is not None:
            on_progress(done, done if final else (expected if expected >= done else None))

    rows_left = iter(rows_iter)
    # While one chunk is written, the next is read and checked: that CPU work overlaps the
    # database's, and the transaction stays as short as the writing itself. One chunk at
    # a time is in flight, so chunks commit in file order.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="roster-import") as writer:
        in_flight: tuple[Future[_ChunkOutcome], int] | None = None
        while chunk := list(islice(rows_left, chunk_size)):
            rows = _checked_rows(chunk, first_line_of, summary.rejections, titles)
            if in_flight is not None:
                collect(*in_flight, final=False)
            in_flight = writer.submit(store, rows), len(chunk)
        if in_flight is not None:
            collect(*in_flight, final=True)
    summary.rejections.sort(key=operator.attrgetter("line"))
    return summary


def _checked_rows(
    chunk: list[tuple[int, dict[str, str]]],
    first_line_of: dict[str, int],
    rejections: list[Rejection],
    titles: dict[str, str] | None = None,
) -> list[tuple[RosterRow, dict[str, str]]]:
    """The chunk's valid rows; the others go to `rejections`, a repeated number included."""
    rows: list[tuple[RosterRow, dict[str, str]]] = []
    for line, raw in chunk:
        checked = parse_row(line, raw, titles)
        if isinstance(checked, Rejection):
            rejections.append(checked)
            continue
        first_line = first_line_of.setdefault(checked.registration_no, line)
        if first_line != line:
            rejections.append(Rejection.of(line, [Problem(
                "registration_no", "duplicate",
                {"value": checked.registration_no, "first": str(first_line)})], raw, titles))
            continue
        rows.append((checked, raw))
    return rows


def _import_chunk(
    session: Session,
    rows: Sequence[tuple[RosterRow, dict[str, str]]],
    catalogue: _Catalogue,
    pii_key: str,
    titles: dict[str, str] | None = None,
) -> _ChunkOutcome:
    outcome = _ChunkOutcome()
    if not rows:
        return outcome
    # An erased alumnus's registration number is a tombstone (services/survey/privacy.py):
    # look those up too, so an old roster file cannot bring the person back.
    numbers = [row.registration_no for row, _ in rows]
    erased_as = {tombstone(number, pii_key): number for number in numbers}
    stored = {
        erased_as.get(alumnus.registration_no, alumnus.registration_no): alumnus
        for alumnus in session.execute(
            select(
                Alumnus.id,
                Alumnus.registration_no,
                Alumnus.erased_at,
                Alumnus.nik_encrypted,
                *(getattr(Alumnus, name) for name in _COMPARED),
            ).where(in_list(session, Alumnus.registration_no, [*numbers, *erased_as]))
        )
    }
    kept: list[tuple[RosterRow, dict[str, str]]] = []
    for row, raw in rows:
        alumnus = stored.get(row.registration_no)
        if alumnus is not None and alumnus.erased_at is not None:
            outcome.rejections.append(Rejection.of(
                row.line, [Problem("registration_no", "erased")], raw, titles))
        else:
            kept.append((row, raw))
    _create_missing_cohorts(session, [row for row, _ in kept], catalogue)

    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row, raw in kept:
        cohort = catalogue.cohort(row)
        assert cohort is not None  # created above
        conflict = _cohort_date_conflict(row, cohort)
        if conflict is not None:
            outcome.rejections.append(Rejection.of(row.line, [conflict], raw, titles))
            continue
        alumnus = stored.get(row.registration_no)
        if alumnus is None:
            nik_encrypted, nik_hash = protect_nik(row.nik, pii_key) if row.nik else (None, None)
            inserts.append(
                {
                    "registration_no": row.registration_no,
                    "full_name": row.full_name,
                    "gender": row.gender,
                    "birth_date": row.birth_date,
                    "nik_encrypted": nik_encrypted,
                    "nik_hash": nik_hash,
                    "phone": row.phone,
                    "email": row.email,
                    "cohort_id": cohort.id,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            continue
        values = _merged(alumnus, row, cohort.id, pii_key)
        if all(values[name] == getattr(alumnus, name) for name in _COMPARED):
            outcome.unchanged += 1
        else:
            updates.append({**values, "alumnus_id": alumnus.id, "updated_at": now})

    changed_ids: list[int] = []
    alumni = Alumnus.__table__
    if inserts:
        # Then one query for the new ids: with RETURNING, SQLAlchemy sends one statement
        # with a bind parameter per value, which psycopg converts slowly.
        _insert_alumni(session, inserts)
        changed_ids += session.scalars(
            select(alumni.c.id).where(
                in_list(session, Alumnus.registration_no,
                        [values["registration_no"] for values in inserts])
            )
        )
    if updates:
        session.execute(update(alumni).where(alumni.c.id == bindparam("alumnus_id")), updates)
        changed_ids += [values["alumnus_id"] for values in updates]
    if changed_ids:
        publish(session, AlumniImported(alumnus_ids=changed_ids))
    outcome.imported = len(inserts)
    outcome.updated = len(updates)
    return outcome


def _insert_alumni(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert new alumni in the session's transaction: COPY on PostgreSQL, executemany on
    SQLite. Every column but the id is given (no Python-side defaults to fill in), so both
    store the same rows; COPY spares most of the client and server CPU of an executemany
    (100,000 rows: 5.8 → 4.3 s in Python, 2.6 → 2.0 s in PostgreSQL, bench/README.md)."""
    if not is_postgres(session):
        session.execute(insert(Alumnus.__table__), rows)
        return
    columns = list(rows[0])
    with session.connection().connection.cursor() as cursor, cursor.copy(
        f"COPY alumni ({', '.join(columns)}) FROM STDIN"
    ) as copy:
        for values in rows:
            copy.write_row([values[name] for name in columns])


def _merged(alumnus: Row[Any], row: RosterRow, cohort_id: int, pii_key: str) -> dict[str, Any]:
    """The alumnus's stored values after this row: a blank optional value keeps the old one."""
    values: dict[str, Any] = {
        "full_name": row.full_name,
        "gender": row.gender,
        "cohort_id": cohort_id,
        "birth_date": row.birth_date if row.birth_date is not None else alumnus.birth_date,
        "phone": row.phone if row.phone is not None else alumnus.phone,
        "email": row.email if row.email is not None else alumnus.email,
        "nik_hash": alumnus.nik_hash,
        "nik_encrypted": alumnus.nik_encrypted,
    }
    # Compared by keyed hash: the ciphertext differs on every encryption (random nonce).
    if row.nik is not None and hash_nik(row.nik, pii_key) != alumnus.nik_hash:
        values["nik_encrypted"], values["nik_hash"] = protect_nik(row.nik, pii_key)
    return values


def _create_missing_cohorts(
    session: Session, rows: Sequence[RosterRow], catalogue: _Catalogue
) -> None:
    """Create the programs and cohorts `rows` name that do not exist yet.

    A new cohort takes the training dates of its first row. Inserts skip entries another
    import created meanwhile, and the catalogue is reloaded from what is actually stored.
    """
    new_programs: dict[str, str] = {}
    for row in rows:
        if catalogue.program_id(row) is None:
            new_programs.setdefault(row.program.casefold(), row.program)
    if new_programs:
        _insert_skipping_existing(
            session,
            Program.__table__,
            [{"name": name, "created_at": utcnow()} for name in new_programs.values()],
        )
        catalogue.load_programs(session, new_programs.values())
    new_cohorts: dict[tuple[int, str], dict[str, Any]] = {}
    for row in rows:
        if catalogue.cohort(row) is not None:
            continue
        program_id = catalogue.program_id(row)
        assert program_id is not None  # created above
        key = (program_id, row.cohort.casefold())
        if key not in new_cohorts:
            new_cohorts[key] = {
                "program_id": program_id,
                "label": row.cohort,
                "training_start": row.training_start,
                "training_end": row.training_end,
                "created_at": utcnow(),
            }
    if new_cohorts:
        _insert_skipping_existing(session, Cohort.__table__, list(new_cohorts.values()))
        catalogue.load_cohorts(session, {program_id for program_id, _ in new_cohorts})


def _insert_skipping_existing(session: Session, table: Table, values: list[dict[str, Any]]) -> None:
    statement = pg_insert(table) if is_postgres(session) else sqlite_insert(table)
    session.execute(statement.on_conflict_do_nothing(), values)


def _cohort_date_conflict(row: RosterRow, cohort: _CohortDates) -> Problem | None:
    """The problem when the row's training dates are not its cohort's, else None."""
    if (row.training_start, row.training_end) == (cohort.training_start, cohort.training_end):
        return None
    column = "training_start" if row.training_start != cohort.training_start else "training_end"
    return Problem(column, "cohort_dates", {
        "cohort": cohort.label, "program": cohort.program_name,
        "start": str(cohort.training_start), "end": str(cohort.training_end),
        "row_start": str(row.training_start), "row_end": str(row.training_end)})


# --- the rejected-rows files -----------------------------------------------------------------
#
# The admin page and `jejak alumni import` keep the rejected rows of each import as CSV under
# `<home>/imports/`, 0600 in a 0700 folder (shared.personal_files), for an operator to fix
# and import again. The survey's beat job deletes them after JEJAK_PERSONAL_FILES_DAYS days;
# an erasure takes the person's rows out of them first (services/survey/privacy.py).

REJECTED_SUFFIX = "-rejected.csv"


def write_rejected_rows(
    home: Path,
    rejections: Iterable[Rejection],
    titles: dict[str, str] | None = None,
    describe: Callable[[Problem], str] | None = None,
) -> Path:
    """Write the rejections to a new `<home>/imports/<random>-rejected.csv`; its path. With
    `titles`, under the uploaded headers in their order (`write_rejections_csv`)."""
    path = private_folder(Path(home) / IMPORTS) / f"{uuid.uuid4().hex}{REJECTED_SUFFIX}"
    with open_private(path, "w", newline="", encoding="utf-8") as out:
        write_rejections_csv(rejections, out, titles, describe)
    return path


def rejected_rows_files(home: Path) -> list[Path]:
    folder = Path(home) / IMPORTS
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir()
                  if path.is_file() and path.name.endswith(REJECTED_SUFFIX))


@dataclass(frozen=True)
class Identifiers:
    """What identifies one alumnus in a rejected row: the registration number, the NIK's
    keyed hash (no decryption needed), the phone (E.164) and the email."""

    registration_no: str
    nik_hash: str | None
    phone: str | None
    email: str | None
    pii_key: str

    def match(self, raw: dict[str, str]) -> bool:
        """Whether a rejected row, as typed, names this person by any identifier."""
        def value(column: str) -> str:
            return restore_cell(raw.get(column) or "").strip()

        if value("registration_no") and value("registration_no") == self.registration_no:
            return True
        nik = "".join(value("nik").split())
        if self.nik_hash and nik and hash_nik(nik, self.pii_key) == self.nik_hash:
            return True
        if self.email and value("email").casefold() == self.email.casefold():
            return True
        return bool(self.phone) and _phone_digits(value("phone")) == _phone_digits(self.phone)


def _phone_digits(value: str | None) -> str:
    """Digits with the country code: 0812-3456-0001, +62 812 3456 0001 → 6281234560001."""
    digits = "".join(character for character in value or "" if character.isdigit())
    return "62" + digits[1:] if digits.startswith("0") else digits


@dataclass(frozen=True)
class _Rewrite:
    path: Path
    header: list[str]
    kept: list[list[str]]
    removed: int


@dataclass
class RejectedRowsErasure:
    """The rejected-rows files that name a person: rewritable ones, and ones that are not."""

    rewrites: list[_Rewrite] = field(default_factory=list)
    unreadable: list[Path] = field(default_factory=list)
    # Pending uploads (services/survey/pending_imports.py) that name the person, or cannot
    # be read as a roster: deleted, as an upload that was never applied can be made again.
    discards: list[Path] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(rewrite.removed for rewrite in self.rewrites)

    def apply(self) -> int:
        """Replace each file by its rows without the person (same mode 0600, same
        modification time, so it still expires when it would have); rows removed."""
        for rewrite in self.rewrites:
            written = rewrite.path.stat()
            partial = rewrite.path.with_name(rewrite.path.name + ".part")
            with open_private(partial, "w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(rewrite.header)
                writer.writerows(rewrite.kept)
            os.utime(partial, ns=(written.st_atime_ns, written.st_mtime_ns))
            os.replace(partial, rewrite.path)
        for path in self.discards:
            path.unlink(missing_ok=True)
        return self.rows


def plan_rejected_rows_erasure(home: Path, person: Identifiers) -> RejectedRowsErasure:
    """Read every rejected-rows file; nothing is changed until `apply`."""
    plan = RejectedRowsErasure()
    for path in rejected_rows_files(home):
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                rows = list(csv.reader(handle))
        except (OSError, UnicodeDecodeError, csv.Error):
            plan.unreadable.append(path)
            continue
        if not rows:
            continue
        header, body = rows[0], rows[1:]
        names = [column_name(title) for title in header]  # "no_peserta" is registration_no
        kept = [row for row in body if not person.match(dict(zip(names, row, strict=False)))]
        if len(kept) < len(body):
            plan.rewrites.append(_Rewrite(path, header, kept, len(body) - len(kept)))
    for path in pending_files(home):
        try:
            with open(path, "rb") as handle:
                if any(person.match(raw) for _line, raw in read_rows(handle, path.name)):
                    plan.discards.append(path)
        except (OSError, RosterFileError):
            plan.discards.append(path)
    return plan


PENDING_MARK = "-pending"  # <id>-pending.csv / .xlsx: an upload waiting for its preview


def pending_files(home: Path) -> list[Path]:
    folder = Path(home) / IMPORTS
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir()
                  if path.is_file() and path.stem.endswith(PENDING_MARK))
