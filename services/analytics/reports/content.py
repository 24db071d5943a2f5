"""What every report shows, whatever its format: groups, indicator names, labels.

Exported reports apply the small-group rule (`disclosure`, docs/indicators.md): a group or
figure over fewer than 5 respondents, or one that would let such a figure be worked out,
shows no number. `report_groups` is the one place the writers get indicators from, and it
passes every group through the rule of the whole wave's cells, so no writer can forget to;
only an admin's explicitly unsuppressed export skips it.

Answer labels (status names, competencies, job-search channels…) come from the wave's
questionnaire definition (`answer_labels`), so the reports say what the form said.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.analytics.cells import (
    STATUS_CODES,
    Cell,
    CellKey,
)
from services.analytics.disclosure import Disclosure
from services.analytics.indicators import SMALL_N, WAITING_BINS, MinimumWage, breakdown, compute
from services.analytics.numbers import COUNT, GAP, MONTHS, RATING, RUPIAH, SHARE
from shared.centre import Centre
from shared.indicator_inputs import V1_INPUTS, IndicatorInputs

GENDER_NAMES = {"L": "Laki-laki", "P": "Perempuan"}
OVERALL = "Semua"
BREAKDOWN_NAMES = {"program": "Kejuruan", "cohort": "Angkatan", "gender": "Jenis kelamin"}
WAITING_BIN_NAMES = {"<=3": "0-3 bulan", "4-6": "4-6 bulan", "7-12": "7-12 bulan",
                     ">12": "lebih dari 12 bulan"}
# AAPOR dispositions in report order: (key in `dispositions`, Indonesian name, AAPOR code).
DISPOSITIONS = (
    ("complete", "Lengkap", "I"),
    ("partial", "Sebagian (mulai, belum selesai)", "P"),
    ("refusal", "Menolak / menarik persetujuan", "R"),
    ("non_contact", "Dihubungi, tidak merespons", "NC"),
    ("unknown", "Belum diketahui", "UH"),
    ("unreachable", "Tidak terjangkau (semua pesan gagal permanen)", "U"),
)
SUPPRESSED_NOTE = f"n < {SMALL_N}: tidak ditampilkan"
SUPPRESSED_SELECTION = (
    f"Pilihan ini memuat kurang dari {SMALL_N} responden, atau angkanya dapat dipakai untuk "
    f"menghitung angka kelompok dengan kurang dari {SMALL_N} responden dari laporan lain. "
    "Demi kerahasiaan alumni, tidak ada angka yang ditampilkan; pilih cakupan yang lebih luas.")
NOTES = (
    f"Kelompok atau angka dengan dasar kurang dari {SMALL_N} responden tidak ditampilkan "
    "sama sekali (nilai, jumlah maupun n), begitu pula kelompok yang dapat dipakai untuk "
    "menghitungnya dari kelompok lain (kerahasiaan dan keandalan).",
    "Alumni yang tidak merespons tidak pernah dihitung sebagai tidak bekerja: setiap "
    "persentase dihitung atas responden yang menjawab pertanyaan yang bersangkutan.",
    "Interval kepercayaan 95% dengan metode Wilson. Nilai tertimbang mengoreksi perbedaan "
    "tingkat respons antar kejuruan x angkatan (bobot N_h / n_h).",
)



@dataclass(frozen=True)
class WaveInfo:
    """The wave as the reports name it; times are shown in the centre's time zone."""

    slug: str
    title: str
    computed_at: datetime | None = None  # of the snapshot the figures come from
    timezone: str = "Asia/Makassar"
    scope: str = ""  # the filters in words; empty: every targeted alumnus
    minimum_wage_year: int | None = None
    # The centre as its admin set it (shared/centre.py) and the wage the wave uses in
    # words ("UMK Kota Bontang 2026", services/analytics/wages.py).
    centre: Centre = field(default_factory=Centre)
    wage_label: str = ""

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.timezone))

    @property
    def scope_text(self) -> str:
        return self.scope or "Semua alumni sasaran"


