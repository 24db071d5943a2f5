"""Interviewer entry: staff fill the questionnaire on an alumnus's behalf (by phone).

The same form, validation and pages as the alumnus's own link (services/survey/form.py):
a staff member starts an interview from the call list, which marks their signed-in session
with the (wave, alumnus) and opens the alumnus's form. While that mark and the staff
session hold, the form records the response's mode as `phone` and who entered it, does not
count the opening as the alumnus's own, shows a staff banner, and on sending records the
call as completed and returns to the call list. The alumnus may later open their own link,
see what was stored and correct it; the edit is kept as every edit is.
"""

from __future__ import annotations

from typing import Any

from flask import session as cookie

from services.survey.links import read_token
from shared import auth
from shared.models import Response

MARK = "jejak_interview"
MODE = "phone"


def start(wave_id: int, alumnus_id: int) -> None:
    """Mark this staff session as interviewing the alumnus in the wave."""
    cookie[MARK] = [wave_id, alumnus_id]


def interviewer(wave_id: int, alumnus_id: int) -> Any:
    """The signed-in staff principal interviewing this alumnus now, else None (an alumnus
    on their own link, or a staff session marked for someone else)."""
    if cookie.get(MARK) != [wave_id, alumnus_id]:
        return None
    principal = auth.current_principal()
    if principal is None or principal.user_id is None or not principal.may("operator"):
        return None
    return principal


def interviewer_of(secret_key: str, token: str) -> Any:
    """`interviewer` for the (wave, alumnus) a personal link names (None for a bad link)."""
    found = read_token(secret_key, token)
    return interviewer(*found) if found is not None else None


def stop() -> None:
    cookie.pop(MARK, None)


def record_mode(response: Response, user_id: int) -> None:
    """The response was entered by staff by phone."""
    response.source = MODE
    response.entered_by = user_id
