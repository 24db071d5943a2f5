"""Issue 16, last point: the call list's state per target (call_states) follows the events
that change it, a redelivered event changes nothing, and what no event announces is mended
when a page shows it or by the rebuild.

The hand-worked wave of tests/integration/test_call_list.py (five targets REG-000..REG-004,
a two-step SMS campaign). Its fixture writes the messages and the response directly, as
outreach and the form would, without their events; so its rows are what the wave's opening
and the attempts made them until something refreshes them:

| alumnus | messages          | response | stored after the fixture | by the rule              |
|---------|-------------------|----------|--------------------------|--------------------------|
| REG-000 | sent, sent        | none     | reached, nothing pending | reached, nothing pending |
| REG-001 | sent, planned     | none     | reached, pending         | reached, pending         |
| REG-002 | sent, planned     | none     | not reached (opening)    | reached, pending         |
| REG-003 | none              | none     | not reached              | not reached              |
| REG-004 | sent, sent        | complete | open (opening)           | closed                   |

(REG-000 and REG-001 were refreshed by their attempts.)
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from services.survey import call_list, call_list_state, tasks, waves
from services.survey.privacy import erase_alumnus, export_alumnus, withdraw_consent
from shared import db
from shared.auth import create_user
from shared.event_types import MessageStatus, ResponseSubmitted
from shared.events import Event, publish
from shared.models import (
    Alumnus,
    CallState,
    CampaignStep,
    Cohort,
    ContactAttempt,
    Message,
    OptOut,
    OutboxEvent,
    Response,
    Wave,
)
from tests.integration.test_call_list import (  # noqa: F401 - `wave`, `operator`: fixtures
    PAGE,
    centre_today,
    listed,
    operator,
    survey_app_wave_id,
    wave,
)


@pytest.fixture()
def hand_wave(wave) -> dict:  # noqa: F811 - the fixture of test_call_list, by name
    """The table of the module docstring: {registration_no: alumnus_id}."""
    return wave


@pytest.fixture()
def signed_in(operator):  # noqa: F811 - the fixture of test_call_list, by name
    """A test client signed in as the operator ani."""
    return operator


def state(app, alumnus_id: int) -> tuple[bool, bool, bool, int]:
    """(closed, reached, pending, attempts) as stored."""
    with app.app_context():
        row = db.session().scalar(select(CallState).where(CallState.alumnus_id == alumnus_id))
        return bool(row.closed), bool(row.reached), bool(row.pending), row.attempts


def published(app, event) -> dict:
    """Publish `event` as its producer would (in a committed transaction) and return the
    message the relay hands its consumers."""
    with app.app_context():
        session = db.session()
        event_id = publish(session, event)
        session.commit()
        row = session.get(OutboxEvent, event_id)
        message = Event(row.id, row.type, row.payload, row.created_at).to_message()
        session.rollback()
        return message


def set_message(app, alumnus_id: int, position: int, status: str) -> int:
    """Outreach's write: the alumnus's message of step `position` gets `status`; its id."""
    with app.app_context():
        session = db.session()
        message = session.scalar(
            select(Message).join(CampaignStep, CampaignStep.id == Message.campaign_step_id)
            .where(Message.alumnus_id == alumnus_id, CampaignStep.position == position))
        message.status = status
        session.commit()
        return message.id


def test_every_target_gets_its_row_when_the_wave_opens_and_late_targets_theirs(
        survey_app, survey) -> None:
    with survey_app.app_context():
        session = db.session()
        rows = session.execute(select(CallState.registration_no, CallState.closed,
                                      CallState.reached, CallState.pending, CallState.attempts)
                               .order_by(CallState.registration_no)).all()
    # REG-005 is erased, so not a target: five rows, nobody reached, nothing planned yet.
    assert [tuple(row) for row in rows] == [
        (f"REG-00{index}", False, False, False, 0) for index in range(5)]
    assert survey["population"] == 5


def test_a_message_status_event_marks_the_alumnus_reached_and_a_redelivery_changes_nothing(
        survey_app, hand_wave) -> None:
    # REG-002's first message went out (the fixture wrote it without its event).
    assert state(survey_app, hand_wave["REG-002"])[:3] == (False, False, False)
    with survey_app.app_context():
        first = db.session().scalar(select(Message.id).where(
            Message.alumnus_id == hand_wave["REG-002"], Message.status == "sent"))
    message = published(survey_app, MessageStatus(message_id=first,
                                                   alumnus_id=hand_wave["REG-002"], status="sent"))
    with survey_app.app_context():
        tasks.on_message_status.run(message)
    # Reached, and the reminder is still planned: `waiting`.
    assert state(survey_app, hand_wave["REG-002"]) == (False, True, True, 0)
    with survey_app.app_context():  # the outbox sends it again: nothing changes
        tasks.on_message_status.run(message)
        tasks.on_message_status.run(message)
    assert state(survey_app, hand_wave["REG-002"]) == (False, True, True, 0)
    # The reminder goes out: nothing left to come, `reminders_done`.
    second = set_message(survey_app, hand_wave["REG-002"], 1, "sent")
    message = published(survey_app, MessageStatus(message_id=second,
                                                  alumnus_id=hand_wave["REG-002"], status="sent"))
    with survey_app.app_context():
        tasks.on_message_status.run(message)
        tasks.on_message_status.run(message)
    assert state(survey_app, hand_wave["REG-002"]) == (False, True, False, 0)


def test_the_same_news_told_twice_as_two_events_ends_where_one_would(survey_app, hand_wave) -> None:
    """Each consumer recomputes from the sources, so even two distinct events (a `sent`
    and a later `delivered` of one message) leave what one leaves."""
    second = set_message(survey_app, hand_wave["REG-001"], 1, "sent")
    for status in ("sent", "delivered"):
        message = published(survey_app, MessageStatus(message_id=second,
                                                      alumnus_id=hand_wave["REG-001"],
                                                      status=status))
        with survey_app.app_context():
            tasks.on_message_status.run(message)
        # REG-001 keeps its two attempts (no answer, callback), and is reached, none pending.
        assert state(survey_app, hand_wave["REG-001"]) == (False, True, False, 2)


def test_a_complete_response_closes_the_row_through_its_event_once(survey_app, hand_wave) -> None:
    # REG-004's complete response was written by the fixture, without its event.
    assert state(survey_app, hand_wave["REG-004"])[0] is False
    with survey_app.app_context():
        session = db.session()
        response = session.scalar(select(Response).where(
            Response.alumnus_id == hand_wave["REG-004"]))
        event = ResponseSubmitted(response_id=str(response.id), wave_id=response.wave_id,
                                  alumnus_id=response.alumnus_id)
    message = published(survey_app, event)
    with survey_app.app_context():
        tasks.on_response_submitted.run(message)
        tasks.on_response_submitted.run(message)
    assert state(survey_app, hand_wave["REG-004"])[:2] == (True, False)


def test_withdrawn_consent_and_erasure_close_the_row_in_their_own_transaction(
        survey_app, hand_wave, settings) -> None:
    wave_id = survey_app_wave_id(survey_app)
    with survey_app.app_context():
        session = db.session()
        assert withdraw_consent(session, hand_wave["REG-003"], source="staff")
        erase_alumnus(session, hand_wave["REG-002"], pii_key=settings.pii_key,
                      home=settings.home)
        session.commit()
    assert state(survey_app, hand_wave["REG-003"])[0] is True
    assert state(survey_app, hand_wave["REG-002"])[0] is True
    with survey_app.app_context():
        session = db.session()
        numbers = set(session.scalars(select(CallState.registration_no)))
        entries, _, counts = call_list.page(session, wave_id, call_list.CallFilters(), 1,
                                            today=centre_today())
    # The erased number is a tombstone in the list's copy too.
    assert "REG-002" not in numbers
    assert [entry.registration_no for entry in entries] == ["REG-001", "REG-000"]
    assert counts["never_reached"] == 0 and counts["waiting"] == 0


def test_the_export_shows_and_erasure_blanks_what_staff_wrote_about_the_calls(
        survey_app, hand_wave, settings) -> None:
    wave_id = survey_app_wave_id(survey_app)
    with survey_app.app_context():
        session = db.session()
        wave = session.get(Wave, wave_id)
        for number, note in (("REG-002", "Ibu Ani bilang anaknya kerja di Bontang"),
                             ("REG-001", "Nomor istri, telepon sore")):
            call_list.record_attempt(session, wave, hand_wave[number], user_id=None,
                                     channel="phone", outcome="no_answer", note=note,
                                     today=centre_today())
        session.commit()
        exported = export_alumnus(session, hand_wave["REG-002"], pii_key=settings.pii_key)
        assert [(call["outcome"], call["note"]) for call in exported["contact_attempts"]] == [
            ("no_answer", "Ibu Ani bilang anaknya kerja di Bontang")]
        erase_alumnus(session, hand_wave["REG-002"], pii_key=settings.pii_key,
                      home=settings.home)
        session.commit()
        attempts = {alumnus_id: (outcome, note) for alumnus_id, outcome, note in session.execute(
            select(ContactAttempt.alumnus_id, ContactAttempt.outcome, ContactAttempt.note))}
    assert attempts[hand_wave["REG-002"]] == ("no_answer", None)
    assert attempts[hand_wave["REG-001"]] == ("no_answer", "Nomor istri, telepon sore")


def test_opening_the_personal_form_marks_the_alumnus_reached_in_the_same_transaction(
        survey_app, hand_wave) -> None:
    with survey_app.app_context():
        session = db.session()
        waves.mark_opened(session, survey_app_wave_id(survey_app), hand_wave["REG-003"])
        session.commit()
    assert state(survey_app, hand_wave["REG-003"])[:2] == (False, True)


def test_an_opt_out_no_event_announces_keeps_the_alumnus_off_the_list_at_once(
        survey_app, hand_wave) -> None:
    with survey_app.app_context():
        session = db.session()
        session.add(OptOut(channel="sms", address="+628120000003", alumnus_id=hand_wave["REG-003"],
                           source="sms_stop"))
        session.commit()
        entries, _, counts = call_list.page(session, survey_app_wave_id(survey_app),
                                            call_list.CallFilters(), 1, today=centre_today())
    assert [entry.registration_no for entry in entries] == ["REG-001", "REG-000", "REG-002"]
    assert counts["all"] == 3


def test_rows_that_drifted_are_mended_when_their_page_is_read(survey_app, hand_wave) -> None:
    """REG-002 (reached by the rule, stored not reached) and REG-004 (complete, stored
    open) are on the first page's query; the page re-checks them, mends both rows, and
    shows the rule's groups and counts."""
    with survey_app.app_context():
        session = db.session()
        entries, _, counts = call_list.page(session, survey_app_wave_id(survey_app),
                                            call_list.CallFilters(), 1, today=centre_today())
        session.commit()
    assert [(entry.registration_no, entry.group, entry.status) for entry in entries] == [
        ("REG-001", "callback_due", "invited"), ("REG-000", "reminders_done", "invited"),
        ("REG-003", "never_reached", "not_invited"), ("REG-002", "waiting", "invited")]
    assert counts["all"] == 4
    assert state(survey_app, hand_wave["REG-002"]) == (False, True, True, 0)
    assert state(survey_app, hand_wave["REG-004"])[0] is True


