"""A roster import that is looked at before it is applied: upload, preview, confirm.

An upload is kept as it came, 0600 under `<home>/imports/<id>-pending.<csv|xlsx>`
(shared.personal_files; expired with the other import files; an erasure deletes the
pending uploads that name the person, roster_import.plan_rejected_rows_erasure).
`preview` reads it and sorts every row into new, unchanged, updated (with the fields that
change), suspicious or rejected, writing nothing.

A **suspicious update** is a registration number already on the roster that arrives with
another name or another birth date: a number typed on the wrong line, or a number given
again to someone else. Such a row is held back until an operator confirms it, one by one
or all at once. Confirming says "this number now belongs to this person": the stored
alumnus is retired, not overwritten. It keeps its answers, its wave memberships and its
personal links (sealed with its own id), under its number prefixed by its id
(`"17~REG-001"`), and the row becomes a new alumnus with a new id. So the new person never
inherits the previous one's answers or links, and the previous person's history stays
whole (docs/decisions.md, "An identity change makes a new alumnus").

`apply` imports everything but the held rows through `import_roster`, the one code path of
the page, the API and the CLI; rows still held are kept as a new pending import under the
uploaded headers, to be confirmed later.
"""

from __future__ import annotations

import csv
import operator
import re
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path, PurePath
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.survey.roster import (
    Problem,
    Rejection,
    RosterFileError,
    RosterRow,
    parse_row,
    read_rows,
)
from services.survey.roster_import import PENDING_MARK, ImportSummary, import_roster
from shared.csvsafe import safe_cell
from shared.db import in_list
from shared.models import Alumnus, Cohort, Program
from shared.personal_files import IMPORTS, open_private, private_folder
from shared.pii import hash_nik, tombstone

PENDING = PENDING_MARK
_ID = re.compile(r"[0-9a-f]{32}")
LOOKUP_CHUNK = 1000
# Fields shown as "changed" in the preview, in roster order; NIK is compared by keyed hash
# and shown without its value.
SHOWN = ("full_name", "gender", "birth_date", "nik", "program", "cohort", "phone", "email")


@dataclass(frozen=True)
class RowChange:
    """One valid row of a pending import and what it would do."""

    line: int
    registration_no: str
    full_name: str
    kind: str  # new, unchanged, updated, suspicious
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # field → (old, new)
    alumnus_id: int | None = None


@dataclass
class ImportPreview:
    import_id: str
    filename: str
    rows: list[RowChange] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)

    def of(self, kind: str) -> list[RowChange]:
        return [row for row in self.rows if row.kind == kind]

    @property
    def counts(self) -> dict[str, int]:
        counts = {kind: 0 for kind in ("new", "unchanged", "updated", "suspicious")}
        for row in self.rows:
            counts[row.kind] += 1
        return {**counts, "rejected": len(self.rejections)}


@dataclass
class Applied:
    summary: ImportSummary
    retired: int  # stored alumni retired by a confirmed identity change
    held: list[RowChange]
    pending_id: str | None  # the held rows, as a new pending import
    titles: dict[str, str]


def _folder(home: Path) -> Path:
    return private_folder(Path(home) / IMPORTS)


def store_upload(home: Path, file: IO[bytes], filename: str) -> str:
    """Keep an uploaded roster file as a pending import (0600); its id. Only a .csv or
    .xlsx name is kept (RosterFileError otherwise); the content is judged when it is read
    (`read_rows`, shared/uploads.py), under the same extension."""
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise RosterFileError(
            f"only .csv and .xlsx files can be imported, not {suffix or 'a file without one'}")
    import_id = uuid.uuid4().hex
    with open_private(_folder(home) / f"{import_id}{PENDING}{suffix}", "wb") as out:
        shutil.copyfileobj(file, out)
    return import_id


def pending_path(home: Path, import_id: str) -> Path | None:
    """The stored file of a pending import, or None (unknown id, or expired)."""
    if not _ID.fullmatch(import_id or ""):
        return None
    for suffix in (".csv", ".xlsx"):
        path = Path(home) / IMPORTS / f"{import_id}{PENDING}{suffix}"
        if path.is_file():
            return path
    return None


def discard(home: Path, import_id: str) -> None:
    path = pending_path(home, import_id)
    if path is not None:
        path.unlink(missing_ok=True)


