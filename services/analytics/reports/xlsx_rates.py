"""The workbook's "Tingkat respons" sheet: AAPOR rates and the non-response bias check.

The same figures and words as the PDF's section (`pdf_rates`), as numbers a spreadsheet can
compute with: rates as fractions formatted as percentages, counts as integers. The bias
check goes through the report's small-group rule, as in the PDF: a hidden category shows
no share and its breakdown no test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from services.analytics.aapor import CODES
from services.analytics.bias_checks import bias_checks
from services.analytics.cells import Cell, CellKey
from services.analytics.disclosure import Disclosure
from services.analytics.numbers import COUNT, EXCEL_FORMATS, SHARE
from services.analytics.reports.pdf_rates import (
    BREAKDOWN_NAMES,
    DISPOSITION_NAMES,
    MODE_NAMES,
    RATES,
    e_text,
    name_of,
    test_text,
    weights_sentence,
)
from services.analytics.response_rates import ResponseRates

if TYPE_CHECKING:
    from openpyxl import Workbook

    from services.analytics.reports.xlsx import _Sheet

SHEET_TITLE = "Tingkat respons"
RATE_COLUMNS = (("Ukuran", 40), ("Nilai", 12), ("Jumlah", 12), ("Keterangan", 60))


def rates_sheet(workbook: Workbook, rates: ResponseRates | None,
                cells: Iterable[tuple[CellKey, Cell]], rule: Disclosure | None,
                labels: Mapping[str, Any], absorption: Mapping[str, Any]) -> None:
    """Rates with their formulas, e and its basis, final dispositions, completes per mode,
    then the bias check per program, cohort and gender with its sentence."""
    from services.analytics.reports.xlsx import BOLD, _Sheet  # xlsx imports this module

    sheet = _Sheet(workbook, SHEET_TITLE, RATE_COLUMNS)
    if rates is not None:
        sheet.section("Tingkat respons (AAPOR)")
        for name, label, formula in RATES:
            sheet.append([label, _share(sheet, getattr(rates.rates, name)), None, formula])
        sheet.append(["e", _number(sheet, rates.rates.e, "0.000"), None, e_text(rates)])
        sheet.section("Disposisi akhir")
        for code in CODES:
            sheet.append([f"{DISPOSITION_NAMES[code]} ({code})", None,
                          _count(sheet, rates.counts[code])])
        sheet.append(["D (semua kecuali NE)", None, _count(sheet, rates.d)])
        sheet.section("Respons lengkap menurut cara pengisian (% dari D)")
        for mode, count in rates.completes_by_mode.items():
            sheet.append([MODE_NAMES.get(mode, mode),
                          _share(sheet, rates.rate_by_mode[mode]), _count(sheet, count)])
    checks = bias_checks(cells, rule)
    sheet.section("Apakah responden mewakili sasaran?")
    sheet.notes([weights_sentence(checks, absorption)])
    for check in checks:
        if check.single:
            continue
        sheet.section(BREAKDOWN_NAMES[check.by])
        sheet.append([sheet.cell(text, font=BOLD) for text in (
            BREAKDOWN_NAMES[check.by], "% sasaran", "% responden", "Selisih (poin)")])
        for category in sorted(check.check.categories,
                               key=lambda c: name_of(labels, check.by, c.name).casefold()):
            label = name_of(labels, check.by, category.name)
            if category.name in check.hidden:
                sheet.append([label, None, "n<5", "n<5"])
                continue
            difference = category.difference_points
            sheet.append([label, _share(sheet, category.population_share),
                          _share(sheet, category.respondent_share),
                          _number(sheet, difference, "+0.0;-0.0;0.0")])
        sheet.notes([test_text(check)])


def _number(sheet: _Sheet, value: Fraction | float | None, number_format: str) -> Any:
    return None if value is None else sheet.cell(float(value), number_format=number_format)


def _share(sheet: _Sheet, value: Fraction | float | None) -> Any:
    return _number(sheet, value, EXCEL_FORMATS[SHARE])


def _count(sheet: _Sheet, value: int) -> Any:
    return sheet.cell(value, number_format=EXCEL_FORMATS[COUNT])