@dataclass(frozen=True)
class Figure:
    """One line of an indicator table: where it sits in `compute`'s output, and its name."""

    path: tuple[str, ...]
    name: str
    unit: str

    def of(self, indicators: Mapping[str, Any]) -> Any:
        node: Any = indicators
        for step in self.path:
            node = node.get(step) if isinstance(node, Mapping) else None
        return node


@dataclass(frozen=True)
class IndicatorGroup:
    """A sheet of the workbook: a theme of docs/indicators.md and its figures."""

    key: str
    title: str  # also the sheet name: at most 31 characters, none of []:*?/\
    figures: tuple[Figure, ...]


@dataclass(frozen=True)
class ReportGroup:
    """The indicators of one group of alumni (suppressed for export)."""

    breakdown: str  # OVERALL or a BREAKDOWN_NAMES value
    name: str
    indicators: dict[str, Any]


def answer_labels(definition: Mapping[str, Any] | None, locale: str = "id") -> dict[str, str]:
    """Labels of the questionnaire: "f8.1" for an option, "f1761" for a matrix row (by its
    key, or its A key for an A/B row), "f8" for a question."""
    labels: dict[str, str] = {}
    default = str((definition or {}).get("default_language") or "id")

    def text(label: Any) -> str:
        if isinstance(label, Mapping):
            return str(label.get(locale) or label.get("id") or label.get(default) or "")
        return str(label or "")

    def visit(question: Mapping[str, Any]) -> None:
        key = question.get("key")
        if key is None:
            return
        labels[key] = text(question.get("label"))
        for option in question.get("options", ()):
            labels[f"{key}.{option.get('code')}"] = text(option.get("label"))
        for row in question.get("rows", ()):
            row_key = row.get("key") or row.get("key_a")
            if row_key:
                labels[row_key] = text(row.get("label"))
        for sub in question.get("questions", ()):
            visit(sub)

    for section in (definition or {}).get("sections", ()):
        for question in section.get("questions", ()):
            visit(question)
    return labels


def answer_keys(definition: Mapping[str, Any] | None) -> list[str]:
    """Every answer key of the questionnaire in form order (a matrix: each cell's key)."""
    keys: list[str] = []

    def visit(question: Mapping[str, Any]) -> None:
        if question.get("type") == "matrix":
            for row in question.get("rows", ()):
                keys.extend(row[name] for name in ("key", "key_a", "key_b") if row.get(name))
        elif question.get("type") == "group":
            for sub in question.get("questions", ()):
                visit(sub)
        elif question.get("key") and question.get("type") != "note":  # a note takes none
            keys.append(question["key"])

    for section in (definition or {}).get("sections", ()):
        for question in section.get("questions", ()):
            visit(question)
    return list(dict.fromkeys(keys))


@dataclass(frozen=True)
class CodebookRow:
    """One line of the raw workbook's codebook: a question code, or one of its answer codes.

    A question with answer options has one row per option, its code and text repeated (so a
    filter on the code shows the whole question); any other question has one row, `code`
    empty and its allowed range in `note`."""

    key: str
    kind: str
    question_id: str
    question_en: str
    code: Any = None
    label_id: str = ""
    label_en: str = ""
    note: str = ""


def _texts(label: Any, default: str = "id") -> tuple[str, str]:
    """(Indonesian, English) of a definition label: a {"id", "en", ...} mapping or a plain
    string; the definition's default language stands in for a missing Indonesian."""
    if isinstance(label, Mapping):
        indonesian = str(label.get("id") or label.get(default) or label.get("en") or "")
        return indonesian, str(label.get("en") or indonesian)
    return (str(label), str(label)) if label else ("", "")


def _joined(*parts: tuple[str, str]) -> tuple[str, str]:
    return (" — ".join(p[0] for p in parts if p[0]), " — ".join(p[1] for p in parts if p[1]))


def _range_note(question: Mapping[str, Any]) -> str:
    low, high = question.get("min"), question.get("max")
    if low is None and high is None:
        return ""
    return f"{'' if low is None else low}–{'' if high is None else high}"


