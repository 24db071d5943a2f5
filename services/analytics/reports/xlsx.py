"""Workbooks: the indicator report, and every response of a wave (personal data).

Both are openpyxl write-only workbooks: rows stream to a temporary file as they are
appended (strings inline, no shared-string table), so memory stays bounded however many
rows there are. Column widths and the frozen header must be set before the first row.

Every text cell goes through `safe_cell` (a leading = + - @ becomes inert) and loses the
control characters XML cannot hold; numbers stay numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from services.analytics.cells import Cell, CellKey
from services.analytics.decent import as_wages
from services.analytics.disclosure import Disclosure
from services.analytics.indicators import MinimumWage
from services.analytics.numbers import COUNT, EXCEL_FORMATS, GAP, RATING, RUPIAH, SHARE
from services.analytics.reports.content import (
    DISPOSITIONS,
    KEY_FIGURES,
    NOTES,
    OVERALL,
    Figure,
    IndicatorGroup,
    ReportGroup,
    WaveInfo,
    answer_keys,
    codebook,
    figure_note,
    indicator_groups,
    report_groups,
)
from services.analytics.reports.xlsx_employers import employer_sheet
from services.analytics.reports.xlsx_rates import rates_sheet
from services.analytics.response_rates import ResponseRates
from shared.csvsafe import safe_cell
from shared.models import Alumnus, Cohort, Program, Questionnaire, Response, Wave, WaveTarget

Progress = Callable[[int], None]

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
EXCEL_TEXT_LIMIT = 32_767
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
HEADER_ALIGNMENT = Alignment(wrap_text=True, vertical="center")
SECTION_FONT = Font(bold=True, size=12)
NOTE_FONT = Font(italic=True, color="555555")
BOLD = Font(bold=True)
RAW_BATCH = 2_000  # responses per read transaction of the raw export

# Columns of a theme sheet (generic figures) and of the competency sheet: (header, width).
FIGURE_COLUMNS = (("Rincian", 14), ("Kelompok", 30), ("Indikator", 44), ("Nilai", 11),
                  ("n (dasar)", 10), ("Jumlah", 10), ("CI 95% bawah", 12),
                  ("CI 95% atas", 12), ("Tertimbang", 12), ("Catatan", 34))
GAP_COLUMNS = (("Rincian", 14), ("Kelompok", 30), ("Kompetensi", 40),
               ("A: saat pelatihan selesai", 14), ("B: diperlukan pekerjaan", 14),
               ("Kesenjangan (B - A)", 14), ("n", 8), ("Catatan", 34))
SUMMARY_COLUMNS = (("Keterangan", 46), *FIGURE_COLUMNS[3:])
RAW_FIXED = (("registration_no", 16), ("program", 24), ("cohort", 14), ("gender", 8),
             ("status", 10), ("submitted_at", 17))
RAW_EXTRA = "jawaban_lain"  # answers under keys the wave's questionnaire does not have


def text(value: Any) -> str:
    """A text cell: formula-safe, free of characters XML cannot hold, within Excel's limit."""
    return ILLEGAL_CHARACTERS_RE.sub("", safe_cell(value))[:EXCEL_TEXT_LIMIT]


def _notify(on_progress: Progress | None, percent: int) -> None:
    if on_progress is not None:
        on_progress(percent)


# --- the indicator report -----------------------------------------------------------------