def same_name(a: str | None, b: str | None) -> bool:
    """Names compared as people read them: case and runs of spaces do not count."""
    return " ".join((a or "").split()).casefold() == " ".join((b or "").split()).casefold()


def classify(row: RosterRow, stored: Any, pii_key: str) -> RowChange:
    """What one valid row does to what is stored (`stored`: None, or a row of `_STORED`).

    A blank optional value keeps what is stored (roster_import), so it changes nothing.
    """
    base = {"line": row.line, "registration_no": row.registration_no,
            "full_name": row.full_name}
    if stored is None:
        return RowChange(kind="new", **base)
    suspicious = not same_name(row.full_name, stored.full_name) or (
        row.birth_date is not None and stored.birth_date is not None
        and row.birth_date != stored.birth_date)
    new = {"full_name": row.full_name, "gender": row.gender, "birth_date": row.birth_date,
           "program": row.program, "cohort": row.cohort, "phone": row.phone,
           "email": row.email}
    old = {"full_name": stored.full_name, "gender": stored.gender,
           "birth_date": stored.birth_date, "program": stored.program, "cohort": stored.cohort,
           "phone": stored.phone, "email": stored.email}
    changed: dict[str, tuple[str, str]] = {}
    for name in SHOWN:
        if name == "nik":
            if row.nik is not None and hash_nik(row.nik, pii_key) != stored.nik_hash:
                changed["nik"] = ("•••", "•••")
            continue
        if new[name] is None:
            continue
        differs = (not same_name(new[name], old[name]) if name in ("program", "cohort")
                   else new[name] != old[name])
        if differs:
            changed[name] = ("" if old[name] is None else str(old[name]), str(new[name]))
    kind = "suspicious" if suspicious else "updated" if changed else "unchanged"
    return RowChange(kind=kind, changed=changed, alumnus_id=stored.id, **base)


_STORED = (Alumnus.id, Alumnus.registration_no, Alumnus.full_name, Alumnus.gender,
           Alumnus.birth_date, Alumnus.nik_hash, Alumnus.phone, Alumnus.email,
           Alumnus.erased_at, Program.name.label("program"), Cohort.label.label("cohort"))


