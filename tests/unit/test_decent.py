"""The decent-work rules and the wage of where an alumnus works, by hand (services/analytics/
decent.py; docs/indicators.md, "Which minimum wage" and "Decent work")."""

from __future__ import annotations

from services.analytics.decent import (
    IKU2,
    Preset,
    StatusTable,
    Wages,
    applicable_wage,
    at_or_above,
    check_preset,
    over,
    person_weight,
    place_key,
)

# Centre: UMK Kota Bontang 3.799.480; UMK Samarinda 3.500.000,50; UMP Kaltim 3.579.313,77.
WAGES = Wages(3_799_480, 379_948_000, cities=((6472, 350_000_050), (6474, 379_948_000)),
              provinces=((64, 357_931_377),))


def weight(preset: Preset = IKU2, **answer) -> int | None:
    values = {"status": 1, "waiting": None, "income": None, "contract": None, "city": None,
              "province": None, **answer}
    return person_weight(preset, WAGES, **values)


def test_thresholds_are_exact_in_sen() -> None:
    # Rp 3.579.313,77 rounded up: an income of 3.579.314 meets it, 3.579.313 does not.
    assert at_or_above(357_931_377) == 3_579_314
    # 1.2 × 3.579.313,77 = 4.295.176,524: the smallest whole income over it is 4.295.177.
    assert over(357_931_377, 120) == 4_295_177
    # 1.2 × 3.500.000,50 = 4.200.000,60 → 4.200.001; 1.2 × 3.799.480 = 4.559.376 exactly,
    # and "over" is strict → 4.559.377.
    assert over(350_000_050, 120) == 4_200_001
    assert over(379_948_000, 120) == 4_559_377


def test_the_wage_of_where_the_alumnus_works() -> None:
    assert applicable_wage(WAGES, 6472, 64) == ("umk", 350_000_050)  # the city's UMK
    assert applicable_wage(WAGES, 6401, 64) == ("ump", 357_931_377)  # Paser: no UMK row
    assert applicable_wage(WAGES, 6401, None) == ("ump", 357_931_377)  # the city's province
    assert applicable_wage(WAGES, None, 64) == ("ump", 357_931_377)
    assert applicable_wage(WAGES, None, 31) == ("centre", 379_948_000)  # no UMP of Jakarta
    assert applicable_wage(WAGES, None, 99) == ("centre", 379_948_000)  # abroad
    assert applicable_wage(WAGES, None, None) == ("centre", 379_948_000)
    assert place_key(6401, None, 4_000_000) == "6401:64:4000000"
    assert place_key(None, 31, 4_000_000) == "0:31:4000000"


def test_iku2_weights_an_employee_by_waiting_and_pay() -> None:
    samarinda = {"city": 6472, "province": 64}
    assert weight(waiting=5, income=4_200_001, **samarinda) == 100  # < 6, over 4.200.000,60
    assert weight(waiting=6, income=4_200_001, **samarinda) == 80  # 6 is not under 6
    assert weight(waiting=6, income=4_200_000, **samarinda) == 60  # not over 1.2 ×
    assert weight(waiting=12, income=9_000_000, **samarinda) == 0  # 12 is not under 12
    assert weight(waiting=3, income=None) == 60  # no income: not over the wage
    assert weight(waiting=None, income=9_000_000) == 0  # no waiting time: no row applies
    assert weight(status=3, waiting=2, income=4_559_377) == 100  # self-employed, as employees
    assert weight(status=4) == 100  # further study
    assert weight(status=2) == 0 and weight(status=5) == 0
    assert weight(status=None) is None  # not weighed


def test_a_centre_preset_may_require_a_written_contract() -> None:
    blk = Preset(name="blk", pay_percent=100, contract_required=True,
                 employee=StatusTable(3, 12, 100, 80, 50), further_study=50)
    # 3.799.480 is not over 1.0 × 3.799.480: the row for paid less, 50.
    assert weight(blk, waiting=2, income=3_799_480, contract=1) == 50
    assert weight(blk, waiting=2, income=3_799_481, contract=2) == 100
    assert weight(blk, waiting=4, income=3_799_481, contract=2) == 80
    assert weight(blk, waiting=2, income=9_000_000, contract=3) == 0  # no written contract
    assert weight(blk, waiting=2, income=9_000_000) == 0  # contract not answered
    assert weight(blk, status=3, waiting=2, income=3_799_481) == 100  # self-employed: none
    assert weight(blk, status=4) == 50


def test_the_preset_form_is_checked_field_by_field() -> None:
    data, errors = check_preset({"pay_percent": "120", "further_study": "100",
                                 "employee.full_months": "13", "employee.partial_months": "12",
                                 "employee.full": "101"})
    assert errors == {"employee.full_months": "not more than the second limit",
                      "employee.full": "a whole number from 0 to 100",
                      "employee.partial_paid": "a whole number from 0 to 100",
                      "employee.partial_unpaid": "a whole number from 0 to 100",
                      **{f"self_employed.{key}": errors[f"self_employed.{key}"] for key in (
                          "full_months", "partial_months", "full", "partial_paid",
                          "partial_unpaid")}}
    data, errors = check_preset({"pay_percent": "120", "further_study": "100",
                                 **{f"{table}.{key}": value for table in ("employee",
                                                                          "self_employed")
                                    for key, value in (("full_months", "6"),
                                                       ("partial_months", "12"),
                                                       ("full", "100"), ("partial_paid", "80"),
                                                       ("partial_unpaid", "60"))}})
    assert errors == {}
    assert Preset.from_json("iku2", data) == IKU2  # the seeded values are IKU 2's
