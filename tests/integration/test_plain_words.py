"""Plain words for staff (issue 14 point 8), through the real apps: the audit log as sentences
in the page's language, the help page for every role, the glossary on the dashboard."""

from __future__ import annotations

from shared import db
from shared.models import AuditEntry
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
