"""The questionnaire engine: the definition format, the default instrument, answer rules."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from services.survey.questionnaire import (
    ANSWERS_KEY,
    DefinitionError,
    answers_from_form,
    default_definition,
    is_visible,
    label,
    load_definition,
    section_progress,
    validate_answers,
    waiting_months,
)
from tests.conftest import EMPLOYED

INSTRUMENT = load_definition(default_definition())
# Every key docs/questionnaire.md names, in its order (f1102, f302, f303 are the follow-ups
# it cites).
INSTRUMENT_KEYS = [
    "consent",
    "f8",
    "f504",
    "f502",
    "f506",
    "f505",
    "f5a2",
    "f1101",
    "f1102",
    "f5b",
    "f5c",
    "f5d",
    "f14",
    "f301",
    "f302",
    "f303",
    "f4",
    "f6",
    "f7",
    "f7a",
    "f1001",
    "f16",
    "f17",
    "f18",
    "f18b",
    "f18c",
    "f18d",
    "blk_cert",
    "blk_cert_used",
    "blk_eval",
    "blk_suggestion",
    *[f"f4{n:02d}" for n in (*range(1, 14), 16)],
    *[f"f16{n:02d}" for n in (1, 2, 3, 4, 5, 6, 13)],
    *[f"f17{n}" for n in range(61, 75)],
    "blk_k3_a",
    "blk_k3_b",
    "blk_tools_a",
    "blk_tools_b",
    "blk_eval_instructor",
    "blk_eval_facilities",
    "blk_eval_practice",
    "blk_eval_material",
]


def _errors(answers: Any, *, complete: bool = False) -> dict[str, list[str]]:
    return validate_answers(INSTRUMENT, answers, complete=complete).errors


# --- the definition format -------------------------------------------------------------


def _definition(*questions: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": "test",
        "version": 1,
        "title": {"id": "Uji", "en": "Test"},
        "sections": [{"key": "main", "title": {"id": "Utama"}, "questions": list(questions)}],
    }


def _single(key: str, **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "type": "single",
        "label": {"id": key},
        "options": [{"code": 1, "label": {"id": "Ya"}}, {"code": 2, "label": {"id": "Tidak"}}],
        **extra,
    }


def _integer(key: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "type": "integer", "label": {"id": key}, "min": 0, "max": 10, **extra}


def _multi(key: str, *codes: str, **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "type": "multi",
        "label": {"id": key},
        "options": [{"code": code, "label": {"id": code}} for code in codes],
        **extra,
    }


def _matrix(key: str, rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "type": "matrix",
        "label": {"id": key},
        "min": 1,
        "max": 5,
        "rows": [{**row, "label": {"id": "baris"}} for row in rows],
        **extra,
    }


def test_a_definition_loads_into_frozen_dataclasses() -> None:
    questionnaire = load_definition(
        _definition(
            _single("a"),
            _integer("b", **{"if": {"key": "a", "eq": 1}}),
            _matrix("m", [{"key_a": "m1a", "key_b": "m1b"}]),
        )
    )
    assert [q.key for q in questionnaire.sections[0].questions] == ["a", "b", "m"]
    assert questionnaire.by_answer_key["m1b"].key == "m"
    with pytest.raises(dataclasses.FrozenInstanceError):
        questionnaire.sections[0].questions[0].key = "z"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("definition", "path"),
    [
        ({"key": "test", "version": 1, "sections": []}, "title"),
        (
            _definition({"key": "a", "type": "single", "label": {"id": "a"}}),
            "sections[0].questions[0].options",
        ),
        (
            _definition(_integer("a", options=[{"code": 1, "label": {"id": "x"}}])),
            "sections[0].questions[0].options",
        ),
        (_definition({**_integer("a"), "type": "slider"}), "sections[0].questions[0].type"),
        (_definition(_integer("bad-key")), "sections[0].questions[0].key"),
        ({**_definition(_integer("a")), "key": "BLK tracer"}, "key"),
        (_definition(_integer("a", min=5, max=1)), "sections[0].questions[0].max"),
        (_definition(_integer("a", colour="red")), "sections[0].questions[0].colour"),
        (
            _definition({**_single("a"), "label": {"en": "no Indonesian"}}),
            "sections[0].questions[0].label.id",
        ),
        (
            _definition(
                _single(
                    "a",
                    options=[
                        {"code": 1, "label": {"id": "x"}},
                        {"code": "2", "label": {"id": "y"}},
                    ],
                )
            ),
            "sections[0].questions[0].options",
        ),
        (
            _definition(_single("a", options=[{"code": True, "label": {"id": "x"}}])),
            "sections[0].questions[0].options[0].code",
        ),
        (_definition(_multi("a", "a1", "a 2")), "sections[0].questions[0].options"),
        (
            _definition(_matrix("m", [{"key": "m1"}, {"key_a": "m2a", "key_b": "m2b"}])),
            "sections[0].questions[0].rows",
        ),
        (_definition(_matrix("m", [{"key_a": "m1a"}])), "sections[0].questions[0].rows[0]"),
        (
            _definition(
                _matrix("m", [{"key": "m1"}], scale_labels=[{"code": 9, "label": {"id": "x"}}])
            ),
            "sections[0].questions[0].scale_labels",
        ),
        (
            _definition(
                {
                    "key": "g",
                    "type": "group",
                    "label": {"id": "g"},
                    "questions": [_integer("g1", **{"if": {"key": "g1", "eq": 1}})],
                }
            ),
            "sections[0].questions[0].questions",
        ),
        # keys are unique across the whole definition, whatever declares them
        (_definition(_single("a"), _single("a")), "sections[0].questions[1].key"),
        (
            _definition(_single("m1"), _matrix("m", [{"key": "m1"}])),
            "sections[0].questions[1].rows[0]",
        ),
        (_definition(_multi("f4", "f401"), _single("f401")), "sections[0].questions[1].key"),
        (_definition(_single("main")), "sections[0].questions[0].key"),
        # conditions: declared shape, earlier keys, real option codes
        (
            _definition(_single("a", **{"if": {"key": "b", "eq": 1}}), _single("b")),
            "sections[0].questions[0].if",
        ),
        (
            _definition(_single("a"), _single("b", **{"if": {"key": "a", "gt": 1}})),
            "sections[0].questions[1].if",
        ),
        (
            _definition(_single("a"), _single("b", **{"if": {"any": []}})),
            "sections[0].questions[1].if",
        ),
        (
            _definition(_single("a"), _single("b", **{"if": {"key": "a", "in": ["1"]}})),
            "sections[0].questions[1].if",
        ),
        (
            _definition(_single("a"), _single("b", **{"if": {"key": "a", "has": 1}})),
            "sections[0].questions[1].if",
        ),
        (_definition(_single("a", **{"if": {"key": "a", "eq": 1}})), "sections[0].questions[0].if"),
        (
            _definition({"key": "t", "type": "text", "label": {"id": "t"}}, _integer("b", lte="t")),
            "sections[0].questions[1].lte",
        ),
        (_definition(_integer("b", lte="c"), _integer("c")), "sections[0].questions[0].lte"),
    ],
)
def test_a_bad_definition_is_rejected_naming_the_path(definition: dict, path: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        load_definition(definition)
    assert raised.value.path == path
    assert str(raised.value).startswith(f"{path}: ")


def test_a_condition_error_names_the_path_inside_the_condition() -> None:
    definition = _definition(
        _single("a"),
        _single("b", **{"if": {"all": [{"key": "a", "eq": 1}, {"key": "a", "eq": []}]}}),
    )
    with pytest.raises(DefinitionError, match=r"questions\[1\]\.if: all\[1\]: 'eq' takes"):
        load_definition(definition)


@pytest.mark.parametrize("data", [None, [], "blk", {"key": "x"}])
def test_a_definition_that_is_not_a_definition_is_rejected(data: Any) -> None:
    with pytest.raises(DefinitionError):
        load_definition(data)


# --- the default instrument ------------------------------------------------------------


def _declared_keys(definition: dict[str, Any]) -> list[str]:
    keys = []
    for section in definition["sections"]:
        for question in section["questions"]:
            for item in (question, *question.get("questions", ())):
                keys.append(item["key"])
                keys += [o["code"] for o in item.get("options", ()) if item["type"] == "multi"]
                keys += [
                    row[k]
                    for row in item.get("rows", ())
                    for k in ("key", "key_a", "key_b")
                    if k in row
                ]
    return keys


def test_the_default_instrument_holds_every_key_of_instrument_md() -> None:
    declared = _declared_keys(default_definition())
    assert set(INSTRUMENT_KEYS) <= set(declared)
    assert (INSTRUMENT.key, INSTRUMENT.version) == ("blk-tracer", 1)


def test_the_default_instrument_is_plain_json_in_both_languages() -> None:
    definition = default_definition()
    assert load_definition(json.loads(json.dumps(definition))) == INSTRUMENT
    for question in INSTRUMENT.answerable:
        assert question.label.en, question.key
        assert all(option.label.en for option in question.options), question.key


def test_the_default_instrument_keeps_the_required_and_branching_rules() -> None:
    consent, f8, f504 = (INSTRUMENT.by_answer_key[k] for k in ("consent", "f8", "f504"))
    assert consent.required and consent.must_be is True
    assert f8.required and f8.condition is None
    assert [option.code for option in f8.options] == [1, 2, 3, 4, 5]
    assert f504.required
    assert is_visible(f504, {"f8": 3}) and not is_visible(f504, {"f8": 4})
    assert [o.code for o in INSTRUMENT.by_answer_key["f1101"].options] == [1, 6, 7, 2, 3, 4, 5]
    assert INSTRUMENT.by_answer_key["f7"].lte == "f6"
    assert INSTRUMENT.by_answer_key["f18d"].type == "date"
    further_study = next(q for s in INSTRUMENT.sections for q in s.questions if q.key == "f18")
    assert further_study.answer_keys == ("f18b", "f18c", "f18d")
    # a group's sub-questions carry the group's "if", so each can be judged alone
    assert INSTRUMENT.by_answer_key["f18d"].condition == further_study.condition


# --- validation ------------------------------------------------------------------------


def test_the_employed_branch_validates_complete() -> None:
    result = validate_answers(INSTRUMENT, EMPLOYED, complete=True)
    assert result.errors == {}
    assert result.answers == EMPLOYED


def test_a_studying_alumnus_answers_the_further_study_group() -> None:
    answers = {"consent": True, "f8": 4, "f18b": " Politeknik ", "f18d": "2025-08-01"}
    result = validate_answers(INSTRUMENT, answers, complete=True)
    assert result.errors == {}
    assert result.answers["f18b"] == "Politeknik"


@pytest.mark.parametrize(
    ("answers", "key", "message"),
    [
        ({"f99": 1}, "f99", "unknown question"),
        ({"f17": 3}, "f17", "unknown question"),  # a matrix is answered by its cells
        ({"f8": 1, "f6": "3"}, "f6", "must be an integer between 0 and 1000"),
        ({"f8": 1, "f6": True}, "f6", "must be an integer between 0 and 1000"),
        ({"f8": 1, "f6": 2.5}, "f6", "must be an integer between 0 and 1000"),
        ({"f8": 1, "f504": 1, "f502": 121}, "f502", "must be an integer between 0 and 120"),
        (
            {"f8": 1, "f505": -1},
            "f505",
            "must be a whole number of Rupiah between 0 and 1000000000",
        ),
        ({"f8": 9}, "f8", "must be one of: 1, 2, 3, 4, 5"),
        ({"f8": "1"}, "f8", "must be one of: 1, 2, 3, 4, 5"),
        ({"f4": ["f401", "f499"]}, "f4", "must be a list of options from: f401"),
        ({"f4": "f401"}, "f4", "must be a list of options from: f401"),
        ({"f8": 1, "f5b": "x" * 201}, "f5b", "must be text of at most 200 characters"),
        ({"blk_suggestion": 12}, "blk_suggestion", "must be text of at most 2000 characters"),
        ({"blk_suggestion": "a\x00b"}, "blk_suggestion", "contains characters that cannot"),
        ({"f8": 4, "f18d": "2025-02-30"}, "f18d", "must be a date as YYYY-MM-DD"),
        ({"f8": 4, "f18d": "01/08/2025"}, "f18d", "must be a date as YYYY-MM-DD"),
        ({"f1761": 6}, "f1761", "must be an integer between 1 and 5"),
        ({"blk_eval_material": 0}, "blk_eval_material", "must be an integer between 1 and 5"),
        ({"consent": False}, "consent", "must be true"),
        ({"consent": "yes"}, "consent", "must be true"),
        ({"f8": 2, "f504": 1}, "f504", "not applicable: asked only when f8 is 1 or 3"),
        ({"f8": 1, "f504": 2, "f502": 3}, "f502", "not applicable: asked only when f504 is 1"),
        ({"f8": 3, "f5b": "PT Pupuk"}, "f5b", "not applicable: asked only when f8 is 1"),
        (
            {"f8": 1, "blk_cert": 2, "blk_cert_used": 1},
            "blk_cert_used",
            "not applicable: asked only when blk_cert is 1 and f8 is 1 or 3",
        ),
        ({"f6": 2, "f7": 3}, "f7", "must not be more than the answer to f6 (2)"),
        ({"f6": 2, "f7a": 5}, "f7a", "must not be more than the answer to f6 (2)"),
    ],
)
def test_each_wrong_answer_is_named_by_its_key(answers: dict, key: str, message: str) -> None:
    errors = _errors(answers)
    assert list(errors) == [key]
    assert errors[key][0].startswith(message)


@pytest.mark.parametrize("answers", [None, [], "f8=1", 3, [{"f8": 1}]])
def test_answers_that_are_not_an_object_get_a_top_level_error(answers: Any) -> None:
    result = validate_answers(INSTRUMENT, answers, complete=True)
    assert result.answers == {}
    assert list(result.errors) == [ANSWERS_KEY]


def test_a_question_that_branches_on_a_wrong_answer_is_not_also_called_not_applicable() -> None:
    result = validate_answers(INSTRUMENT, {"f8": 9, "f504": 1, "f502": 3}, complete=True)
    assert set(result.errors) == {"f8", "consent"}
    assert "f504" not in result.answers  # undecided, so not kept
    assert _errors({"f8": 9, "f504": "x"})["f504"] == ["must be one of: 1, 2"]


def test_a_partial_save_accepts_missing_answers_but_not_wrong_ones() -> None:
    assert _errors({"f8": 1}) == {}
    assert _errors({"f8": 1, "f6": 5000}) == {"f6": ["must be an integer between 0 and 1000"]}
    assert _errors({"f8": 1}, complete=True) == {
        "consent": ["is required"],
        "f504": ["is required"],
    }
    assert _errors({}, complete=True) == {"consent": ["is required"], "f8": ["is required"]}


def test_a_hidden_required_question_is_not_required() -> None:
    assert _errors({"consent": True, "f8": 2}, complete=True) == {}


def test_f7_and_f7a_may_equal_f6() -> None:
    assert _errors({"f6": 4, "f7": 4, "f7a": 0}) == {}
    assert _errors({"f7": 4}) == {}  # nothing to compare with yet


def test_blank_answers_count_as_unanswered_and_are_dropped() -> None:
    answers = {**EMPLOYED, "f5b": "  ", "f4": [], "f6": None, "f8": 1}
    result = validate_answers(INSTRUMENT, answers, complete=True)
    assert result.errors == {}
    assert result.answers == EMPLOYED
    assert _errors({"f8": 2, "f504": None}) == {}  # clearing a hidden answer is fine


def test_multi_answers_are_kept_once_in_form_order() -> None:
    result = validate_answers(INSTRUMENT, {"f4": ["f411", "f401", "f411"]}, complete=False)
    assert result.answers == {"f4": ["f401", "f411"]}


def test_a_required_group_or_matrix_requires_each_of_its_answers() -> None:
    questionnaire = load_definition(
        _definition(
            _single("a"),
            {
                "key": "g",
                "type": "group",
                "label": {"id": "g"},
                "required": True,
                "if": {"key": "a", "eq": 1},
                "questions": [_integer("g1"), _integer("g2")],
            },
            _matrix("m", [{"key": "m1"}, {"key": "m2"}], required=True),
        )
    )
    errors = validate_answers(questionnaire, {"a": 1, "g2": 1, "m1": 3}, complete=True).errors
    assert errors == {"g1": ["is required"], "m2": ["is required"]}
    assert validate_answers(questionnaire, {"a": 2, "m1": 1, "m2": 1}, complete=True).ok


def test_conditions_all_any_ne_has() -> None:
    questionnaire = load_definition(
        _definition(
            _single("a"),
            _multi("b", "b1", "b2"),
            _integer("c", **{"if": {"any": [{"key": "a", "ne": 1}, {"key": "b", "has": "b2"}]}}),
            _integer("d", **{"if": {"all": [{"key": "a", "eq": 1}, {"key": "b", "has": "b1"}]}}),
        )
    )
    c, d = questionnaire.by_answer_key["c"], questionnaire.by_answer_key["d"]
    assert is_visible(c, {}) and is_visible(c, {"a": 2})  # ne holds while a is unanswered
    assert not is_visible(c, {"a": 1, "b": ["b1"]}) and is_visible(c, {"a": 1, "b": ["b2"]})
    assert is_visible(d, {"a": 1, "b": ["b1", "b2"]}) and not is_visible(d, {"a": 1})
    assert not is_visible(d, {"a": True, "b": ["b1"]})  # true is not the option code 1
    errors = validate_answers(questionnaire, {"a": 1, "c": 1, "d": 1}, complete=False).errors
    assert errors == {
        "c": ['not applicable: asked only when a is not 1 or b includes "b2"'],
        "d": ['not applicable: asked only when a is 1 and b includes "b1"'],
    }


def test_eq_in_and_ne_compare_type_as_well_as_value() -> None:
    questionnaire = load_definition(
        _definition(
            _single("a"),
            _single("s", options=[{"code": "1", "label": {"id": "satu"}},
                                  {"code": "x", "label": {"id": "x"}}]),
            _integer("eq", **{"if": {"key": "a", "eq": 1}}),
            _integer("among", **{"if": {"key": "a", "in": [2, 1]}}),
            _integer("ne", **{"if": {"key": "a", "ne": 1}}),
            _integer("text", **{"if": {"key": "s", "eq": "1"}}),
        )
    )
    eq, among, ne, text = (questionnaire.by_answer_key[key]
                           for key in ("eq", "among", "ne", "text"))
    for answers in ({"a": 1}, {"a": 1, "s": "1"}):
        assert is_visible(eq, answers) and is_visible(among, answers)
        assert not is_visible(ne, answers)
    for other in (True, "1", 1.0, [1], None):  # 1.0 == 1 and True == 1, but not the code 1
        assert not is_visible(eq, {"a": other}) and not is_visible(among, {"a": other})
        assert is_visible(ne, {"a": other})
    assert is_visible(text, {"s": "1"})
    assert not is_visible(text, {"s": 1}) and not is_visible(text, {"s": True})
    result = validate_answers(questionnaire, {"a": True, "s": 1, "eq": 3, "ne": 3}, complete=False)
    assert result.answers == {}
    assert result.errors == {  # a and s are wrong, so whether eq and ne apply is undecided
        "a": ["must be one of: 1, 2"],
        "s": ["must be one of: 1, x"],
    }


def test_a_wrong_answer_leaves_questions_branching_on_other_answers_decided() -> None:
    result = validate_answers(INSTRUMENT, {"f8": 9, "f301": 1, "f302": 2, "f303": 4},
                              complete=False)
    assert result.answers == {"f301": 1, "f302": 2}
    assert list(result.errors) == ["f8", "f303"]
    assert result.errors["f303"] == ["not applicable: asked only when f301 is 2"]


# --- the HTML form ---------------------------------------------------------------------


def test_form_fields_become_typed_answers() -> None:
    form = {
        "consent": ["on"],
        "f8": ["1"],
        "f504": ["1"],
        "f502": [" 3 "],
        "f505": ["Rp 4.500.000"],
        "f14": ["2"],
        "f4": ["f404"],
        "f401": ["on"],
        "f402": ["off"],
        "f1761": ["4"],
        "f18d": [""],
        "f5b": ["PT Badak NGL"],
        "csrf_token": ["abc"],
        "action": ["submit"],
    }
    answers, errors = answers_from_form(INSTRUMENT, form)
    assert errors == {}
    assert answers == {**EMPLOYED, "f4": ["f401", "f404"], "f1761": 4, "f5b": "PT Badak NGL"}
    assert validate_answers(INSTRUMENT, answers, complete=True).errors == {}


@pytest.mark.parametrize(
    "typed", ["4500000", "4.500.000", "4,500,000", "rp4.500.000", "Rp 4 500 000"]
)
def test_rupiah_is_read_as_people_type_it(typed: str) -> None:
    answers, errors = answers_from_form(INSTRUMENT, {"f505": [typed]})
    assert (answers, errors) == ({"f505": 4_500_000}, {})


@pytest.mark.parametrize(
    ("form", "key", "message"),
    [
        ({"f6": ["abc"]}, "f6", "must be an integer between 0 and 1000"),
        ({"f6": ["1.5"]}, "f6", "must be an integer between 0 and 1000"),
        ({"f505": ["4.500,00"]}, "f505", "must be a whole number of Rupiah"),
        ({"f8": ["ya"]}, "f8", "must be one of: 1, 2, 3, 4, 5"),
        ({"f8": ["1", "3"]}, "f8", "must be a single value"),
        ({"consent": ["maybe"]}, "consent", "must be true"),
        ({"f6": ["9" * 5000]}, "f6", "must be an integer between 0 and 1000"),
    ],
)
def test_unreadable_form_fields_are_named_by_key(form: dict, key: str, message: str) -> None:
    answers, errors = answers_from_form(INSTRUMENT, form)
    assert key not in answers
    assert list(errors) == [key]
    assert errors[key][0].startswith(message)


def test_form_errors_win_over_validation_errors_for_the_same_key() -> None:
    answers, form_errors = answers_from_form(INSTRUMENT, {"consent": ["1"], "f8": ["x"]})
    errors = validate_answers(INSTRUMENT, answers, complete=True).errors | form_errors
    assert errors == {"f8": ["must be one of: 1, 2, 3, 4, 5"]}


def test_a_form_value_the_form_can_read_is_still_validated() -> None:
    answers, errors = answers_from_form(INSTRUMENT, {"f8": "2", "f504": "1", "f4": ["f499"]})
    assert (answers, errors) == ({"f8": 2, "f504": 1, "f4": ["f499"]}, {})
    assert set(_errors(answers)) == {"f504", "f4"}


# --- what the answers say --------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "months"),
    [
        ({"f8": 1, "f504": 1, "f502": 3}, 3),
        ({"f8": 3, "f504": 1, "f502": 0}, 0),
        ({"f8": 1, "f504": 2, "f506": 9, "f502": 3}, 9),
        ({"f8": 1, "f504": 2}, None),
        ({"f8": 1, "f502": 3}, None),
        ({"f8": 2, "f504": 1, "f502": 3}, None),
        ({"f8": 4}, None),
        ({}, None),
        ({"f8": True, "f504": True, "f502": 3}, None),
    ],
)
def test_waiting_months(answers: dict, months: int | None) -> None:
    assert waiting_months(answers) == months


def test_section_progress_counts_only_questions_that_apply() -> None:
    progress = {row.section_key: row[1:] for row in section_progress(INSTRUMENT, EMPLOYED)}
    assert progress["persetujuan"] == (1, 1)
    assert progress["status"] == (1, 1)  # the further-study group does not apply
    # answered f504 f502 f505 f14 of f504 f502 f505 f5a2 f1101 f5b f5d f14
    assert progress["pekerjaan"] == (4, 8)
    assert progress["kompetensi"] == (0, 1)
    studying = {
        row.section_key: row[1:]
        for row in section_progress(INSTRUMENT, {"f8": 4, "f18c": "D3 Teknik Mesin", "f1761": 4})
    }
    assert studying["status"] == (2, 2)
    assert studying["pekerjaan"] == (0, 0)
    assert studying["kompetensi"] == (1, 1)
    assert section_progress(INSTRUMENT, "not answers")[0] == ("persetujuan", 0, 1)


def test_labels_fall_back_to_indonesian() -> None:
    f8 = INSTRUMENT.by_answer_key["f8"]
    assert label(f8, "id") == "Jelaskan status Anda saat ini"
    assert label(f8, "en") == label(f8, "en_US") == "Describe your current status"
    assert label(f8.options[0], "en") == "Working (full time/part time)"
    definition = _definition(_single("a"))
    definition["sections"][0]["questions"][0]["label"] = {"id": "Hanya Indonesia"}
    only_id = load_definition(copy.deepcopy(definition)).by_answer_key["a"]
    assert label(only_id, "en") == "Hanya Indonesia"
