"""The decent-work presets page and the wage page's region list (issue 18, points 3 and 4):
admin only, CSRF, Indonesian, audited, and saving queues the recompute it needs."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from services.analytics.decent import IKU2
from services.analytics.decent_store import presets
from shared import db
from shared.auth import create_token, create_user
from shared.models import AuditEntry, MinimumWage
from tests.integration.test_web_access import csrf_of, login

PASSWORDS = {role: f"kata-sandi-{role}-18" for role in ("operator", "admin")}
BLK_FORM = {
    "pay_percent": "110", "contract_required": "1", "further_study": "50",
    "employee.full_months": "3", "employee.partial_months": "12", "employee.full": "100",
    "employee.partial_paid": "80", "employee.partial_unpaid": "50",
    "self_employed.full_months": "6", "self_employed.partial_months": "12",
    "self_employed.full": "100", "self_employed.partial_paid": "80",
    "self_employed.partial_unpaid": "60",
}


@pytest.fixture()
def staff(analytics_app) -> None:
    with analytics_app.app_context():
        session = db.session()
        for role, password in PASSWORDS.items():
            create_user(session, f"{role}18", password, role)
        session.commit()


def signed_in(app, role: str) -> Any:
    client = app.test_client()
    assert login(client, f"{role}18", PASSWORDS[role]).status_code == 302
    return client


def test_the_decent_work_page_is_the_admins_and_saves_the_blk_rule(analytics_app,
                                                                    staff) -> None:
    assert signed_in(analytics_app, "operator").get(
        "/settings/decent-work").status_code == 403
    client = signed_in(analytics_app, "admin")
    html = client.get("/settings/decent-work").get_data(as_text=True)
    assert "Pekerjaan layak" in html and "Kepmendiktisaintek 358/M/KEP/2025" in html
    assert "tafsiran Jejak" in html  # the rows to check against the decree say so
    token = csrf_of(html)
    assert client.post("/settings/decent-work", data=BLK_FORM).status_code == 400  # no CSRF
    assert signed_in(analytics_app, "operator").post(
        "/settings/decent-work", data={**BLK_FORM, "csrf_token": token}).status_code == 403
    bad = client.post("/settings/decent-work", data={
        **BLK_FORM, "employee.full_months": "13", "pay_percent": "banyak",
        "csrf_token": token})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "Pendapatan di atas (persen dari upah minimum): bilangan bulat dari 1 sampai 1000" \
        in text
    assert "Karyawan: bobot penuh bila masa tunggu kurang dari (bulan): tidak boleh lebih " \
        "dari batas kedua" in text
    saved = client.post("/settings/decent-work", data={**BLK_FORM, "csrf_token": token},
                        follow_redirects=True)
    assert saved.status_code == 200
    assert "Aturan pekerjaan layak BLK disimpan." in saved.get_data(as_text=True)
    with analytics_app.app_context():
        session = db.session()
        iku2, blk = presets(session)
        assert iku2 == IKU2  # not editable, untouched
        assert (blk.pay_percent, blk.contract_required, blk.further_study,
                blk.employee.full_months, blk.employee.partial_unpaid) == (110, True, 50, 3, 50)
        entry = session.scalar(select(AuditEntry).where(
            AuditEntry.action == "decent_work.preset_set"))
        assert entry is not None and entry.target == "blk" and entry.actor == "admin18"


def test_the_wage_page_picks_regions_by_their_bps_names(analytics_app, staff) -> None:
    client = signed_in(analytics_app, "admin")
    html = client.get("/minimum-wages").get_data(as_text=True)
    assert '<option value="city:6472"' in html and "Kota Samarinda (6472)" in html
    assert '<option value="province:31"' in html and "DKI Jakarta (31)" in html
    token = csrf_of(html)
    assert client.post("/minimum-wages", data={
        "year": "2026", "region": "city:6472", "level": "province", "region_code": "",
        "region_name": "", "amount": "3.500.000", "source": "Kepgub Kaltim",
        "csrf_token": token}).status_code == 302
    # Without a pick, a typed BPS code is named from the same list (the API does too).
    with analytics_app.app_context():
        session = db.session()
        token = create_token(session, "admin")
        session.commit()
    response = analytics_app.test_client().put(
        "/api/v1/minimum-wages", headers={"Authorization": f"Bearer {token}"},
        json={"year": 2026, "amount": 5_000_000, "level": "province", "region_code": "31",
              "source": "Kepgub DKI"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["region_name"] == "DKI Jakarta"
    with analytics_app.app_context():
        rows = [(row.level, row.region_code, row.region_name) for row in
                db.session().scalars(select(MinimumWage).order_by(MinimumWage.id))]
    assert rows == [("city", "6472", "Kota Samarinda"), ("province", "31", "DKI Jakarta")]


def test_saving_a_wage_says_the_waves_of_its_year_are_recomputed(analytics_app,
                                                                 staff) -> None:
    from datetime import UTC, datetime

    from services.survey import catalog
    from shared.models import Wave

    with analytics_app.app_context():
        session = db.session()
        questionnaire_id = catalog.ensure_default(session).id
        session.add(Wave(slug="tracer-2026-decent", title="Tracer 2026", status="open",
                         questionnaire_id=questionnaire_id,
                         opened_at=datetime(2026, 1, 10, 2, 0, tzinfo=UTC)))
        session.commit()
    client = signed_in(analytics_app, "admin")
    token = csrf_of(client.get("/minimum-wages").get_data(as_text=True))
    form = {"region": "province:64", "amount": "3.762.431", "source": "Kepgub",
            "csrf_token": token}
    html = client.post("/minimum-wages", data={**form, "year": "2026"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Angka 1 gelombang sedang dihitung ulang dengan nilai ini" in html
    html = client.post("/minimum-wages", data={**form, "year": "2025"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Upah minimum disimpan" in html and "sedang dihitung ulang" not in html
    html = client.post("/settings/decent-work", data={**BLK_FORM, "csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "Angka 1 gelombang sedang dihitung ulang dengan nilai ini" in html
