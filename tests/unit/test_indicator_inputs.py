"""The indicator-input catalogue on hand-made answers (shared/indicator_inputs.py)."""

from __future__ import annotations

import pytest

from shared.indicator_inputs import (
    V1_INPUTS,
    V1_RAW,
    InputsError,
    code_of,
    indicators_lacking,
    parse_inputs,
    waiting_months,
    work_location_of,
)
from shared.indicator_mapping import inputs_of

V2_LIKE = parse_inputs({
    "status": {"item": "kerja", "codes": {"1": 1, "2": 3, "9": 5}},
    "waiting_months": {"rule": "single", "item": "bulan"},
    "work_province": {"item": "prov"}, "work_city": {"item": "kota"},
    "work_location": {"rule": "from_place", "city": 6474},
})


def test_v1s_mapping_reads_its_json_back_and_collects_every_indicator() -> None:
    assert parse_inputs(V1_INPUTS.to_json()) == V1_INPUTS == parse_inputs(V1_RAW)
    assert indicators_lacking(V1_INPUTS) == ()


def test_translated_codes_count_only_as_json_integers_among_them() -> None:
    status = V2_LIKE.code("status")
    assert [code_of({"kerja": value}, status) for value in (1, 2, 9, 3, "1", True, 2.0)] == [
        1, 3, 5, None, None, None, None]


def test_the_waiting_rules() -> None:
    # split_at_6: f502 when f504 = 1, f506 when f504 = 2; employed (f8 1 or 3) only.
    assert waiting_months({"f8": 3, "f504": 2, "f502": 1, "f506": 9}, V1_INPUTS) == 9
    assert waiting_months({"f8": 1, "f504": 1, "f502": 0}, V1_INPUTS) == 0
    assert waiting_months({"f8": 5, "f504": 1, "f502": 2}, V1_INPUTS) is None
    # single: the item itself, 0 = before the training ended; status through its codes.
    assert waiting_months({"kerja": 2, "bulan": 0}, V2_LIKE) == 0  # 2 reads as 3, employed
    assert waiting_months({"kerja": 9, "bulan": 4}, V2_LIKE) is None  # 9 reads as 5, seeking


@pytest.mark.parametrize(("answers", "location"), [
    ({"prov": 64, "kota": 6474}, 1), ({"prov": 64, "kota": 6472}, 2),
    ({"prov": 64}, None), ({"prov": 31, "kota": 6474}, 3), ({"prov": 99}, 4),
    ({"kota": 6474}, None), ({"prov": 64, "kota": 3171}, None),
])
def test_working_locally_from_the_province_and_city(answers, location) -> None:
    assert work_location_of(answers, V2_LIKE) == location


def test_a_definition_without_a_mapping_reads_as_v1_restricted_to_its_items() -> None:
    definition = {"sections": [{"key": "s", "questions": [
        {"key": "f8", "type": "single", "options": [{"code": 1}, {"code": 5}]},
        {"key": "f505", "type": "text"},  # the wrong type: not income
        {"key": "blk_eval", "type": "matrix", "rows": [{"key": "blk_eval_practice"}]},
    ]}]}
    inputs = inputs_of(definition)
    assert inputs.code("status") is not None and inputs.income is None
    assert inputs.training_eval == ("blk_eval_practice",)
    assert "income_median" in indicators_lacking(inputs)
    assert "absorption_rate" not in indicators_lacking(inputs)


def test_a_malformed_mapping_names_each_problem() -> None:
    with pytest.raises(InputsError) as refused:
        parse_inputs({"statuss": {"item": "f8"}, "status": {"item": "f8", "codes": {"1": 7}},
                      "work_location": {"rule": "from_place", "city": 3171}})
    assert [path for path, _ in refused.value.problems] == [
        "indicator_inputs.statuss", "indicator_inputs.work_location.city",
        "indicator_inputs.status.codes.1"]
