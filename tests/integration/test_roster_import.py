"""The roster import against a real database (SQLite, and PostgreSQL with JEJAK_TEST_DB)."""

from __future__ import annotations

import io
from datetime import date

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select, update

from services.survey.roster import COLUMNS, read_rows
from services.survey.roster_import import ImportSummary, import_roster, write_rejections_csv
from shared import events as events_module
from shared.db import Database
from shared.event_types import AlumniImported
from shared.models import Alumnus, Cohort, OutboxEvent, ProcessedEvent, Program, utcnow
from shared.pii import reveal_nik
from tests.conftest import wait_for

PII_KEY = "test-pii-key-0123456789"


def roster_row(number: int, **changes: str) -> dict[str, str]:
    row = {
        "registration_no": f"BLK-{number:03d}",
        "full_name": f"Peserta {number}",
        "gender": "L" if number % 2 else "P",
        "birth_date": "05/03/1999",
        "nik": f"6474010503{number:06d}",
        "program": "Welding",
        "cohort": "Angkatan 1",
        "training_start": "2024-01-08",
        "training_end": "2024-03-29",
        "phone": f"0812-3456-{number:04d}",
        "email": f"peserta{number}@example.com",
    }
    return {**row, **changes}


def roster_csv(rows: list[dict[str, str]], *, indonesian: bool = False) -> bytes:
    out = io.StringIO()
    header = list(COLUMNS.values()) if indonesian else list(COLUMNS)
    out.write(";".join(header) + "\n")
    for row in rows:
        out.write(";".join(row[column] for column in COLUMNS) + "\n")
    return out.getvalue().encode("utf-8-sig")


def run_import(database: Database, data: bytes, **options: object) -> ImportSummary:
    rows = read_rows(io.BytesIO(data), "roster.csv")
    return import_roster(database.session_factory, rows, pii_key=PII_KEY, **options)  # type: ignore[arg-type]


def counts(summary: ImportSummary) -> tuple[int, int, int, int]:
    return summary.imported, summary.updated, summary.unchanged, summary.rejected


def alumni(database: Database) -> dict[str, Alumnus]:
    with database.session_factory() as session:
        return {a.registration_no: a for a in session.scalars(select(Alumnus))}


# Nobody subscribes to alumni.imported (campaigns pick up new alumni when they plan), so it
# is not written; these tests give it a subscriber to see what each chunk announces.
SUBSCRIBER = "outreach.test_on_alumni_imported"


def _check_imported(db_session, event: events_module.Event) -> None:
    assert isinstance(event.data, AlumniImported)


on_imported = events_module.consumer(SUBSCRIBER)(_check_imported)


@pytest.fixture(autouse=True)
def imported_has_a_subscriber(monkeypatch: pytest.MonkeyPatch) -> None:
    contracts = dict(events_module.CONTRACTS)
    contracts["alumni.imported"] = events_module.Contract(AlumniImported, (SUBSCRIBER,))
    monkeypatch.setattr(events_module, "CONTRACTS", contracts)


def imported_events(database: Database) -> list[list[int]]:
    with database.session_factory() as session:
        events = session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.type == "alumni.imported")
            .order_by(OutboxEvent.created_at)
        )
        return [event.payload["alumnus_ids"] for event in events]


