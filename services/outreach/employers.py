"""Employer contacts outreach may write to, as the survey announces them.

The survey service owns employers and their contacts; outreach learns of a contact an
alumnus consented to through `employer.contact_added` (docs/employers.md) and keeps one
`employer_recipients` row per contact, the list an employer campaign will start from. The
contact's name and addresses are not copied: outreach reads them when it sends, so a
contact erased in the meantime is written to by nobody.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from shared.db import insert_for
from shared.models import EmployerRecipient


def record_recipient(db_session: Session, contact_id: int, employer_id: int) -> None:
    """Add the contact once: a second announcement (a supervisor of two alumni, or the same
    event delivered twice) changes nothing."""
    insert = insert_for(db_session)
    db_session.execute(
        insert(EmployerRecipient)
        .values(contact_id=contact_id, employer_id=employer_id)
        .on_conflict_do_nothing(index_elements=["contact_id"])
    )
