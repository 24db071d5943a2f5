"""The workbook's "Pengguna lulusan" sheet: the employer figures of the wave.

The same tables as the PDF chapter and the dashboard (services/analytics/employer_tables.py,
in Indonesian), as numbers a spreadsheet can compute with: shares 0-1 formatted as
percentages, means with two decimals, counts as integers; a hidden figure reads "n < 5".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from services.analytics.employer_tables import indonesian, tables
from services.analytics.numbers import COUNT, EXCEL_FORMATS, SHARE

if TYPE_CHECKING:
    from openpyxl import Workbook

SHEET_TITLE = "Pengguna lulusan"
COLUMNS = (("Kelompok", 40), ("", 22), ("", 14), ("", 14), ("", 14), ("", 14), ("", 14),
           ("", 14), ("", 14), ("", 14))
# Columns (by their Indonesian heads) that hold shares 0-1.
SHARE_WORDS = ("Nilai 3–4", "Persentase ya", "Tingkat respons", "Integritas", "Teknis", "K3",
               "Alat/TI", "Komun.", "Kerja sama tim", "Disiplin", "Belajar")


def employer_sheet(workbook: Workbook, figures: Mapping[str, Any]) -> None:
    from services.analytics.reports.xlsx import BOLD, _Sheet  # xlsx imports this module

    sheet = _Sheet(workbook, SHEET_TITLE, COLUMNS)
    sheet.notes(["Pendapat atasan yang disebut alumni (dengan persetujuan) tentang pekerjaan "
                 "alumni, untuk seluruh gelombang, per pembaruan terakhir. n < 5: tidak "
                 "ditampilkan."])
    for table in tables(figures, indonesian, raw=True):
        sheet.section(table.title)
        sheet.append([sheet.cell(text, font=BOLD) for text in table.head])
        shares = {index for index, head in enumerate(table.head) if head in SHARE_WORDS}
        for row in table.rows:
            sheet.append([_value(sheet, value, index in shares) for index, value in
                          enumerate(row)])
        if table.note:
            sheet.notes([table.note])


def _value(sheet: Any, value: Any, share: bool) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if share:
        return sheet.cell(float(value), number_format=EXCEL_FORMATS[SHARE])
    if isinstance(value, int):
        return sheet.cell(value, number_format=EXCEL_FORMATS[COUNT])
    return sheet.cell(float(value), number_format="0.00")
