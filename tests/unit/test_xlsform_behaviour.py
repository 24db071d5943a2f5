"""Each supported XLSForm construct, imported and then run by the engine (issue 20).

A small form per construct, built with openpyxl: answers that must pass and fail, and
questions that must show and hide, worked by hand with ODK's rules (a constraint is checked
only on an answer; an unanswered value compares false, except with != and '').
"""

from __future__ import annotations

from typing import Any

import pytest

from services.survey.questionnaire import is_visible, validate_answers
from tests.xlsform_forms import YES_NO, questionnaire

HEADER = ["type", "name", "label", "relevant", "constraint", "constraint_message", "required",
          "required_message", "default"]


def _form(*rows: list[Any], choices: list[list[Any]] | None = None) -> Any:
    return questionnaire([HEADER, *rows], choices or YES_NO)


def _errors(form: Any, answers: dict[str, Any]) -> dict[str, list[str]]:
    result = validate_answers(form, answers, complete=True)
    return {key: [problem.kind for problem in problems] for key, problems in
            result.problems.items()}


def _question(form: Any, key: str) -> Any:
    return next(question for section in form.sections for question in section.questions
                if question.key == key)


def _shown(form: Any, key: str, answers: dict[str, Any]) -> bool:
    return is_visible(_question(form, key), answers)


def test_an_integer_constraint_accepts_inside_and_refuses_outside_the_range() -> None:
    form = _form(["integer", "age", "Umur", "", ". >= 15 and . <= 70", "15 sampai 70"])
    assert _errors(form, {"age": 15}) == {}
    assert _errors(form, {"age": 71}) == {"age": ["constraint"]}
    assert _errors(form, {}) == {}  # checked only when answered


def test_a_decimal_accepts_2_5_and_its_constraint_is_exact() -> None:
    form = _form(["decimal", "hours", "Jam", "", ". > 2.5"])
    assert _errors(form, {"hours": 2.75}) == {}
    assert _errors(form, {"hours": 2.5}) == {"hours": ["constraint"]}
    assert _errors(form, {"hours": "dua"}) == {"hours": ["number"]}


def test_a_text_length_constraint() -> None:
    form = _form(["text", "nik", "NIK", "", "string-length(.) = 16"])
    assert _errors(form, {"nik": "1234567890123456"}) == {}
    assert _errors(form, {"nik": "123"}) == {"nik": ["constraint"]}


def test_a_date_compared_with_an_earlier_date() -> None:
    form = _form(["date", "start", "Mulai"], ["date", "end", "Selesai", "", ". >= ${start}"])
    assert _errors(form, {"start": "2024-01-10", "end": "2024-02-01"}) == {}
    assert _errors(form, {"start": "2024-01-10", "end": "2023-12-31"}) == {"end": ["constraint"]}


def test_time_and_datetime_take_their_formats() -> None:
    form = _form(["time", "at", "Jam"], ["datetime", "when", "Kapan"])
    assert _errors(form, {"at": "07:30", "when": "2024-01-10T07:30"}) == {}
    assert _errors(form, {"at": "7.30", "when": "2024-01-10"}) == {"at": ["time"],
                                                                   "when": ["datetime"]}


def test_required_with_its_message() -> None:
    form = _form(["text", "name", "Nama", "", "", "", "yes", "Isi nama Anda"])
    result = validate_answers(form, {}, complete=True)
    [problem] = result.problems["name"]
    assert problem.kind == "required"
    assert problem.args["message"].get("id") == "Isi nama Anda"
    assert _errors(form, {"name": "Sari"}) == {}


def test_a_select_one_relevant_shows_and_hides() -> None:
    form = _form(["select_one yn", "works", "Bekerja?"],
                 ["text", "employer", "Tempat kerja", "${works} = 'y'", "", "", "yes"])
    assert _shown(form, "employer", {"works": "y"})
    assert not _shown(form, "employer", {"works": "n"})
    assert not _shown(form, "employer", {})
    assert _errors(form, {"works": "y"}) == {"employer": ["required"]}
    assert _errors(form, {"works": "n", "employer": "PT"}) == {"employer": ["not_applicable"]}
    assert _errors(form, {"works": "n"}) == {}


def test_a_select_multiple_with_selected_and_count_selected() -> None:
    choices = [["list_name", "name", "label"], ["ch", "web", "Web"], ["ch", "paper", "Koran"],
               ["ch", "friend", "Teman"]]
    form = _form(["select_multiple ch", "ways", "Cara", "", "count-selected(.) <= 2"],
                 ["text", "site", "Situs", "selected(${ways}, 'web')"], choices=choices)
    assert _shown(form, "site", {"ways": ["ways_web"]})
    assert not _shown(form, "site", {"ways": ["ways_paper"]})
    assert _errors(form, {"ways": ["ways_web", "ways_paper"], "site": "x"}) == {}
    assert _errors(form, {"ways": ["ways_web", "ways_paper", "ways_friend"], "site": "x"}) == {
        "ways": ["constraint"]}