def _stored(session: Session, numbers: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for first in range(0, len(numbers), LOOKUP_CHUNK):
        chunk = numbers[first:first + LOOKUP_CHUNK]
        query = (select(*_STORED).join(Cohort, Cohort.id == Alumnus.cohort_id)
                 .join(Program, Program.id == Cohort.program_id)
                 .where(in_list(session, Alumnus.registration_no, chunk)))
        found.update({row.registration_no: row for row in session.execute(query)})
    return found


def _erased(session: Session, numbers: list[str], pii_key: str) -> set[str]:
    """The numbers of erased alumni among `numbers` (stored as tombstones, shared.pii)."""
    tombstones = {tombstone(number, pii_key): number for number in numbers}
    found: set[str] = set()
    names = list(tombstones)
    for first in range(0, len(names), LOOKUP_CHUNK):
        found.update(tombstones[value] for value in session.scalars(
            select(Alumnus.registration_no).where(
                in_list(session, Alumnus.registration_no,
                        names[first:first + LOOKUP_CHUNK]))))
    return found


def preview(session: Session, home: Path, import_id: str, filename: str,
            pii_key: str) -> ImportPreview:
    """Sort the pending import's rows; nothing is written. Raises RosterFileError for a
    file that cannot be a roster, FileNotFoundError for an unknown or expired id."""
    path = pending_path(home, import_id)
    if path is None:
        raise FileNotFoundError(import_id)
    result = ImportPreview(import_id, filename)
    with open(path, "rb") as handle:
        rows_iter = read_rows(handle, path.name)
        titles: dict[str, str] = getattr(rows_iter, "titles", {})
        first_line_of: dict[str, int] = {}
        while chunk := list(islice(rows_iter, LOOKUP_CHUNK * 2)):
            valid: list[RosterRow] = []
            raws = dict(chunk)
            for line, raw in chunk:
                checked = parse_row(line, raw, titles)
                if isinstance(checked, Rejection):
                    result.rejections.append(checked)
                    continue
                first = first_line_of.setdefault(checked.registration_no, line)
                if first != line:
                    result.rejections.append(Rejection.of(line, [Problem(
                        "registration_no", "duplicate",
                        {"value": checked.registration_no, "first": str(first)})], raw, titles))
                    continue
                valid.append(checked)
            stored = _stored(session, [row.registration_no for row in valid])
            erased = _erased(session, [row.registration_no for row in valid], pii_key)
            for row in valid:
                found = stored.get(row.registration_no)
                if row.registration_no in erased or (found and found.erased_at):
                    # import_roster refuses these rows too: an erased person never comes back
                    result.rejections.append(Rejection.of(
                        row.line, [Problem("registration_no", "erased")], raws[row.line],
                        titles))
                    continue
                result.rows.append(classify(row, found, pii_key))
        result.titles = dict(titles)
    return result


class _Only(Iterator[tuple[int, dict[str, str]]]):
    """The rows of a file except the held lines, with the file's titles and length hint."""

    def __init__(self, rows: Iterator[tuple[int, dict[str, str]]], held: set[int]) -> None:
        self._rows, self._held = rows, held
        self.titles: dict[str, str] = getattr(rows, "titles", {})
        self._hint = operator.length_hint(rows, 0)

    def __next__(self) -> tuple[int, dict[str, str]]:
        while True:
            line, raw = next(self._rows)
            if line not in self._held:
                return line, raw

    def __length_hint__(self) -> int:
        return self._hint


def retire(session: Session, alumnus_id: int, registration_no: str) -> None:
    """Free a registration number for a new person: the stored alumnus keeps everything
    (answers, waves, links) under `<id>~<number>`, unique because ids are. Only while it
    still holds that number: a second apply of the same preview retires nobody else."""
    alumnus = session.get(Alumnus, alumnus_id)
    if alumnus is not None and alumnus.registration_no == registration_no:
        alumnus.registration_no = f"{alumnus.id}~{alumnus.registration_no}"[:64]


def apply(
    session_factory: sessionmaker[Session],
    home: Path,
    import_id: str,
    filename: str,
    *,
    pii_key: str,
    confirm: Iterable[str] | None = None,
    confirm_all: bool = False,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> Applied:
    """Apply a pending import: every valid row but the suspicious ones not confirmed
    (`confirm`: their registration numbers, or `confirm_all`). Confirmed ones retire the
    stored alumnus first (one transaction), then `import_roster` stores the rows; the held
    rows become a new pending import. The pending file is deleted afterwards."""
    with session_factory() as session:
        seen = preview(session, home, import_id, filename, pii_key)
    wanted = set(confirm or ())
    confirmed = [row for row in seen.of("suspicious")
                 if confirm_all or row.registration_no in wanted]
    held = [row for row in seen.of("suspicious") if row not in confirmed]
    if confirmed:
        with session_factory() as session, session.begin():
            for row in confirmed:
                assert row.alumnus_id is not None
                retire(session, row.alumnus_id, row.registration_no)
    path = pending_path(home, import_id)
    assert path is not None
    held_lines = {row.line for row in held}
    held_raw: list[tuple[int, dict[str, str]]] = []
    with open(path, "rb") as handle:
        rows = read_rows(handle, path.name)
        only = _Only(rows, held_lines)
        summary = import_roster(session_factory, only, pii_key=pii_key, on_progress=on_progress)
        titles = dict(only.titles)
        if held_lines:
            handle.seek(0)
            held_raw = [(line, raw) for line, raw in read_rows(handle, path.name)
                        if line in held_lines]
    pending_id = _keep_held(home, held_raw, titles) if held_raw else None
    path.unlink(missing_ok=True)
    return Applied(summary, len(confirmed), held, pending_id, titles)


def _keep_held(home: Path, rows: list[tuple[int, dict[str, str]]],
               titles: dict[str, str]) -> str:
    """The held rows as a new pending CSV under the uploaded headers and order."""
    import_id = uuid.uuid4().hex
    names = list(titles)
    with open_private(_folder(home) / f"{import_id}{PENDING}.csv", "w", newline="",
                      encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([titles[name] for name in names])
        for _line, raw in rows:
            writer.writerow([safe_cell(raw.get(name, "")) for name in names])
    return import_id


__all__ = ["ImportPreview", "RowChange", "Applied", "store_upload", "pending_path", "preview",
           "apply", "discard", "retire", "classify", "same_name"]