def codebook(definition: Mapping[str, Any] | None) -> list[CodebookRow]:
    """The codebook of a questionnaire definition (docs/questionnaire.md), in form order:
    every answer key of `answer_keys` appears, with its question text in both languages and,
    for choices, booleans and rating scales, each answer code with its labels.

    Reads the stored JSON only (analytics does not import the survey service); parts it does
    not know are written as they are rather than left out."""
    rows: list[CodebookRow] = []
    default = str((definition or {}).get("default_language") or "id")

    def _texts_of(label: Any) -> tuple[str, str]:
        return _texts(label, default)

    def add(key: str, kind: str, text: tuple[str, str], question: Mapping[str, Any],
            scale: Iterable[tuple[Any, tuple[str, str]]] = ()) -> None:
        codes = list(scale)
        if not codes:
            rows.append(CodebookRow(key, kind, *text, note=_range_note(question)))
        for code, (label_id, label_en) in codes:
            rows.append(CodebookRow(key, kind, *text, code=code, label_id=label_id,
                                    label_en=label_en))

    def options(question: Mapping[str, Any]) -> list[tuple[Any, tuple[str, str]]]:
        return [(option.get("code"), _texts_of(option.get("label")))
                for option in question.get("options", ())]

    def visit(question: Mapping[str, Any], within: tuple[str, str] = ("", "")) -> None:
        kind = str(question.get("type", ""))
        text = _joined(within, _texts_of(question.get("label")))
        if kind == "note":  # text to read, no answer
            return
        if kind == "group":
            for sub in question.get("questions", ()):
                visit(sub, text)
        elif kind == "matrix":
            named = {item.get("code"): _texts_of(item.get("label"))
                     for item in question.get("scale_labels", ())}
            low, high = question.get("min"), question.get("max")
            scale = ([(code, named.get(code, (str(code), str(code))))
                      for code in range(low, high + 1)]
                     if isinstance(low, int) and isinstance(high, int) else list(named.items()))
            columns = [_texts_of(column) for column in question.get("columns", ())]
            for row in question.get("rows", ()):
                row_text = _joined(text, _texts_of(row.get("label")))
                for index, name in enumerate(("key", "key_a", "key_b")):
                    if row.get(name):
                        column = columns[index - 1] if index and len(columns) >= index else ("", "")
                        add(row[name], kind, _joined(row_text, column), question, scale)
        elif kind == "boolean":
            add(question["key"], kind, text, question,
                [(True, ("Ya", "Yes")), (False, ("Tidak", "No"))])
        elif kind == "acknowledge":
            add(question["key"], kind, text, question, [(True, ("OK", "OK"))])
        elif question.get("key"):
            add(question["key"], kind, text, question, options(question))

    for section in (definition or {}).get("sections", ()):
        for question in section.get("questions", ()):
            visit(question)
    return rows


def _answer(labels: Mapping[str, Any], key: str, fallback: str | None = None) -> str:
    return labels.get("answers", {}).get(key) or fallback or key


def program_name(labels: Mapping[str, Any], program_id: int | str) -> str:
    return labels.get("programs", {}).get(str(program_id)) or f"Kejuruan #{program_id}"


def cohort_name(labels: Mapping[str, Any], cohort_id: int | str) -> str:
    return labels.get("cohorts", {}).get(str(cohort_id)) or f"Angkatan #{cohort_id}"


def gender_name(gender: str) -> str:
    return GENDER_NAMES.get(gender, gender)