def test_the_rebuild_recomputes_a_whole_wave_from_its_sources_and_keeps_the_assignments(
        survey_app, hand_wave) -> None:
    with survey_app.app_context():
        session = db.session()
        wave_id = survey_app_wave_id(survey_app)
        user = create_user(session, "ani", "kata-sandi-ani", "operator")
        session.flush()
        ani = user.id
        assert call_list.assign(session, session.get(Wave, wave_id), [hand_wave["REG-000"]],
                                ani) == 1
        session.execute(update(CallState).where(CallState.alumnus_id == hand_wave["REG-000"])
                        .values(attempts=99, last_outcome="refused", reached=False))
        session.commit()
        assert call_list_state.rebuild(session, wave_id) == 5
        session.commit()
    # From the attempts: REG-000 one no-answer; REG-001 two, the latest a callback today.
    assert state(survey_app, hand_wave["REG-000"]) == (False, True, False, 1)
    assert state(survey_app, hand_wave["REG-001"]) == (False, True, True, 2)
    assert state(survey_app, hand_wave["REG-002"]) == (False, True, True, 0)
    assert state(survey_app, hand_wave["REG-004"])[0] is True
    with survey_app.app_context():
        session = db.session()
        rows = {row.alumnus_id: row for row in session.scalars(select(CallState))}
        called_back = rows[hand_wave["REG-001"]]
        assert (called_back.last_outcome, called_back.callback_on) == (
            "callback", centre_today())
        assert rows[hand_wave["REG-000"]].last_outcome == "no_answer"
        assert rows[hand_wave["REG-000"]].assignee_id == ani


