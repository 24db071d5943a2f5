"""Reading the audit log: one filter for the admin page and the API.

Writing is `shared.auth.audit` (append-only; the database refuses changes, see migration
c6e1c0de0006). Dates are the centre's calendar days (Asia/Makassar by default): "until
27 November" includes all of 27 November local time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from shared.models import AuditEntry

# Days outside these bounds filter nothing out, and would overflow datetime arithmetic.
_FIRST_DAY, _LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


def entries(
    *,
    actor: str | None = None,
    action: str | None = None,
    since: date | None = None,
    until: date | None = None,
    timezone: str = "Asia/Makassar",
) -> Select[tuple[AuditEntry]]:
    """Newest first. `action` matches exactly or as a family ("campaign" finds
    campaign.launch and campaign.pause); `actor` matches exactly."""
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(or_(AuditEntry.action == action,
                                AuditEntry.action.startswith(action.rstrip(".") + ".",
                                                             autoescape=True)))
    zone = ZoneInfo(timezone)
    since = since if since is not None and since > _FIRST_DAY else None
    until = until if until is not None and until < _LAST_DAY else None
    if since is not None:
        query = query.where(AuditEntry.at >= datetime.combine(since, time(), tzinfo=zone))
    if until is not None:
        query = query.where(
            AuditEntry.at < datetime.combine(until + timedelta(days=1), time(), tzinfo=zone))
    return query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


def known_actions(session: Session) -> list[str]:
    """Every action the log holds, for the filter's choices."""
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


# --- the log in plain words ---------------------------------------------------------------
#
# Staff read the log as sentences in the page's language, not as `alumni.import` and a dict.
# One sentence per action the code writes: tests/unit/test_audit_sentences.py scans every
# `audit(...)` call in services/ and shared/ and fails on an action with no sentence here
# (and on a sentence with no Indonesian translation). An action this table does not know
# (written by a newer version, say) still reads as a sentence: `_GENERIC`.


def N_(message: str) -> str:
    """Marks a message for the catalog; it is translated when the sentence is made."""
    return message


