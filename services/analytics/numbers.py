"""Numbers as analytics writes them: Indonesian first (1.234.567,5 · 12,5% · Rp 3.780.013).

One formatter for the dashboard (in the reader's locale, Indonesian or English), the PDF
(always Indonesian) and the workbook (Excel number formats with the same digits per unit),
so a figure reads the same on every one of them. Built on Babel's CLDR patterns: point
between thousands and comma before decimals in Indonesian, the other way round in English;
a value exactly halfway rounds to the even digit (0,125 → 0,12), as its shortest decimal
spelling says it, not as its binary float happens to fall.

Units say how a report figure is shown: a share (0–1), months, Rupiah, a 1–5 rating, a
competency gap (mean B − mean A) or a plain count; `DIGITS` is the one table of their
decimals, read by `unit_text` (the PDF) and `EXCEL_FORMATS` (the workbook).
"""

from __future__ import annotations

from decimal import Decimal

from babel import Locale
from babel.numbers import format_compact_decimal, format_decimal, format_percent

INDONESIAN = "id"
MINUS = "−"  # U+2212, the minus sign of the pages (the PDF spells it "-")

LocaleName = str | Locale

SHARE, MONTHS, RUPIAH, RATING, GAP, COUNT = "share", "months", "rupiah", "rating", "gap", "count"
DIGITS = {SHARE: 1, MONTHS: 1, RUPIAH: 0, RATING: 2, GAP: 2, COUNT: 0}
_GROUPED = (RUPIAH, COUNT)  # units Excel writes with thousands separators


def _pattern(digits: int, *, grouped: bool = True) -> str:
    return ("#,##0" if grouped else "0") + ("." + "0" * digits if digits else "")


def decimal(value: float, digits: int = 1, *, locale: LocaleName = INDONESIAN) -> str:
    """1234567.5 → "1.234.567,5" (Indonesian), "1,234,567.5" (English)."""
    return format_decimal(value, _pattern(digits), locale=locale)


def whole(value: float, *, locale: LocaleName = INDONESIAN) -> str:
    """1234567.5 → "1.234.568"; a half rounds to even (2,5 → 2)."""
    return decimal(value, 0, locale=locale)


def percent(share: float, digits: int = 1, *, locale: LocaleName = INDONESIAN) -> str:
    """A share 0–1 as a percent: 0.625 → "62,5%"."""
    return format_percent(share, _pattern(digits) + "%", locale=locale)


def signed(value: float, digits: int = 1, *, locale: LocaleName = INDONESIAN) -> str:
    """Always with its sign, a true minus: 0.26 → "+0,3", -1.25 → "−1,2", 0 → "+0,0"."""
    pattern = _pattern(digits)
    return format_decimal(value, f"+{pattern};{MINUS}{pattern}", locale=locale)


def rupiah(value: float, *, locale: LocaleName = INDONESIAN) -> str:
    """Whole Rupiah: 3780012.66 → "Rp 3.780.013"."""
    return "Rp " + whole(value, locale=locale)


def rupiah_short(value: float, *, locale: LocaleName = INDONESIAN) -> str:
    """For chart axes: 3780012 → "Rp 3,78 jt" (no-break space; Indonesian), "Rp 3.78M"."""
    return "Rp " + format_compact_decimal(value, locale=locale, fraction_digits=2)


def rupiah_exact(amount: Decimal, *, locale: LocaleName = INDONESIAN) -> str:
    """A decreed amount to the sen, the sen only when it has them: Decimal("3579313.77") →
    "Rp 3.579.313,77", Decimal("3762431") → "Rp 3.762.431"."""
    digits = 0 if amount == amount.to_integral_value() else 2
    return "Rp " + decimal(amount, digits, locale=locale)


def unit_text(unit: str, value: float | None) -> str:
    """A report figure in its unit, in Indonesian (the PDF); "-" for no number."""
    if value is None:
        return "-"
    if unit == SHARE:
        return percent(value, DIGITS[SHARE])
    if unit == MONTHS:
        return decimal(value, DIGITS[MONTHS]) + " bulan"
    if unit == RUPIAH:
        return rupiah(value)
    if unit == GAP:
        return signed(value, DIGITS[GAP])
    return decimal(value, DIGITS.get(unit, 0))


def _excel_format(unit: str) -> str:
    pattern = _pattern(DIGITS[unit], grouped=unit in _GROUPED)
    if unit == SHARE:
        return pattern + "%"
    if unit == GAP:
        return f"+{pattern};-{pattern};{pattern}"
    return pattern


# The workbook's number format of each unit: Excel writes the digits in its reader's locale.
EXCEL_FORMATS = {unit: _excel_format(unit) for unit in DIGITS}
