"""The staff dashboard through the real analytics app: figures, charts, filters, refresh.

The wave `ts-2026` of the `survey` fixture (5 targets) gets 8 more welding targets and
answers whose indicators are computed by hand below; the snapshot is written by the real
full refresh. A second, closed wave `ts-2025` has snapshots written directly, for the trend.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from services.analytics import charts, refresh, wages
from services.analytics.cells import Cell, CellKey, cells_to_json, merge
from services.analytics.dashboard_queries import Filters, cumulative_by_day, response_progress
from shared import db
from shared.auth import create_user
from shared.models import (
    Alumnus,
    AuditEntry,
    Cohort,
    IndicatorSnapshot,
    MinimumWage,
    Program,
    Response,
    Wave,
    WaveTarget,
)
from tests.integration.test_web_access import csrf_of, login

TIMEZONE = "Asia/Makassar"
MINIMUM_WAGE = 3_500_000
HOSTILE_NAME = "Tata <script>alert(1)</script> Boga"


def employed(f8: int, months: int, income: int, **more: Any) -> dict[str, Any]:
    timing = {"f504": 1, "f502": months} if months <= 6 else {"f504": 2, "f506": months}
    return {"consent": True, "f8": f8, **timing, "f505": income, **more}


# (program, answers or None for a partial response, submitted at UTC). Local days (WITA,
# UTC+8): 17:00Z on 1 March is 2 March; 23:30Z on 5 March is 6 March.
DAY_1 = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)
DAY_2 = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
DAY_3 = datetime(2026, 3, 5, 23, 30, tzinfo=UTC)
WELDING_ANSWERS = [
    (employed(1, 2, 4_500_000, f14=1, f5a2=1, f4=["f404", "f411"], blk_cert=1,
              f1761=3, f1762=5, blk_eval_instructor=5), DAY_1),
    (employed(1, 5, 3_000_000, f14=4, f5a2=2, f4=["f404"], blk_cert=2,
              f1761=4, f1762=4), DAY_1),
    (employed(3, 9, 5_000_000, f14=2, f5a2=1, f4=["f412"], f1761=2, f1762=4), DAY_2),
    (employed(1, 1, 3_800_000, f14=3, f5a2=1, f4=["f411"], f1761=3, f1762=4), DAY_2),
    ({"consent": True, "f8": 4}, DAY_2),
    ({"consent": True, "f8": 5, "f4": ["f404"]}, DAY_3),
    (None, None),  # started, not finished
]
COOKING_ANSWERS = [
    (employed(1, 3, 2_000_000, f14=5, f5a2=3, f4=["f403"]), DAY_3),
    ({"consent": True, "f8": 5}, DAY_3),
]


@pytest.fixture()
def dashboard(survey, analytics_app) -> dict[str, Any]:
    """ts-2026 with 13 targets (11 welding, 2 cooking), 8 complete answers and 1 partial,
    refreshed; ts-2025 closed with two snapshots; staff users; the minimum wage."""
    with analytics_app.app_context():
        session = db.session()
        wave = session.get(Wave, survey["wave_id"])
        welding = session.scalar(select(Program).where(Program.name == "Teknik Las"))
        cooking = session.scalar(select(Program).where(Program.name == "Tata Boga"))
        cooking.name = HOSTILE_NAME
        welding_cohort = session.scalar(select(Cohort).where(Cohort.program_id == welding.id))
        for index in range(8):
            alumnus = Alumnus(registration_no=f"REG-W{index:02d}", full_name=f"Las {index}",
                              gender="LP"[index % 2], birth_date=date(1999, 5, index + 1),
                              cohort_id=welding_cohort.id)
            session.add(alumnus)
            session.flush()
            session.add(WaveTarget(wave_id=wave.id, alumnus_id=alumnus.id,
                                   program_id=welding.id, cohort_id=welding_cohort.id,
                                   gender=alumnus.gender))
        session.flush()
        targets = session.execute(
            select(WaveTarget.alumnus_id, WaveTarget.program_id)
            .where(WaveTarget.wave_id == wave.id).order_by(WaveTarget.alumnus_id)
        ).all()
        by_program = {
            program_id: [alumnus for alumnus, program in targets if program == program_id]
            for program_id in (welding.id, cooking.id)
        }
        assert (len(by_program[welding.id]), len(by_program[cooking.id])) == (11, 2)
        for program_id, answered in ((welding.id, WELDING_ANSWERS),
                                     (cooking.id, COOKING_ANSWERS)):
            for alumnus_id, (answers, submitted_at) in zip(by_program[program_id], answered,
                                                           strict=False):
                session.add(Response(
                    wave_id=wave.id, alumnus_id=alumnus_id,
                    questionnaire_id=wave.questionnaire_id,
                    status="complete" if answers else "partial",
                    answers=answers or {"consent": True}, submitted_at=submitted_at,
                ))
        session.add(MinimumWage(year=wages.wave_year(wave, TIMEZONE), amount=MINIMUM_WAGE,
                                source="SK Gubernur Kaltim"))
        create_user(session, "vina", "kata-sandi-vina", "viewer")
        create_user(session, "ani", "kata-sandi-ani", "operator")
        create_user(session, "adi", "kata-sandi-adi", "admin")
        # The previous wave: closed, an outdated snapshot and a newer one.
        old_wave = Wave(slug="ts-2025", title="Tracer 2025", status="closed",
                        questionnaire_id=wave.questionnaire_id,
                        opened_at=datetime(2025, 3, 1, tzinfo=UTC),
                        created_at=datetime(2025, 2, 1, tzinfo=UTC))
        session.add(old_wave)
        session.flush()
        key = CellKey(welding.id, welding_cohort.id, "L")
        working = Cell.of_response(employed(1, 2, 4_000_000))
        seeking = Cell.of_response({"f8": 5})
        outdated = merge([working, seeking, seeking, seeking, seeking])  # 20%
        newest = merge([working, working, working, working, seeking])  # 80%
        newest.unknown = 5  # 10 targets, 5 complete: response rate 50%
        for cell in (outdated, newest):
            session.add(IndicatorSnapshot(
                wave_id=old_wave.id, responses_included=5,
                data={"cells": cells_to_json([(key, cell)]),
                      "labels": {"programs": {str(welding.id): "Teknik Las"},
                                 "cohorts": {str(welding_cohort.id): "A1"}}}))
            session.flush()
        session.commit()
        snapshot = refresh.full_refresh(db.get_db().session_factory, wave.id)
        assert snapshot is not None and snapshot.responses_included == 8
    return {**survey, "welding_id": welding.id, "cooking_id": cooking.id}


def signed_in(app, username: str, password: str):
    client = app.test_client()
    assert login(client, username, password).status_code == 302
    return client


def test_the_dashboard_shows_the_hand_computed_figures(analytics_app, dashboard) -> None:
    client = signed_in(analytics_app, "vina", "kata-sandi-vina")
    page = client.get("/?wave=ts-2026")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'lang="id"' in html
    # Absorption: 5 of 8 respondents work (f8 ∈ {1, 3}); weighted by program × cohort:
    # (11/6·4 + 2/2·1) / (11/6·6 + 2/2·2) = 8.333/13 = 64.1%.
    assert "62,5% · n = 8" in html
    assert "64,1%" in html
    # Response rate 8 of 13 targets; income median of 2.0, 3.0, 3.8, 4.5, 5.0 million.
    assert "61,5% · n = 13" in html
    assert "Rp 3.800.000" in html
    # At least the minimum wage: 3.8, 4.5 and 5.0 million of 5 incomes.
    assert "60,0% · n = 5" in html
    # Cooking has 2 respondents: nothing of it is shown, not even its count; nor is welding
    # (6), since the whole (8) minus welding would be cooking. Both are named as hidden.
    assert "n &lt; 5 · 1/2" not in html and "· 1/2" not in html
    assert '<th scope="row">Teknik Las</th>' not in html
    hidden = re.search(r'<p class="small muted">[^<]*Teknik Las[^<]*</p>', html)
    assert hidden is not None and "Tata &lt;script&gt;" in hidden.group(0)
    # Charts: inline SVG with a text alternative, and nothing a CSP would block.
    assert html.count("<svg") >= 6
    assert html.count('role="img"') == html.count("<svg")
    assert html.count("<title id=") == html.count("<svg")
    # The only script is the glossary's static file (tap to explain a term); no inline code.
    scripts = re.findall(r"<script[^>]*>", html)
    # (a versioned URL: the start of the file's SHA-256, see shared.web.static_url)
    assert len(scripts) == 1 and "style=" not in html
    assert re.fullmatch(r'<script src="/_jejak/staff\.js\?v=[0-9a-f]{12}" defer>', scripts[0])
    # Labels come from the questionnaire stored for the wave.
    assert "Bekerja (full time/part time)" in html
    assert "internet/iklan online" in html
    # The previous wave's newest snapshot drives the trend, not the outdated one.
    trend = re.search(r'<th scope="row">Tracer 2025 \(ts-2025\)</th><td>([^<]*)</td>'
                      r"<td>([^<]*)</td>", html)
    assert trend is not None
    assert trend.groups() == ("80,0% · n = 5", "50,0% · n = 10")


def test_program_names_are_escaped_everywhere(analytics_app, dashboard) -> None:
    html = signed_in(analytics_app, "vina", "kata-sandi-vina").get("/?wave=ts-2026").get_data(
        as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "Tata &lt;script&gt;alert(1)&lt;/script&gt; Boga" in html


def test_english_on_request(analytics_app, dashboard) -> None:
    html = signed_in(analytics_app, "vina", "kata-sandi-vina").get(
        "/?wave=ts-2026&lang=en").get_data(as_text=True)
    assert 'lang="en"' in html
    assert "Absorption rate" in html and "Job-search channels" in html
    assert "62.5% · n = 8" in html
    assert "Working (full time/part time)" in html  # the questionnaire's English label
    assert "Rp 3,800,000" in html


def test_filters_narrow_every_figure(analytics_app, dashboard) -> None:
    client = signed_in(analytics_app, "vina", "kata-sandi-vina")
    # Welding alone is hidden from a viewer (the whole minus welding is cooking's 2).
    hidden = client.get(f"/?wave=ts-2026&program={dashboard['welding_id']}&lang=en")
    assert "Figures not shown" in hidden.get_data(as_text=True)
    assert "<svg" not in hidden.get_data(as_text=True)
    # An admin's audited unsuppressed view shows it.
    admin = signed_in(analytics_app, "adi", "kata-sandi-adi")
    welding = admin.get(f"/?wave=ts-2026&program={dashboard['welding_id']}&unsuppressed=1"
                        ).get_data(as_text=True)
    assert "66,7% · n = 6" in welding  # 4 of 6 welding respondents work
    assert "62,5% · n = 8" not in welding
    # With the finite-population correction the interval narrows: 6 of 11 answered.
    plain = admin.get(f"/?wave=ts-2026&program={dashboard['welding_id']}&unsuppressed=1")
    corrected = admin.get(f"/?wave=ts-2026&program={dashboard['welding_id']}&fpc=1"
                          "&unsuppressed=1")
    assert "30,0%–90,3%" in plain.get_data(as_text=True)
    assert "30,0%–90,3%" not in corrected.get_data(as_text=True)
    # Unreadable filters are ignored, not an error. (The women alone are hidden: one of
    # cooking's two respondents is a woman, and so the wave's women minus welding's.)
    women = client.get("/?wave=ts-2026&gender=X&program=nonsense").get_data(as_text=True)
    assert women.count("<svg") >= 6
    nobody = client.get("/?wave=ts-2026&program=999&lang=en")  # a selection of no one
    assert nobody.status_code == 200
    assert "Fewer than 5 respondents" in nobody.get_data(as_text=True)


def test_response_progress_counts_complete_answers_per_local_day(
    analytics_app, dashboard
) -> None:
    with analytics_app.app_context():
        session = db.session()
        daily = response_progress(session, dashboard["wave_id"], Filters(), TIMEZONE)
        assert daily == [(date(2026, 3, 2), 2), (date(2026, 3, 3), 3), (date(2026, 3, 6), 3)]
        cooking = response_progress(session, dashboard["wave_id"],
                                    Filters(program=dashboard["cooking_id"]), TIMEZONE)
        assert cooking == [(date(2026, 3, 6), 2)]
    assert cumulative_by_day(daily)[-1] == (date(2026, 3, 6), 8)
    assert [total for _day, total in cumulative_by_day(daily)] == [2, 5, 5, 5, 8]


def test_a_wave_without_figures_says_so(analytics_app, dashboard) -> None:
    with analytics_app.app_context():
        session = db.session()
        session.add(Wave(slug="ts-2027", title="Tracer 2027", status="open",
                         questionnaire_id=session.get(Wave, dashboard["wave_id"]).questionnaire_id,
                         opened_at=datetime(2027, 1, 1, tzinfo=UTC)))
        session.commit()
    viewer = signed_in(analytics_app, "vina", "kata-sandi-vina")
    page = viewer.get("/?wave=ts-2027&lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "No figures yet" in html and "An operator can compute them" in html
    assert "<svg" not in html
    assert viewer.get("/?wave=no-such-wave").status_code == 404


def test_anonymous_visitors_are_sent_to_the_login(analytics_app, dashboard) -> None:
    page = analytics_app.test_client().get("/?wave=ts-2026")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")


def test_refresh_needs_an_operator(analytics_app, dashboard, monkeypatch) -> None:
    sent: list[tuple[str, list[Any]]] = []
    celery = analytics_app.extensions["celery"]
    monkeypatch.setattr(celery, "send_task",
                        lambda name, args, **options: sent.append((name, args)))

    viewer = signed_in(analytics_app, "vina", "kata-sandi-vina")
    token = csrf_of(viewer.get("/?wave=ts-2026").get_data(as_text=True))
    assert "Refresh now" not in viewer.get("/?wave=ts-2026&lang=en").get_data(as_text=True)
    refused = viewer.post("/refresh", data={"wave": "ts-2026", "csrf_token": token})
    assert refused.status_code == 403
    assert sent == []

    operator = signed_in(analytics_app, "ani", "kata-sandi-ani")
    page = operator.get(f"/?wave=ts-2026&program={dashboard['welding_id']}&lang=en")
    assert "Refresh now" in page.get_data(as_text=True)
    token = csrf_of(page.get_data(as_text=True))
    assert operator.post("/refresh", data={"wave": "ts-2026"}).status_code == 400  # no CSRF
    done = operator.post("/refresh", data={"wave": "ts-2026", "csrf_token": token,
                                           "program": str(dashboard["welding_id"])})
    assert done.status_code == 302
    assert done.headers["Location"] == f"/?wave=ts-2026&program={dashboard['welding_id']}"
    assert sent == [("analytics.refresh", [dashboard["wave_id"]])]
    assert "Refresh requested" in operator.get(done.headers["Location"]).get_data(as_text=True)
    with analytics_app.app_context():
        audit = db.session().scalars(select(AuditEntry).where(
            AuditEntry.action == "analytics.refresh")).all()
    assert [(entry.actor, entry.target) for entry in audit] == [("ani", "ts-2026")]
    assert operator.post("/refresh", data={"wave": "nope", "csrf_token": token}).status_code == 404


def test_charts_escape_data_and_carry_a_text_alternative() -> None:
    hostile = '<script>alert("x")</script> & "quotes"'
    drawings = [
        charts.bar_chart([(hostile, 0.5, 0.3, 0.7, 10)], chart_id="a", title=hostile,
                         desc=hostile, reference=(0.4, hostile)),
        charts.stacked_bar([charts.Stack(hostile, [1, 2], 3)], [(hostile, charts.BLUE),
                                                                 ("b", charts.SKY)],
                           chart_id="b", title=hostile),
        charts.histogram([(hostile, 3)], chart_id="c", title=hostile, axis_label=hostile),
        charts.diverging_bar([(hostile, -0.5, None, None, 7)], chart_id="d", title=hostile),
        charts.line_chart([hostile, "x"], [charts.Series(hostile, [0.2, None])],
                          chart_id="e", title=hostile),
    ]
    for svg in drawings:
        assert "<script>" not in svg and "&lt;script&gt;" in svg
        assert 'role="img"' in svg and "<title id=" in svg and "style=" not in svg
    with pytest.raises(ValueError):
        charts.bar_chart([], chart_id='x" onload="alert(1)', title="t")


def test_a_suppressed_bar_draws_no_share() -> None:
    svg = charts.bar_chart([("Kecil", None, None, None, 3, "n < 5 · 1/3")], chart_id="s",
                           title="t")
    assert svg.count("<rect") == 1  # the empty track only
    assert "n &lt; 5 · 1/3" in svg


def test_response_rates_by_program_show_where_calls_are_needed(analytics_app,
                                                               dashboard) -> None:
    # Welding: 11 targets, 6 complete, 1 partial, 4 never reached: D 11, RR1 6/11 = 54,5 %,
    # RR2 7/11 = 63,6 %, COOP1 6/7 = 85,7 %, CON1 7/11. Cooking: 2 targets, both complete.
    # Both programs are small groups for a viewer (cooking has 2 respondents, and welding
    # is the whole minus cooking): the table is for an admin who asks to see small groups
    # (unsuppressed=1, audited).
    html = signed_in(analytics_app, "adi", "kata-sandi-adi").get(
        "/?wave=ts-2026&unsuppressed=1").get_data(as_text=True)
    assert "Tingkat respons per kejuruan" in html
    welding = re.search(r'<th scope="row">Teknik Las</th>((?:<td>[^<]*</td>){7})', html)
    assert welding is not None
    assert re.findall(r"<td>([^<]*)</td>", welding.group(1)) == [
        "11", "6", "1", "54,5%", "63,6%", "85,7%", "63,6%"]
    viewer = signed_in(analytics_app, "vina", "kata-sandi-vina").get(
        "/?wave=ts-2026").get_data(as_text=True)
    assert "Tingkat respons per kejuruan" not in viewer
    one_program = signed_in(analytics_app, "adi", "kata-sandi-adi").get(
        f"/?wave=ts-2026&unsuppressed=1&program={dashboard['welding_id']}"
    ).get_data(as_text=True)
    assert "Tingkat respons per kejuruan" not in one_program