def test_good_rows_import_and_bad_rows_are_rejected_with_line_and_column(
    settings, clean_db: Database
) -> None:
    rows = [
        roster_row(1),
        roster_row(2, gender="X"),  # line 3
        roster_row(3, program="Otomotif", cohort="2024-I", phone="+62 813 1111 2222"),
        roster_row(4, training_end="31/02/2024"),  # line 5
        roster_row(5, program="WELDING", cohort="angkatan 1"),  # the same cohort, other case
        roster_row(6, training_end="2024-04-30"),  # line 7: Angkatan 1 ends 2024-03-29
        roster_row(1, full_name="Budi"),  # line 8: BLK-001 again
    ]
    summary = run_import(clean_db, roster_csv(rows, indonesian=True), chunk_size=3)

    assert counts(summary) == (3, 0, 0, 4)
    assert [(r.line, r.column) for r in summary.rejections] == [
        (3, "gender"),
        (5, "training_end"),
        (7, "training_end"),
        (8, "registration_no"),
    ]
    assert "2024-03-29" in summary.rejections[2].message
    assert "line 2" in summary.rejections[3].message
    stored = alumni(clean_db)
    assert sorted(stored) == ["BLK-001", "BLK-003", "BLK-005"]
    assert stored["BLK-003"].phone == "+6281311112222"
    assert stored["BLK-001"].birth_date == date(1999, 3, 5)
    assert stored["BLK-001"].gender == "L" and stored["BLK-001"].full_name == "Peserta 1"
    with clean_db.session_factory() as session:
        programs = session.scalars(select(Program.name).order_by(Program.name)).all()
        cohorts = session.execute(
            select(Cohort.label, Cohort.training_start, Cohort.training_end).order_by(Cohort.label)
        ).all()
    assert programs == ["Otomotif", "Welding"]
    assert cohorts == [
        ("2024-I", date(2024, 1, 8), date(2024, 3, 29)),
        ("Angkatan 1", date(2024, 1, 8), date(2024, 3, 29)),
    ]
    assert stored["BLK-001"].cohort_id == stored["BLK-005"].cohort_id


def test_second_import_of_the_same_file_changes_nothing(settings, clean_db: Database) -> None:
    data = roster_csv([roster_row(number) for number in range(1, 8)])
    first = run_import(clean_db, data, chunk_size=3)
    before = alumni(clean_db)
    events_before = imported_events(clean_db)

    second = run_import(clean_db, data, chunk_size=3)

    assert counts(first) == (7, 0, 0, 0)
    assert counts(second) == (0, 0, 7, 0)
    after = alumni(clean_db)
    assert {k: a.updated_at for k, a in after.items()} == {
        k: a.updated_at for k, a in before.items()
    }
    assert {k: a.nik_encrypted for k, a in after.items()} == {
        k: a.nik_encrypted for k, a in before.items()
    }
    assert imported_events(clean_db) == events_before


def test_a_changed_phone_is_an_update_and_an_equal_one_in_another_form_is_not(
    settings, clean_db: Database
) -> None:
    run_import(clean_db, roster_csv([roster_row(n) for n in (1, 2, 3)]))
    before = alumni(clean_db)
    rows = [
        roster_row(1, phone="+62 812 3456 0001"),  # same number, other form
        roster_row(2, phone="0813-9999-0002"),
        roster_row(3, phone=""),  # blank keeps the stored phone
    ]

    summary = run_import(clean_db, roster_csv(rows))

    assert counts(summary) == (0, 1, 2, 0)
    after = alumni(clean_db)
    assert after["BLK-002"].phone == "+6281399990002"
    assert after["BLK-002"].updated_at > before["BLK-002"].updated_at
    assert after["BLK-003"].phone == before["BLK-003"].phone == "+6281234560003"
    assert imported_events(clean_db)[-1] == [after["BLK-002"].id]


def test_nik_is_stored_encrypted_and_revealed_with_the_key(settings, clean_db: Database) -> None:
    run_import(clean_db, roster_csv([roster_row(42)]))
    alumnus = alumni(clean_db)["BLK-042"]
    nik = "6474010503000042"

    assert alumnus.nik_encrypted is not None and nik.encode() not in alumnus.nik_encrypted
    assert alumnus.nik_hash is not None and nik not in alumnus.nik_hash
    assert reveal_nik(alumnus.nik_encrypted, PII_KEY) == nik
    with pytest.raises(InvalidTag):
        reveal_nik(alumnus.nik_encrypted, "another-key-0123456789")

    # A new NIK replaces the old one; the same NIK again is no change.
    changed = run_import(clean_db, roster_csv([roster_row(42, nik="6474010503999999")]))
    assert counts(changed) == (0, 1, 0, 0)
    assert reveal_nik(alumni(clean_db)["BLK-042"].nik_encrypted, PII_KEY) == "6474010503999999"


