"""The one database schema shared by the three services (docs/architecture.md §1).

Each service writes only its own tables (the table in docs/architecture.md §1); any may read any.
Times are stored timezone-aware in UTC; display converts to Asia/Makassar.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints so Alembic can alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonType = JSON().with_variant(JSONB(), "postgresql")
Money = Numeric(18, 2)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both databases (SQLite would hand back naive datetimes)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: store times timezone-aware")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JsonType,
        list[Any]: JsonType,
    }


# --- survey ---------------------------------------------------------------------------


class Program(Base):
    """A kejuruan: the trade a training programme teaches (e.g. Welding, Otomotif)."""

    __tablename__ = "programs"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cohorts: Mapped[list[Cohort]] = relationship(back_populates="program")


class Cohort(Base):
    """An angkatan: one run of a program with its training dates."""

    __tablename__ = "cohorts"
    __table_args__ = (UniqueConstraint("program_id", "label", name="uq_cohorts_program_label"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    training_start: Mapped[date] = mapped_column(Date)
    training_end: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    program: Mapped[Program] = relationship(back_populates="cohorts")


class Alumnus(Base):
    """One trainee on the roster. NIK is stored encrypted, with a keyed hash for lookup."""

    __tablename__ = "alumni"
    id: Mapped[int] = mapped_column(primary_key=True)
    registration_no: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    gender: Mapped[str] = mapped_column(String(1))  # L (laki-laki) / P (perempuan)
    birth_date: Mapped[date | None] = mapped_column(Date)
    nik_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    nik_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"), index=True)
    # Consent withdrawn (UU PDP): no more messages; answers stay, shown without identity.
    consent_withdrawn_at: Mapped[datetime | None]
    consent_withdrawn_source: Mapped[str | None] = mapped_column(String(32))  # staff/api/form
    # Erased on request: identifiers blanked, registration_no a tombstone (shared.pii).
    erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    cohort: Mapped[Cohort] = relationship()


class Questionnaire(Base):
    """One version of a questionnaire definition (docs/questionnaire.md); versions are immutable."""

    __tablename__ = "questionnaires"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_questionnaires_key_version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Wave(Base):
    """A survey period; opening it fixes its targets (the population N)."""

    __tablename__ = "waves"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft/open/closed
    opens_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Which programs and cohorts the wave covers: {"program_ids": [...], "cohort_ids": [...]}.
    scope: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    questionnaire: Mapped[Questionnaire] = relationship()


class WaveTarget(Base):
    """An alumnus targeted by a wave, fixed when the wave opens."""

    __tablename__ = "wave_targets"
    # Analytics' one-cell recompute (live update) finds a cell's targets through it.
    __table_args__ = (Index("ix_wave_targets_cell", "wave_id", "program_id", "cohort_id",
                            "gender", postgresql_include=["alumnus_id"]),)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"), primary_key=True)
    alumnus_id: Mapped[int] = mapped_column(ForeignKey("alumni.id"), primary_key=True, index=True)
    # Copied at opening so breakdowns stay stable if the roster changes later.
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"))
    gender: Mapped[str] = mapped_column(String(1))
    # First time the alumnus opened the personal form of this wave (the "opened" status).
    opened_at: Mapped[datetime | None]


class Response(Base):
    """An alumnus's answers in a wave: at most one per (wave, alumnus); edits replace."""

    __tablename__ = "responses"
    __table_args__ = (
        UniqueConstraint("wave_id", "alumnus_id", name="uq_responses_wave_alumnus"),
        Index("ix_responses_wave_status", "wave_id", "status"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"))
    alumnus_id: Mapped[int] = mapped_column(ForeignKey("alumni.id"), index=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    status: Mapped[str] = mapped_column(String(16), default="partial")  # partial/complete
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Work in progress in the web form; becomes `answers` on the final submit, so editing a
    # complete response never leaves a half-edited version counted in the indicators.
    draft: Mapped[dict[str, Any] | None]
    # The mode: web (the alumnus's link), api, paper, phone (staff interview), event (kiosk).
    source: Mapped[str] = mapped_column(String(16), default="web")
    # The staff member who entered it (phone or paper); None when the alumnus did.
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ResponseEdit(Base):
    """A client-supplied submission id that edited an existing response (idempotent replays)."""

    __tablename__ = "response_edits"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    response_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("responses.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- employers (survey) ----------------------------------------------------------------


class Employer(Base):
    """A company or office that employs alumni (docs/employers.md).

    `name_key` is the name normalised by services/survey/employers.py `name_key` (lower
    case, legal forms such as PT or CV and punctuation dropped): with the phone or email it
    decides whether an entry or an imported row is a company already on record.
    `kbli_section` is the letter A-U of Indonesia's standard industrial classification.
    """

    __tablename__ = "employers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    kbli_section: Mapped[str | None] = mapped_column(String(1))
    city: Mapped[str | None] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164, as the roster's
    email: Mapped[str | None] = mapped_column(String(254))
    source: Mapped[str] = mapped_column(String(16), default="staff")  # staff/import/form
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EmployerContact(Base):
    """A person at an employer the centre may ask about its alumni (a supervisor).

    `consent_source` says on what ground Jejak holds them: `alumnus` (an alumnus named them
    as their supervisor and ticked the separate consent), `staff` (entered by staff), or
    `import` (a list of industry partners). Personal data: erased with the last consent
    that brought them in (services/survey/employer_privacy.py `forget_supervisors`).
    """

    __tablename__ = "employer_contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    employer_id: Mapped[int] = mapped_column(ForeignKey("employers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    email: Mapped[str | None] = mapped_column(String(254))
    consent_source: Mapped[str] = mapped_column(String(16))  # alumnus/staff/import
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SupervisorConsent(Base):
    """An alumnus's separate consent, in one wave, that the centre ask their supervisor
    (a contact) about their work. Stored only when they ticked it; deleted when the alumnus
    is erased; `withdrawn_at` set when they withdraw consent."""

    __tablename__ = "supervisor_consents"
    __table_args__ = (UniqueConstraint("wave_id", "alumnus_id",
                                       name="uq_supervisor_consents_wave_alumnus"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"))
    alumnus_id: Mapped[int] = mapped_column(ForeignKey("alumni.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("employer_contacts.id"), index=True)
    consented_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]


class EmployerRating(Base):
    """A supervisor's answers about one alumnus (blk-employer's `alumnus` section), one per
    alumnus and wave; replaced when they answer again. Deleted when the alumnus is erased.
    `contact_id` is emptied when the contact is erased: the rating stays, anonymous."""

    __tablename__ = "employer_ratings"
    __table_args__ = (UniqueConstraint("wave_id", "alumnus_id",
                                       name="uq_employer_ratings_wave_alumnus"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"))
    alumnus_id: Mapped[int] = mapped_column(ForeignKey("alumni.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("employer_contacts.id"),
                                                   index=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmployerAnswer(Base):
    """A company's answers in a wave (blk-employer's `company` section), whichever of its
    contacts gave them last; one per company and wave."""

    __tablename__ = "employer_answers"
    __table_args__ = (UniqueConstraint("wave_id", "employer_id",
                                       name="uq_employer_answers_wave_employer"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"))
    employer_id: Mapped[int] = mapped_column(ForeignKey("employers.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("employer_contacts.id"),
                                                   index=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- outreach -------------------------------------------------------------------------


class Campaign(Base):
    """A reminder sequence for a wave, or a one-off broadcast (wave_id empty)."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("waves.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="survey")  # survey/broadcast
    name: Mapped[str] = mapped_column(String(200))
    segment: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft/running/paused/done
    language: Mapped[str] = mapped_column(String(8), default="id")
    launched_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    steps: Mapped[list[CampaignStep]] = relationship(
        back_populates="campaign", order_by="CampaignStep.position"
    )


class CampaignStep(Base):
    __tablename__ = "campaign_steps"
    __table_args__ = (
        UniqueConstraint("campaign_id", "position", name="uq_campaign_steps_campaign_position"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    position: Mapped[int] = mapped_column(Integer)
    day_offset: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(16))  # email/sms/whatsapp/best
    # Per language: {"id": {"subject": ..., "body": ...}, "en": {...}}.
    template: Mapped[dict[str, Any]] = mapped_column(default=dict)
    campaign: Mapped[Campaign] = relationship(back_populates="steps")


class Message(Base):
    """One step to one alumnus. The unique key is what makes a second send impossible."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("campaign_step_id", "alumnus_id", name="uq_messages_step_alumnus"),
        # The two sweeps (stale `queued`, stuck `sending`) look only for rows in flight; the
        # webhooks only for rows with a provider id. Partial, so the claim and the outcome of
        # each send, two updates of a row in a large table, each add fewer index entries
        # (docs/decisions.md, "Partial indexes on messages").
        Index(
            "ix_messages_in_flight",
            "status",
            "queued_at",
            postgresql_where=text("status IN ('queued', 'sending')"),
            sqlite_where=text("status IN ('queued', 'sending')"),
        ),
        Index(
            "ix_messages_provider_message_id",
            "provider_message_id",
            postgresql_where=text("provider_message_id IS NOT NULL"),
            sqlite_where=text("provider_message_id IS NOT NULL"),
        ),
        # Dispatch walks the planned messages in due order: a partial index keeps that walk
        # to the rows still to send, so queueing N messages costs O(N), not a sort of N per
        # batch (docs/decisions.md, "Outreach at scale").
        Index(
            "ix_messages_planned_due",
            "due_at",
            "id",
            postgresql_where=text("status = 'planned'"),
            sqlite_where=text("status = 'planned'"),
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign_step_id: Mapped[int] = mapped_column(ForeignKey("campaign_steps.id"))
    alumnus_id: Mapped[int] = mapped_column(ForeignKey("alumni.id"), index=True)
    channel: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(254))
    # planned → queued (handed to a batch) → sending (in the provider's hands) → sent →
    # delivered; or failed / cancelled / skipped / in_doubt (a worker died mid-send: never
    # resent, because sending twice is worse than asking staff to check one message).
    status: Mapped[str] = mapped_column(String(16), default="planned")
    due_at: Mapped[datetime]
    queued_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    failed_reason: Mapped[str | None] = mapped_column(String(500))
    cancel_reason: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16))  # sent/transient/permanent
    detail: Mapped[str | None] = mapped_column(String(500))


class OptOut(Base):
    """An address that asked not to be contacted on a channel, and how it asked."""

    __tablename__ = "opt_outs"
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_opt_outs_channel_address"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(254))
    alumnus_id: Mapped[int | None] = mapped_column(ForeignKey("alumni.id"), index=True)
    source: Mapped[str] = mapped_column(String(32))  # link/sms_stop/whatsapp_stop/staff
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmployerAudience(Base):
    """Outreach's view of who may be asked about whom: one row per alumnus and wave naming
    the contact the alumnus consented to (from `employer.contact_added`; a later
    announcement for the same alumnus and wave replaces the contact, as the survey does).
    Removed when the alumnus withdraws consent or is erased, and when the contact is erased
    (`alumnus.*` and `employer.contact_erased` events): a contact with no row left in a
    wave is written to by no employer campaign of that wave. No foreign keys: the ids are
    the survey's (services/outreach/employer_campaigns.py)."""

    __tablename__ = "employer_audience"
    wave_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    alumnus_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    contact_id: Mapped[int] = mapped_column(Integer, index=True)
    employer_id: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmployerReply(Base):
    """A contact gave their company's answers in a wave (`employer.answers_submitted`):
    their reminders of that wave stop. One row per (wave, contact), however often told."""

    __tablename__ = "employer_replies"
    wave_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    contact_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmployerCampaign(Base):
    """An invitation-and-reminders sequence to the employer contacts of a wave.

    Apart from the alumni campaigns on purpose: their tables, queries and sweeps are keyed
    by the alumnus, and an employer contact is no alumnus. `steps` is the list
    [{"day_offset", "channel", "template": {"id": {"subject", "body"}, "en": …}}], checked
    by the alumni campaigns' step rule and frozen at launch."""

    __tablename__ = "employer_campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft/running/paused
    language: Mapped[str] = mapped_column(String(8), default="id")
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    launched_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmployerMessage(Base):
    """One step of an employer campaign to one contact. The unique key (campaign, step,
    contact) is what makes a second send impossible; the status moves planned → sending →
    sent under conditional updates, as the alumni messages do."""

    __tablename__ = "employer_messages"
    __table_args__ = (
        UniqueConstraint("campaign_id", "step", "contact_id",
                         name="uq_employer_messages_campaign_step_contact"),
        Index("ix_employer_messages_status_due", "status", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("employer_campaigns.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    contact_id: Mapped[int] = mapped_column(Integer, index=True)  # the survey's; no key
    channel: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(254))
    # planned / sending / sent / failed / cancelled / skipped / in_doubt
    status: Mapped[str] = mapped_column(String(16), default="planned")
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None]
    failed_reason: Mapped[str | None] = mapped_column(String(500))
    cancel_reason: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- follow-up by phone and WhatsApp (survey) ----------------------------------------


class ContactAttempt(Base):
    """One try by staff to reach an alumnus in a wave: a call, or a WhatsApp chat opened
    from a staff phone. Rows are only ever added, never changed (but the note, which
    erasing the alumnus blanks): the call list and the dispositions read the history
    (services/survey/call_list.py)."""

    __tablename__ = "contact_attempts"
    # The call list reads each target's latest attempt, and one alumnus's history, by this.
    __table_args__ = (Index("ix_contact_attempts_wave_alumnus", "wave_id", "alumnus_id", "id"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"))
    alumnus_id: Mapped[int] = mapped_column(ForeignKey("alumni.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(String(16))  # phone/whatsapp
    outcome: Mapped[str] = mapped_column(String(24))  # call_list.OUTCOMES
    callback_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CallState(Base):
    """Where the contact of a wave's target stands, one row per target (made with the
    targets, services/survey/waves.py): who is to contact them, how many attempts so far,
    the latest outcome and its callback date, and the facts of the follow-up status the
    call list orders by (`closed`, `reached`, `pending`, each the follow-up rule of
    services/survey/followup.py as last computed for the target).

    The attempt columns are written with each attempt and assignment, in their
    transaction; the three facts are recomputed from their sources for the targets an
    event concerns (services/survey/call_list_state.py), so the call list is one pass over
    this table instead of the wave's responses, messages and attempts on every request."""

    __tablename__ = "call_states"
    __table_args__ = (
        Index("ix_call_states_assignee", "assignee_id"),
        # The list's order within a group: a page is a walk down it, not a sort of the wave;
        # the callbacks' own, so their groups (a few percent of a wave) walk only them.
        Index("ix_call_states_order", "wave_id", "attempts", "registration_no"),
        Index("ix_call_states_callbacks", "wave_id", "attempts", "registration_no",
              postgresql_where=text("last_outcome = 'callback'"),
              sqlite_where=text("last_outcome = 'callback'")),
    )
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"), primary_key=True)
    alumnus_id: Mapped[int] = mapped_column(ForeignKey("alumni.id"), primary_key=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_outcome: Mapped[str | None] = mapped_column(String(24))
    callback_on: Mapped[date | None] = mapped_column(Date)
    last_attempt_at: Mapped[datetime | None]
    # Copies the list sorts and filters by (a registration number changes only when the
    # alumnus is erased, which recomputes the row; program and cohort are fixed at opening).
    registration_no: Mapped[str | None] = mapped_column(String(64))
    program_id: Mapped[int | None] = mapped_column(Integer)
    cohort_id: Mapped[int | None] = mapped_column(Integer)
    # Erased, complete or opted out: off the list whatever the attempts say.
    closed: Mapped[bool] = mapped_column(default=False)
    # Invited, opened or partial: something of the wave reached them.
    reached: Mapped[bool] = mapped_column(default=False)
    # A message of the wave is still to be sent to them (planned or queued).
    pending: Mapped[bool] = mapped_column(default=False)


# --- analytics ------------------------------------------------------------------------


class MinimumWage(Base):
    """A minimum wage of one year and one region, set by staff with its source.

    `level` is "city" (UMK of a city or regency) or "province" (UMP). A row with an empty
    `region_code` is one set before regions were recorded (or through the API without a
    region): the wage of its year wherever the centre is. Which row a wave uses:
    services/analytics/wages.py (docs/indicators.md, "Which minimum wage").

    `amount` is whole rupiah, rounded up from `exact_amount` when the decree has sen: incomes
    are whole rupiah, so `income >= amount` is the same comparison as with the exact figure.
    """

    __tablename__ = "minimum_wages"
    __table_args__ = (UniqueConstraint("year", "level", "region_code",
                                       name="uq_minimum_wages_year_level_region"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    level: Mapped[str] = mapped_column(String(16), default="city", server_default="city")
    region_code: Mapped[str] = mapped_column(String(16), default="", server_default="")
    region_name: Mapped[str] = mapped_column(String(120), default="", server_default="")
    amount: Mapped[int] = mapped_column(BigInteger)
    exact_amount: Mapped[Decimal | None] = mapped_column(Money)
    source: Mapped[str] = mapped_column(String(300))
    note: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DecentWorkPreset(Base):
    """A rule set of the decent-work indicator, kept as data (docs/indicators.md, "Decent
    work"): "iku2" (IKU 2 of Kepmendiktisaintek 358/M/KEP/2025, not editable) and "blk"
    (the centre's own, edited on the staff page). `rules` is what
    services/analytics/decent.py `Preset.to_json` writes; seeded by migration decent0001.
    """

    __tablename__ = "decent_work_presets"
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JsonType)
    editable: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(300), default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CentreSetting(Base):
    """One setting of the training centre (name, address, public URL, ...), set by an admin.

    Key and JSON value, so a setting added later needs no migration. Written only through
    shared/centre.py, which also supplies the environment's value for a key never set.
    """

    __tablename__ = "centre_settings"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[Any] = mapped_column(JsonType)
    updated_by: Mapped[str | None] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RefreshRun(Base):
    __tablename__ = "refresh_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("waves.id"))
    kind: Mapped[str] = mapped_column(String(16))  # full/live
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    detail: Mapped[str | None] = mapped_column(Text)


class IndicatorSnapshot(Base):
    """Computed figures for one wave; readers take the newest complete snapshot."""

    __tablename__ = "indicator_snapshots"
    __table_args__ = (Index("ix_indicator_snapshots_wave_computed", "wave_id", "computed_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"))
    refresh_run_id: Mapped[int | None] = mapped_column(ForeignKey("refresh_runs.id"))
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    responses_included: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class IndicatorCell(Base):
    """One cell of a snapshot as a live update recomputed it; it replaces the snapshot's copy.

    At most one row per cell of a snapshot: a live update deletes the cell's row and inserts
    a new one (a new id) in one transaction, so readers see the old or the new cell, never a
    mix, and a reader's cache keyed by the row id never goes stale. Deleted with the snapshot.
    """

    __tablename__ = "indicator_cells"
    __table_args__ = (UniqueConstraint("snapshot_id", "program_id", "cohort_id", "gender",
                                       name="uq_indicator_cells_snapshot_cell"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("indicator_snapshots.id"))
    program_id: Mapped[int] = mapped_column(Integer)
    cohort_id: Mapped[int] = mapped_column(Integer)
    gender: Mapped[str] = mapped_column(String(1))
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    cell: Mapped[dict[str, Any]] = mapped_column(default=dict)  # Cell.to_json()
    # {"program": name, "cohort": label} for a cell the snapshot's labels lack, else null.
    labels: Mapped[dict[str, Any] | None]


class EmployerRatingFact(Base):
    """Analytics' projection of one supervisor rating (services/analytics/
    employer_projection.py): the alumnus's program, the company's KBLI section and city,
    the eight aspects (1-4, NULL not rated) and hiring again (yes/maybe/no). Rebuilt for a
    wave at each refresh from the survey's rows, so an erased alumnus's rating leaves it at
    the next refresh. Holds no name."""

    __tablename__ = "employer_rating_facts"
    wave_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    alumnus_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    program_id: Mapped[int] = mapped_column(Integer)
    employer_id: Mapped[int | None] = mapped_column(Integer)
    sector: Mapped[str] = mapped_column(String(1), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    integrity: Mapped[int | None] = mapped_column(SmallInteger)
    technical: Mapped[int | None] = mapped_column(SmallInteger)
    safety: Mapped[int | None] = mapped_column(SmallInteger)
    tools_it: Mapped[int | None] = mapped_column(SmallInteger)
    communication: Mapped[int | None] = mapped_column(SmallInteger)
    teamwork: Mapped[int | None] = mapped_column(SmallInteger)
    discipline: Mapped[int | None] = mapped_column(SmallInteger)
    learning: Mapped[int | None] = mapped_column(SmallInteger)
    hire_again: Mapped[str | None] = mapped_column(String(8))


class EmployerCompanyFact(Base):
    """Analytics' projection of one company in a wave: invited (a contact there may be
    asked about an alumnus, through a consent that holds) and whether it answered, with its
    answers coded: competencies to strengthen (codes), workers needed per trade, hosting
    apprentices and joining the curriculum review (1 yes, 2 maybe, 3 no). `programs`: the
    programs of the alumni its contacts were asked about, which the competencies it names
    are read against. Rebuilt with the ratings."""

    __tablename__ = "employer_company_facts"
    wave_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    employer_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sector: Mapped[str] = mapped_column(String(1), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    invited: Mapped[bool] = mapped_column(default=False)
    answered: Mapped[bool] = mapped_column(default=False)
    programs: Mapped[list[int]] = mapped_column(JsonType, default=list)
    strengthen: Mapped[list[str]] = mapped_column(JsonType, default=list)
    workers_needed: Mapped[dict[str, Any]] = mapped_column(default=dict)
    apprentice: Mapped[int | None] = mapped_column(SmallInteger)
    curriculum: Mapped[int | None] = mapped_column(SmallInteger)


class IndicatorAnswer(Base):
    """A complete response's answers as the indicators read them: analytics' narrow copy.

    One row per complete response, written from the response's JSON by the fill of its
    cell (a live update) or of its wave (a full refresh), which first re-project every row
    whose response changed since (another id or updated_at, or no longer complete). The
    indicators then aggregate small integers instead of reading ~31 keys out of each JSON
    document. Codes are NULL unless the answer is a JSON integer among the item's codes.
    Columns are indicator inputs, not items: the wave's questionnaire maps its items to them.
    """

    __tablename__ = "indicator_answers"
    wave_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    alumnus_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Which version of which response this row was projected from.
    response_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    response_updated_at: Mapped[datetime]
    # Columns named by indicator input (shared.indicator_inputs), filled through the
    # mapping of the wave's questionnaire, as canonical codes: status (1 working .. 5
    # seeking), relevance, work location (1 Bontang .. 4 abroad), certificate; BPS codes of
    # the work province (shared.regions, 99 abroad) and city or regency, contract type
    # (1 PKWTT, 2 PKWT, 3 none or informal), education-level match and further training.
    # NULL for inputs the questionnaire does not collect.
    status: Mapped[int | None] = mapped_column(SmallInteger)
    relevance: Mapped[int | None] = mapped_column(SmallInteger)
    work_location: Mapped[int | None] = mapped_column(SmallInteger)
    certificate: Mapped[int | None] = mapped_column(SmallInteger)
    work_province: Mapped[int | None] = mapped_column(SmallInteger)
    work_city: Mapped[int | None] = mapped_column(SmallInteger)
    contract: Mapped[int | None] = mapped_column(SmallInteger)
    edu_match: Mapped[int | None] = mapped_column(SmallInteger)
    further_training: Mapped[int | None] = mapped_column(SmallInteger)
    # List inputs by slot, in the mapping's order: competency i's A and B levels, the
    # rating of training aspect i (1..5).
    competency_1_a: Mapped[int | None] = mapped_column(SmallInteger)
    competency_1_b: Mapped[int | None] = mapped_column(SmallInteger)
    competency_2_a: Mapped[int | None] = mapped_column(SmallInteger)
    competency_2_b: Mapped[int | None] = mapped_column(SmallInteger)
    competency_3_a: Mapped[int | None] = mapped_column(SmallInteger)
    competency_3_b: Mapped[int | None] = mapped_column(SmallInteger)
    competency_4_a: Mapped[int | None] = mapped_column(SmallInteger)
    competency_4_b: Mapped[int | None] = mapped_column(SmallInteger)
    competency_5_a: Mapped[int | None] = mapped_column(SmallInteger)
    competency_5_b: Mapped[int | None] = mapped_column(SmallInteger)
    competency_6_a: Mapped[int | None] = mapped_column(SmallInteger)
    competency_6_b: Mapped[int | None] = mapped_column(SmallInteger)
    competency_7_a: Mapped[int | None] = mapped_column(SmallInteger)
    competency_7_b: Mapped[int | None] = mapped_column(SmallInteger)
    competency_8_a: Mapped[int | None] = mapped_column(SmallInteger)
    competency_8_b: Mapped[int | None] = mapped_column(SmallInteger)
    competency_9_a: Mapped[int | None] = mapped_column(SmallInteger)
    competency_9_b: Mapped[int | None] = mapped_column(SmallInteger)
    competency_10_a: Mapped[int | None] = mapped_column(SmallInteger)
    competency_10_b: Mapped[int | None] = mapped_column(SmallInteger)
    competency_11_a: Mapped[int | None] = mapped_column(SmallInteger)
    competency_11_b: Mapped[int | None] = mapped_column(SmallInteger)
    competency_12_a: Mapped[int | None] = mapped_column(SmallInteger)
    competency_12_b: Mapped[int | None] = mapped_column(SmallInteger)
    training_eval_1: Mapped[int | None] = mapped_column(SmallInteger)
    training_eval_2: Mapped[int | None] = mapped_column(SmallInteger)
    training_eval_3: Mapped[int | None] = mapped_column(SmallInteger)
    training_eval_4: Mapped[int | None] = mapped_column(SmallInteger)
    training_eval_5: Mapped[int | None] = mapped_column(SmallInteger)
    training_eval_6: Mapped[int | None] = mapped_column(SmallInteger)
    training_eval_7: Mapped[int | None] = mapped_column(SmallInteger)
    training_eval_8: Mapped[int | None] = mapped_column(SmallInteger)
    # Employed (status 1 or 3) only: months to the first job (by the mapping's waiting
    # rule); income (> 0). Numeric: a JSON integer may be of any size.
    waiting: Mapped[Decimal | None] = mapped_column(Numeric())
    income: Mapped[Decimal | None] = mapped_column(Numeric())
    # Bit i set: the job-search item (a JSON array) holds the mapping's i-th channel code.
    channels: Mapped[int] = mapped_column(Integer, default=0)


class Export(Base):
    """A report file produced by a background task, with its progress."""

    __tablename__ = "exports"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))  # xlsx/pdf/csv
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    path: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


# --- shared: staff, tokens, audit, events ---------------------------------------------


class User(Base):
    """A staff account.

    `session_version` is copied into the session cookie at sign-in; a cookie whose copy
    differs is refused (shared.auth), so raising it ends every session of the account at
    once: logout, a new password, a new role, deactivation.
    """

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # admin/operator/viewer
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginFailure(Base):
    """Failed sign-ins for one (username as typed, address) since its last success.

    Kept for names that match no account too, alike, so how sign-in answers says nothing
    about which names exist. Rows older than the lockout are stale and deleted.
    """

    __tablename__ = "login_failures"
    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failed_at: Mapped[datetime] = mapped_column(index=True)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored (tokens are 256-bit random)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuditEntry(Base):
    """Append-only: who did what, when and from where.

    The application only inserts (shared.auth.audit); the database refuses UPDATE (and, on
    PostgreSQL, DELETE) with a trigger made by migration c6e1c0de0006.
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OutboxEvent(Base):
    """An event written in the producer's transaction; the relay sends it once committed."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unrelayed", "relayed_at", "created_at"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    relayed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class ProcessedEvent(Base):
    """(consumer, event) pairs already applied: a redelivered event does nothing."""

    __tablename__ = "processed_events"
    __table_args__ = (Index("ix_processed_events_processed_at", "processed_at"),)
    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeadLetter(Base):
    """An event one consumer could not apply after its retries, with the last error.

    The rest of its batch was applied (shared/events.py `consumer`). An admin replays or
    discards it (shared/dead_letters.py); until then the redelivery sweep leaves it alone.
    `status`: dead → replayed (sent again; back to dead if it fails again) or discarded.
    """

    __tablename__ = "dead_letters"
    __table_args__ = (UniqueConstraint("consumer", "event_id"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    consumer: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    occurred_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="dead", index=True)
    resolved_by: Mapped[str | None] = mapped_column(String(120))
    resolved_at: Mapped[datetime | None]
