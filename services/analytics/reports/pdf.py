"""The PDF report for the ministry and the city, in Indonesian (fpdf2, no system libraries).

Title page, method and response rates, key indicators with bar charts drawn from fpdf2
rectangles and lines (absorption by program with 95% interval whiskers, status shares,
waiting times), competency gaps per program, training evaluation and job-search channels,
and a "Rekomendasi" section with blank lines for staff to fill in.

fpdf2's core fonts (Helvetica) need no font file but hold only Windows-1252 characters:
every text passes through `printable`, which spells ≤ ≥ − × as ASCII and replaces anything
else outside the code page (a program name in another script) with "?".
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from services.analytics.cells import Cell, CellKey
from services.analytics.decent import as_wages
from services.analytics.disclosure import Disclosure
from services.analytics.indicators import SMALL_N, WAITING_BINS, MinimumWage
from services.analytics.numbers import (
    GAP,
    MONTHS,
    RATING,
    SHARE,
    percent,
    rupiah,
    unit_text,
    whole,
)
from services.analytics.reports.content import (
    DISPOSITIONS,
    KEY_FIGURES,
    NOT_COLLECTED_NOTE,
    OVERALL,
    SUPPRESSED_NOTE,
    SUPPRESSED_SELECTION,
    WAITING_BIN_NAMES,
    Figure,
    ReportGroup,
    WaveInfo,
    figure_note,
    indicator_groups,
    not_collected_sentence,
    report_groups,
)
from services.analytics.reports.pdf_decent import decent_section
from services.analytics.reports.pdf_employers import employer_chapter
from services.analytics.reports.pdf_rates import bias_section, rates_section
from services.analytics.response_rates import ResponseRates
from shared.centre import Centre
from shared.models import utcnow

Progress = Callable[[int], None]

MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
             "September", "Oktober", "November", "Desember")
FONT = "Helvetica"
MARGIN = 18.0
ACCENT = (31, 78, 121)  # headings, bars
SOFT = (120, 160, 200)  # the "Semua" bar and grid labels
WARM = (214, 120, 40)  # positive competency gaps: the job needs more than training gave
GRID = (215, 215, 215)
TABLE_LINES = (170, 180, 190)
STRIPE = (236, 242, 248)
MUTED = (110, 110, 110)
HEADINGS = FontFace(emphasis="BOLD", color=255, fill_color=ACCENT)
RECOMMENDATION_ITEMS = 5
LINES_PER_RECOMMENDATION = 3
_ASCII_SPELLINGS = str.maketrans({"≤": "<=", "≥": ">=", "−": "-", "×": "x", "→": "->",
                                  "\u00a0": " ", "\u2009": " ", "\u202f": " "})
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def printable(text: str) -> str:
    """Text the core fonts can draw: Windows-1252, ASCII spellings for common symbols."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text).translate(_ASCII_SPELLINGS))
    return text.encode("cp1252", "replace").decode("cp1252")


# --- dates and figures as the report writes them ---------------------------------------


def date_id(moment: datetime) -> str:
    return f"{moment.day} {MONTHS_ID[moment.month - 1]} {moment.year}"


def _shown(note: str) -> str:
    """A note as a table cell says it: "n<5" when suppressed, "-" for no number, else ""."""
    if note == SUPPRESSED_NOTE:
        return "n<5"
    return "-" if note else ""


def interval_text(node: Mapping[str, Any]) -> str:
    if node.get("ci_low") is None or node.get("ci_high") is None:
        return "-"
    return f"{percent(node['ci_low'])} - {percent(node['ci_high'])}"


# --- the document -------------------------------------------------------------------------


