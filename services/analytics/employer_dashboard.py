"""The dashboard's "Pengguna lulusan" section: what employers say about the wave's alumni.

Built from the same figures as the API, the PDF chapter and the XLSX sheet
(services/analytics/employer_figures.py, through the small-group rule), as of the wave's
newest refresh; the template partial is analytics/_employers.html.
"""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.analytics import charts
from services.analytics.employer_figures import employer_figures, suppress
from services.analytics.employer_indicators import ASPECTS
from services.analytics.employer_tables import ASPECT_NAMES, share_text, tables
from shared.models import IndicatorSnapshot, Wave


def employer_section(session: Session, wave: Wave | None, filters: Any,
                     page: dict[str, Any]) -> dict[str, Any] | None:
    """The section's data; None before the wave's first refresh, when the page is filtered
    (the employer figures are the whole wave's: under a program or cohort they would read
    as that group's), when the page hides the wave's figures, and when nobody could be
    asked and nobody answered (a centre not running the employer survey)."""
    if wave is None or any((filters.program, filters.cohort, filters.gender)) \
            or page.get("overall", {}).get("suppressed") or session.scalar(
                select(IndicatorSnapshot.id).where(IndicatorSnapshot.wave_id == wave.id)
                .limit(1)) is None:
        return None
    figures = employer_figures(session, wave.id)
    if not figures["ratings"] and not figures["response_rate"]["invited"] \
            and not figures["companies_answered"]:
        return None
    figures = suppress(figures)
    locale = str(get_locale() or "id")
    overall = figures["satisfaction"]
    rows = [charts.Bar(_(ASPECT_NAMES[aspect]), overall[aspect]["value"],
                       overall[aspect]["ci_low"], overall[aspect]["ci_high"],
                       overall[aspect]["n"],
                       f"{share_text(overall[aspect], locale)} · n = {overall[aspect]['n']}")
            for aspect in ASPECTS]
    chart = charts.bar_chart(
        rows, chart_id="chart-employer-satisfaction",
        title=_("Supervisors rating the alumni good or very good"),
        desc="; ".join(f"{row.label}: {row.text}" for row in rows), colour=charts.GREEN)
    rate = figures["response_rate"]
    return {
        "figures": figures,
        "chart": chart,
        "tables": tables(figures, _, locale),
        "tiles": [
            (_("Employer response rate"), share_text(rate, locale),
             _("%(count)s of %(n)s companies", count=rate["count"] or 0, n=rate["invited"])),
            (_("Ratings of alumni"), str(figures["ratings"]), ""),
            (_("Would hire another graduate"), share_text(figures["hire_again"], locale),
             f"n = {figures['hire_again']['n']}"),
        ],
    }