def test_late_targets_get_their_rows_with_the_targets(survey_app, hand_wave) -> None:
    wave_id = survey_app_wave_id(survey_app)
    with survey_app.app_context():
        session = db.session()
        cohort = session.scalars(select(Cohort).order_by(Cohort.id)).first()
        late = Alumnus(registration_no="REG-100", full_name="Baru", gender="L",
                       birth_date=date(2001, 5, 5), cohort=cohort, phone="+6281211110001")
        session.add(late)
        session.flush()
        wave_row = session.get(Wave, wave_id)
        late_id = late.id
        assert waves.add_targets(session, wave_row, alumnus_ids=[late_id]) == [late_id]
        session.commit()
    assert state(survey_app, late_id) == (False, False, False, 0)


def test_a_page_mends_until_none_of_its_rows_drifted(survey_app, hand_wave) -> None:
    """Pages of two. As stored, the never-reached group holds REG-002, REG-003 and REG-004
    (in registration order), so page 2 first reads REG-002 and REG-003; REG-002 is mended
    (waiting), the page read again gives REG-003 and REG-004; REG-004 is mended (closed),
    and the third read gives REG-003 and REG-002: what the rule says."""
    wave_id = survey_app_wave_id(survey_app)
    with survey_app.app_context():
        session = db.session()
        entries, has_next, counts = call_list.page(session, wave_id, call_list.CallFilters(),
                                                   2, today=centre_today(), size=2)
        session.commit()
    assert [(entry.registration_no, entry.group) for entry in entries] == [
        ("REG-003", "never_reached"), ("REG-002", "waiting")]
    assert not has_next
    assert counts == {"callback_due": 1, "reminders_done": 1, "never_reached": 1,
                      "waiting": 1, "all": 4}


