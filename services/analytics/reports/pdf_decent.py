"""The PDF's decent-work section and which wages incomes were compared with (Indonesian, as
the report; the same figures as the dashboard's `dashboard_decent`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from services.analytics.numbers import percent, whole
from services.analytics.reports.content import SUPPRESSED_NOTE

if TYPE_CHECKING:
    from services.analytics.reports.pdf import _Report

PRESET_NAMES = {"iku2": "IKU 2 (Kepmendiktisaintek 358/M/KEP/2025)", "blk": "Aturan BLK"}


def decent_section(pdf: _Report, overall: Mapping[str, Any]) -> None:
    """"Pekerjaan layak": the mean weight per preset with its intervals, and the count of
    incomes compared with each kind of minimum wage."""
    pdf.subheading("Pekerjaan layak", room=50)
    presets = overall.get("decent_work") or {}
    if not any(node.get("n") or node.get("suppressed") for node in presets.values()):
        pdf.paragraph("Belum dihitung: perlu upah minimum tahun gelombang ini, lalu penghitungan "
                      "ulang.", size=9)
        return
    pdf.paragraph(
        "Rata-rata bobot per responden yang menjawab status: 1 bila bekerja dalam 6 bulan "
        "dengan pendapatan di atas 1,2 x upah minimum tempat bekerja, 0,8 bila dalam 12 bulan "
        "dan di atas 1,2 x, 0,6 bila dalam 12 bulan dan tidak di atas, selain itu 0 (IKU 2). "
        "Baris wiraswasta dan studi lanjut adalah tafsiran Jejak atas keputusan tersebut: "
        "periksa terhadap naskah keputusan sebelum laporan resmi. Interval 95%: pendekatan "
        "normal; tertimbang: varians berstrata.", size=9)
    rows = []
    for name, node in presets.items():
        label = PRESET_NAMES.get(name, name)
        if node.get("suppressed") or (node.get("value") is None and node.get("n")):
            rows.append((label, SUPPRESSED_NOTE, "", "", ""))
            continue
        rows.append((label, _pct(node.get("value")),
                     _interval(node.get("ci_low"), node.get("ci_high")),
                     _pct(node.get("weighted")),
                     whole(node["n"]) if node.get("n") is not None else "-"))
    pdf.grid(("Aturan", "Nilai", "95% CI", "Tertimbang", "n"), rows, (70, 20, 30, 22, 12),
             ("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"))
    cases = overall.get("minimum_wage_applied") or {}
    if cases.get("umk") is not None and (cases["umk"] or cases["ump"]):
        pdf.note(f"Pendapatan dibandingkan dengan UMK kabupaten/kota tempat bekerja: "
                 f"{whole(cases['umk'])}; UMP provinsi tempat bekerja: {whole(cases['ump'])}; "
                 f"upah minimum wilayah BLK: {whole(cases['centre'])}.")


def _pct(value: float | None) -> str:
    return percent(value, 1) if value is not None else "-"


def _interval(low: float | None, high: float | None) -> str:
    return f"{percent(low, 1)}-{percent(high, 1)}" if low is not None and high is not None \
        else "-"
