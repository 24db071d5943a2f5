"""What a page of the form shows, decided by the engine from answers on ALL pages.

One test per kind of condition (eq, ne, in, has, all, any): a question on page 3 whose "if"
names an answer given on page 2 is shown exactly when that answer says so, and a page with
nothing to show is skipped. Hand-worked definitions, so each case reads on its own.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.survey.questionnaire import (
    Condition,
    DefinitionError,
    applying,
    default_definition,
    first_unfinished,
    load_definition,
    shown_sections,
    within_page,
    wording,
)
from services.survey.questionnaire.conditions import parse_condition

INSTRUMENT = load_definition(default_definition())


def three_pages(condition: dict[str, Any]) -> Any:
    """Page 1 asks `a` (single 1-3) and `b` (multi b1-b3); page 3 asks `later` under
    `condition`, beside `local` (a question on page 3 that `later` may also depend on)."""
    return load_definition({
        "key": "t", "version": 1, "title": {"id": "T"},
        "sections": [
            {"key": "p1", "title": {"id": "Satu"}, "questions": [
                {"key": "a", "type": "single", "label": {"id": "A"}, "options": [
                    {"code": n, "label": {"id": str(n)}} for n in (1, 2, 3)]},
                {"key": "b", "type": "multi", "label": {"id": "B"}, "options": [
                    {"code": f"b{n}", "label": {"id": str(n)}} for n in (1, 2, 3)]},
            ]},
            {"key": "p2", "title": {"id": "Dua"}, "questions": [
                {"key": "free", "type": "text", "label": {"id": "Bebas"}},
            ]},
            {"key": "p3", "title": {"id": "Tiga"}, "questions": [
                {"key": "local", "type": "single", "label": {"id": "L"},
                 "if": {"key": "a", "ne": 3},
                 "options": [{"code": n, "label": {"id": str(n)}} for n in (1, 2)]},
                {"key": "later", "type": "text", "label": {"id": "Nanti"}, "if": condition},
            ]},
        ],
    })


def page3_question_shown(condition: dict[str, Any], answers: dict[str, Any]) -> bool:
    """Whether page 3 offers `later` for these answers, as the page is drawn: the server's
    decision from other pages, then what is left for this page evaluated on its answers."""
    form = three_pages(condition)
    page3 = form.sections[2]
    if page3 not in shown_sections(form, answers):
        return False
    rest = within_page(form.sections[2].questions[1].condition, answers,
                       frozenset({"local", "later"}))
    if isinstance(rest, bool):
        return rest
    # Left to the page: only names answers on it, never one from page 1.
    assert {leaf.key for leaf in rest.leaves()} <= {"local"}
    return True  # the page draws it (hidden or not); the browser decides from `local`


@pytest.mark.parametrize(("condition", "answers", "shown"), [
    # eq: the page-1 answer decides on page 3
    ({"key": "a", "eq": 1}, {"a": 1}, True),
    ({"key": "a", "eq": 1}, {"a": 2}, False),
    ({"key": "a", "eq": 1}, {}, False),
    # ne: also true when unanswered
    ({"key": "a", "ne": 2}, {"a": 1}, True),
    ({"key": "a", "ne": 2}, {"a": 2}, False),
    ({"key": "a", "ne": 2}, {}, True),
    # in
    ({"key": "a", "in": [1, 3]}, {"a": 3}, True),
    ({"key": "a", "in": [1, 3]}, {"a": 2}, False),
    # has (a multi answer)
    ({"key": "b", "has": "b2"}, {"b": ["b1", "b2"]}, True),
    ({"key": "b", "has": "b2"}, {"b": ["b1"]}, False),
    ({"key": "b", "has": "b2"}, {}, False),
    # all / any across pages
    ({"all": [{"key": "a", "eq": 1}, {"key": "b", "has": "b3"}]}, {"a": 1, "b": ["b3"]}, True),
    ({"all": [{"key": "a", "eq": 1}, {"key": "b", "has": "b3"}]}, {"a": 1, "b": ["b1"]}, False),
    ({"any": [{"key": "a", "eq": 1}, {"key": "b", "has": "b3"}]}, {"a": 2, "b": ["b3"]}, True),
    ({"any": [{"key": "a", "eq": 1}, {"key": "b", "has": "b3"}]}, {"a": 2, "b": ["b1"]}, False),
])
def test_the_server_decides_a_question_from_answers_on_another_page(
    condition: dict[str, Any], answers: dict[str, Any], shown: bool
) -> None:
    assert page3_question_shown(condition, answers) is shown


def test_a_condition_on_this_page_and_an_earlier_one_leaves_only_this_page_to_the_browser(
) -> None:
    both = {"all": [{"key": "a", "eq": 1}, {"key": "local", "eq": 2}]}
    either = {"any": [{"key": "a", "eq": 1}, {"key": "local", "eq": 2}]}
    page = frozenset({"local", "later"})
    local = parse_condition({"key": "local", "eq": 2})
    assert within_page(parse_condition(both), {"a": 1}, page) == local
    assert within_page(parse_condition(both), {"a": 2}, page) is False
    assert within_page(parse_condition(either), {"a": 1}, page) is True
    assert within_page(parse_condition(either), {"a": 2}, page) == local
    nested = parse_condition({"any": [both, {"key": "b", "has": "b1"}]})
    assert within_page(nested, {"a": 1, "b": ["b2"]}, page) == local
    assert within_page(nested, {"a": 1, "b": ["b1"]}, page) is True
    assert within_page(nested, {"a": 3}, page) is False


def test_a_stale_answer_to_a_question_that_no_longer_applies_opens_nothing() -> None:
    # `local` is asked only when a != 3; a stale local=2 must not open `later`.
    form = three_pages({"key": "local", "eq": 2})
    later = form.sections[2].questions[1]
    kept = applying(form, {"a": 3, "local": 2})
    assert "local" not in kept
    assert within_page(later.condition, kept, frozenset()) is False


def test_a_page_whose_questions_are_all_hidden_is_skipped() -> None:
    form = three_pages({"key": "a", "eq": 1})
    # a=3: `local` is hidden (a != 3 fails) and `later` too (a = 1 fails): page 3 goes.
    assert [s.key for s in shown_sections(form, {"a": 3})] == ["p1", "p2"]
    assert [s.key for s in shown_sections(form, {"a": 1})] == ["p1", "p2", "p3"]


def status_pages(f8: int) -> list[str]:
    return [s.key for s in shown_sections(INSTRUMENT, {"consent": True, "f8": f8})]


def test_the_default_instrument_skips_the_work_page_for_those_who_do_not_work() -> None:
    everything = ["persetujuan", "status", "pekerjaan", "pencarian_kerja", "kompetensi",
                  "pelatihan"]
    assert status_pages(1) == everything  # employed
    assert status_pages(3) == everything  # self-employed
    for not_working in (2, 4, 5):  # looking for work, studying, not yet able to work
        assert status_pages(not_working) == [k for k in everything if k != "pekerjaan"]


def test_the_certificate_question_follows_the_status_given_two_pages_earlier() -> None:
    cert_used = INSTRUMENT.by_answer_key["blk_cert_used"]
    page = frozenset(("blk_cert", "blk_cert_used", "blk_eval_instructor"))
    rest = within_page(cert_used.condition, {"f8": 1}, page)
    assert rest == Condition("eq", key="blk_cert", values=(1,))  # the browser asks blk_cert
    assert within_page(cert_used.condition, {"f8": 4}, page) is False  # studying: never


def test_a_competency_pair_reads_right_for_an_alumnus_who_does_not_work() -> None:
    f17 = INSTRUMENT.sections[4].questions[0]
    assert wording(f17, {"f8": 1}) is f17
    for not_working in (2, 4, 5):
        words = wording(f17, {"f8": not_working})
        assert words.columns[1].id == "B: tingkat yang diperlukan dunia kerja"
        assert words.columns[1].en == "B: the level the world of work requires"
        assert "dunia kerja" in words.label.id and "pekerjaan" not in words.columns[1].id
    # the same answer keys either way: the indicators' bases do not move
    assert f17.answer_keys[:2] == ("f1761", "f1762")


def test_a_variant_may_only_depend_on_earlier_sections() -> None:
    definition = default_definition()
    f17 = definition["sections"][4]["questions"][0]
    f17["variants"][0]["if"] = {"key": "blk_cert", "eq": 1}  # a later section
    with pytest.raises(DefinitionError) as error:
        load_definition(definition)
    assert error.value.path == "sections[4].questions[0].variants[0].if"


def test_resuming_opens_the_first_page_with_a_required_question_unanswered() -> None:
    assert first_unfinished(INSTRUMENT, {}) == 0  # consent
    assert first_unfinished(INSTRUMENT, {"consent": True}) == 1  # f8
    # employed: f504 on the work page (index 2) is required
    assert first_unfinished(INSTRUMENT, {"consent": True, "f8": 1}) == 2
    assert first_unfinished(INSTRUMENT, {"consent": True, "f8": 1, "f504": 2}) is None
    # studying: the work page is skipped, nothing else is required
    assert first_unfinished(INSTRUMENT, {"consent": True, "f8": 4}) is None
