"""The roster template an office fills in: the Indonesian headers and one example row, as
CSV and as an Excel workbook. The example is a valid row: the template imports as it is."""

from __future__ import annotations

import csv
import io

from services.survey.roster import COLUMNS

TEMPLATE_EXAMPLE: dict[str, str] = {
    "registration_no": "BLK-2025-001",
    "full_name": "Siti Aminah",
    "gender": "P",
    "birth_date": "2001-05-17",
    "nik": "6474015705010001",
    "program": "Teknik Las",
    "cohort": "Angkatan 1 2025",
    "training_start": "2025-02-03",
    "training_end": "2025-04-25",
    "phone": "0812-3456-7890",
    "email": "siti.aminah@example.com",
}


def template_csv() -> bytes:
    """The roster template as CSV (UTF-8 with BOM, so Excel reads it): the Indonesian
    headers and one example row, which `read_rows` and `parse_row` accept as it is."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS.values())
    writer.writerow(TEMPLATE_EXAMPLE[column] for column in COLUMNS)
    return out.getvalue().encode("utf-8-sig")


def template_xlsx() -> bytes:
    """The same template as an Excel workbook; every cell is text, so a phone number keeps
    its leading 0 and a date is not turned into a number."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "alumni"
    sheet.append(list(COLUMNS.values()))
    sheet.append([TEMPLATE_EXAMPLE[column] for column in COLUMNS])
    for row in sheet.iter_rows():
        for cell in row:
            cell.number_format = "@"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