def test_each_chunk_announces_its_alumni_in_the_outbox(settings, clean_db: Database) -> None:
    progress: list[tuple[int, int | None]] = []
    summary = run_import(
        clean_db,
        roster_csv([roster_row(n) for n in range(1, 6)] + [roster_row(6, gender="?")]),
        chunk_size=2,
        on_progress=lambda done, total: progress.append((done, total)),
    )

    assert counts(summary) == (5, 0, 0, 1)
    events = imported_events(clean_db)
    assert [len(ids) for ids in events] == [2, 2, 1]
    assert sorted(i for ids in events for i in ids) == sorted(
        a.id for a in alumni(clean_db).values()
    )
    assert progress == [(2, 6), (4, 6), (6, 6)]


def test_an_erased_alumnus_is_never_brought_back(settings, clean_db: Database) -> None:
    run_import(clean_db, roster_csv([roster_row(1), roster_row(2)]))
    with clean_db.session_factory() as session, session.begin():
        session.execute(
            update(Alumnus)
            .where(Alumnus.registration_no == "BLK-001")
            .values(full_name=None, phone=None, email=None, nik_encrypted=None, erased_at=utcnow())
        )

    summary = run_import(clean_db, roster_csv([roster_row(1), roster_row(2)]))

    assert counts(summary) == (0, 0, 1, 1)
    assert (summary.rejections[0].line, summary.rejections[0].column) == (2, "registration_no")
    assert "erased" in summary.rejections[0].message
    erased = alumni(clean_db)["BLK-001"]
    assert (erased.full_name, erased.phone, erased.nik_encrypted) == (None, None, None)


def test_a_stored_cohort_keeps_its_dates(settings, clean_db: Database) -> None:
    run_import(clean_db, roster_csv([roster_row(1)]))
    summary = run_import(clean_db, roster_csv([roster_row(2, training_start="2024-01-15")]))
    assert counts(summary) == (0, 0, 0, 1)
    assert summary.rejections[0].column == "training_start"
    assert "2024-01-08 to 2024-03-29" in summary.rejections[0].message


def test_rejected_rows_round_trip_as_csv_and_import_once_fixed(
    settings, clean_db: Database
) -> None:
    rows = [roster_row(1), roster_row(2, email="peserta2@"), roster_row(3, nik="123")]
    summary = run_import(clean_db, roster_csv(rows))
    out = io.StringIO()
    write_rejections_csv(summary.rejections, out)

    returned = list(read_rows(io.BytesIO(out.getvalue().encode()), "rejected.csv"))

    assert [(values["line"], values["column"]) for _, values in returned] == [
        ("3", "email"),
        ("4", "nik"),
    ]
    assert [{c: values[c] for c in COLUMNS} for _, values in returned] == rows[1:]
    fixed = out.getvalue().replace("peserta2@,", "peserta2@example.com,").replace(",123,", ",,")
    again = run_import(clean_db, fixed.encode())
    assert counts(again) == (2, 0, 0, 0)


def test_inside_an_app_each_chunk_event_reaches_its_subscriber(
    survey_app, clean_db: Database, celery_worker
) -> None:
    # Chunks are written on a helper thread; each chunk's event is committed with it and
    # the relay (beside the worker here) sends it.
    with survey_app.app_context():
        run_import(clean_db, roster_csv([roster_row(n) for n in range(1, 6)]), chunk_size=2)
    with clean_db.session_factory() as session:
        event_ids = set(session.scalars(select(OutboxEvent.id)))
    assert len(event_ids) == 3

    def consumed() -> bool:
        with clean_db.session_factory() as session:
            done = session.scalars(
                select(ProcessedEvent.event_id).where(
                    ProcessedEvent.consumer == SUBSCRIBER
                )
            )
            return set(done) == event_ids

    wait_for(consumed)