def write_workbook(
    snapshot_cells: Iterable[tuple[CellKey, Cell]],
    labels: Mapping[str, Any],
    wave: WaveInfo,
    minimum_wage: MinimumWage,
    out_path: str | Path,
    *,
    on_progress: Progress | None = None,
    rule: Disclosure | None = None,
    unsuppressed: bool = False,
    response_rates: ResponseRates | None = None,
    employer: Mapping[str, Any] | None = None,
) -> None:
    """The indicator workbook: a summary, then one sheet per theme of docs/indicators.md with
    every group (all, each program, cohort, gender) through the small-group rule (`rule`
    and `unsuppressed` as `report_groups` takes them), then the AAPOR rates of the same
    selection (`response_rates`, when given) and the non-response bias check."""
    snapshot_cells = list(snapshot_cells)
    groups = report_groups(snapshot_cells, labels, minimum_wage, rule=rule,
                           unsuppressed=unsuppressed)
    _notify(on_progress, 20)
    workbook = Workbook(write_only=True)
    _summary_sheet(workbook, groups[0].indicators, wave, as_wages(minimum_wage).centre)
    themes = indicator_groups(labels)
    for done, theme in enumerate(themes, 1):
        _theme_sheet(workbook, theme, groups)
        _notify(on_progress, 20 + 70 * done // len(themes))
    overall = groups[0].indicators
    if not overall.get("suppressed"):  # as the PDF: a hidden selection shows no rate either
        rates_sheet(workbook, response_rates, snapshot_cells, None if unsuppressed else rule,
                    labels, overall["absorption_rate"])
        if employer is not None:  # "Pengguna lulusan" (xlsx_employers)
            employer_sheet(workbook, employer)
    workbook.save(str(out_path))
    _notify(on_progress, 100)


class _Sheet:
    """A write-only sheet with a styled, frozen header row and fixed column widths."""

    def __init__(self, workbook: Workbook, title: str, columns: Sequence[tuple[str, float]],
                 *, freeze: str = "A2") -> None:
        self.sheet: WriteOnlyWorksheet = workbook.create_sheet(_sheet_title(title))
        for index, (_, width) in enumerate(columns, 1):
            self.sheet.column_dimensions[get_column_letter(index)].width = width
        self.sheet.freeze_panes = freeze
        self.width = len(columns)
        self.rows = 0
        self.append([self.cell(name, font=HEADER_FONT, fill=HEADER_FILL,
                               alignment=HEADER_ALIGNMENT) for name, _ in columns])

    def cell(self, value: Any, *, number_format: str | None = None, font: Font | None = None,
             fill: PatternFill | None = None, alignment: Alignment | None = None
             ) -> WriteOnlyCell:
        styled = WriteOnlyCell(self.sheet, value=text(value) if isinstance(value, str) else value)
        if number_format:
            styled.number_format = number_format
        if font:
            styled.font = font
        if fill:
            styled.fill = fill
        if alignment:
            styled.alignment = alignment
        return styled

    def append(self, values: Sequence[Any]) -> None:
        self.sheet.append([text(value) if isinstance(value, str) else value
                           for value in values])
        self.rows += 1

    def section(self, title: str) -> None:
        self.append([])
        self.append([self.cell(title, font=SECTION_FONT)])

    def notes(self, lines: Iterable[str]) -> None:
        self.append([])
        for line in lines:
            self.append([self.cell(line, font=NOTE_FONT)])

    def filter_header(self) -> None:
        """An autofilter over the table written so far (header row 1)."""
        self.sheet.auto_filter.ref = f"A1:{get_column_letter(self.width)}{self.rows}"


def _sheet_title(title: str) -> str:
    cleaned = "".join(" " if char in "[]:*?/\\" else char for char in title).strip("'")
    return cleaned[:31] or "Sheet"


def _summary_sheet(workbook: Workbook, overall: Mapping[str, Any], wave: WaveInfo,
                   minimum_wage: int | None) -> None:
    sheet = _Sheet(workbook, "Ringkasan", SUMMARY_COLUMNS)
    sheet.append(["Lembaga", wave.centre.name])
    sheet.append(["Gelombang", f"{wave.title} ({wave.slug})"])
    sheet.append(["Cakupan", wave.scope_text])
    if wave.computed_at is not None:
        sheet.append(["Data per", sheet.cell(_excel_time(wave.local(wave.computed_at)),
                                             number_format=DATETIME_FORMAT),
                      *[None] * 5, f"zona waktu {wave.timezone}"])
    wage_note = (wave.wage_label or f"UMK tahun {wave.minimum_wage_year}"
                 if minimum_wage is not None and wave.minimum_wage_year
                 else "UMK tahun gelombang belum diatur" if minimum_wage is None else "")
    sheet.append(["UMK (Rp)", sheet.cell(minimum_wage, number_format=EXCEL_FORMATS[RUPIAH]),
                  *[None] * 5, wage_note])

    sheet.section("Populasi dan responden")
    for name, key in (("Populasi sasaran (N)", "targets"), ("Responden lengkap (n)",
                      "respondents"), ("Tidak terjangkau (U)", "unreachable")):
        sheet.append(_figure_row(sheet, Figure((key,), name, COUNT), overall)[2:])
    sheet.section("Indikator utama")
    for figure in KEY_FIGURES:
        sheet.append(_figure_row(sheet, figure, overall)[2:])
    sheet.section("Disposisi AAPOR (jumlah alumni sasaran)")
    for key, name, code in DISPOSITIONS:
        figure = Figure(("dispositions", key), f"{name} ({code})", COUNT)
        sheet.append(_figure_row(sheet, figure, overall)[2:])
    sheet.notes(NOTES)


def _theme_sheet(workbook: Workbook, theme: IndicatorGroup,
                 groups: Sequence[ReportGroup]) -> None:
    competency = theme.key == "competency"
    sheet = _Sheet(workbook, theme.title, GAP_COLUMNS if competency else FIGURE_COLUMNS,
                   freeze="D2")
    for group in groups:
        for figure in theme.figures:
            row = (_gap_row(sheet, figure, group.indicators) if competency
                   else _figure_row(sheet, figure, group.indicators))
            row[0], row[1] = group.breakdown, group.name
            if group.breakdown == OVERALL:
                row[1] = sheet.cell(group.name, font=BOLD)
            sheet.append(row)
    sheet.filter_header()
    sheet.notes(NOTES)


def _figure_row(sheet: _Sheet, figure: Figure, indicators: Mapping[str, Any]) -> list[Any]:
    """[breakdown, group, name, value, n, count, ci_low, ci_high, weighted, note]."""
    node = figure.of(indicators)
    number_format = EXCEL_FORMATS[figure.unit]
    if figure.unit == COUNT:
        return [None, None, figure.name, None, None,
                sheet.cell(node, number_format=number_format), None, None, None,
                figure_note(figure, indicators)]
    node = node if isinstance(node, Mapping) else {}
    share = figure.unit == SHARE

    def number(name: str) -> Any:
        value = node.get(name)
        return None if value is None else sheet.cell(value, number_format=number_format)

    return [None, None, figure.name, number("value"), node.get("n"),
            node.get("count") if share else None,
            number("ci_low") if share else None, number("ci_high") if share else None,
            number("weighted") if share else None, figure_note(figure, indicators)]


def _gap_row(sheet: _Sheet, figure: Figure, indicators: Mapping[str, Any]) -> list[Any]:
    """[breakdown, group, competency, mean A, mean B, gap, n, note]."""
    node = figure.of(indicators) or {}

    def number(name: str, number_format: str) -> Any:
        value = node.get(name)
        return None if value is None else sheet.cell(value, number_format=number_format)

    return [None, None, figure.name, number("mean_a", EXCEL_FORMATS[RATING]),
            number("mean_b", EXCEL_FORMATS[RATING]), number("value", EXCEL_FORMATS[GAP]),
            node.get("n"), figure_note(figure, indicators)]


def _excel_time(moment: datetime) -> datetime:
    # Excel has no time zones: local wall-clock time, the zone named beside it.
    return moment.replace(tzinfo=None)


# --- raw responses (personal data) --------------------------------------------------------


def write_raw_responses(
    session: Session,
    wave_id: int,
    out_path: str | Path,
    on_progress: Progress | None = None,
    *,
    program: int | None = None,
    cohort: int | None = None,
    gender: str | None = None,
    timezone: str = "Asia/Makassar",
    batch_size: int = RAW_BATCH,
) -> int:
    """Every response of the wave, one row each: who, their cell, status, submission time
    (local) and one column per answer key of the wave's questionnaire. Returns the rows.

    Reads in keyset batches of `batch_size` responses, one short transaction each (the
    session's transaction is ended after every batch): on SQLite every transaction holds
    the write lock (BEGIN IMMEDIATE), and one long read would stop survey intake for the
    whole export. Memory holds one batch and the workbook's row buffer, whatever the wave
    size. Erased alumni and those who withdrew consent keep their answers but lose their
    registration number.
    """
    definition = session.scalar(
        select(Questionnaire.definition)
        .join(Wave, Wave.questionnaire_id == Questionnaire.id).where(Wave.id == wave_id)
    )
    keys = answer_keys(definition)
    known = frozenset(keys)
    programs = {program_id: name for program_id, name
                in session.execute(select(Program.id, Program.name))}
    cohorts = {cohort_id: label for cohort_id, label
               in session.execute(select(Cohort.id, Cohort.label))}
    target_of_response = and_(WaveTarget.wave_id == Response.wave_id,
                              WaveTarget.alumnus_id == Response.alumnus_id)
    filters = [Response.wave_id == wave_id]
    if program is not None:
        filters.append(WaveTarget.program_id == program)
    if cohort is not None:
        filters.append(WaveTarget.cohort_id == cohort)
    if gender is not None:
        filters.append(WaveTarget.gender == gender)
    total = session.scalar(
        select(func.count()).select_from(Response)
        .outerjoin(WaveTarget, target_of_response).where(*filters)
    ) or 0
    session.rollback()

    workbook = Workbook(write_only=True)
    columns = (*RAW_FIXED, *((key, 10) for key in keys), (RAW_EXTRA, 30))
    sheet = _Sheet(workbook, "Respons", columns, freeze="B2")
    zone = ZoneInfo(timezone)
    query = (
        select(Response.alumnus_id, Alumnus.registration_no, Alumnus.erased_at,
               Alumnus.consent_withdrawn_at, WaveTarget.program_id, WaveTarget.cohort_id,
               WaveTarget.gender, Response.status, Response.submitted_at, Response.answers)
        .select_from(Response)
        .join(Alumnus, Alumnus.id == Response.alumnus_id)
        .outerjoin(WaveTarget, target_of_response)
        .where(*filters)
        .order_by(Response.alumnus_id)
        .limit(batch_size)
    )
    written = 0
    last_alumnus: int | None = None
    while True:
        batch_query = query if last_alumnus is None else query.where(
            Response.alumnus_id > last_alumnus)
        try:
            rows = session.execute(batch_query).all()
        finally:
            session.rollback()
        if not rows:
            break
        for (_, registration_no, erased_at, withdrawn_at, program_id, cohort_id, sex, status,
             submitted_at, answers) in rows:
            answers = answers or {}
            extra = {key: value for key, value in answers.items() if key not in known}
            sheet.sheet.append([
                None if erased_at or withdrawn_at else text(registration_no),
                text(programs.get(program_id, "")) if program_id is not None else None,
                text(cohorts.get(cohort_id, "")) if cohort_id is not None else None,
                text(sex) if sex is not None else None,
                text(status),
                submitted_at.astimezone(zone).replace(tzinfo=None) if submitted_at else None,
                *(_answer_cell(answers.get(key)) for key in keys),
                text(json.dumps(extra, ensure_ascii=False)) if extra else None,
            ])
        written += len(rows)
        last_alumnus = rows[-1][0]
        _notify(on_progress, min(95, 95 * written // max(total, 1)))

    _codebook_sheet(workbook, definition)
    notes = _Sheet(workbook, "Keterangan", (("Keterangan", 28), ("", 90)))
    for line in (
        ("Isi", "Satu baris per respons (lengkap dan sebagian) gelombang ini."),
        ("Data pribadi", "Berisi data pribadi: simpan dan bagikan hanya sesuai aturan "
                         "perlindungan data."),
        ("registration_no kosong", "Alumni yang datanya dihapus atau yang menarik "
                                   "persetujuan: jawabannya tetap, identitasnya tidak."),
        ("submitted_at", f"Waktu setempat, zona waktu {timezone}."),
        (RAW_EXTRA, "Jawaban dengan kunci yang tidak ada di kuesioner gelombang (JSON)."),
        (CODEBOOK_TITLE, "Arti setiap kolom jawaban: kode pertanyaan, teks pertanyaan, kode "
                         "jawaban dan labelnya (pilihan ganda: kode pilihan dipisah koma)."),
        ("Jumlah respons", written),
    ):
        notes.append(line)
    workbook.save(str(out_path))
    _notify(on_progress, 100)
    return written


CODEBOOK_TITLE = "Buku kode"
CODEBOOK_COLUMNS = (("Kode pertanyaan", 18), ("Jenis", 10), ("Pertanyaan (Indonesia)", 60),
                    ("Question (English)", 60), ("Kode jawaban", 13),
                    ("Label jawaban (Indonesia)", 36), ("Answer label (English)", 36),
                    ("Rentang", 14))


def _codebook_sheet(workbook: Workbook, definition: Mapping[str, Any] | None) -> None:
    """What each answer column of "Respons" means, from the wave's own questionnaire."""
    sheet = _Sheet(workbook, CODEBOOK_TITLE, CODEBOOK_COLUMNS, freeze="B2")
    for row in codebook(definition):
        sheet.append([row.key, row.kind, row.question_id, row.question_en, row.code,
                      row.label_id, row.label_en, row.note])
    sheet.filter_header()


def _answer_cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return text(value)
    if isinstance(value, list):
        return text(", ".join(str(item) for item in value))
    return text(json.dumps(value, ensure_ascii=False))
