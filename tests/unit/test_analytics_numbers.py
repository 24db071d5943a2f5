"""The one number formatter of the dashboard, the PDF and the workbook (services.analytics.numbers).

Hand-worked: Indonesian puts a point between thousands and a comma before decimals; English
the other way round; a value exactly halfway rounds to the even digit.
"""

from __future__ import annotations

from decimal import Decimal

from services.analytics import numbers
from services.analytics.numbers import (
    COUNT,
    EXCEL_FORMATS,
    GAP,
    MONTHS,
    RATING,
    RUPIAH,
    SHARE,
    unit_text,
)


def test_one_million_two_hundred_thousand_and_a_half_is_written_with_points_and_a_comma() -> None:
    assert numbers.decimal(1234567.5) == "1.234.567,5"
    assert numbers.decimal(1234567.5, locale="en") == "1,234,567.5"


def test_a_whole_number_has_no_decimals_and_a_half_goes_to_the_even_neighbour() -> None:
    assert numbers.whole(1234567.5) == "1.234.568"
    assert numbers.whole(2.5) == "2"
    assert numbers.whole(3.5) == "4"


def test_a_share_of_five_eighths_is_62_comma_5_percent() -> None:
    assert numbers.percent(5 / 8) == "62,5%"
    assert numbers.percent(5 / 8, locale="en") == "62.5%"
    assert numbers.percent(2 / 3, 0) == "67%"
    assert numbers.percent(1.0) == "100,0%"


def test_a_signed_figure_always_shows_its_sign_with_a_true_minus() -> None:
    assert numbers.signed(0.26) == "+0,3"
    assert numbers.signed(-1.25, 2) == "−1,25"
    assert numbers.signed(0) == "+0,0"


def test_rupiah_are_whole_and_grouped_as_the_pages_show_them() -> None:
    assert numbers.rupiah(3780012.66) == "Rp 3.780.013"
    assert numbers.rupiah_short(3780012) == "Rp 3,78\u00a0jt"  # a no-break space
    assert numbers.rupiah_short(3780012, locale="en") == "Rp 3.78M"


def test_a_decreed_wage_shows_its_sen_only_when_it_has_them() -> None:
    assert numbers.rupiah_exact(Decimal("3579313.77")) == "Rp 3.579.313,77"
    assert numbers.rupiah_exact(Decimal("3579313.70")) == "Rp 3.579.313,70"
    assert numbers.rupiah_exact(Decimal("3762431.00")) == "Rp 3.762.431"


def test_each_report_unit_is_written_in_indonesian_with_its_digits() -> None:
    assert unit_text(SHARE, 0.4) == "40,0%"
    assert unit_text(MONTHS, 3.25) == "3,2 bulan"  # 3,25: halfway, to the even 2
    assert unit_text(RUPIAH, 4250000.0) == "Rp 4.250.000"
    assert unit_text(RATING, 3.5) == "3,50"
    assert unit_text(GAP, -0.75) == "−0,75"
    assert unit_text(COUNT, 12345) == "12.345"
    assert unit_text(SHARE, None) == "-"


def test_the_workbook_formats_have_the_same_digits_per_unit() -> None:
    assert EXCEL_FORMATS == {
        SHARE: "0.0%", MONTHS: "0.0", RUPIAH: "#,##0", RATING: "0.00",
        GAP: "+0.00;-0.00;0.00", COUNT: "#,##0",
    }