SENTENCES: dict[str, str] = {
    "login": N_("%(actor)s signed in"),
    "login.failed": N_("Failed sign-in as %(actor)s"),
    "logout": N_("%(actor)s signed out"),
    "user.create": N_("%(actor)s created the account %(target)s (role %(role)s)"),
    "user.passwd": N_("%(actor)s changed the password of %(target)s"),
    "user.role": N_("%(actor)s changed the role of %(target)s from %(from)s to %(to)s"),
    "user.deactivate": N_("%(actor)s deactivated the account %(target)s"),
    "token.create": N_("%(actor)s created the API token %(target)s (role %(role)s)"),
    "token.revoke": N_("%(actor)s revoked the API token %(target)s"),
    "keys.rotate_pii": N_("%(actor)s re-encrypted %(rotated)s NIKs under the new key"),
    "alumni.import": N_("%(actor)s imported %(imported)s rows from %(target)s "
                        "(%(updated)s updated, %(rejected)s rejected)"),
    "alumnus.export": N_("%(actor)s downloaded the personal data of alumnus #%(target)s"),
    "alumnus.consent_withdraw": N_("%(actor)s recorded that alumnus #%(target)s withdrew "
                                   "consent"),
    "alumnus.erase": N_("%(actor)s erased the personal data of alumnus #%(target)s"),
    "questionnaire.add": N_("%(actor)s added the questionnaire %(target)s"),
    "questionnaire.import": N_("%(actor)s imported the questionnaire %(target)s from the "
                               "XLSForm %(file)s"),
    "wave.create": N_("%(actor)s created the wave %(target)s"),
    "wave.open": N_("%(actor)s opened the wave %(target)s"),
    "wave.close": N_("%(actor)s closed the wave %(target)s"),
    "campaign.create": N_("%(actor)s created the campaign %(target)s"),
    "campaign.launch": N_("%(actor)s launched campaign #%(target)s"),
    "campaign.pause": N_("%(actor)s paused campaign #%(target)s"),
    "campaign.resume": N_("%(actor)s resumed campaign #%(target)s"),
    "export.responses_csv": N_("%(actor)s downloaded the responses of wave %(target)s (CSV)"),
    "export.create": N_("%(actor)s asked for export #%(target)s (%(kind)s)"),
    "export.download": N_("%(actor)s downloaded export #%(target)s (%(kind)s)"),
    "analytics.refresh": N_("%(actor)s recomputed the indicators of %(target)s"),
    "minimum_wage.set": N_("%(actor)s set the minimum wage of %(target)s to %(amount)s"),
    "decent_work.preset_set": N_("%(actor)s changed the decent-work rule %(target)s"),
    "event.replay": N_("%(actor)s sent event #%(target)s to %(consumer)s again"),
    "event.discard": N_("%(actor)s discarded event #%(target)s for %(consumer)s"),
    "indicators.unsuppressed": N_("%(actor)s read the indicators of %(target)s with small "
                                  "groups shown (API)"),
    "alumni.import_discard": N_("%(actor)s discarded the pending import %(target)s"),
    "campaign.steps": N_("%(actor)s changed the steps of campaign #%(target)s"),
    "wave.targets_add": N_("%(actor)s added %(added)s alumni to the wave %(target)s"),
    "wave.reopen": N_("%(actor)s reopened the wave %(target)s"),
    "wave.followup_download": N_("%(actor)s downloaded the follow-up list of the wave "
                                 "%(target)s (%(rows)s rows)"),
    "alumnus.contact_correct": N_("%(actor)s corrected the contact details of alumnus "
                                  "#%(target)s"),
    "alumnus.invitation_resend": N_("%(actor)s sent the invitation to alumnus #%(target)s "
                                    "again"),
    "alumnus.link_copy": N_("%(actor)s revealed the personal link of alumnus #%(target)s"),
    "alumnus.interview": N_("%(actor)s opened the form of alumnus #%(target)s to enter an "
                            "interview's answers"),
    "alumnus.chat_open": N_("%(actor)s opened a WhatsApp chat with alumnus #%(target)s "
                            "(the message carries the personal link)"),
    "kiosk.unlock": N_("%(actor)s unlocked a kiosk for the wave %(target)s"),
    "call_list.assign": N_("%(actor)s assigned alumni of the wave %(target)s to a staff member"),
    "employer.create": N_("%(actor)s added the company %(name)s (#%(target)s)"),
    "employer.contact_add": N_("%(actor)s added a contact to company #%(target)s"),
    "employer.link_copy": N_("%(actor)s revealed the personal links of contact #%(contact)s "
                             "of company #%(target)s"),
    "employer.contact_export": N_("%(actor)s downloaded the personal data of contact "
                                  "#%(contact)s of company #%(target)s"),
    "employer.contact_erase": N_("%(actor)s erased the personal data of contact #%(contact)s "
                                 "of company #%(target)s"),
    "employer.merge": N_("%(actor)s merged company #%(duplicate)s into company #%(target)s"),
    "employer_campaign.create": N_("%(actor)s created employer campaign #%(target)s"),
    "employer_campaign.steps": N_("%(actor)s changed the steps of employer campaign "
                                  "#%(target)s"),
    "employer_campaign.launch": N_("%(actor)s launched employer campaign #%(target)s"),
    "employer_campaign.pause": N_("%(actor)s paused employer campaign #%(target)s"),
    "employer_campaign.resume": N_("%(actor)s resumed employer campaign #%(target)s"),
    "employer.chat_open": N_("%(actor)s opened a WhatsApp chat with employer contact "
                             "#%(target)s (the message carries their personal link)"),
    "employers.import": N_("%(actor)s imported companies from %(target)s (%(created)s new, "
                           "%(matched)s already on record, %(rejected)s rejected)"),
    "centre.settings": N_("%(actor)s changed the centre's settings"),
    "read.alumni": N_("%(actor)s listed alumni with their contact details (API)"),
    "read.responses": N_("%(actor)s listed responses with contact details (API)"),
    "dashboard.unsuppressed": N_("%(actor)s opened the dashboard of %(target)s with small "
                                 "groups shown"),
}

# Actions built at run time (`f"wave.{action}"`): the sentence for a member the table does not
# name yet. The scan in the test requires one for every such family.
FAMILY_SENTENCES: dict[str, str] = {
    "campaign": N_("%(actor)s changed campaign #%(target)s (%(action)s)"),
    "wave": N_("%(actor)s changed the wave %(target)s (%(action)s)"),
    "employer_campaign": N_("%(actor)s changed employer campaign #%(target)s (%(action)s)"),
}

_GENERIC = N_("%(actor)s: %(action)s on %(target)s")
_GENERIC_NO_TARGET = N_("%(actor)s: %(action)s")


class _Blanks(dict[str, Any]):
    """Sentence arguments; a detail an older entry lacks reads as "?" instead of failing."""

    def __missing__(self, key: str) -> str:
        return "?"


def _plain_target(target: str | None) -> str:
    """`alumnus:12` and `dead_letter:5` read as `12` and `5` (the sentence says what)."""
    if not target:
        return ""
    kind, _, number = target.partition(":")
    return number if kind and number.isdigit() else target


def sentence(action: str, actor: str, target: str | None = None,
             details: dict[str, Any] | None = None) -> str:
    """One audit entry as a sentence in the current request's language (flask_babel).

    Needs an app context with Babel (any service's request). Details are the entry's own;
    `actor`, `target` and `action` cannot be overridden by a detail of the same name."""
    from flask_babel import gettext

    values = _Blanks({key: ("" if value is None else value)
                      for key, value in (details or {}).items()})
    values.update(actor=actor or "?", target=_plain_target(target), action=action)
    message = SENTENCES.get(action)
    if message is None:
        family = action.partition(".")[0]
        message = FAMILY_SENTENCES.get(family) if "." in action else None
    if message is None:
        message = _GENERIC if target else _GENERIC_NO_TARGET
    return gettext(message) % values
