"""Data-subject rights under Indonesia's Personal Data Protection Law (UU PDP 27/2022).

Three plain functions on one alumnus, each called by the admin page and the API inside one
unit of work (the caller commits, and audits):

- `export_alumnus`: everything Jejak holds about the person, as JSON-ready data;
- `erase_alumnus`: identifiers removed; answers kept, de-identified, for the aggregates;
- `withdraw_consent`: recorded with time and source; outreach sends nothing more.

The survey service owns the roster and the responses, so it changes those here. Messages,
delivery attempts and opt-outs belong to outreach (docs/architecture.md §1): erasure and withdrawal
publish an event (`alumnus.erased`, `alumnus.consent_withdrawn`) in the same transaction,
and outreach's consumers cancel what is still pending. Until they have run, outreach's
last-moment send check (it re-reads erased_at and consent_withdrawn_at) already stops
every message, so the event only tidies what would never go out.

Erasure also reaches the personal-data files under JEJAK_HOME (shared.personal_files): the
person's rows are taken out of every rejected-rows file of the roster import; a file that
cannot be rewritten (a backup, an unreadable file) makes the erasure refuse, naming each
file to delete by hand. Analytics deletes raw workbooks and outreach the embedded mail and
SMS/WhatsApp sinks' copies of the person's messages when they receive `alumnus.erased`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from services.survey import employer_privacy
from services.survey.questionnaire import load_definition
from services.survey.roster_import import Identifiers, plan_rejected_rows_erasure
from shared.backup import backups_in
from shared.errors import DomainError
from shared.event_types import AlumnusErased, ConsentWithdrawn
from shared.events import publish
from shared.models import (
    Alumnus,
    Campaign,
    CampaignStep,
    Cohort,
    ContactAttempt,
    DeliveryAttempt,
    Message,
    OptOut,
    Program,
    Questionnaire,
    Response,
    ResponseEdit,
    Wave,
    WaveTarget,
    utcnow,
)
from shared.pii import reveal_nik, tombstone

EXPORT_FORMAT = "jejak-alumnus-export/1"
CONSENT_SOURCES = ("staff", "api", "form")  # form: "Tidak setuju" on the consent notice
# Question types whose answers are typed by the person and may name them, their employer
# or their town; they are dropped on erasure (docs/decisions.md). Coded answers stay.
FREE_TEXT_TYPES = frozenset({"text"})


class PrivacyError(DomainError):
    """A data-subject request that cannot be honoured (404: no such alumnus; 409: erased)."""


class FilesToDeleteByHand(PrivacyError):
    """Erasure refused: these files may hold the person and Jejak cannot rewrite them."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        super().__init__(
            "files", "these files may hold this alumnus's personal data and cannot be "
            "rewritten without it; delete them by hand (or wait until they expire), then "
            "erase again: " + ", ".join(str(path) for path in paths), 409)


@dataclass(frozen=True)
class Erasure:
    alumnus_id: int
    erased_at: datetime
    already_erased: bool
    responses_deidentified: int
    answers_removed: int
    rejected_rows_removed: int = 0


# --- export -------------------------------------------------------------------------------