# An indicator whose inputs the wave's questionnaire lacks (shared.indicator_inputs).
NOT_COLLECTED_NOTE = "tidak dikumpulkan oleh kuesioner ini"
# The indicators of the API by their Indonesian names (the reports are in Indonesian).
INDICATOR_NAMES = {
    "status_share": "Status alumni",
    "absorption_rate": "Tingkat keterserapan",
    "employed_within_6_months": "Terserap dalam 6 bulan",
    "waiting_months_median": "Median masa tunggu",
    "waiting_months_mean": "Rata-rata masa tunggu",
    "waiting_bins": "Sebaran masa tunggu",
    "income_median": "Median pendapatan",
    "above_minimum_wage": "Pendapatan setara/di atas UMK",
    "relevance_share": "Pekerjaan erat dengan pelatihan",
    "local_absorption": "Bekerja di daerah sendiri",
    "certificate_share": "Memiliki sertifikat kompetensi",
    "competency_gap": "Kesenjangan kompetensi",
    "training_eval": "Evaluasi pelatihan",
    "job_search_channels": "Saluran pencarian kerja",
}


def not_collected_sentence(indicators: Mapping[str, Any]) -> str:
    """The indicators the questionnaire does not collect, in one Indonesian sentence, or ""."""
    names = [INDICATOR_NAMES.get(name, name) for name in indicators.get("not_collected") or ()]
    if not names:
        return ""
    return ("Kuesioner gelombang ini tidak menanyakan masukan untuk indikator berikut, "
            "sehingga indikator ini tidak dikumpulkan oleh kuesioner ini (bukan nol): "
            + ", ".join(names) + ".")

KEY_FIGURES = (
    Figure(("response_rate",), "Tingkat respons (n / N)", SHARE),
    Figure(("net_response_rate",), "Tingkat respons bersih (n / (N - U))", SHARE),
    Figure(("absorption_rate",), "Tingkat keterserapan (bekerja + wiraswasta)", SHARE),
    Figure(("employed_within_6_months",), "Terserap dalam 6 bulan", SHARE),
    Figure(("waiting_months_median",), "Median masa tunggu (bulan)", MONTHS),
    Figure(("income_median",), "Median pendapatan per bulan (Rp)", RUPIAH),
    Figure(("above_minimum_wage",), "Pendapatan setara/di atas UMK", SHARE),
    Figure(("relevance_share",), "Pekerjaan erat dengan pelatihan", SHARE),
    Figure(("local_absorption",), "Bekerja di Kota Bontang", SHARE),
    Figure(("certificate_share",), "Memiliki sertifikat kompetensi", SHARE),
)


def indicator_groups(labels: Mapping[str, Any]) -> list[IndicatorGroup]:
    """The themes of docs/indicators.md, one workbook sheet each, with Indonesian names.
    `labels["inputs"]`: the questionnaire's indicator inputs (default blk-tracer v1's), which
    name its competencies, training aspects and job-search channels."""
    inputs: IndicatorInputs = labels.get("inputs") or V1_INPUTS
    by_path = {figure.path[0]: figure for figure in KEY_FIGURES}
    channels = inputs.job_search_channels.options if inputs.job_search_channels else ()
    return [
        IndicatorGroup("status", "Status alumni", tuple(
            Figure(("status_share", str(code)),
                   _answer(labels, inputs.option_key("status", code), f"Status {code}"), SHARE)
            for code in STATUS_CODES
        )),
        IndicatorGroup("absorption", "Keterserapan & masa tunggu", (
            by_path["absorption_rate"],
            by_path["employed_within_6_months"],
            by_path["waiting_months_median"],
            Figure(("waiting_months_mean",), "Rata-rata masa tunggu (bulan)", MONTHS),
            *(Figure(("waiting_bins", label), f"Masa tunggu {WAITING_BIN_NAMES[label]}", COUNT)
              for label, _ in WAITING_BINS),
        )),
        IndicatorGroup("income", "Pendapatan & UMK", (
            by_path["income_median"], by_path["above_minimum_wage"],
        )),
        IndicatorGroup("relevance", "Relevansi & lokasi kerja", (
            by_path["relevance_share"], by_path["local_absorption"],
        )),
        IndicatorGroup("certificates", "Sertifikat", (by_path["certificate_share"],)),
        IndicatorGroup("competency", "Kesenjangan kompetensi", tuple(
            Figure(("competency_gap", competency.name), _answer(labels, competency.a), GAP)
            for competency in inputs.competencies
        )),
        IndicatorGroup("training_eval", "Evaluasi pelatihan", tuple(
            Figure(("training_eval", item), _answer(labels, item), RATING)
            for item in inputs.training_eval
        )),
        IndicatorGroup("channels", "Saluran pencarian kerja", tuple(
            Figure(("job_search_channels", code), _answer(labels, inputs.channel_key(code)),
                   SHARE)
            for code in channels
        )),
        IndicatorGroup("dispositions", "Disposisi & respons", (
            Figure(("targets",), "Populasi sasaran (N)", COUNT),
            *(Figure(("dispositions", key), f"{name} ({code})", COUNT)
              for key, name, code in DISPOSITIONS),
            by_path["response_rate"],
            by_path["net_response_rate"],
        )),
    ]