def test_or_other_asks_the_other_text_only_for_other() -> None:
    form = _form(["select_one yn or_other", "a", "A"])
    assert _shown(form, "a_other", {"a": "other"})
    assert not _shown(form, "a_other", {"a": "y"})
    assert _errors(form, {"a": "other", "a_other": "lain"}) == {}


def test_a_note_takes_no_answer() -> None:
    form = _form(["note", "hello", "Terima kasih"], ["integer", "n", "N"])
    assert _errors(form, {"n": 1}) == {}
    assert "hello" in _errors(form, {"n": 1, "hello": "x"})


def test_a_required_acknowledge_must_be_ticked() -> None:
    form = _form(["acknowledge", "agree", "Setuju?", "", "", "", "yes"])
    assert _errors(form, {"agree": True}) == {}
    assert _errors(form, {}) == {"agree": ["required"]}


def test_a_group_relevant_hides_every_question_inside_nested_groups() -> None:
    form = _form(["integer", "kids", "Anak"],
                 ["begin_group", "family", "Keluarga", "${kids} > 0"],
                 ["begin_group", "school", "Sekolah", "${kids} >= 2"],
                 ["integer", "schooled", "Bersekolah", "", ". <= ${kids}"],
                 ["end_group"], ["end_group"])
    assert _shown(form, "school", {"kids": 3})  # the nested group's label, as a note
    assert _shown(form, "schooled", {"kids": 2})
    assert not _shown(form, "schooled", {"kids": 1})
    assert not _shown(form, "schooled", {})
    assert _errors(form, {"kids": 2, "schooled": 2}) == {}
    assert _errors(form, {"kids": 2, "schooled": 3}) == {"schooled": ["constraint"]}


@pytest.mark.parametrize(
    ("relevant", "answers", "shown"),
    [
        ("${t} != ''", {"t": "ada"}, True),
        ("${t} != ''", {}, False),
        ("${t} = ''", {}, True),
        ("${a} != ${b}", {"a": 1, "b": 2}, True),
        ("${a} != ${b}", {"a": 1, "b": 1}, False),
        ("${a} != ${b}", {"a": 1}, True),  # != with an unanswered side holds
        ("${a} = ${b}", {}, True),  # two unanswered values are equal
        ("${a} < ${b}", {"a": 1}, False),  # a comparison with an unanswered side fails
        ("not(${a} > 3) or ${b} = 1", {"a": 5, "b": 1}, True),
        ("not(${a} > 3) or ${b} = 1", {"a": 5, "b": 2}, False),
        ("not(${a} > 3) or ${b} = 1", {"a": 2}, True),
        ("(${a} = 1 or ${a} = 2) and string-length(${t}) > 2", {"a": 2, "t": "abc"}, True),
        ("(${a} = 1 or ${a} = 2) and string-length(${t}) > 2", {"a": 2, "t": "ab"}, False),
        ("10 <= ${a}", {"a": 10}, True),
        ("10 <= ${a}", {"a": 9}, False),
    ],
)
def test_conditions_hold_as_in_odk(relevant: str, answers: dict[str, Any], shown: bool) -> None:
    form = _form(["text", "t", "T"], ["integer", "a", "A"], ["integer", "b", "B"],
                 ["text", "q", "Q", relevant])
    assert _shown(form, "q", answers) is shown


def test_a_default_is_carried_into_the_definition() -> None:
    form = _form(["integer", "n", "N", "", "", "", "", "", "3"],
                 ["select_one yn", "s", "S", "", "", "", "", "", "y"])
    assert form.by_answer_key["n"].default == 3
    assert form.by_answer_key["s"].default == "y"


def test_labels_in_every_language_column_are_shown_with_a_fallback() -> None:
    form = questionnaire([["type", "name", "label::Indonesian (id)", "label::English (en)",
                           "label::Français (fr)"], ["integer", "age", "Umur", "Age", "Âge"],
                          ["integer", "kids", "Anak", "", ""]])
    age, kids = form.by_answer_key["age"], form.by_answer_key["kids"]
    assert (age.label.get("id"), age.label.get("en"), age.label.get("fr")) == (
        "Umur", "Age", "Âge")
    assert kids.label.get("fr") == "Anak"  # the form's default language