def export_alumnus(session: Session, alumnus_id: int, *, pii_key: str) -> dict[str, Any]:
    """Everything held about one alumnus (roster, answers, waves, messages, staff's calls,
    opt-outs, consent).

    Read-only. The NIK is decrypted: the person has a right to see it, and the export goes
    only to an admin who audits it. An erased alumnus exports what is left (no identifiers).
    """
    alumnus = _alumnus(session, alumnus_id)
    cohort, program = session.execute(
        select(Cohort, Program).join(Program, Program.id == Cohort.program_id)
        .where(Cohort.id == alumnus.cohort_id)
    ).one()
    roster = {
        "id": alumnus.id,
        "registration_no": alumnus.registration_no,
        "full_name": alumnus.full_name,
        "gender": alumnus.gender,
        "birth_date": alumnus.birth_date,
        "nik": _nik(alumnus, pii_key),
        "phone": alumnus.phone,
        "email": alumnus.email,
        "program": {"id": program.id, "name": program.name},
        "cohort": {"id": cohort.id, "label": cohort.label,
                   "training_start": cohort.training_start,
                   "training_end": cohort.training_end},
        "created_at": alumnus.created_at,
        "updated_at": alumnus.updated_at,
    }
    targets = [
        {"wave_id": wave_id, "wave": slug, "program_id": program_id, "cohort_id": cohort_id,
         "gender": gender}
        for wave_id, slug, program_id, cohort_id, gender in session.execute(
            select(WaveTarget.wave_id, Wave.slug, WaveTarget.program_id, WaveTarget.cohort_id,
                   WaveTarget.gender)
            .join(Wave, Wave.id == WaveTarget.wave_id)
            .where(WaveTarget.alumnus_id == alumnus_id).order_by(WaveTarget.wave_id)
        )
    ]
    responses = session.execute(
        select(Response, Wave.slug).join(Wave, Wave.id == Response.wave_id)
        .where(Response.alumnus_id == alumnus_id).order_by(Response.started_at)
    ).all()
    edits: dict[uuid.UUID, list[dict[str, Any]]] = {}
    if responses:
        for edit in session.scalars(
            select(ResponseEdit).where(ResponseEdit.response_id.in_([r.id for r, _ in responses]))
            .order_by(ResponseEdit.received_at)
        ):
            edits.setdefault(edit.response_id, []).append(
                {"submission_id": edit.id, "received_at": edit.received_at})
    messages = session.execute(
        select(Message, CampaignStep.position, Campaign.id, Campaign.name)
        .join(CampaignStep, CampaignStep.id == Message.campaign_step_id)
        .join(Campaign, Campaign.id == CampaignStep.campaign_id)
        .where(Message.alumnus_id == alumnus_id).order_by(Message.id)
    ).all()
    attempts: dict[int, list[dict[str, Any]]] = {}
    if messages:
        for attempt in session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id.in_([m.id for m, *_ in messages]))
            .order_by(DeliveryAttempt.id)
        ):
            attempts.setdefault(attempt.message_id, []).append(
                {"attempted_at": attempt.attempted_at, "outcome": attempt.outcome,
                 "detail": attempt.detail})
    calls = session.execute(
        select(ContactAttempt, Wave.slug).join(Wave, Wave.id == ContactAttempt.wave_id)
        .where(ContactAttempt.alumnus_id == alumnus_id).order_by(ContactAttempt.id)
    ).all()
    addresses = [value for value in (alumnus.phone, alumnus.email) if value]
    opt_outs = session.scalars(
        select(OptOut).where(or_(OptOut.alumnus_id == alumnus_id,
                                 OptOut.address.in_(addresses)))
        .order_by(OptOut.created_at)
    ).all()
    return _jsonable({
        "format": EXPORT_FORMAT,
        "exported_at": utcnow(),
        "alumnus": roster,
        "consent": {"withdrawn_at": alumnus.consent_withdrawn_at,
                    "withdrawn_source": alumnus.consent_withdrawn_source},
        "erased_at": alumnus.erased_at,
        "wave_targets": targets,
        "responses": [
            {"id": response.id, "wave_id": response.wave_id, "wave": slug,
             "questionnaire_id": response.questionnaire_id, "status": response.status,
             "source": response.source, "answers": response.answers, "draft": response.draft,
             "started_at": response.started_at, "submitted_at": response.submitted_at,
             "updated_at": response.updated_at, "edits": edits.get(response.id, [])}
            for response, slug in responses
        ],
        "messages": [
            {"id": message.id, "campaign_id": campaign_id, "campaign": campaign_name,
             "step": position, "channel": message.channel, "address": message.address,
             "status": message.status, "due_at": message.due_at, "queued_at": message.queued_at,
             "sent_at": message.sent_at, "delivered_at": message.delivered_at,
             "attempts": message.attempts, "failed_reason": message.failed_reason,
             "cancel_reason": message.cancel_reason, "created_at": message.created_at,
             "delivery_attempts": attempts.get(message.id, [])}
            for message, position, campaign_id, campaign_name in messages
        ],
        # Staff's calls and chats to them, with what staff noted (the call list).
        "contact_attempts": [
            {"wave_id": call.wave_id, "wave": slug, "channel": call.channel,
             "outcome": call.outcome, "callback_on": call.callback_on, "note": call.note,
             "created_at": call.created_at}
            for call, slug in calls
        ],
        # The supervisors they named with consent (docs/employers.md): theirs to see.
        "supervisors": employer_privacy.supervisors_of(session, alumnus_id),
        "ratings_by_supervisors": employer_privacy.ratings_about(session, alumnus_id),
        "opt_outs": [
            {"channel": opt_out.channel, "address": opt_out.address, "source": opt_out.source,
             "created_at": opt_out.created_at}
            for opt_out in opt_outs
        ],
    })


