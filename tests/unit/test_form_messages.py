"""Every validation message of the default instrument, in Indonesian and English.

The engine returns Problems (kind + params); the form words them in the page's language and
names the question by its text. Here every problem the default instrument can raise is
provoked through the engine itself (wrong types, out of range, required, more than another
answer, not applicable, unreadable form fields), then worded in both languages: the
Indonesian text may hold no English word and neither may hold a question key or code.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from services.survey.form_view import problem_texts
from services.survey.questionnaire import (
    Condition,
    Problem,
    Question,
    default_definition,
    load_definition,
    read_form,
    validate_answers,
)
from shared import i18n

INSTRUMENT = load_definition(default_definition())
WORD = re.compile(r"[A-Za-z]+")


def making_true(condition: Condition | None) -> dict[str, Any]:
    """Answers under which the condition holds (the instrument's conditions allow this)."""
    if condition is None:
        return {}
    if condition.op in ("all", "any"):
        answers: dict[str, Any] = {}
        for part in condition.parts if condition.op == "all" else condition.parts[:1]:
            answers.update(making_true(part))
        return answers
    if condition.op == "has":
        return {condition.key: [condition.values[0]]}
    if condition.op == "ne":
        return {}
    return {condition.key: condition.values[0]}


def making_false(condition: Condition) -> dict[str, Any]:
    """Answers under which the condition fails: an option code the comparison does not name."""
    leaf = next(condition.leaves())
    target = INSTRUMENT.by_answer_key[leaf.key]
    if leaf.op == "has":
        return {**making_true(target.condition), leaf.key: []}
    others = [o.code for o in target.options if o.code not in leaf.values]
    value = leaf.values[0] if leaf.op == "ne" else others[0]
    return {**making_true(target.condition), leaf.key: value}


BAD_VALUES: dict[str, list[Any]] = {
    "single": [999, "x"],
    "multi": [["zz"], "f401"],
    "integer": [-1, 10**13, "3"],
    "currency": [-1, 10**13],
    "matrix": [0, 6],
    "text": ["x" * 5000, "\x00"],
    "date": ["2025-02-30", "01/08/2025"],
    "boolean": ["yes", False],
}


def every_problem() -> list[tuple[str, Problem]]:
    found: dict[tuple[str, Problem], None] = {}

    def collect(problems: dict[str, list[Problem]]) -> None:
        for key, problems_of_key in problems.items():
            for problem in problems_of_key:
                found[(key, problem)] = None

    for question in INSTRUMENT.answerable:
        context = making_true(question.condition)
        for key in question.answer_keys:
            if question.required:
                collect({k: v for k, v in validate_answers(
                    INSTRUMENT, context, complete=True).problems.items() if k == key})
            for bad in BAD_VALUES[question.type]:
                collect(validate_answers(INSTRUMENT, {**context, key: bad},
                                         complete=False).problems)
            if question.lte:
                collect(validate_answers(INSTRUMENT, {**context, question.lte: 2, key: 3},
                                         complete=False).problems)
            if question.condition is not None:
                collect(validate_answers(INSTRUMENT, {**making_false(question.condition),
                                                      key: _good(question)},
                                         complete=False).problems)
            if question.type != "multi":
                collect(read_form(INSTRUMENT, {key: ["1", "2"]})[1])
    return list(found)


def _good(question: Question) -> Any:
    return {"single": question.options[0].code if question.options else 1,
            "multi": [question.options[0].code] if question.options else [],
            "text": "ok", "date": "2025-01-01", "boolean": True}.get(question.type, 1)


PROBLEMS = every_problem()


@pytest.fixture(scope="module")
def app() -> Flask:
    app = Flask(__name__)
    i18n.init_app(app)
    return app


def worded(app: Flask, locale: str) -> list[tuple[str, Problem, str]]:
    with app.test_request_context(f"/?lang={locale}"):
        out = []
        for key, problem in PROBLEMS:
            (text,) = problem_texts(INSTRUMENT, {key: [problem]}, {})[key]
            out.append((key, problem, text))
        return out


def instrument_words(locale: str) -> set[str]:
    texts = [INSTRUMENT.title.get(locale)]
    for section in INSTRUMENT.sections:
        texts.append(section.title.get(locale))
        for question in (*section.questions, *INSTRUMENT.answerable):
            texts.append(question.label.get(locale))
            texts += [o.label.get(locale) for o in (*question.options, *question.scale_labels)]
            texts += [r.label.get(locale) for r in question.rows]
            texts += [c.get(locale) for c in question.columns]
            for variant in question.variants:
                texts += [variant.label.get(locale)] if variant.label else []
                texts += [c.get(locale) for c in variant.columns]
    return {word.lower() for text in texts for word in WORD.findall(text)}


CODES = {
    *INSTRUMENT.by_answer_key,
    *(q.key for s in INSTRUMENT.sections for q in s.questions),
    *(str(o.code) for q in INSTRUMENT.answerable if q.type == "multi" for o in q.options),
}


def test_the_engine_raises_every_kind_of_problem_for_the_default_instrument() -> None:
    kinds = {problem.kind for _, problem in PROBLEMS}
    assert kinds >= {"required", "one_of", "list_of", "number", "too_long", "date", "must_be",
                     "lte", "not_applicable", "single_value", "unstorable"}
    assert {problem.args.get("what") for _, problem in PROBLEMS if problem.kind == "number"} \
        == {"integer", "rupiah"}
    assert len(PROBLEMS) > 100  # every answer key, several problems each


def test_every_validation_message_is_in_the_page_language_and_names_no_code(app) -> None:
    indonesian, english = worded(app, "id"), worded(app, "en")
    english_only = ({word.lower() for *_, text in english for word in WORD.findall(text)}
                    | instrument_words("en")) - instrument_words("id")
    assert {"required", "must", "more", "than", "choose", "answer"} <= english_only
    for key, problem, text in indonesian:
        leaked = {word for word in WORD.findall(text) if word.lower() in english_only}
        assert not leaked, f"{key} {problem.kind}: English {leaked} in {text!r}"
    for key, problem, text in indonesian + english:
        codes = set(re.findall(r"\w+", text)) & CODES
        assert not codes, f"{key} {problem.kind}: code {codes} in {text!r}"
        assert not re.search(r"\bf\d", text), f"{key} {problem.kind}: code in {text!r}"
        assert "“" in text or problem.kind in ("unknown", "not_object"), text


def test_a_message_names_the_question_by_its_text(app) -> None:
    with app.test_request_context("/?lang=id"):
        messages = problem_texts(INSTRUMENT, {
            "f7": [Problem.of("lte", other="f6", limit=5)],
            "f8": [Problem.of("required")],
            "f1762": [Problem.of("required")],
            "f505": [Problem.of("number", what="rupiah", low=0, high=1_000_000_000)],
        }, {"f8": 4})
    assert messages["f7"] == ["“Berapa yang merespons?” tidak boleh lebih dari jawaban "
                              "“Berapa perusahaan yang Anda lamar?” (5)."]
    assert messages["f8"] == ["“Jelaskan status Anda saat ini” wajib diisi."]
    # a matrix cell by its row and column, in the wording this alumnus sees (studying)
    assert messages["f1762"] == ["“etika kerja (B: tingkat yang diperlukan dunia kerja)” "
                                 "wajib diisi."]
    assert "1.000.000.000" in messages["f505"][0]
    with app.test_request_context("/?lang=en"):
        (message,) = problem_texts(INSTRUMENT, {"f7": [Problem.of("lte", other="f6",
                                                                  limit=5)]}, {})["f7"]
    assert message == ("“How many of them responded?” must not be more than the answer to "
                       "“How many companies did you apply to?” (5).")


def test_a_date_message_names_the_day_month_year_format_the_alumnus_types(app) -> None:
    """The form's date field takes 31-12-2025 (form.iso_dates), not the API's YYYY-MM-DD."""
    with app.test_request_context("/?lang=id"):
        (indonesian,) = problem_texts(INSTRUMENT, {"f18d": [Problem.of("date")]}, {})["f18d"]
    with app.test_request_context("/?lang=en"):
        (english,) = problem_texts(INSTRUMENT, {"f18d": [Problem.of("date")]}, {})["f18d"]
    assert "hari-bulan-tahun (HH-BB-TTTT)" in indonesian and "31-12-2025" in indonesian
    assert "day-month-year (DD-MM-YYYY)" in english and "31-12-2025" in english
    assert "YYYY-MM-DD" not in indonesian + english
