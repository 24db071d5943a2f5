"""The web form runs what an XLSForm import brings (issue 20), through the real app.

A small definition with a note, a hint, a default, a decimal typed with a comma, a time, a
date-time, an acknowledge box, a required message and a constraint message, a question
opened on the same page by a relational condition, and a third language (French): the page
draws each, stores the answers as the engine does, and words the definition's messages in
the page's language, falling back to the definition's default language.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import select

from services.survey import catalog, waves
from services.survey.links import make_token
from shared import db
from shared.models import Program, Response

DEFINITION: dict[str, Any] = {
    "key": "xls-demo", "version": 1, "title": {"id": "Survei XLS", "en": "XLS survey"},
    "languages": [{"code": "fr", "name": "Français"}],
    "sections": [
        {"key": "s1", "title": {"id": "Satu", "en": "One", "fr": "Un"}, "questions": [
            {"key": "intro", "type": "note",
             "label": {"id": "Selamat datang", "en": "Welcome", "fr": "Bienvenue"}},
            {"key": "age", "type": "integer", "required": True,
             "label": {"id": "Umur", "en": "Age", "fr": "Âge"},
             "help": {"id": "Dalam tahun", "en": "In years"},
             "required_message": {"id": "Umur wajib diisi", "en": "Age is needed"},
             "constraint": {"if": {"key": ".", "ge": 15},
                            "message": {"id": "Minimal 15 tahun", "en": "At least 15"}}},
            {"key": "weight", "type": "decimal", "default": 1.5,
             "label": {"id": "Berat (kg)", "en": "Weight (kg)"}},
            {"key": "heavy", "type": "text", "if": {"key": "weight", "gt": 2},
             "label": {"id": "Kenapa berat?", "en": "Why heavy?"}},
            {"key": "start", "type": "time", "label": {"id": "Jam mulai", "en": "Start time"}},
            {"key": "at", "type": "datetime", "label": {"id": "Waktu", "en": "When"}},
            {"key": "ok", "type": "acknowledge", "required": True,
             "label": {"id": "Saya paham", "en": "I understand"}},
        ]},
        {"key": "s2", "title": {"id": "Dua", "en": "Two"}, "questions": [
            {"key": "older", "type": "text", "if": {"key": "age", "gt": 30},
             "label": {"id": "Pengalaman", "en": "Experience"}},
            {"key": "more", "type": "text", "label": {"id": "Lainnya", "en": "Other"}},
        ]},
    ],
}


@pytest.fixture()
def xls_link(survey_app, survey) -> str:
    """A personal link to an open wave of DEFINITION for the first alumnus."""
    with survey_app.app_context():
        session = db.session()
        row = catalog.add_version(session, DEFINITION)
        wave = waves.create_wave(session, slug="xls-2026", title="XLS 2026",
                                 questionnaire_id=row.id,
                                 program_ids=list(session.scalars(select(Program.id))))
        waves.open_wave(session, wave)
        session.commit()
        return "/s/" + make_token(survey_app.config["SECRET_KEY"], wave.id,
                                  survey["alumni"][0][0])


def _post(client, url: str, lang: str = "id", **fields: str):
    return client.post(f"{url}?step=1&lang={lang}",
                       data={"step": "1", "action": "next", "script": "1", **fields})


def _stored(app) -> dict[str, Any]:
    with app.app_context():
        response = db.session().scalars(
            select(Response).where(Response.questionnaire_id != None)  # noqa: E711
            .order_by(Response.id.desc())).first()
        return response.draft


def test_the_page_draws_each_new_type_with_its_hint_and_default(survey_app, xls_link) -> None:
    page = html.unescape(survey_app.test_client().get(f"{xls_link}?step=1&lang=id")
                         .get_data(as_text=True))
    assert re.search(r'<div class="q-note">\s*<span class="q-label">Selamat datang</span>', page)
    assert 'name="intro"' not in page  # a note takes no answer
    assert '<span class="q-help">Dalam tahun</span>' in page
    assert re.search(r'name="weight" inputmode="decimal" value="1.5"', page)
    assert 'name="start" type="time"' in page and 'name="at" type="datetime-local"' in page
    assert re.search(r'type="checkbox" name="ok" value="true"', page)
    # heavy: opened on this page by weight > 2, left to the script
    assert re.search(r"""id="q-heavy" data-if='\{"key":"weight","gt":2\}' hidden""", page)


def test_answers_of_the_new_types_are_stored_as_the_engine_cleans_them(
        survey_app, xls_link) -> None:
    client = survey_app.test_client()
    saved = _post(client, xls_link, age="40", weight="2,5", heavy="tas", start="9:05",
                  at="2025-12-31T14:30", ok="OK")
    assert saved.status_code == 302
    assert _stored(survey_app) == {"age": 40, "weight": 2.5, "heavy": "tas",
                                   "start": "09:05", "at": "2025-12-31T14:30", "ok": True}
    # age > 30, decided on the server for the next page
    second = client.get(f"{xls_link}?step=2").get_data(as_text=True)
    assert 'id="q-older"' in second and "Pengalaman" in second


def test_the_definitions_own_messages_show_in_the_page_language(survey_app, xls_link) -> None:
    client = survey_app.test_client()
    refused = _post(client, xls_link, age="12", weight="1,5")
    assert refused.status_code == 422
    page = html.unescape(refused.get_data(as_text=True))
    assert "“Umur”: Minimal 15 tahun" in page
    assert "“Saya paham” wajib diisi." in page
    english = html.unescape(_post(client, xls_link, "en", weight="1,5").get_data(as_text=True))
    assert "“Age”: Age is needed" in english


def test_a_message_without_the_page_language_falls_back_to_the_default_language(
        survey_app, xls_link) -> None:
    client = survey_app.test_client()
    french = html.unescape(_post(client, xls_link, "fr", age="12").get_data(as_text=True))
    # The question in French, the definition's message in its default language (no
    # French text), the page's own words in English (Jejak has no French).
    assert "“Âge”: Minimal 15 tahun" in french
    assert "Please check the answers marked in red." in french


def test_the_language_switch_offers_the_definitions_other_languages(
        survey_app, xls_link) -> None:
    client = survey_app.test_client()
    page = html.unescape(client.get(f"{xls_link}?step=1&lang=fr").get_data(as_text=True))
    assert re.search(r'<a href="[^"]*lang=fr" aria-current="true" hreflang="fr" lang="fr" '
                     r'title="Français">FR</a>', page)
    assert "Bienvenue" in page and ">Un</h2>" in page
    assert "Berat (kg)" in page  # no French text: the default language
    assert "Next" in page  # the page's own words in English
    indonesian = html.unescape(client.get(f"{xls_link}?step=1&lang=id").get_data(as_text=True))
    assert "Selamat datang" in indonesian and 'hreflang="fr"' in indonesian


def test_a_decimal_out_of_shape_is_refused_naming_the_question(survey_app, xls_link) -> None:
    refused = _post(survey_app.test_client(), xls_link, age="20", weight="dua", ok="OK")
    assert refused.status_code == 422
    assert "“Berat (kg)” harus berupa angka, misalnya 2,5." in html.unescape(
        refused.get_data(as_text=True))