def _nik(alumnus: Alumnus, pii_key: str) -> str | None:
    if alumnus.nik_encrypted is None:
        return None
    try:
        return reveal_nik(alumnus.nik_encrypted, pii_key)
    except InvalidTag as exc:  # a rotated or wrong key: say so rather than export garbage
        raise PrivacyError("nik", "the NIK cannot be decrypted with the configured "
                           "JEJAK_PII_KEY", 500) from exc


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


# --- erasure ------------------------------------------------------------------------------


def erase_alumnus(
    session: Session, alumnus_id: int, *, pii_key: str, home: Path,
    now: datetime | None = None,
) -> Erasure:
    """Remove one alumnus's identifiers; keep their coded answers for the aggregates.

    Blanked: name, NIK (ciphertext and hash), phone, email, birth date; the registration
    number becomes a keyed tombstone (shared.pii.tombstone). Kept: gender and cohort (the
    breakdowns of every published indicator rest on them), wave targets, and each response's
    coded answers; free-text answers, unsubmitted drafts and staff's notes of calls to them
    go (the calls' outcomes stay). Outreach cancels pending
    messages and blanks addresses when it receives `alumnus.erased`. Idempotent: erasing
    twice changes nothing and publishes nothing the second time.

    Files under `home`: rows naming the person (registration number, NIK, phone or email)
    leave every rejected-rows file. Backups in `home/backups` cannot be rewritten, so while
    any written since the person joined the roster is there, the erasure refuses
    (FilesToDeleteByHand, 409) before changing anything.
    """
    alumnus = _alumnus(session, alumnus_id, for_update=True)
    if alumnus.erased_at is not None:
        return Erasure(alumnus.id, alumnus.erased_at, True, 0, 0)
    rejected_rows = plan_rejected_rows_erasure(home, Identifiers(
        alumnus.registration_no, alumnus.nik_hash, alumnus.phone, alumnus.email, pii_key))
    by_hand = [path for path in backups_in(home) if _written_since(path, alumnus.created_at)]
    by_hand += rejected_rows.unreadable
    if by_hand:
        raise FilesToDeleteByHand(by_hand)
    now = now or utcnow()
    alumnus.registration_no = tombstone(alumnus.registration_no, pii_key)
    alumnus.full_name = None
    alumnus.birth_date = None
    alumnus.nik_encrypted = None
    alumnus.nik_hash = None
    alumnus.phone = None
    alumnus.email = None
    alumnus.erased_at = now
    responses = session.scalars(select(Response).where(Response.alumnus_id == alumnus_id)).all()
    free_text = _free_text_keys(session, {response.questionnaire_id for response in responses})
    removed = 0
    for response in responses:
        kept = {key: value for key, value in (response.answers or {}).items()
                if key not in free_text.get(response.questionnaire_id, frozenset())}
        removed += len(response.answers or {}) - len(kept)
        response.answers = kept
        response.draft = None
    # What staff typed about the calls to them is free text about them too; the outcomes
    # stay (the dispositions and response rates rest on them).
    session.execute(update(ContactAttempt)
                    .where(ContactAttempt.alumnus_id == alumnus_id,
                           ContactAttempt.note.is_not(None))
                    .values(note=None))
    # Their consent that their supervisor be asked goes, with the ratings about them and
    # the contact it brought in.
    employer_privacy.forget_supervisors(session, alumnus.id)
    publish(session, AlumnusErased(alumnus_id=alumnus.id))
    session.flush()
    _off_call_lists(session, alumnus.id)  # its copy of the registration number goes too
    # After the flush, so a database refusal leaves the files as they were.
    return Erasure(alumnus.id, now, False, len(responses), removed, rejected_rows.apply())