def test_jejak_calls_rebuild_recomputes_the_named_wave_and_refuses_an_unknown_one(
        survey_app, hand_wave, settings, tmp_path) -> None:
    from click.testing import CliRunner

    from services.cli import main

    env = {"JEJAK_DATABASE_URL": settings.database_url, "JEJAK_HOME": str(tmp_path / "home")}
    done = CliRunner().invoke(main, ["calls", "rebuild", "ts-2026"], env=env)
    assert done.exit_code == 0, done.output
    assert "call list of ts-2026: 5 targets recomputed" in done.output
    assert state(survey_app, hand_wave["REG-002"]) == (False, True, True, 0)
    assert state(survey_app, hand_wave["REG-004"])[0] is True
    unknown = CliRunner().invoke(main, ["calls", "rebuild", "no-such-wave"], env=env)
    assert unknown.exit_code != 0 and "no wave 'no-such-wave'" in unknown.output


def test_the_page_keeps_the_rows_it_mended(survey_app, hand_wave, signed_in) -> None:
    html = signed_in.get(PAGE).get_data(as_text=True)
    assert listed(html) == [hand_wave[number] for number in
                            ("REG-001", "REG-000", "REG-003", "REG-002")]
    # Committed with the page: the next request (and the counts) read the mended rows.
    assert state(survey_app, hand_wave["REG-002"]) == (False, True, True, 0)
    assert state(survey_app, hand_wave["REG-004"])[0] is True