class _Report(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.footer_text = footer_text
        self.core_fonts_encoding = "cp1252"
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=18)

    def normalize_text(self, text: str) -> str:
        return super().normalize_text(printable(text))

    def footer(self) -> None:
        if self.page_no() == 1:
            return
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"{self.footer_text}  |  Halaman {self.page_no()} dari {{nb}}",
                  align="C")
        self.set_text_color(0)

    @property
    def content_width(self) -> float:
        return self.w - self.l_margin - self.r_margin

    def heading(self, text: str, room: float = 40) -> None:
        if self.will_page_break(room):
            self.add_page()
        self.ln(3)
        self.set_font(FONT, "B", 14)
        self.set_text_color(*ACCENT)
        self.cell(0, 9, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)

    def subheading(self, text: str, room: float = 30) -> None:
        if self.will_page_break(room):
            self.add_page()
        self.ln(2)
        self.set_font(FONT, "B", 11)
        self.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def paragraph(self, text: str, size: float = 10) -> None:
        self.set_font(FONT, "", size)
        self.multi_cell(0, 5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1.5)

    def note(self, text: str) -> None:
        self.set_font(FONT, "I", 8)
        self.set_text_color(*MUTED)
        self.multi_cell(0, 4, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)
        self.ln(1)

    def grid(self, header: Sequence[str], rows: Iterable[Sequence[str]],
             widths: Sequence[float], align: Sequence[str], size: float = 9) -> None:
        self.set_font(FONT, "", size)
        # Table cells fill with the current colour: start from white, not a chart's bars.
        self.set_fill_color(255)
        self.set_draw_color(*TABLE_LINES)
        self.set_line_width(0.2)
        with self.table(col_widths=tuple(widths), text_align=tuple(align),
                        headings_style=HEADINGS, line_height=size * 0.55,
                        width=self.content_width, padding=(0.8, 1.2),
                        cell_fill_color=STRIPE, cell_fill_mode="ROWS") as table:
            for values in (header, *rows):
                row = table.row()
                for value in values:
                    row.cell(value)
        self.set_draw_color(0)
        self.ln(2)

    def fitted(self, text: str, width: float) -> str:
        """`text` shortened with "..." to fit `width` in the current font."""
        if self.get_string_width(text) <= width:
            return text
        while text and self.get_string_width(text + "...") > width:
            text = text[:-1]
        return text + "..."


def write_pdf(
    snapshot_cells: Iterable[tuple[CellKey, Cell]],
    labels: Mapping[str, Any],
    wave: WaveInfo,
    minimum_wage: MinimumWage,
    out_path: str | Path,
    *,
    on_progress: Progress | None = None,
    generated_at: datetime | None = None,
    rule: Disclosure | None = None,
    unsuppressed: bool = False,
    response_rates: ResponseRates | None = None,
    employer: Mapping[str, Any] | None = None,
) -> None:
    """The report as a PDF file, through the small-group rule as every export (`rule` and
    `unsuppressed` as `report_groups` takes them). A selection the rule hides entirely
    gives a title page and a page saying why, with no figure. `response_rates`: the
    selection's AAPOR rates (`pdf_rates`); without them the section is left out."""

    def progress(percent: int) -> None:
        if on_progress is not None:
            on_progress(percent)

    snapshot_cells = list(snapshot_cells)
    groups = report_groups(snapshot_cells, labels, minimum_wage, breakdowns=("program",),
                           rule=rule, unsuppressed=unsuppressed)
    overall = groups[0].indicators
    programs = [group for group in groups if group.breakdown != OVERALL]
    generated = wave.local(generated_at or utcnow())
    progress(15)

    centre = wave.centre
    pdf = _Report(f"{wave.title} - {centre.name}")
    pdf.set_title(printable(f"Laporan tracer study {wave.title} - {centre.name}"))
    pdf.set_author(printable(centre.name))
    pdf.set_creator("Jejak")
    _title_page(pdf, wave, overall, generated)
    pdf.add_page()
    if overall.get("suppressed"):
        pdf.heading("Angka tidak ditampilkan")
        pdf.paragraph(SUPPRESSED_SELECTION)
        pdf.output(str(out_path))
        progress(100)
        return
    _method(pdf, overall)
    if overall.get("not_collected"):
        pdf.heading("Indikator yang tidak dikumpulkan")
        pdf.paragraph(not_collected_sentence(overall))
    if response_rates is not None:
        rates_section(pdf, response_rates)
    bias_section(pdf, snapshot_cells, None if unsuppressed else rule, labels,
                 overall["absorption_rate"])
    progress(35)
    _key_indicators(pdf, overall, programs, minimum_wage, wave)
    decent_section(pdf, overall)
    _absorption(pdf, groups)
    progress(55)
    _status_and_waiting(pdf, overall, labels)
    _competency(pdf, overall, programs, labels)
    progress(75)
    _training_and_channels(pdf, overall, labels)
    if employer is not None:  # "Pengguna lulusan" (pdf_employers)
        employer_chapter(pdf, employer)
    _recommendations(pdf, centre)
    pdf.output(str(out_path))
    progress(100)