def _written_since(path: Path, created_at: datetime) -> bool:
    """Whether the file was last written after the alumnus joined the roster: a backup
    finished before that cannot hold them (one running across it is listed: it may)."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC) >= created_at


def _free_text_keys(session: Session, questionnaire_ids: set[int]) -> dict[int, frozenset[str]]:
    keys: dict[int, frozenset[str]] = {}
    if not questionnaire_ids:
        return keys
    for questionnaire_id, definition in session.execute(
        select(Questionnaire.id, Questionnaire.definition)
        .where(Questionnaire.id.in_(questionnaire_ids))
    ):
        parsed = load_definition(definition)
        keys[questionnaire_id] = frozenset(
            key for key, question in parsed.by_answer_key.items()
            if question.type in FREE_TEXT_TYPES
        )
    return keys


# --- consent ------------------------------------------------------------------------------


def withdraw_consent(
    session: Session, alumnus_id: int, *, source: str, now: datetime | None = None
) -> bool:
    """Record that the alumnus withdrew consent; True if this call recorded it.

    Honoured by outreach: planning leaves such alumni out, the send check stops anything
    already planned, and the `alumnus.consent_withdrawn` consumer cancels it. The first
    withdrawal's time is kept; asking again changes nothing. An erased alumnus has nothing
    left to withdraw (409).
    """
    if source not in CONSENT_SOURCES:
        raise ValueError(f"unknown consent source {source!r}")
    alumnus = _alumnus(session, alumnus_id, for_update=True)
    if alumnus.erased_at is not None:
        raise PrivacyError("alumnus", "this alumnus's personal data was erased", 409)
    if alumnus.consent_withdrawn_at is not None:
        return False
    alumnus.consent_withdrawn_at = now or utcnow()
    alumnus.consent_withdrawn_source = source
    employer_privacy.withdraw_supervisors(session, alumnus.id, alumnus.consent_withdrawn_at)
    publish(session, ConsentWithdrawn(alumnus_id=alumnus.id))
    session.flush()
    _off_call_lists(session, alumnus.id)
    return True


def _off_call_lists(session: Session, alumnus_id: int) -> None:
    """The alumnus's rows on the waves' call lists recomputed in this transaction
    (services/survey/call_list_state.py): closed at once, and after an erasure no copy of
    the registration number left behind, as an event consumed later would leave it a while."""
    from services.survey import call_list_state  # it reads followup, which reads waves

    call_list_state.refresh_alumnus(session, alumnus_id)


def _alumnus(session: Session, alumnus_id: int, *, for_update: bool = False) -> Alumnus:
    query = select(Alumnus).where(Alumnus.id == alumnus_id)
    if for_update:  # two admins erasing at once: the second waits, then sees erased_at
        query = query.with_for_update()
    alumnus = session.scalar(query)
    if alumnus is None:
        raise PrivacyError("alumnus", "no alumnus with this id", 404)
    return alumnus
