"""Message templates: Jinja2 in a sandbox, per language, checked before a campaign launches.

Staff write templates; the sandbox keeps them away from Python internals, and
StrictUndefined turns a misspelt variable into an error at the preview instead of a blank
in ten thousand messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Autoescape is off: these are plain-text messages (email text part, SMS, WhatsApp); no
# HTML part is sent, so a name like "<script>" arrives as text. The sandbox refuses `_`
# attributes, function internals and methods that change data (docs/security.md); the
# default globals (range, cycler, joiner, lipsum, namespace, dict) are removed too: a
# message needs only the variables in VARIABLES.
_environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_environment.globals.clear()
VARIABLES = ("name", "program", "cohort", "survey_link", "unsubscribe_link", "wave_title", "centre")
MAX_SMS_LENGTH = 459  # three concatenated GSM segments


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body: str


class TemplateProblem(ValueError):
    """A template that does not render; says which part and why."""


@lru_cache(maxsize=256)
def _compiled(source: str) -> Any:
    # A campaign renders the same few sources for every recipient: compile each once.
    return _environment.from_string(source)


def render(template: dict[str, Any], language: str, context: dict[str, Any]) -> Rendered:
    """Render a step template {"id": {"subject", "body"}, "en": {...}} for one recipient."""
    texts = template.get(language) or template.get("id") or {}
    if not texts.get("body"):
        raise TemplateProblem(f"no message text for language {language!r}")
    try:
        subject = (
            _compiled(texts["subject"]).render(context).strip()
            if texts.get("subject")
            else None
        )
        body = _compiled(texts["body"]).render(context).strip()
    except SecurityError as exc:
        raise TemplateProblem(f"not allowed in a message template: {exc}") from exc
    except TemplateError as exc:
        raise TemplateProblem(f"{type(exc).__name__}: {exc}") from exc
    return Rendered(subject, body)


def check(
    template: dict[str, Any], language: str, channel: str, context: dict[str, Any]
) -> str | None:
    """Why this template fails for this recipient on this channel, or None."""
    try:
        rendered = render(template, language, context)
    except TemplateProblem as exc:
        return str(exc)
    if channel == "email" and not rendered.subject:
        return "an email needs a subject"
    if channel == "sms" and len(rendered.body) > MAX_SMS_LENGTH:
        return (
            f"an SMS may have at most {MAX_SMS_LENGTH} characters, this one has "
            f"{len(rendered.body)}"
        )
    return None


INVITATION = {
    "id": {
        "subject": "Tracer study {{ centre }}: bagaimana kabar Anda setelah pelatihan?",
        "body": (
            "Halo {{ name }},\n\n"
            "Anda alumni pelatihan {{ program }} ({{ cohort }}). {{ centre }} ingin tahu "
            "kabar Anda sekarang: bekerja, berwirausaha, atau masih mencari kerja. "
            "Jawaban Anda membantu kami memperbaiki pelatihan dan penempatan kerja.\n\n"
            "Isi survei singkat ini (sekitar 7 menit):\n{{ survey_link }}\n\n"
            "Terima kasih.\n\nTidak ingin menerima pesan lagi? {{ unsubscribe_link }}"
        ),
    },
    "en": {
        "subject": "{{ centre }} tracer study: how are you doing after your training?",
        "body": (
            "Hello {{ name }},\n\n"
            "You trained in {{ program }} ({{ cohort }}). {{ centre }} would like to know "
            "how you are doing now: working, running a business or still looking for work. "
            "Your answers help us improve our courses and job placement.\n\n"
            "Please fill in this short survey (about 7 minutes):\n{{ survey_link }}\n\n"
            "Thank you.\n\nNo more messages? {{ unsubscribe_link }}"
        ),
    },
}
REMINDER = {
    "id": {
        "subject": "Pengingat: survei alumni {{ centre }}",
        "body": (
            "Halo {{ name }}, kami belum menerima jawaban Anda untuk survei alumni "
            "{{ program }}. Hanya 7 menit:\n{{ survey_link }}\n\n"
            "Berhenti berlangganan: {{ unsubscribe_link }}"
        ),
    },
    "en": {
        "subject": "Reminder: {{ centre }} alumni survey",
        "body": (
            "Hello {{ name }}, we have not yet received your answers to the {{ program }} "
            "alumni survey. It takes 7 minutes:\n{{ survey_link }}\n\n"
            "Unsubscribe: {{ unsubscribe_link }}"
        ),
    },
}
SHORT_REMINDER = {
    "id": {
        "body": "Halo {{ name }}, mohon isi survei alumni {{ centre }}: {{ survey_link }} "
        "Balas STOP untuk berhenti."
    },
    "en": {
        "body": "Hello {{ name }}, please fill in the {{ centre }} alumni survey: "
        "{{ survey_link }} Reply STOP to opt out."
    },
}
LAST_CALL = {
    "id": {
        "subject": "Kesempatan terakhir: survei alumni {{ centre }}",
        "body": (
            "Halo {{ name }}, survei alumni {{ program }} segera ditutup. Jawaban Anda "
            "sangat berarti bagi calon peserta pelatihan berikutnya:\n{{ survey_link }}\n\n"
            "Berhenti berlangganan: {{ unsubscribe_link }}"
        ),
    },
    "en": {
        "subject": "Last chance: {{ centre }} alumni survey",
        "body": (
            "Hello {{ name }}, the {{ program }} alumni survey closes soon. Your answers "
            "matter to the next trainees:\n{{ survey_link }}\n\n"
            "Unsubscribe: {{ unsubscribe_link }}"
        ),
    },
}

# The survey-method default (Dillman): invitation, then reminders on days 4, 11, 25, 40,
# switching channel along the way.
DEFAULT_SEQUENCE: tuple[tuple[int, str, dict[str, Any]], ...] = (
    (0, "email", INVITATION),
    (4, "email", REMINDER),
    (11, "whatsapp", SHORT_REMINDER),
    (25, "sms", SHORT_REMINDER),
    (40, "email", LAST_CALL),
)
WHATSAPP_TEMPLATE = "tracer_reminder"  # the approved Cloud API template: {{1}} name, {{2}} link
