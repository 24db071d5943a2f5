"""blk-tracer version 2 as the form engine reads it (docs/questionnaire.md, "version 2")."""

from __future__ import annotations

from services.survey.questionnaire import load_definition, shipped_definition, validate_answers
from shared.indicator_inputs import indicators_lacking
from shared.indicator_mapping import inputs_of
from shared.regions import ABROAD, EAST_KALIMANTAN_CITIES, PROVINCES

V2 = load_definition(shipped_definition(2))
WORKING = {"consent": True, "f8": 1, "f502": 0, "f505": 4_000_000, "work_province": 64,
           "work_city": 6474, "contract": 2, "f5d": 1, "edu_match": 2, "f14": 1, "f301": 3,
           "f4": ["f416"], "f416_text": "teman", "f6": 1, "f7": 1, "f7a": 1, "blk_cert": 1,
           "further_training": 2, "f1101": 5, "f1102": "koperasi", "f5b": "PT Contoh"}


def test_one_waiting_item_and_the_place_of_work_replace_f504_and_f5a2() -> None:
    keys = set(V2.by_answer_key)
    assert {"f502", "work_province", "work_city", "contract", "edu_match",
            "further_training", "f416_text", "f1613_text", "f1002"} <= keys
    assert not {"f504", "f506", "f5a2"} & keys
    assert [option.code for option in V2.by_answer_key["work_province"].options] == [
        *PROVINCES, ABROAD]
    assert len(PROVINCES) == 38
    assert [option.code for option in V2.by_answer_key["work_city"].options] == list(
        EAST_KALIMANTAN_CITIES)


def test_a_working_alumnus_in_bontang_passes_and_keeps_every_answer() -> None:
    result = validate_answers(V2, WORKING, complete=True)
    assert result.errors == {} and result.answers == WORKING


def test_the_city_is_asked_only_in_east_kalimantan_and_the_months_are_required() -> None:
    elsewhere = validate_answers(V2, {**WORKING, "work_province": 31}, complete=True)
    assert elsewhere.errors == {"work_city": [
        "not applicable: asked only when work_province is 64"]}
    without = {key: value for key, value in WORKING.items() if key != "f502"}
    assert validate_answers(V2, without, complete=True).errors == {"f502": ["is required"]}


def test_version_2_collects_every_indicator() -> None:
    assert indicators_lacking(inputs_of(shipped_definition(2))) == ()
