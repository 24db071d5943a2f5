"""An XLSForm refusal worded in the page language (Indonesian or English), with its place.

The English sentences (`SENTENCES`, `PLACES` in services/survey/questionnaire/xlsform.py)
are the msgids: this module only looks them up in the catalogue, so the importer stays free
of Flask. "Baris 12, kolom relevant: fungsi 'pulldata' belum didukung". pyxform's own
message (kind "pyxform") is quoted as pyxform gives it, in English, after a translated
lead-in.
"""

from __future__ import annotations

from flask_babel import gettext

from services.survey.questionnaire.xlsform import PLACES, SENTENCES, Refusal


def worded(refusal: Refusal) -> str:
    """The refusal as one sentence in the request's language, naming row and column."""
    return refusal.worded(gettext(SENTENCES[refusal.kind]),
                          gettext(PLACES[refusal.place_key]))


def worded_all(refusals: list[Refusal]) -> list[str]:
    return [worded(refusal) for refusal in refusals]
