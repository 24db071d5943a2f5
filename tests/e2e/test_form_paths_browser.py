"""All five status paths of the default instrument on a 390 x 844 phone, in Indonesian and
English, with the script on and off (issue 15, acceptance 1).

One `jejak up --demo` and one Chromium for the session. On every page: it is not empty, the
questions shown are exactly those the questionnaire engine says apply to the answers given
so far (before answering, and with the script also after, as the script refines within the
page), an Indonesian page holds no English word of the instrument or the form, and the
browser logs no console error. The answers stored at the end are the engine's cleaned
answers of what was typed, whichever language and whether the script ran. Screenshots of
every page go to var/screenshots/form/<path>-<language>-<script>/ for review.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from services.survey.links import make_token
from services.survey.questionnaire import (
    Question,
    Section,
    applying,
    default_definition,
    is_visible,
    load_definition,
    validate_answers,
)
from shared.models import Alumnus, Response, Wave
from tests.conftest import TEST_DB

pytestmark = pytest.mark.skipif(
    TEST_DB != "sqlite", reason="drives `jejak up` (SQLite); runs in the SQLite pass"
)

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots" / "form"
INSTRUMENT = load_definition(default_definition())
WORD = re.compile(r"[A-Za-z]+")

COMPETENCIES = {key: 4 for key in INSTRUMENT.by_answer_key if key.startswith("f176")}
RATINGS = {key: 5 for key in INSTRUMENT.by_answer_key if key.startswith("blk_eval_")}
COMMON = {"consent": True, **COMPETENCIES, **RATINGS, "blk_suggestion": "Tambah praktik"}
# What each alumnus answers when asked (a question not asked is never answered).
PATHS: dict[str, dict[str, Any]] = {
    "employed": {
        **COMMON, "f8": 1, "f504": 1, "f502": 2, "f505": 4_500_000, "f5a2": 1, "f1101": 5,
        "f1102": "Koperasi", "f5b": "PT Maju Jaya", "f5d": 1, "f14": 4, "f16": ["f1601"],
        "f301": 1, "f302": 2, "f4": ["f401", "f403"], "f6": 5, "f7": 3, "f7a": 2,
        "blk_cert": 1, "blk_cert_used": 1,
    },
    "self-employed": {
        **COMMON, "f8": 3, "f504": 2, "f506": 8, "f505": 3_000_000, "f5c": 1, "f5d": 1,
        "f14": 1, "f301": 3, "f6": 0, "blk_cert": 1, "blk_cert_used": 2,
    },
    "studying": {
        **COMMON, "f8": 4, "f18b": "Politeknik Negeri Samarinda", "f18c": "Teknik Mesin",
        "f18d": "2025-08-01", "f301": 3, "blk_cert": 1, "blk_cert_used": 1,
    },
    "looking": {
        **COMMON, "f8": 2, "f1001": 1, "f301": 2, "f303": 1, "f4": ["f402"], "f6": 4,
        "f7": 1, "f7a": 0, "blk_cert": 2,
    },
    "not-able": {**COMMON, "f8": 5, "f1001": 2, "f301": 3, "blk_cert": 1},
}
# Words of the form and its messages that are English (besides the instrument's own).
FORM_ENGLISH = {"next", "back", "save", "send", "answers", "part", "of", "hello", "please",
                "check", "the", "is", "required", "must", "yes", "no", "progress", "continue",
                "later", "choose", "more", "questions", "this", "page", "consent"}


def words(text: str) -> set[str]:
    return {word.lower() for word in WORD.findall(text)}


def instrument_text(locale: str) -> str:
    texts = [INSTRUMENT.title.get(locale)]
    for section in INSTRUMENT.sections:
        texts.append(section.title.get(locale))
    for question in INSTRUMENT.answerable + tuple(
            q for s in INSTRUMENT.sections for q in s.questions):
        texts.append(question.label.get(locale))
        texts += [o.label.get(locale) for o in (*question.options, *question.scale_labels)]
        texts += [r.label.get(locale) for r in question.rows]
        texts += [c.get(locale) for c in question.columns]
        for variant in question.variants:
            texts += [variant.label.get(locale)] if variant.label else []
            texts += [c.get(locale) for c in variant.columns]
    return " ".join(texts)


ENGLISH_ONLY = (words(instrument_text("en")) | FORM_ENGLISH) - words(instrument_text("id"))


def section_titled(title: str, locale: str) -> Section:
    (section,) = [s for s in INSTRUMENT.sections if s.title.get(locale) == title.strip()]
    return section


def expected_shown(section: Section, given: dict[str, Any]) -> list[str]:
    kept = applying(INSTRUMENT, given)
    return [q.key for q in section.questions if is_visible(q, kept)]


SHOWN_JS = """() => Array.from(document.querySelectorAll('form > .question'))
    .filter(q => !q.hidden && q.offsetParent !== null).map(q => q.id.slice(2))"""


def fill(page: Any, question: Question, value: Any) -> None:
    key = question.key
    if question.type == "single":
        page.check(f"input[name={key}][value='{value}']")
    elif question.type == "multi":
        for code in value:
            page.check(f"input[name={key}][value='{code}']")
    elif question.type == "boolean":
        page.check(f"input[name={key}][value='{'true' if value else 'false'}']")
    elif question.type == "date":  # the plan holds it as stored; the alumnus types 01-08-2025
        year, month, day = value.split("-")
        page.fill(f"#in-{key}", f"{day}-{month}-{year}")
    else:
        page.fill(f"#in-{key}", str(value))


def answer_page(page: Any, section: Section, plan: dict[str, Any], given: dict[str, Any],
                script: bool) -> None:
    """Answer what the page shows, as planned; with the script, also what that opens."""
    done: set[str] = set()
    while True:
        shown = set(page.evaluate(SHOWN_JS))
        todo = [q for q in section.questions if q.key in shown and q.key not in done]
        if not todo:
            return
        for question in todo:
            done.add(question.key)
            if question.type == "matrix":
                for key in question.answer_keys:
                    if key in plan:
                        page.check(f"input[name={key}][value='{plan[key]}']")
                        given[key] = plan[key]
                continue
            for sub in question.questions or (question,):
                if sub.key in plan:
                    fill(page, sub, plan[sub.key])
                    given[sub.key] = plan[sub.key]
        if not script:
            return  # nothing changes on the page without the script


def walk(page: Any, url: str, plan: dict[str, Any], locale: str, script: bool,
         shots: Path) -> dict[str, Any]:
    """Walk the form to the thank-you page; return the answers typed."""
    given: dict[str, Any] = {}
    page.goto(f"{url}?lang={locale}")
    for number in range(1, 20):
        title = page.inner_text("h2.section-title")
        section = section_titled(title, locale)
        page.screenshot(path=str(shots / f"{number:02d}-{section.key}.png"), full_page=True)
        shown = page.evaluate(SHOWN_JS)
        where = f"{shots.name} page {number} ({section.key})"
        assert shown, f"{where}: an empty page"
        assert shown == expected_shown(section, given), where
        if locale == "id":
            leaked = words(page.inner_text("body")) & ENGLISH_ONLY
            assert not leaked, f"{where}: English on an Indonesian page: {leaked}"
        answer_page(page, section, plan, given, script)
        if script:  # the script showed exactly what the engine would, as they answered
            assert page.evaluate(SHOWN_JS) == expected_shown(section, given), where
        finish = page.locator("button[value=finish]")
        with page.expect_navigation():
            (finish if finish.count() else page.locator("button[value=next]")).click()
        if page.url.endswith("/terima-kasih"):
            page.screenshot(path=str(shots / f"{number + 1:02d}-thanks.png"), full_page=True)
            review(page, locale, shots / f"{number + 2:02d}-answers.png", number)
            return given
    raise AssertionError(f"{shots.name}: never reached the thank-you page")


def review(page: Any, locale: str, shot: Path, pages: int) -> None:
    """"Lihat jawaban saya": one "Ubah" link per page shown, in the page's language."""
    with page.expect_navigation():
        page.click("a[href$='/jawaban']")
    page.screenshot(path=str(shot), full_page=True)
    change = "Ubah" if locale == "id" else "Change"
    links = page.locator(f"a:text-is('{change}')")
    assert links.count() >= 5 and links.count() <= pages
    if locale == "id":
        leaked = words(page.inner_text("body")) & ENGLISH_ONLY
        assert not leaked, f"English on the Indonesian summary: {leaked}"


