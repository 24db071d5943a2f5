"""The PDF's AAPOR response rates and non-response bias check (Indonesian, as the report).

Drawn with the report's own page, table and bar-chart helpers (`pdf`); the figures come
from `response_rates` (read with the rest of the report's input) and `bias_checks` (the
report's cells, through the same small-group rule: a hidden category shows no share and its
breakdown no test). The same words as the dashboard's (`dashboard_rates`), in Indonesian.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from services.analytics.aapor import CODES
from services.analytics.bias_checks import BreakdownCheck, bias_checks, verdict
from services.analytics.cells import Cell, CellKey
from services.analytics.disclosure import Disclosure
from services.analytics.numbers import decimal, percent, signed, whole
from services.analytics.reports.content import cohort_name, gender_name, program_name
from services.analytics.response_rates import ResponseRates

if TYPE_CHECKING:
    from services.analytics.reports.pdf import _Report

RATES = (
    ("rr1", "RR1", "I / D"),
    ("rr2", "RR2", "(I + P) / D"),
    ("rr3", "RR3", "I / ((I+P) + (R+NC+O) + e(UH+UO))"),
    ("rr4", "RR4", "(I+P) / ((I+P) + (R+NC+O) + e(UH+UO))"),
    ("coop1", "COOP1", "I / ((I + P) + R + O)"),
    ("ref1", "REF1", "R / D"),
    ("con1", "CON1", "((I + P) + R + O) / D"),
)
DISPOSITION_NAMES = {"I": "Lengkap", "P": "Sebagian", "R": "Menolak", "NE": "Tidak memenuhi syarat",
                     "NC": "Tidak ada kontak", "O": "Lainnya",
                     "UO": "Tidak diketahui: semua saluran gagal",
                     "UH": "Tidak diketahui: belum terjangkau"}
MODE_NAMES = {"web": "Web (tautan sendiri)", "api": "API", "paper": "Kertas",
              "phone": "Telepon", "event": "Hari tracer (kios)"}
BREAKDOWN_NAMES = {"program": "Kejuruan", "cohort": "Angkatan", "gender": "Jenis kelamin"}


def _rate(value: Fraction | None) -> str:
    return "-" if value is None else percent(float(value))


def e_text(rates: ResponseRates) -> str:
    counts = rates.counts
    known = sum(counts[code] for code in ("I", "P", "R", "NC", "O"))
    if known + counts["NE"] == 0:
        return ("Belum ada sasaran yang kelayakannya diketahui, sehingga semua kasus yang "
                "kelayakannya tidak diketahui dihitung layak (e = 1).")
    return (f"e adalah bagian yang layak di antara sasaran yang kelayakannya diketahui: "
            f"{whole(known)} dari {whole(known + counts['NE'])} "
            f"(tidak memenuhi syarat: {whole(counts['NE'])}), e = "
            f"{decimal(float(rates.rates.e or 0), 3)}.")


def rates_section(pdf: _Report, rates: ResponseRates) -> None:
    """"Tingkat respons (AAPOR)": the rates with their formulas, e and its basis, the final
    dispositions and the rate by mode."""
    pdf.subheading("Tingkat respons (AAPOR)", room=70)
    pdf.paragraph(
        "Setiap sasaran memiliki satu disposisi akhir, yaitu bukti terkuat dari respons, "
        "penolakan, pesan, dan upaya kontaknya (telepon, WhatsApp). D adalah semua sasaran "
        "kecuali yang tidak memenuhi syarat (NE). Dibaca dari catatan saat laporan dibuat.",
        size=9)
    found = rates.rates
    rows = [(label, formula, _rate(getattr(found, name))) for name, label, formula in RATES]
    pdf.grid(("Ukuran", "Rumus", "Nilai"), rows, (20, 70, 20), ("LEFT", "LEFT", "RIGHT"))
    pdf.paragraph(e_text(rates), size=9)
    pdf.grid(("Disposisi akhir", "Kode", "Jumlah"),
             [*((DISPOSITION_NAMES[code], code, whole(rates.counts[code])) for code in CODES),
              ("D (semua kecuali NE)", "", whole(rates.d))],
             (70, 14, 18), ("LEFT", "CENTER", "RIGHT"))
    pdf.grid(("Cara pengisian", "Respons lengkap", "% dari D"),
             [(MODE_NAMES.get(mode, mode), whole(count), _rate(rates.rate_by_mode[mode]))
              for mode, count in rates.completes_by_mode.items()],
             (60, 25, 20), ("LEFT", "RIGHT", "RIGHT"))


def name_of(labels: Mapping[str, Any], by: str, key: str) -> str:
    if by == "program":
        return program_name(labels, key)
    if by == "cohort":
        return cohort_name(labels, key)
    return gender_name(key)


def _p_text(p: float) -> str:
    return "< 0,001" if p < 0.001 else decimal(p, 3)


def test_text(check: BreakdownCheck) -> str:
    name = BREAKDOWN_NAMES[check.by]
    if check.hidden:
        return f"{name}: uji tidak ditampilkan (ada kelompok dengan kurang dari 5 responden)."
    if not check.tested:
        return f"{name}: tidak ada yang dapat diuji."
    return (f"{name}: chi-kuadrat {decimal(check.check.chi_square or 0.0, 1)}, "
            f"db {check.check.degrees_of_freedom}, p = {_p_text(check.check.p_value or 0.0)}.")


def weights_sentence(checks: Sequence[BreakdownCheck], absorption: Mapping[str, Any]) -> str:
    """Whether the weights are needed and how far they moved the absorption rate."""
    said, differing = verdict(checks)
    which = ", ".join(BREAKDOWN_NAMES[by].lower() for by in differing)
    opening = {
        "needed": f"Responden berbeda dari sasaran menurut {which} (p < 0,05): gunakan angka "
                  "tertimbang, yang mengoreksi perbedaan itu.",
        "not_corrected": f"Responden berbeda dari sasaran menurut {which} (p < 0,05), yang "
                         "tidak dikoreksi oleh bobot (per kejuruan dan angkatan): bacalah "
                         "setiap angka dengan hati-hati.",
        "not_needed": "Responden tidak berbeda secara bermakna dari sasaran menurut kejuruan, "
                      "angkatan, maupun jenis kelamin: bobot tidak diperlukan, meskipun tetap "
                      "ditampilkan.",
        "unknown": "Responden tidak dapat dibandingkan dengan sasaran pada setiap rincian "
                   "(kelompok kecil atau belum ada responden).",
    }[said]
    value, weighted = absorption.get("value"), absorption.get("weighted")
    if value is None or weighted is None:
        return opening
    return (f"{opening} Bobot menggeser tingkat keterserapan dari {percent(value)} menjadi "
            f"{percent(weighted)} ({signed(100 * (weighted - value))} poin).")


def bias_section(pdf: _Report, cells: Iterable[tuple[CellKey, Cell]], rule: Disclosure | None,
                 labels: Mapping[str, Any], absorption: Mapping[str, Any]) -> None:
    """"Apakah responden mewakili sasaran?": per program, cohort and gender the shares of
    targets and respondents, their difference, the chi-square test, a chart, the sentence."""
    # Imported here: pdf imports this module for its sections.
    from services.analytics.reports.pdf import _bar_chart

    checks = bias_checks(cells, rule)
    pdf.subheading("Apakah responden mewakili sasaran?", room=60)
    pdf.paragraph(weights_sentence(checks, absorption))
    pdf.note("Uji chi-kuadrat kesesuaian: persentase responden per kategori dibandingkan "
             "dengan persentase seluruh sasaran. p < 0,05: responden berbeda dari sasaran.")
    for check in checks:
        if check.single:  # one program (say): nothing to compare
            continue
        rows, bars = [], []
        for category in sorted(check.check.categories,
                               key=lambda c: name_of(labels, check.by, c.name).casefold()):
            label = name_of(labels, check.by, category.name)
            if category.name in check.hidden:
                rows.append((label, "n<5", "n<5", "n<5"))
                bars.append((label, None, None, "n<5", False))
                continue
            respondent, difference = category.respondent_share, category.difference_points
            rows.append((label, percent(category.population_share),
                         percent(respondent) if respondent is not None else "-",
                         signed(difference) if difference is not None else "-"))
            bars.append((label, respondent, None,
                         f"{percent(respondent) if respondent is not None else '-'} vs "
                         f"{percent(category.population_share)}", False))
        pdf.grid((BREAKDOWN_NAMES[check.by], "% sasaran", "% responden", "Selisih (poin)"),
                 rows, (60, 22, 22, 24), ("LEFT", "RIGHT", "RIGHT", "RIGHT"))
        pdf.note(test_text(check))
        _bar_chart(pdf, bars, scale=1.0,
                   axis=tuple((tick / 100, f"{tick}%") for tick in (0, 25, 50, 75, 100)),
                   title=f"Persentase responden (vs sasaran) menurut "
                         f"{BREAKDOWN_NAMES[check.by].lower()}")