def report_groups(
    cells: Iterable[tuple[CellKey, Cell]],
    labels: Mapping[str, Any],
    minimum_wage: MinimumWage,
    *,
    breakdowns: Iterable[str] = ("program", "cohort", "gender"),
    rule: Disclosure | None = None,
    unsuppressed: bool = False,
) -> list[ReportGroup]:
    """Every alumnus of the cells, then each program, cohort and gender, through the
    small-group rule `rule`: that of the whole wave's cells, which must be given when
    `cells` are a filtered part of the wave (default: the rule of `cells`, right when they
    are the whole wave). `unsuppressed` (an admin's audited export): the figures as they are.
    """
    keyed = list(cells)
    if rule is None and not unsuppressed:
        rule = Disclosure(keyed)

    inputs: IndicatorInputs = labels.get("inputs") or V1_INPUTS

    def figures(group: list[tuple[CellKey, Cell]], **options: Any) -> dict[str, Any]:
        computed = compute(group, **options, inputs=inputs)
        return computed if rule is None or unsuppressed else rule.suppress(
            computed, (key for key, _ in group))

    groups = [ReportGroup(OVERALL, "Semua responden",
                          figures(keyed, minimum_wage=minimum_wage))]
    # A cohort label ("Angkatan 1") repeats across programs: name its program too.
    program_of_cohort = {key.cohort_id: key.program_id for key, _ in keyed}
    for by in breakdowns:
        for value, indicators in breakdown(keyed, by, minimum_wage=minimum_wage,
                                           figures=figures).items():
            if by == "program":
                name = program_name(labels, value)
            elif by == "cohort":
                name = (f"{cohort_name(labels, value)} "
                        f"({program_name(labels, program_of_cohort[int(value)])})")
            else:
                name = gender_name(str(value))
            groups.append(ReportGroup(BREAKDOWN_NAMES[by], name, indicators))
    return groups


def scope_in_words(
    labels: Mapping[str, Any],
    *,
    program: int | None = None,
    cohort: int | None = None,
    gender: str | None = None,
) -> str:
    parts = []
    if program is not None:
        parts.append(f"Kejuruan: {program_name(labels, program)}")
    if cohort is not None:
        parts.append(f"Angkatan: {cohort_name(labels, cohort)}")
    if gender is not None:
        parts.append(f"Jenis kelamin: {gender_name(gender)}")
    return "; ".join(parts)


def figure_note(figure: Figure, indicators: Mapping[str, Any]) -> str:
    """Why a figure shows no number, or ""; the same words in every format."""
    node = figure.of(indicators)
    if figure.path[0] in (indicators.get("not_collected") or ()):
        return NOT_COLLECTED_NOTE
    if indicators.get("suppressed") or (isinstance(node, Mapping) and node.get("suppressed")):
        return SUPPRESSED_NOTE
    if figure.unit == COUNT and node is None:  # a count is None only when suppressed
        return SUPPRESSED_NOTE
    if not isinstance(node, Mapping) or node.get("value") is not None:
        return ""
    if figure.path == ("above_minimum_wage",) and indicators.get("minimum_wage") is None:
        return "UMK tahun gelombang belum diatur"
    if not node.get("n"):
        return "tidak ada data"
    if node.get("small_n") or indicators.get("small_n"):
        return SUPPRESSED_NOTE
    return ""