def test_the_migration_gives_every_target_of_an_existing_wave_its_row_as_the_rule_says(
        tmp_path) -> None:
    """A database at calls0001 (a row only for the alumnus that was tried), upgraded to
    calls0002. Four targets, one step each:

    | alumnus | message | else              | closed | reached | pending |
    |---------|---------|-------------------|--------|---------|---------|
    | A-0     | sent    | two attempts      | no     | yes     | no      |
    | A-1     | planned | opened the form   | no     | yes     | yes     |
    | A-2     | failed  | —                 | no     | no      | no      |
    | A-3     | sent    | complete response | yes    | no      | no      |
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session as OrmSession

    from services.survey import catalog
    from shared.migrate import upgrade
    from shared.models import Campaign, Program, WaveTarget, utcnow

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "calls0001")
    engine = create_engine(url)
    with OrmSession(engine) as session:
        program = Program(name="Las")
        cohort = Cohort(program=program, label="A", training_start=date(2025, 1, 6),
                        training_end=date(2025, 3, 28))
        people = [Alumnus(registration_no=f"A-{index}", full_name=f"A {index}", gender="L",
                          birth_date=date(2000, 1, 1), cohort=cohort, phone=f"+62812{index}")
                  for index in range(4)]
        session.add_all([program, cohort, *people])
        session.flush()
        questionnaire = catalog.ensure_default(session)
        wave = Wave(slug="lama", title="Lama", questionnaire_id=questionnaire.id,
                    status="open", scope={"program_ids": [program.id], "cohort_ids": []})
        session.add(wave)
        session.flush()
        session.add_all([WaveTarget(wave_id=wave.id, alumnus_id=person.id,
                                    program_id=program.id, cohort_id=cohort.id, gender="L",
                                    opened_at=utcnow() if index == 1 else None)
                         for index, person in enumerate(people)])
        step = CampaignStep(campaign=Campaign(wave_id=wave.id, name="U", status="running"),
                            position=0, day_offset=0, channel="sms", template={})
        session.add(step)
        session.flush()
        session.add_all([Message(campaign_step_id=step.id, alumnus_id=person.id, channel="sms",
                                 address=person.phone, status=status, due_at=utcnow())
                         for person, status in zip(people, ("sent", "planned", "failed",
                                                            "sent"), strict=True)])
        session.add(Response(wave_id=wave.id, alumnus_id=people[3].id,
                             questionnaire_id=questionnaire.id, status="complete", answers={}))
        session.commit()
        ids = [person.id for person in people]
        wave_id = wave.id
    with engine.begin() as connection:  # the columns of calls0001 only
        connection.execute(text(
            "INSERT INTO call_states (wave_id, alumnus_id, attempts, last_outcome) "
            "VALUES (:w, :a, 2, 'no_answer')"), {"w": wave_id, "a": ids[0]})
    upgrade(url)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT registration_no, closed, reached, pending, attempts, last_outcome "
            "FROM call_states ORDER BY registration_no")).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("A-0", 0, 1, 0, 2, "no_answer"), ("A-1", 0, 1, 1, 0, None),
        ("A-2", 0, 0, 0, 0, None), ("A-3", 1, 0, 0, 0, None)]
