"""The definition additions an XLSForm import needs (issue 20), one construct per test.

Each test works a small definition by hand: answers that must pass and fail, questions that
must show and hide, with ODK/XPath's rules for unanswered values.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.survey.questionnaire import (
    Condition,
    DefinitionError,
    Problem,
    Ref,
    dump_condition,
    is_visible,
    load_definition,
    read_form,
    section_progress,
    validate_answers,
    within_page,
)
from services.survey.questionnaire.conditions import parse_condition


def _text(words: str) -> dict[str, str]:
    return {"id": words}


def _q(key: str, type_: str = "integer", **extra: Any) -> dict[str, Any]:
    return {"key": key, "type": type_, "label": _text(key), **extra}


def _choices(*codes: Any) -> list[dict[str, Any]]:
    return [{"code": code, "label": _text(str(code))} for code in codes]


def _definition(*questions: dict[str, Any], **top: Any) -> dict[str, Any]:
    language = top.get("default_language", "id")
    return {"key": "xls", "version": 1, "title": {language: "XLS"},
            "sections": [{"key": "s1", "title": {language: "Satu"},
                          "questions": list(questions)}],
            **top}


def _load(*questions: dict[str, Any], **top: Any) -> Any:
    return load_definition(_definition(*questions, **top))


def _shown(questionnaire: Any, key: str, answers: dict[str, Any]) -> bool:
    return is_visible(questionnaire.by_answer_key.get(key) or _note(questionnaire, key),
                      answers)


def _note(questionnaire: Any, key: str) -> Any:
    return next(q for s in questionnaire.sections for q in s.questions if q.key == key)


def _refused(definition: dict[str, Any]) -> DefinitionError:
    with pytest.raises(DefinitionError) as caught:
        load_definition(definition)
    return caught.value


def _problems(questionnaire: Any, answers: dict[str, Any], *,
              complete: bool = False) -> dict[str, list[str]]:
    return {key: [problem.kind for problem in found] for key, found in
            validate_answers(questionnaire, answers, complete=complete).problems.items()}


# --- languages -----------------------------------------------------------------------------


def test_a_definition_whose_default_language_is_english_needs_no_indonesian_texts() -> None:
    form = _load(_q("age", label={"en": "Age"}), default_language="en")
    assert form.by_answer_key["age"].label.get("id") == "Age"


def test_a_text_falls_back_to_the_default_language_and_offers_listed_ones() -> None:
    form = _load(_q("age", label={"fr": "Âge", "en": "Age"}), default_language="fr",
                 languages=[{"code": "fr", "name": "Français"}])
    label = form.by_answer_key["age"].label
    assert (label.get("fr"), label.get("en"), label.get("id")) == ("Âge", "Age", "Âge")
    assert form.languages == (("fr", "Français"),) and form.default_language == "fr"


def test_a_text_in_a_language_the_definition_does_not_list_is_refused_with_its_path() -> None:
    error = _refused(_definition(_q("age", label={"id": "Umur", "fr": "Âge"})))
    assert error.path == "sections[0].questions[0].label.fr"


def test_a_text_without_the_default_language_is_refused_with_its_path() -> None:
    error = _refused(_definition(_q("age", label={"id": "Umur"}), default_language="en"))
    assert error.path == "sections[0].questions[0].label.en"
    assert "default language 'en'" in str(error)


def test_listing_id_or_an_unlisted_default_language_is_refused() -> None:
    assert _refused(_definition(_q("a"), languages=[{"code": "id", "name": "Indonesia"}])
                    ).path == "languages[0].code"
    assert _refused(_definition(_q("a"), default_language="fr")).path == "default_language"
    assert _refused(_definition(_q("a"), languages=[{"code": "Klingon!", "name": "x"}])
                    ).path == "languages[0].code"


def test_an_undetermined_language_und_may_be_the_default() -> None:
    form = _load(_q("a", label={"und": "Plain"}), default_language="und",
                 languages=[{"code": "und", "name": "Default"}])
    assert form.by_answer_key["a"].label.get("en") == "Plain"


# --- new question types --------------------------------------------------------------------


def test_a_decimal_answer_of_2_5_is_accepted_and_typed_2_comma_5_on_the_form() -> None:
    form = _load(_q("weight", "decimal", min=0.5, max=99.5))
    assert validate_answers(form, {"weight": 2.5}, complete=True).answers == {"weight": 2.5}
    assert read_form(form, {"weight": ["2,5"]})[0] == {"weight": 2.5}
    assert read_form(form, {"weight": ["2.5"]})[0] == {"weight": 2.5}
    assert _problems(form, {"weight": 100}) == {"weight": ["number"]}
    assert _problems(form, {"weight": "2.5"}) == {"weight": ["number"]}
    assert read_form(form, {"weight": ["dua"]})[1]["weight"][0].kind == "number"


def test_a_whole_decimal_is_stored_as_an_integer() -> None:
    form = _load(_q("weight", "decimal"))
    assert validate_answers(form, {"weight": 3.0}, complete=True).answers == {"weight": 3}


def test_an_integer_question_still_takes_integer_bounds_only() -> None:
    assert _refused(_definition(_q("n", min=0.5))).path == "sections[0].questions[0].min"


def test_a_time_is_stored_as_hh_mm_and_read_from_the_browser_field() -> None:
    form = _load(_q("start", "time"))
    assert validate_answers(form, {"start": "09:30"}, complete=True).ok
    assert _problems(form, {"start": "24:00"}) == {"start": ["time"]}
    assert _problems(form, {"start": "9:30"}) == {"start": ["time"]}
    assert read_form(form, {"start": ["9:30"]})[0] == {"start": "09:30"}
    assert read_form(form, {"start": ["09:30:00"]})[0] == {"start": "09:30"}


def test_a_datetime_is_stored_as_yyyy_mm_ddThh_mm() -> None:
    form = _load(_q("at", "datetime"))
    assert validate_answers(form, {"at": "2025-01-31T09:30"}, complete=True).ok
    assert _problems(form, {"at": "2025-02-30T09:30"}) == {"at": ["datetime"]}
    assert _problems(form, {"at": "2025-01-31"}) == {"at": ["datetime"]}
    assert read_form(form, {"at": ["2025-01-31T09:30:00"]})[0] == {"at": "2025-01-31T09:30"}


def test_a_note_takes_no_answer_and_cannot_be_required() -> None:
    form = _load(_q("intro", "note"), _q("a"))
    assert _problems(form, {"intro": "x", "a": 1}) == {"intro": ["unknown"]}
    assert [p.visible_total for p in section_progress(form, {})] == [1]
    assert _refused(_definition(_q("intro", "note", required=True))).path == (
        "sections[0].questions[0].required")


def test_an_acknowledge_is_true_when_ticked_and_required_means_ticked() -> None:
    form = _load(_q("ok", "acknowledge", required=True))
    assert validate_answers(form, {"ok": True}, complete=True).ok
    assert _problems(form, {"ok": False}) == {"ok": ["must_be"]}
    assert _problems(form, {}, complete=True) == {"ok": ["required"]}
    assert read_form(form, {"ok": ["OK"]})[0] == {"ok": True}


def test_option_codes_of_a_single_question_may_be_strings() -> None:
    form = _load(_q("c", "single", options=_choices("yes", "no")))
    assert validate_answers(form, {"c": "yes"}, complete=True).ok


# --- default, required message, constraint --------------------------------------------------


def test_a_default_must_be_an_answer_its_question_accepts() -> None:
    _load(_q("n", default=3), _q("c", "multi", options=_choices("ca", "cb"), default=["cb"]))
    error = _refused(_definition(_q("n", max=5, default=7)))
    assert error.path == "sections[0].questions[0].default"
    assert _refused(_definition(_q("c", "single", options=_choices(1, 2), default="1"))
                    ).path == "sections[0].questions[0].default"


def test_a_required_message_comes_with_the_required_problem() -> None:
    form = _load(_q("n", required=True, required_message={"id": "Isi umur", "en": "Age!"}))
    problem = validate_answers(form, {}, complete=True).problems["n"][0]
    assert problem.kind == "required" and problem.args["message"].get("en") == "Age!"
    assert validate_answers(form, {}, complete=True).errors == {"n": ["is required (Age!)"]}


def test_a_constraint_on_the_own_answer_refuses_with_its_message() -> None:
    form = _load(_q("age", constraint={"if": {"all": [{"key": ".", "ge": 15},
                                                      {"key": ".", "le": 65}]},
                                       "message": {"id": "Umur 15 sampai 65"}}))
    assert validate_answers(form, {"age": 15}, complete=True).ok
    assert validate_answers(form, {"age": 65}, complete=True).ok
    problem = validate_answers(form, {"age": 66}, complete=True).problems["age"][0]
    assert problem.kind == "constraint" and problem.args["message"].get("id") == (
        "Umur 15 sampai 65")
    assert validate_answers(form, {"age": 66}, complete=False).answers == {}


def test_a_constraint_is_not_checked_when_the_question_is_unanswered() -> None:
    form = _load(_q("age", constraint={"if": {"key": ".", "ge": 15}}))
    assert validate_answers(form, {}, complete=True).ok


def test_a_constraint_may_compare_the_answer_with_an_earlier_answer() -> None:
    form = _load(_q("born", "date"), _q("married", "date",
                                        constraint={"if": {"key": ".", "gt": {"ref": "born"}}}))
    assert validate_answers(form, {"born": "2000-05-01", "married": "2024-01-01"},
                            complete=True).ok
    assert _problems(form, {"born": "2000-05-01", "married": "1999-12-31"}) == {
        "married": ["constraint"]}
    # born unanswered: a comparison with an unanswered side is false (XPath)
    assert _problems(form, {"married": "2024-01-01"}) == {"married": ["constraint"]}


def test_a_constraint_naming_a_refused_answer_is_not_checked() -> None:
    form = _load(_q("low", max=10), _q("high", constraint={"if": {"key": ".", "ge": {
        "ref": "low"}}}))
    assert _problems(form, {"low": 50, "high": 3}) == {"low": ["number"]}


def test_string_length_of_the_own_answer_limits_a_text() -> None:
    form = _load(_q("nik", "text", constraint={"if": {"length": ".", "eq": 16}}))
    assert validate_answers(form, {"nik": "3201234567890001"}, complete=True).ok
    assert _problems(form, {"nik": "320123"}) == {"nik": ["constraint"]}


def test_count_selected_of_the_own_answer_limits_the_ticks() -> None:
    form = _load(_q("why", "multi", options=_choices("wa", "wb", "wc"),
                    constraint={"if": {"count": ".", "le": 2}}))
    assert validate_answers(form, {"why": ["wa", "wc"]}, complete=True).ok
    assert _problems(form, {"why": ["wa", "wb", "wc"]}) == {"why": ["constraint"]}


def test_a_dot_outside_a_constraint_is_refused() -> None:
    error = _refused(_definition(_q("a", **{"if": {"key": ".", "eq": 1}})))
    assert error.path == "sections[0].questions[0].if"


# --- conditions ----------------------------------------------------------------------------


def test_not_shows_a_question_when_its_condition_does_not_hold() -> None:
    form = _load(_q("a"), _q("b", **{"if": {"not": {"key": "a", "eq": 1}}}))
    assert not _shown(form, "b", {"a": 1})
    assert _shown(form, "b", {"a": 2}) and _shown(form, "b", {})


@pytest.mark.parametrize(("op", "shown_for"), [
    ("lt", [1]), ("le", [1, 2]), ("gt", [3]), ("ge", [2, 3]),
])
def test_relational_operators_compare_numbers(op: str, shown_for: list[int]) -> None:
    form = _load(_q("a"), _q("b", **{"if": {"key": "a", op: 2}}))
    assert [n for n in (1, 2, 3) if _shown(form, "b", {"a": n})] == shown_for
    assert not _shown(form, "b", {})  # unanswered: false whatever the operator


def test_a_relational_condition_on_a_decimal_compares_2_5_with_2() -> None:
    form = _load(_q("w", "decimal"), _q("b", **{"if": {"key": "w", "gt": 2}}))
    assert _shown(form, "b", {"w": 2.5}) and not _shown(form, "b", {"w": 2})


def test_relational_operators_compare_dates_as_dates() -> None:
    form = _load(_q("d", "date"), _q("b", **{"if": {"key": "d", "ge": "2020-01-01"}}))
    assert _shown(form, "b", {"d": "2020-01-01"}) and _shown(form, "b", {"d": "2021-12-31"})
    assert not _shown(form, "b", {"d": "2019-12-31"})


def test_relational_operators_compare_times_and_datetimes() -> None:
    form = _load(_q("t", "time"), _q("at", "datetime"),
                 _q("b", **{"if": {"all": [{"key": "t", "lt": "12:00"},
                                           {"key": "at", "lt": "2025-01-01T00:00"}]}}))
    assert _shown(form, "b", {"t": "09:30", "at": "2024-12-31T23:59"})
    assert not _shown(form, "b", {"t": "12:00", "at": "2024-12-31T23:59"})


def test_a_relational_condition_on_a_text_single_or_multi_answer_is_refused() -> None:
    for question in (_q("a", "text"), _q("a", "single", options=_choices(1, 2)),
                     _q("a", "multi", options=_choices("ma", "mb"))):
        error = _refused(_definition(question, _q("b", **{"if": {"key": "a", "lt": 2}})))
        assert error.path == "sections[0].questions[1].if"


def test_a_literal_of_another_kind_than_the_answer_is_refused() -> None:
    error = _refused(_definition(_q("d", "date"), _q("b", **{"if": {"key": "d", "lt": 5}})))
    assert "date YYYY-MM-DD" in str(error)


def test_ne_with_an_unanswered_question_is_true_and_eq_false() -> None:
    form = _load(_q("a"), _q("ne", **{"if": {"key": "a", "ne": 1}}),
                 _q("eq", **{"if": {"key": "a", "eq": 1}}))
    assert _shown(form, "ne", {}) and not _shown(form, "eq", {})


def test_a_comparison_with_a_ref_reads_the_other_answer() -> None:
    form = _load(_q("kids"), _q("sons"), _q("b", **{"if": {"key": "sons", "le": {
        "ref": "kids"}}}))
    assert _shown(form, "b", {"kids": 3, "sons": 2})
    assert not _shown(form, "b", {"kids": 1, "sons": 2})
    assert not _shown(form, "b", {"sons": 2})  # an unanswered side: false


def test_eq_between_two_unanswered_refs_is_true_and_ne_false() -> None:
    form = _load(_q("a"), _q("b"), _q("same", **{"if": {"key": "a", "eq": {"ref": "b"}}}),
                 _q("differ", **{"if": {"key": "a", "ne": {"ref": "b"}}}))
    assert _shown(form, "same", {}) and not _shown(form, "differ", {})
    assert not _shown(form, "same", {"a": 1}) and _shown(form, "differ", {"a": 1})
    assert _shown(form, "same", {"a": 1, "b": 1}) and not _shown(form, "differ",
                                                                  {"a": 1, "b": 1})


def test_a_ref_to_a_later_question_is_refused() -> None:
    error = _refused(_definition(_q("a", **{"if": {"key": "a0", "eq": {"ref": "b"}}}),
                                 _q("b")))
    assert error.path == "sections[0].questions[0].if"
    error = _refused(_definition(_q("a"), _q("c", **{"if": {"key": "a", "eq": {"ref": "b"}}}),
                                 _q("b")))
    assert "'b' is not an answer asked earlier" in str(error)


def test_a_ref_between_answers_of_different_kinds_is_refused() -> None:
    error = _refused(_definition(_q("a"), _q("d", "date"),
                                 _q("b", **{"if": {"key": "a", "eq": {"ref": "d"}}})))
    assert "cannot be compared" in str(error)


def test_a_ref_between_choices_with_integer_and_string_codes_is_refused() -> None:
    error = _refused(_definition(_q("a", "single", options=_choices(1, 2)),
                                 _q("b", "single", options=_choices("1", "2")),
                                 _q("c", **{"if": {"key": "b", "eq": {"ref": "a"}}})))
    assert "cannot be compared" in str(error)
    form = _load(_q("a", "single", options=_choices(1, 2)),
                 _q("b", "single", options=_choices(2, 3)),
                 _q("c", **{"if": {"key": "b", "eq": {"ref": "a"}}}))
    assert _shown(form, "c", {"a": 2, "b": 2}) and not _shown(form, "c", {"a": 1, "b": 2})


def test_answered_tells_an_answer_from_none() -> None:
    form = _load(_q("a", "text"), _q("yes", **{"if": {"key": "a", "answered": True}}),
                 _q("no", **{"if": {"key": "a", "answered": False}}))
    assert _shown(form, "yes", {"a": "x"}) and not _shown(form, "no", {"a": "x"})
    assert _shown(form, "no", {}) and not _shown(form, "yes", {})


def test_an_empty_string_literal_is_refused_in_favour_of_answered() -> None:
    error = _refused(_definition(_q("a", "text"), _q("b", **{"if": {"key": "a", "eq": ""}})))
    assert "'answered': false" in str(error)


def test_count_selected_counts_ticked_options_and_zero_when_unanswered() -> None:
    form = _load(_q("m", "multi", options=_choices("ma", "mb", "mc")),
                 _q("two", **{"if": {"count": "m", "ge": 2}}),
                 _q("none", **{"if": {"count": "m", "eq": 0}}))
    assert _shown(form, "two", {"m": ["ma", "mc"]}) and not _shown(form, "two", {"m": ["ma"]})
    assert _shown(form, "none", {}) and not _shown(form, "none", {"m": ["ma"]})


def test_count_on_a_question_that_is_not_multi_is_refused() -> None:
    error = _refused(_definition(_q("a"), _q("b", **{"if": {"count": "a", "ge": 1}})))
    assert "'count'" in str(error)


def test_string_length_counts_characters_and_zero_when_unanswered() -> None:
    form = _load(_q("name", "text"), _q("short", **{"if": {"length": "name", "lt": 3}}))
    assert _shown(form, "short", {"name": "Jo"}) and _shown(form, "short", {})
    assert not _shown(form, "short", {"name": "Joko"})


def test_and_or_and_parentheses_combine_conditions() -> None:
    # (a = 1 or a = 2) and not(b > 5)
    form = _load(_q("a"), _q("b"), _q("c", **{"if": {"all": [
        {"any": [{"key": "a", "eq": 1}, {"key": "a", "eq": 2}]},
        {"not": {"key": "b", "gt": 5}}]}}))
    assert _shown(form, "c", {"a": 2, "b": 5})
    assert not _shown(form, "c", {"a": 3, "b": 5}) and not _shown(form, "c", {"a": 1, "b": 6})


def test_conditions_nest_at_most_32_levels() -> None:
    condition: dict[str, Any] = {"key": "a", "eq": 1}
    for _ in range(31):
        condition = {"not": condition}
    _load(_q("a"), _q("b", **{"if": condition}))
    error = _refused(_definition(_q("a"), _q("b", **{"if": {"not": condition}})))
    assert "32 levels" in str(error)


def test_a_very_deep_condition_is_refused_not_a_crash() -> None:
    condition: dict[str, Any] = {"key": "a", "eq": 1}
    for _ in range(5000):
        condition = {"any": [condition]}
    assert "32 levels" in str(_refused(_definition(_q("a"), _q("b", **{"if": condition}))))


def test_every_condition_kind_dumps_to_the_json_it_was_read_from() -> None:
    source = {"all": [{"not": {"key": "a", "le": {"ref": "b"}}}, {"count": "m", "ge": 2},
                      {"length": "t", "lt": 3}, {"key": "a", "answered": False},
                      {"any": [{"key": "a", "in": [1, 2]}, {"key": "m", "has": "ma"}]}]}
    assert dump_condition(parse_condition(source)) == source


# --- within a page ---------------------------------------------------------------------------


def test_within_page_keeps_a_part_naming_this_pages_answer_for_the_browser() -> None:
    condition = parse_condition({"all": [{"key": "a", "gt": 1}, {"not": {"key": "b",
                                                                          "eq": 2}}]})
    assert within_page(condition, {"a": 2}, frozenset({"b"})) == parse_condition(
        {"not": {"key": "b", "eq": 2}})
    assert within_page(condition, {"a": 1}, frozenset({"b"})) is False
    assert within_page(condition, {"a": 2, "b": 3}, frozenset()) is True


def test_within_page_pins_a_ref_to_another_pages_answer_as_its_value() -> None:
    condition = parse_condition({"key": "b", "le": {"ref": "a"}})
    assert within_page(condition, {"a": 5}, frozenset({"b"})) == Condition(
        "le", key="b", values=(5,))
    # the ref is on this page and the key is not: turned round
    assert within_page(condition, {"b": 5}, frozenset({"a"})) == Condition(
        "ge", key="a", values=(5,))


def test_within_page_turns_an_unanswered_ref_into_the_xpath_answer() -> None:
    eq = parse_condition({"key": "b", "eq": {"ref": "a"}})
    ne = parse_condition({"key": "b", "ne": {"ref": "a"}})
    lt = parse_condition({"key": "b", "lt": {"ref": "a"}})
    page = frozenset({"b"})
    assert within_page(eq, {}, page) == Condition("answered", key="b", values=(False,))
    assert within_page(ne, {}, page) == Condition("answered", key="b", values=(True,))
    assert within_page(lt, {}, page) is False


def test_within_page_keeps_a_ref_between_two_answers_on_the_page() -> None:
    condition = parse_condition({"key": "b", "lt": {"ref": "a"}})
    assert within_page(condition, {}, frozenset({"a", "b"})) == Condition(
        "lt", key="b", values=(Ref("a"),))


def test_a_problem_of_a_new_kind_has_plain_english_for_the_api() -> None:
    assert str(Problem.of("time")) == "must be a time as HH:MM (24 hours)"
    form = _load(_q("age", constraint={"if": {"key": ".", "ge": 15}}))
    assert validate_answers(form, {"age": 3}, complete=True).errors == {
        "age": ["must keep the rule: the answer is at least 15"]}
