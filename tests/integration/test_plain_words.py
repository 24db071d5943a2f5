"""Plain words for staff (issue 14 point 8), through the real apps: the audit log as sentences
in the page's language, the help page for every role, the glossary on the dashboard."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from shared import db
from shared.auth import create_user
from shared.glossary import GLOSSARY
from shared.models import AuditEntry, User
from tests.integration.test_dashboard import dashboard, signed_in  # noqa: F401 (a fixture)
from tests.integration.test_privacy import admin_client  # noqa: F401 (a fixture)

ROLES = ("viewer", "operator", "admin")


def test_the_audit_page_reads_as_sentences_in_the_pages_language(survey_app, survey,
                                                                  admin_client) -> None:  # noqa: F811
    with survey_app.app_context():
        session = db.session()
        session.add_all([
            AuditEntry(actor="Admin", action="alumni.import", target="roster.csv",
                       details={"imported": 377, "updated": 0, "rejected": 3}),
            AuditEntry(actor="budi", action="alumnus.erase", target="alumnus:12", details={}),
            AuditEntry(actor="budi", action="roster.merge", target="4", details={}),
        ])
        session.commit()
    indonesian = admin_client.get("/audit?lang=id").get_data(as_text=True)
    assert "Admin mengimpor 377 baris dari roster.csv (0 diperbarui, 3 ditolak)" in indonesian
    assert "budi menghapus data pribadi alumni #12" in indonesian
    assert "budi: roster.merge pada 4" in indonesian  # an action no sentence names yet
    assert "Apa yang terjadi" in indonesian
    english = admin_client.get("/audit?lang=en").get_data(as_text=True)
    assert "Admin imported 377 rows from roster.csv (0 updated, 3 rejected)" in english
    # the raw fields stay on the page, for whoever searches the log by its codes
    assert "<code>alumni.import</code>" in english


def test_the_audit_api_keeps_the_raw_fields_and_adds_the_sentence(survey_app, survey) -> None:
    with survey_app.app_context():
        session = db.session()
        session.add(AuditEntry(actor="Admin", action="alumni.import", target="roster.csv",
                               details={"imported": 377, "updated": 1, "rejected": 0}))
        session.commit()
    client = survey_app.test_client()
    admin = survey["headers"]["admin"]
    entry = client.get("/api/v1/audit?action=alumni.import", headers=admin).get_json()[0]
    assert entry["action"] == "alumni.import" and entry["target"] == "roster.csv"
    assert entry["details"] == {"imported": 377, "updated": 1, "rejected": 0}
    assert entry["sentence"] == (
        "Admin mengimpor 377 baris dari roster.csv (1 diperbarui, 0 ditolak)")
    english = client.get("/api/v1/audit?action=alumni.import&lang=en", headers=admin).get_json()
    assert english[0]["sentence"].startswith("Admin imported 377 rows from roster.csv")


# --- the help page and the glossary -------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_the_help_page_is_linked_from_the_top_bar_and_open_to_every_role(
        survey_app, outreach_app, analytics_app, survey, role) -> None:
    for app in (survey_app, outreach_app, analytics_app):
        with app.app_context():
            session = db.session()
            if session.scalar(select(User).where(User.username == f"help-{role}")) is None:
                create_user(session, f"help-{role}", "kata-sandi-bantuan", role)
                session.commit()
        client = signed_in(app, f"help-{role}", "kata-sandi-bantuan")
        home = client.get("/").get_data(as_text=True)
        assert re.search(r'<a class="help-link" href="[^"]*/help"\s*>Bantuan</a>', home)
        page = client.get("/help")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "<h1>Bantuan</h1>" in html and "Glosarium" in html
        assert "Koreksi populasi terbatas" in html and "Terbobot" in html
        assert "…memulai tracer study?" in html
        english = client.get("/help?lang=en").get_data(as_text=True)
        assert "<h1>Help</h1>" in english and "Finite-population correction" in english
        assert len(re.findall("<dt ", html)) == len(GLOSSARY)


def test_the_help_page_needs_a_sign_in(survey_app, survey) -> None:
    page = survey_app.test_client().get("/help")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_dashboard_terms_carry_a_one_line_explanation(analytics_app, dashboard) -> None:  # noqa: F811
    html = signed_in(analytics_app, "vina", "kata-sandi-vina").get("/?wave=ts-2026&fpc=1") \
        .get_data(as_text=True)
    buttons = re.findall(r'<button type="button" class="term-info" aria-describedby="([^"]+)"',
                         html)
    tips = dict(re.findall(r'<span role="tooltip" id="([^"]+)" class="term-tip">([^<]+)</span>',
                           html))
    # every button names a tooltip that exists, once
    assert buttons and len(buttons) == len(set(buttons)) and set(buttons) <= set(tips)
    keys = {button.split("-")[1] for button in buttons}
    assert {"fpc", "weighted", "aapor", "interval", "response_rate", "gap"} <= keys
    assert any(tip.startswith("Dikoreksi untuk respons yang tidak merata") for tip in tips.values())
    assert "Apa arti “Koreksi populasi terbatas”?" in html  # the button's name, for readers
    assert "/_jejak/staff.js" in html and "<script>" not in html  # CSP: no inline script
