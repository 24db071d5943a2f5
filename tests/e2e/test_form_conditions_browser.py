"""form.js decides every condition kind as the server does (issue 20), in Chromium.

The page is the real form's HTML for a definition whose questions depend, on the same page,
on each new condition kind (not, lt…ge on numbers, dates and times, refs, answered, count,
length, and combinations). For hand-worked answers typed into the page, each question is
hidden exactly when the engine's `is_visible` says it does not apply. A 390 px screenshot
goes to var/screenshots/form/conditions/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.survey import catalog, waves
from services.survey.links import make_token
from services.survey.questionnaire import is_visible, load_definition
from shared import db
from shared.models import Program
from tests.integration.conftest import survey  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots" / "form" / "conditions"
FORM_JS = (ROOT / "shared" / "static" / "form.js").read_text(encoding="utf-8")
FORM_CSS = (ROOT / "shared" / "static" / "form.css").read_text(encoding="utf-8")


def _q(key: str, type_: str, condition: dict[str, Any] | None = None,
       **extra: Any) -> dict[str, Any]:
    question = {"key": key, "type": type_, "label": {"id": f"Pertanyaan {key}"}, **extra}
    if condition is not None:
        question["if"] = condition
    return question


OPTIONS = [{"code": code, "label": {"id": code}} for code in ("ma", "mb", "mc")]
CONDITIONS: dict[str, dict[str, Any]] = {
    "q_not": {"not": {"key": "n", "eq": 1}},
    "q_lt": {"key": "w", "lt": 2.5},
    "q_date": {"key": "d", "ge": "2020-01-01"},
    "q_time": {"key": "t", "lt": "12:00"},
    "q_at": {"key": "at", "gt": "2025-01-01T00:00"},
    "q_same": {"key": "a", "eq": {"ref": "b"}},
    "q_differ": {"key": "a", "ne": {"ref": "b"}},
    "q_le_ref": {"key": "a", "le": {"ref": "n"}},
    "q_answered": {"key": "txt", "answered": True},
    "q_unanswered": {"key": "txt", "answered": False},
    "q_count": {"count": "m", "ge": 2},
    "q_short": {"length": "txt", "lt": 3},
    "q_ok": {"key": "ok", "eq": True},
    "q_mixed": {"any": [{"all": [{"key": "n", "gt": 5}, {"key": "m", "has": "mb"}]},
                        {"not": {"key": "w", "answered": True}}]},
}
DEFINITION: dict[str, Any] = {
    "key": "xls-browser", "version": 1, "title": {"id": "Kondisi"},
    "sections": [{"key": "s1", "title": {"id": "Satu halaman"}, "questions": [
        _q("n", "integer"), _q("w", "decimal"), _q("d", "date"), _q("t", "time"),
        _q("at", "datetime"), _q("a", "integer"), _q("b", "integer"),
        _q("txt", "text"), _q("m", "multi", options=OPTIONS), _q("ok", "acknowledge"),
        *(_q(key, "note", condition) for key, condition in CONDITIONS.items()),
    ]}],
}
FORM = load_definition(DEFINITION)
NOTES = {q.key: q for q in FORM.sections[0].questions if q.type == "note"}

# (what is typed, the answers the engine stores for it)
SCENARIOS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({}, {}),
    ({"n": "1", "w": "2,5", "d": "01-01-2020", "t": "11:59", "at": "2025-01-01T00:01",
      "a": "3", "b": "3", "txt": "ab", "m": ["ma", "mc"], "ok": True},
     {"n": 1, "w": 2.5, "d": "2020-01-01", "t": "11:59", "at": "2025-01-01T00:01",
      "a": 3, "b": 3, "txt": "ab", "m": ["ma", "mc"], "ok": True}),
    ({"n": "6", "w": "2.4", "d": "31-12-2019", "t": "12:00", "a": "7", "txt": "abcd",
      "m": ["mb"]},
     {"n": 6, "w": 2.4, "d": "2019-12-31", "t": "12:00", "a": 7, "txt": "abcd",
      "m": ["mb"]}),
    ({"a": "2", "n": "2", "b": "9"}, {"a": 2, "n": 2, "b": 9}),
]


@pytest.fixture()
def form_html(survey_app, survey) -> str:  # noqa: F811
    with survey_app.app_context():
        session = db.session()
        row = catalog.add_version(session, DEFINITION)
        wave = waves.create_wave(session, slug="xls-browser", title="Kondisi",
                                 questionnaire_id=row.id,
                                 program_ids=list(session.scalars(select(Program.id))))
        waves.open_wave(session, wave)
        session.commit()
        token = make_token(survey_app.config["SECRET_KEY"], wave.id, survey["alumni"][0][0])
    page = survey_app.test_client().get(f"/s/{token}?step=1").get_data(as_text=True)
    page = re.sub(r'<link rel="stylesheet"[^>]*>', f"<style>{FORM_CSS}</style>", page)
    return re.sub(r"<script src=[^>]*></script>", "", page)


def _type(page: Any, typed: dict[str, Any]) -> None:
    for key, value in typed.items():
        if key == "m":
            for code in value:
                page.check(f'input[name="m"][value="{code}"]')
        elif key == "ok":
            page.check('input[name="ok"]')
        else:
            page.fill(f'[name="{key}"]', value)


@pytest.mark.parametrize("scenario", range(len(SCENARIOS)))
def test_the_script_shows_each_question_exactly_when_the_engine_does(
        browser, form_html, scenario: int) -> None:
    typed, answers = SCENARIOS[scenario]
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.set_content(form_html)
        page.add_script_tag(content=FORM_JS)
        _type(page, typed)
        page.dispatch_event("form[novalidate]", "change")
        hidden = {key: page.eval_on_selector(f"#q-{key}", "q => q.hidden") for key in NOTES}
        expected = {key: not is_visible(note, answers) for key, note in NOTES.items()}
        assert hidden == expected
        assert errors == []
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"scenario-{scenario}-390.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