@pytest.fixture(scope="module")
def fresh_alumni(jejak) -> list[int]:
    engine = create_engine(jejak.database_url)
    with engine.connect() as connection:
        wave_id = connection.scalar(select(Wave.id).where(Wave.slug == "tracer-2025"))
        started = select(Response.alumnus_id).where(Response.wave_id == wave_id)
        ids = list(connection.scalars(
            select(Alumnus.id).where(Alumnus.id.not_in(started)).order_by(Alumnus.id.desc())
            .limit(len(PATHS) * 4)))
    engine.dispose()
    assert len(ids) == len(PATHS) * 4, "the demo has too few alumni without a response"
    return ids


@pytest.fixture(scope="module")
def shots_root() -> Path:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    return SHOTS


COMBINATIONS = [(path, locale, script) for path in PATHS for locale in ("id", "en")
                for script in (True, False)]


@pytest.mark.parametrize(("path", "locale", "script"), COMBINATIONS,
                         ids=[f"{p}-{lang}-{'js' if s else 'nojs'}"
                              for p, lang, s in COMBINATIONS])
def test_every_status_path_shows_what_the_engine_says(
        jejak, browser, fresh_alumni, shots_root, path: str, locale: str, script: bool
) -> None:
    alumnus_id = fresh_alumni[COMBINATIONS.index((path, locale, script))]
    engine = create_engine(jejak.database_url)
    with engine.connect() as connection:
        wave_id = connection.scalar(select(Wave.id).where(Wave.slug == "tracer-2025"))
    url = f"{jejak.base_url}/survey/s/{make_token(jejak.secret_key, wave_id, alumnus_id)}"
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True,
        has_touch=True, locale="id-ID" if locale == "id" else "en-GB",
        java_script_enabled=script,
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    failed: list[str] = []
    page.on("response", lambda response: failed.append(response.url)
            if response.status >= 400 else None)
    shots = shots_root / f"{path}-{locale}-{'js' if script else 'nojs'}"
    shots.mkdir()
    try:
        given = walk(page, url, PATHS[path], locale, script, shots)
    finally:
        context.close()
    # Every page links its favicon (issue 15 point 8): nothing fails, not even /favicon.ico.
    assert problems == [] and failed == [], (problems, failed)
    with engine.connect() as connection:
        stored = connection.scalar(select(Response.answers).where(
            Response.wave_id == wave_id, Response.alumnus_id == alumnus_id))
        status = connection.scalar(select(Response.status).where(
            Response.wave_id == wave_id, Response.alumnus_id == alumnus_id))
    engine.dispose()
    assert status == "complete"
    assert stored == validate_answers(INSTRUMENT, given, complete=True).answers
    # What the plan holds for this path but was never asked stays unanswered.
    assert set(given) == set(stored)
