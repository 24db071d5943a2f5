"""The PDF's chapter "Pengguna lulusan": what employers say about the wave's alumni.

The same figures and words as the dashboard's section (services/analytics/employer_tables.py,
in Indonesian), through the small-group rule unless the report is an admin's unsuppressed
one. The figures are the whole wave's, whatever part of it the report selects: employers are
asked once per company, not per program or cohort.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from services.analytics.employer_tables import indonesian, tables

if TYPE_CHECKING:
    from services.analytics.reports.pdf import _Report

INTRO = (
    "Pendapat atasan yang disebut alumni, dengan persetujuan terpisah, tentang pekerjaan "
    "alumni (survei pengguna lulusan, blk-employer), per pembaruan terakhir, untuk seluruh "
    "gelombang. Kurang dari 5 penilaian tidak ditampilkan angkanya (n < 5).")


def employer_chapter(pdf: _Report, figures: Mapping[str, Any]) -> None:
    """The chapter on a new page: an introduction, then each table with its note."""
    from services.analytics.reports.pdf import printable  # pdf imports this module

    pdf.add_page()
    pdf.heading("Pengguna lulusan")
    pdf.paragraph(printable(INTRO), size=9)
    if not figures["ratings"] and not figures["response_rate"]["invited"]:
        pdf.paragraph("Belum ada atasan alumni yang dapat ditanya pada gelombang ini.")
        return
    for table in tables(figures, indonesian):
        if not table.rows:
            continue
        pdf.subheading(printable(table.title), room=40)
        total = sum(table.widths) or 1
        widths = [width * 180 / total for width in table.widths]
        align = ["LEFT", *(["RIGHT"] * (len(table.head) - 1))]
        if len(table.head) > 2 and table.head[1] and not table.rows[0][1][:1].isdigit():
            align[1] = "LEFT"  # a second column of words (a competency, a trade)
        pdf.grid([printable(text) for text in table.head],
                 [[printable(str(value)) for value in row] for row in table.rows],
                 widths, align, size=8)
        if table.note:
            pdf.paragraph(printable(table.note), size=8)