def _title_page(pdf: _Report, wave: WaveInfo, overall: Mapping[str, Any],
                generated: datetime) -> None:
    pdf.add_page()
    pdf.set_fill_color(*ACCENT)
    pdf.rect(0, 0, pdf.w, 12, style="F")
    pdf.set_y(60)
    pdf.set_font(FONT, "B", 13)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 8, "LAPORAN TRACER STUDY ALUMNI PELATIHAN", align="C",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font(FONT, "B", 26)
    pdf.set_text_color(*ACCENT)
    if wave.centre.logo is not None:
        pdf.image(io.BytesIO(wave.centre.logo[1]), x=pdf.w / 2 - 15, y=24, h=30)
    pdf.multi_cell(0, 12, printable(wave.centre.name), align="C", new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)
    if wave.centre.address:
        pdf.set_font(FONT, "", 10)
        pdf.set_text_color(*MUTED)
        pdf.multi_cell(0, 5, printable(wave.centre.address), align="C", new_x=XPos.LMARGIN,
                       new_y=YPos.NEXT)
    pdf.set_text_color(0)
    pdf.ln(6)
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 9, wave.title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 11)
    pdf.cell(0, 7, f"Gelombang: {wave.slug}", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.cell(0, 7, f"Cakupan: {wave.scope_text}", align="C", new_x=XPos.LMARGIN,
             new_y=YPos.NEXT)
    pdf.ln(14)
    pdf.set_font(FONT, "", 11)
    response_rate = overall["response_rate"]
    lines = [
        f"Alumni sasaran (N): {whole(overall['targets'])}",
        f"Responden lengkap (n): {whole(overall['respondents'])}",
        f"Tingkat respons: {unit_text(SHARE, response_rate['value'])}",
    ] if not overall.get("suppressed") else [f"n < {SMALL_N}: tidak ditampilkan"]
    for line in lines:
        pdf.cell(0, 7, line, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(-60)
    pdf.set_font(FONT, "", 11)
    pdf.cell(0, 7, f"{wave.centre.city}, {date_id(generated)}", align="C",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if wave.computed_at is not None:
        computed = wave.local(wave.computed_at)
        pdf.set_font(FONT, "", 9)
        pdf.set_text_color(*MUTED)
        pdf.cell(0, 6, f"Data per {date_id(computed)} pukul {computed:%H:%M} "
                       f"{computed.tzname() or wave.timezone}",
                 align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0)


def _method(pdf: _Report, overall: Mapping[str, Any]) -> None:
    pdf.heading("1. Metode dan tingkat respons")
    pdf.paragraph(
        "Populasi (N) adalah seluruh alumni yang menjadi sasaran gelombang survei ini, "
        "ditetapkan pada saat gelombang dibuka. Responden (n) adalah alumni sasaran yang "
        "mengisi kuesioner secara lengkap; setiap alumni dihitung satu kali, dan perbaikan "
        "jawaban menggantikan jawaban sebelumnya. Alumni tidak terjangkau (U) adalah alumni "
        "yang belum merespons dan semua pesan undangannya gagal secara permanen "
        "(alamat email atau nomor tidak valid)."
    )
    pdf.paragraph(
        "Alumni yang tidak merespons tidak pernah dihitung sebagai tidak bekerja, atau "
        "dalam kategori apa pun selain disposisi dan tingkat respons. Setiap persentase "
        "dihitung atas responden yang menjawab pertanyaan yang bersangkutan, disertai "
        "jumlah dasarnya (n) dan interval kepercayaan 95% (metode Wilson). Nilai "
        "tertimbang mengoreksi perbedaan tingkat respons antar kejuruan dan angkatan "
        "(bobot N_h / n_h) dan ditampilkan berdampingan dengan nilai tanpa bobot. "
        f"Kelompok atau angka dengan dasar kurang dari {SMALL_N} responden tidak "
        "ditampilkan sama sekali, begitu pula kelompok yang dapat dipakai untuk "
        "menghitungnya dari kelompok lain."
    )
    rows = [
        ("Populasi sasaran (N)", whole(overall["targets"]), ""),
        ("Responden lengkap (n)", whole(overall["respondents"]), ""),
        ("Tidak terjangkau (U)", whole(overall["unreachable"]), ""),
    ]
    for figure in KEY_FIGURES[:2]:
        node = figure.of(overall)
        rows.append((figure.name, unit_text(SHARE, node["value"]), interval_text(node)))
    pdf.subheading("Tingkat respons")
    pdf.grid(("Ukuran", "Nilai", "95% CI"), rows, (60, 20, 30), ("LEFT", "RIGHT", "RIGHT"))
    targets = overall["targets"]
    disposition_rows = [
        (name, code, whole(overall["dispositions"].get(key, 0)),
         percent(overall["dispositions"].get(key, 0) / targets) if targets else "-")
        for key, name, code in DISPOSITIONS
    ]
    disposition_rows.append(("Jumlah (N)", "", whole(targets),
                             percent(1.0) if targets else "-"))
    pdf.subheading("Disposisi alumni sasaran (AAPOR)")
    pdf.grid(("Disposisi", "Kode", "Jumlah", "% dari N"), disposition_rows, (70, 12, 16, 18),
             ("LEFT", "CENTER", "RIGHT", "RIGHT"))


def _key_indicators(pdf: _Report, overall: Mapping[str, Any], programs: Sequence[ReportGroup],
                    minimum_wage: MinimumWage, wave: WaveInfo) -> None:
    pdf.heading("2. Indikator utama")
    rows = []
    for figure in KEY_FIGURES[2:]:
        node = figure.of(overall)
        note = figure_note(figure, overall)
        rows.append((
            figure.name,
            _shown(note) or unit_text(figure.unit, node.get("value")),
            interval_text(node) if figure.unit == SHARE else "",
            whole(node["n"]) if node.get("n") is not None else "-",
            unit_text(SHARE, node.get("weighted")) if figure.unit == SHARE else "",
        ))
    pdf.grid(("Indikator (semua responden)", "Nilai", "95% CI", "n", "Tertimbang"), rows,
             (62, 26, 30, 12, 20), ("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"))
    if minimum_wage is not None:
        year = f" tahun {wave.minimum_wage_year}" if wave.minimum_wage_year else ""
        wage = wave.wage_label or f"upah minimum{year}: {rupiah(as_wages(minimum_wage).centre)}"
        pdf.note(printable(f"Upah minimum yang dipakai gelombang ini: {wage}. Pendapatan dan "
                           "upah minimum dihitung atas responden bekerja/wiraswasta yang "
                           "menyebutkan pendapatannya."))
    else:
        pdf.note("UMK tahun gelombang ini belum diatur: persentase di atas UMK belum dihitung.")
    if not programs:
        return
    columns = [KEY_FIGURES[index] for index in (2, 3, 4, 5, 6, 7)]
    header = ("Kejuruan", "n", "Keterserapan", "<= 6 bulan", "Median tunggu",
              "Median pendapatan", ">= UMK", "Relevan")
    rows = []
    for group in programs:
        respondents = group.indicators["respondents"]
        cells = [group.name, "n<5" if respondents is None else whole(respondents)]
        for figure in columns:
            node = figure.of(group.indicators)
            cells.append(_shown(figure_note(figure, group.indicators))
                         or unit_text(figure.unit, node.get("value")))
        rows.append(cells)
    pdf.subheading("Indikator utama per kejuruan")
    pdf.grid(header, rows, (40, 10, 20, 18, 20, 26, 16, 16),
             ("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"), size=8)
    pdf.note(f"n<5: kelompok atau dasar kurang dari {SMALL_N} responden, tidak ditampilkan.")


# --- charts -------------------------------------------------------------------------------


def _bar_chart(pdf: _Report, rows: Sequence[tuple[str, float | None, tuple[float, float] | None,
                                                str, bool]],
               *, scale: float, axis: Sequence[tuple[float, str]],
               title: str | None = None) -> None:
    """Horizontal bars: (label, value or None, interval or None, text right, highlight).

    A bar runs from 0 to value/scale of the plot width; an interval is a whisker with end
    ticks; a row without a value shows its text only (suppressed or no data). Shapes do
    not break pages by themselves: more rows than a page holds go on as a second chart.
    """
    label_width, text_width, row_height, bar_height = 52.0, 34.0, 7.0, 4.2
    title_height = 12 if title else 0
    per_page = int((pdf.h - pdf.t_margin - pdf.b_margin - title_height - 8) // row_height)
    room = int((pdf.h - pdf.b_margin - pdf.get_y() - title_height - 8) // row_height)
    if len(rows) > room:
        # What fits here (when that is a useful part), the rest on the next page(s).
        first = room if room >= 5 else min(per_page, len(rows))
        if first < len(rows):
            _bar_chart(pdf, rows[:first], scale=scale, axis=axis, title=title)
            _bar_chart(pdf, rows[first:], scale=scale, axis=axis,
                       title=f"{title} (lanjutan)" if title else None)
            return
    plot_x = pdf.l_margin + label_width + 2
    plot_width = pdf.content_width - label_width - 2 - text_width
    height = row_height * len(rows) + 8
    if pdf.will_page_break(height + (12 if title else 0)):
        pdf.add_page()
    if title:
        pdf.subheading(title, room=0)
    top = pdf.get_y()
    bottom = top + row_height * len(rows)
    _grid_lines(pdf, [(plot_x + plot_width * tick / scale, label) for tick, label in axis],
                top, bottom)
    for index, (label, value, interval, right_text, highlight) in enumerate(rows):
        y = top + index * row_height
        centre = y + row_height / 2
        pdf.set_font(FONT, "B" if highlight else "", 8.5)
        pdf.set_xy(pdf.l_margin, y + 1)
        pdf.cell(label_width, 5, pdf.fitted(label, label_width), align="R")
        if value is not None:
            pdf.set_fill_color(*(SOFT if highlight else ACCENT))
            pdf.rect(plot_x, centre - bar_height / 2,
                     max(plot_width * min(value, scale) / scale, 0.3), bar_height, style="F")
        if interval is not None:
            low, high = (plot_x + plot_width * min(bound, scale) / scale for bound in interval)
            pdf.set_draw_color(40, 40, 40)
            pdf.set_line_width(0.3)
            pdf.line(low, centre, high, centre)
            pdf.line(low, centre - 1.3, low, centre + 1.3)
            pdf.line(high, centre - 1.3, high, centre + 1.3)
        pdf.set_font(FONT, "I" if value is None else "", 8)
        pdf.set_text_color(*(MUTED if value is None else (0, 0, 0)))
        pdf.set_xy(plot_x + plot_width + 2, y + 1)
        pdf.cell(text_width - 2, 5, pdf.fitted(right_text, text_width - 2))
        pdf.set_text_color(0)
    pdf.set_draw_color(0)
    pdf.set_y(bottom + 7)


def _grid_lines(pdf: _Report, ticks: Sequence[tuple[float, str]], top: float,
                bottom: float) -> None:
    """Vertical grid lines at x positions, each labelled below the plot."""
    pdf.set_draw_color(*GRID)
    pdf.set_line_width(0.2)
    pdf.set_font(FONT, "", 7)
    pdf.set_text_color(*MUTED)
    for x, label in ticks:
        pdf.line(x, top, x, bottom)
        pdf.set_xy(x - 10, bottom + 0.5)
        pdf.cell(20, 4, label, align="C")
    pdf.set_text_color(0)


PERCENT_AXIS = tuple((tick / 100, f"{tick}%") for tick in (0, 25, 50, 75, 100))


def _share_row(label: str, node: Mapping[str, Any], note: str,
               highlight: bool = False) -> tuple[str, float | None, tuple[float, float] | None,
                                                 str, bool]:
    value = node.get("value")
    if value is None:
        return label, None, None, ("n<5" if note == SUPPRESSED_NOTE else note or "-"), highlight
    interval = ((node["ci_low"], node["ci_high"])
                if node.get("ci_low") is not None and node.get("ci_high") is not None else None)
    return (label, value, interval, f"{percent(value)}  (n = {whole(node['n'])})",
            highlight)


def _absorption(pdf: _Report, groups: Sequence[ReportGroup]) -> None:
    figure = KEY_FIGURES[2]
    pdf.heading("3. Tingkat keterserapan per kejuruan", room=min(40 + 7 * len(groups), 120))
    pdf.paragraph(
        "Tingkat keterserapan adalah persentase responden yang bekerja atau berwiraswasta "
        "(status f8 = 1 atau 3). Garis hitam menunjukkan interval kepercayaan 95%."
    )
    rows = [_share_row("Semua kejuruan" if group.breakdown == OVERALL else group.name,
                       figure.of(group.indicators), figure_note(figure, group.indicators),
                       highlight=group.breakdown == OVERALL)
            for group in groups]
    _bar_chart(pdf, rows, scale=1.0, axis=PERCENT_AXIS)


def _status_and_waiting(pdf: _Report, overall: Mapping[str, Any],
                        labels: Mapping[str, Any]) -> None:
    pdf.heading("4. Status alumni dan masa tunggu")
    status = next(group for group in indicator_groups(labels) if group.key == "status")
    _bar_chart(pdf, [_share_row(figure.name, figure.of(overall), figure_note(figure, overall))
                     for figure in status.figures], scale=1.0, axis=PERCENT_AXIS,
               title="Status saat ini (persentase responden)")
    title = "Masa tunggu sampai pekerjaan pertama (bekerja/wiraswasta)"
    if "waiting_bins" in (overall.get("not_collected") or ()):
        pdf.subheading(title)
        pdf.note(f"Masa tunggu {NOT_COLLECTED_NOTE}.")
        return
    bins = overall["waiting_bins"]
    total = sum(count or 0 for count in bins.values())
    if total < SMALL_N or None in bins.values():
        pdf.subheading(title)
        pdf.note(f"Kurang dari {SMALL_N} responden menyebutkan masa tunggu: tidak ditampilkan.")
        return
    largest = max(bins.values())
    rows = [(WAITING_BIN_NAMES[label], float(bins[label]), None,
             f"{whole(bins[label])}  ({percent(bins[label] / total)})", False)
            for label, _ in WAITING_BINS]
    steps = [largest * share for share in (0, 0.5, 1)]
    _bar_chart(pdf, rows, scale=float(largest) or 1.0,
               axis=[(step, whole(step)) for step in steps], title=title)
    median = overall["waiting_months_median"]
    if median.get("value") is not None:
        pdf.note(f"Median masa tunggu {unit_text(MONTHS, median['value'])} "
                 f"(n = {whole(median['n'])}).")


def _competency(pdf: _Report, overall: Mapping[str, Any], programs: Sequence[ReportGroup],
                labels: Mapping[str, Any]) -> None:
    theme = next(group for group in indicator_groups(labels) if group.key == "competency")
    pdf.heading("5. Kesenjangan kompetensi", room=100)
    pdf.paragraph(
        "Kesenjangan = rata-rata tingkat yang diperlukan pekerjaan (B) dikurangi rata-rata "
        "tingkat penguasaan saat pelatihan selesai (A), skala 1-5, atas responden yang "
        "menjawab keduanya. Nilai positif (oranye): pekerjaan menuntut lebih dari yang "
        "diberikan pelatihan."
    )
    if not theme.figures:
        pdf.note(f"Kesenjangan kompetensi {NOT_COLLECTED_NOTE}.")
        return
    gaps = [(figure, figure.of(overall) or {}) for figure in theme.figures]
    extent = max([1.0, *(abs(node["value"]) for _, node in gaps
                         if node.get("value") is not None)])
    extent = float(int(extent * 2 + 0.999)) / 2  # up to the next half point
    _gap_chart(pdf, gaps, overall, extent)

    codes = [f"K{index}" for index in range(1, len(theme.figures) + 1)]
    rows = []
    for group in [ReportGroup(OVERALL, "Semua kejuruan", dict(overall)), *programs]:
        cells = [group.name]
        for figure in theme.figures:
            node = figure.of(group.indicators) or {}
            cells.append(_shown(figure_note(figure, group.indicators))
                         or unit_text(GAP, node.get("value")))
        rows.append(cells)
    pdf.subheading("Kesenjangan (B - A) per kejuruan", room=50)
    width = (pdf.content_width - 40) / len(codes)
    pdf.grid(("Kejuruan", *codes), rows, (40, *[width] * len(codes)),
             ("LEFT", *["RIGHT"] * len(codes)), size=8)
    pdf.note("; ".join(f"{code} = {figure.name}" for code, figure in zip(codes, theme.figures,
                                                                       strict=True)))


def _gap_chart(pdf: _Report, gaps: Sequence[tuple[Figure, Mapping[str, Any]]],
               overall: Mapping[str, Any], extent: float) -> None:
    """Bars from a centre line: right for positive gaps, left for negative."""
    label_width, text_width, row_height, bar_height = 58.0, 30.0, 6.5, 4.0
    plot_x = pdf.l_margin + label_width + 2
    plot_width = pdf.content_width - label_width - 2 - text_width
    zero = plot_x + plot_width / 2
    if pdf.will_page_break(row_height * len(gaps) + 8):
        pdf.add_page()
    top = pdf.get_y()
    bottom = top + row_height * len(gaps)
    _grid_lines(pdf, [(zero + plot_width / 2 * tick / extent,
                       unit_text(GAP, tick) if tick else "0")
                      for tick in (-extent, -extent / 2, 0.0, extent / 2, extent)], top, bottom)
    for index, (figure, node) in enumerate(gaps):
        y = top + index * row_height
        pdf.set_font(FONT, "", 8.5)
        pdf.set_xy(pdf.l_margin, y + 0.8)
        pdf.cell(label_width, 5, pdf.fitted(figure.name, label_width), align="R")
        value = node.get("value")
        pdf.set_xy(plot_x + plot_width + 2, y + 0.8)
        if value is None:
            pdf.set_font(FONT, "I", 8)
            pdf.set_text_color(*MUTED)
            note = figure_note(figure, overall)
            pdf.cell(text_width - 2, 5, "n<5" if note == SUPPRESSED_NOTE else note or "-")
            pdf.set_text_color(0)
            continue
        length = plot_width / 2 * max(-extent, min(extent, value)) / extent
        pdf.set_fill_color(*(WARM if value > 0 else ACCENT))
        pdf.rect(min(zero, zero + length), y + (row_height - bar_height) / 2,
                 max(abs(length), 0.3), bar_height, style="F")
        pdf.set_font(FONT, "", 8)
        pdf.cell(text_width - 2, 5, f"{unit_text(GAP, value)}  (n = {whole(node['n'])})")
    pdf.set_draw_color(0)
    pdf.set_y(bottom + 7)


def _training_and_channels(pdf: _Report, overall: Mapping[str, Any],
                           labels: Mapping[str, Any]) -> None:
    themes = {group.key: group for group in indicator_groups(labels)}
    pdf.heading("6. Evaluasi pelatihan dan saluran pencarian kerja")
    rows = []
    for figure in themes["training_eval"].figures:
        node = figure.of(overall) or {}
        note = figure_note(figure, overall)
        rows.append((figure.name, _shown(note) or unit_text(RATING, node.get("value")),
                     "-" if node.get("n") is None else whole(node["n"])))
    pdf.subheading("Penilaian pelatihan (rata-rata, skala 1-5)")
    if rows:
        pdf.grid(("Aspek", "Rata-rata", "n"), rows, (80, 20, 14), ("LEFT", "RIGHT", "RIGHT"))
    else:
        pdf.note(f"Evaluasi pelatihan {NOT_COLLECTED_NOTE}.")
    if "job_search_channels" in (overall.get("not_collected") or ()):
        pdf.subheading("Saluran pencarian kerja")
        pdf.note(f"Saluran pencarian kerja {NOT_COLLECTED_NOTE}.")
        return
    channels = [(figure, figure.of(overall) or {}) for figure in themes["channels"].figures]
    channels.sort(key=lambda item: -(item[1].get("count") or 0))
    _bar_chart(pdf, [_share_row(figure.name, node, figure_note(figure, overall))
                     for figure, node in channels], scale=1.0, axis=PERCENT_AXIS,
               title="Saluran pencarian kerja (persentase responden bekerja/wiraswasta)")
    pdf.note("Satu responden boleh memilih lebih dari satu saluran.")


def _recommendations(pdf: _Report, centre: Centre) -> None:
    pdf.add_page()
    pdf.heading("7. Rekomendasi")
    pdf.paragraph(printable(f"Diisi oleh {centre.name} berdasarkan temuan laporan ini (misalnya "
                  "kejuruan yang perlu disesuaikan, kompetensi yang perlu diperkuat, kerja "
                  "sama penempatan dengan industri)."))
    line_gap = 8.0
    pdf.set_draw_color(150, 150, 150)
    pdf.set_line_width(0.2)
    for number in range(1, RECOMMENDATION_ITEMS + 1):
        if pdf.will_page_break(line_gap * LINES_PER_RECOMMENDATION + 4):
            pdf.add_page()
        top = pdf.get_y()
        pdf.set_font(FONT, "B", 10)
        pdf.set_xy(pdf.l_margin, top + line_gap - 5)
        pdf.cell(8, 5, f"{number}.")
        for line in range(1, LINES_PER_RECOMMENDATION + 1):
            y = top + line_gap * line
            pdf.line(pdf.l_margin + 8, y, pdf.w - pdf.r_margin, y)
        pdf.set_y(top + line_gap * LINES_PER_RECOMMENDATION + 4)
    pdf.set_draw_color(0)
    if pdf.will_page_break(60):
        pdf.add_page()
    pdf.ln(8)
    pdf.set_font(FONT, "", 10)
    signature_x = pdf.w - pdf.r_margin - 75
    head = f"({centre.head_name})" if centre.head_name else "(" + "." * 52 + ")"
    nip = f"NIP. {centre.head_nip}" if centre.head_nip else "NIP. " + "." * 44
    for text, space_after in ((f"{centre.city}, " + "." * 30, 0),
                              (f"Kepala {centre.name}", 22), (head, 0), (nip, 0)):
        pdf.set_x(signature_x)
        pdf.cell(75, 6, printable(text), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if space_after:
            pdf.ln(space_after)
