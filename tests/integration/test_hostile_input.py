"""Hostile input: markup in names and free text, formulas in exports, template escapes, uploads.

Every payload goes in through the real apps and database and is looked for where a person
would meet it: the survey form, the staff pages, the dashboard, CSV and XLSX exports and
the rendered messages.
"""

from __future__ import annotations

import csv
import io
import re
import tracemalloc
import uuid
import zipfile
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from services.analytics import refresh
from services.analytics.reports.xlsx import write_raw_responses
from services.outreach import templating
from services.outreach.channels.base import Outgoing
from services.outreach.channels.email import build_email, email_bytes
from services.survey.links import make_token
from shared import db, uploads
from shared.auth import create_user
from shared.csvsafe import is_formula_like, safe_cell
from shared.models import Alumnus, Cohort, Program
from tests.integration.conftest import EMPLOYED
from tests.integration.test_web_access import csrf_of, login

SCRIPT = "<script>alert('x')</script>"
IMG = '"><img src=x onerror=alert(1)>'
PAYLOAD = f"Budi {SCRIPT}{IMG}"
RAW_MARKERS = ("<script>alert", "<img src=x")  # neither may reach a page unescaped
FORMULAS = ("=HYPERLINK(\"http://evil.example\",\"klik\")", "+1+1", "-2+3", "@SUM(A1)",
            "  =1+1", "\t=1+1", "\r=1+1", "\n-1")


def assert_escaped(html: str, where: str) -> None:
    for marker in RAW_MARKERS:
        assert marker not in html, f"{where}: {marker!r} reached the page unescaped"


@pytest.fixture()
def hostile(survey_app, survey) -> dict[str, Any]:
    """Alumnus 0 named PAYLOAD, with markup and formulas in free-text answers; a program
    and a cohort named with markup; an admin user to look at the staff pages."""
    with survey_app.app_context():
        session = db.session()
        alumnus = session.get(Alumnus, survey["alumni"][0][0])
        alumnus.full_name = PAYLOAD
        program = session.get(Program, session.get(Cohort, alumnus.cohort_id).program_id)
        program.name = f"Las {SCRIPT}"
        session.get(Cohort, alumnus.cohort_id).label = f"A1 {IMG}"
        create_user(session, "adi", "kata-sandi-adi", "admin")
        session.commit()
    token = make_token(survey_app.config["SECRET_KEY"], survey["wave_id"], survey["alumni"][0][0])
    answers = {**EMPLOYED, "f5b": PAYLOAD, "blk_suggestion": FORMULAS[0]}
    client = survey_app.test_client()
    response = client.post("/api/v1/responses", json={
        "id": str(uuid.uuid4()), "wave": "ts-2026", "token": token, "answers": answers})
    assert response.status_code == 201, response.get_json()
    # Another alumnus, entered by staff, answers with every formula prefix.
    for index, formula in enumerate(FORMULAS[1:5], start=1):
        staff_entry = client.post("/api/v1/responses", headers=survey["headers"]["operator"],
                                  json={"id": str(uuid.uuid4()), "wave": "ts-2026",
                                        "registration_no": survey["alumni"][index][1],
                                        "answers": {**EMPLOYED, "f5b": formula,
                                                    "blk_suggestion": FORMULAS[index + 3]}})
        assert staff_entry.status_code == 201, staff_entry.get_json()
    return {**survey, "token": token}


def test_the_survey_form_escapes_the_name_and_stored_free_text(survey_app, hostile) -> None:
    client = survey_app.test_client()
    # A sent response opens on the read-only summary, which shows the free text back too.
    opened = client.get(f"/s/{hostile['token']}")
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/jawaban")
    summary = client.get(opened.headers["Location"]).get_data(as_text=True)
    assert_escaped(summary, "answers summary")
    assert "&lt;script&gt;" in summary
    first = client.get(f"/s/{hostile['token']}?step=1")
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert_escaped(html, "form step 1")
    assert "Budi &lt;script&gt;" in html
    shown_free_text = False
    for step in range(2, 12):
        page = client.get(f"/s/{hostile['token']}?step={step}").get_data(as_text=True)
        assert_escaped(page, f"form step {step}")
        shown_free_text |= "&lt;script&gt;" in page and 'name="f5b"' in page
    assert shown_free_text, "the stored f5b answer was never shown back"
    thanks = client.get(f"/s/{hostile['token']}/terima-kasih").get_data(as_text=True)
    assert_escaped(thanks, "thank-you page")


def test_staff_pages_and_the_dashboard_escape_names(survey_app, outreach_app, analytics_app,
                                                    hostile) -> None:
    with analytics_app.app_context():
        assert refresh.full_refresh(db.get_db().session_factory, hostile["wave_id"]) is not None
    alumnus_id = hostile["alumni"][0][0]
    survey_pages = ["/", "/alumni", "/alumni?q=Budi", f"/alumni/{alumnus_id}",
                    f"/alumni/{alumnus_id}/erase", "/audit"]
    for app, pages in ((survey_app, survey_pages), (outreach_app, ["/"]),
                       (analytics_app, ["/?wave=ts-2026", "/?wave=ts-2026&lang=en"])):
        client = app.test_client()
        assert login(client, "adi", "kata-sandi-adi").status_code == 302
        for page in pages:
            response = client.get(page)
            assert response.status_code == 200, page
            assert_escaped(response.get_data(as_text=True), f"{app.name} {page}")
    staff = survey_app.test_client()
    login(staff, "adi", "kata-sandi-adi")
    for page in ("/alumni", f"/alumni/{alumnus_id}"):
        assert "Budi &lt;script&gt;" in staff.get(page).get_data(as_text=True), page
    dashboard = analytics_app.test_client()
    login(dashboard, "adi", "kata-sandi-adi")
    assert "Las &lt;script&gt;" in dashboard.get("/?wave=ts-2026").get_data(as_text=True)


def test_the_import_page_escapes_rejected_values(survey_app, hostile) -> None:
    client = survey_app.test_client()
    login(client, "adi", "kata-sandi-adi")
    token = csrf_of(client.get("/import").get_data(as_text=True))
    roster = ("registration_no,full_name,gender,program,cohort,training_start,training_end\n"
              f'X1,"{PAYLOAD.replace(chr(34), chr(34) * 2)}",{SCRIPT},Las,A1,2025-01-06,'
              "2025-03-28\n")
    page = client.post("/import", data={"csrf_token": token, "file": (
        io.BytesIO(roster.encode()), "roster.csv")}, content_type="multipart/form-data",
        follow_redirects=True)
    assert page.status_code == 200
    html = page.get_data(as_text=True)  # the preview, before anything is written
    assert ">2</td>" in html  # the rejected row (line 2), shown with its problems
    assert_escaped(html, "import preview")
    action = re.search(r'action="([^"]+/apply)"', html).group(1)
    result = client.post(action, data={"csrf_token": csrf_of(html)})
    assert result.status_code == 200
    html = result.get_data(as_text=True)
    assert ">1</td>" in html  # one rejected row, shown with its problem
    assert_escaped(html, "import result")


def test_csv_export_neutralises_formulas(survey_app, hostile) -> None:
    export = survey_app.test_client().get("/api/v1/responses/export.csv?wave=ts-2026",
                                          headers=hostile["headers"]["operator"])
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    cells = [cell for row in rows[1:] for cell in row]
    assert len(rows) == 6
    for formula in FORMULAS[:4]:  # free text is stored trimmed: "  =1+1" arrives as "=1+1"
        assert "'" + formula in cells, formula
    dangerous = [cell for cell in cells if is_formula_like(cell)]
    assert not dangerous, dangerous
    assert PAYLOAD in cells  # a CSV is data, not HTML: the text is kept as written


def test_xlsx_export_holds_no_formula(survey_app, hostile, tmp_path) -> None:
    path = tmp_path / "raw.xlsx"
    with survey_app.app_context():
        written = write_raw_responses(db.session(), hostile["wave_id"], path)
    assert written == 5
    sheet = load_workbook(path, read_only=True).worksheets[0]
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert all(cell.data_type != "f" for cell in cells)
    texts = [cell.value for cell in cells if isinstance(cell.value, str)]
    assert not [text for text in texts if is_formula_like(text)]
    for formula in FORMULAS[:4]:
        assert "'" + formula in texts, formula


@pytest.mark.parametrize("value", FORMULAS)
def test_safe_cell_neutralises_every_formula_start(value: str) -> None:
    assert safe_cell(value).startswith("'")
    assert not is_formula_like(safe_cell(value))


@pytest.mark.parametrize("value", ["Budi", "2025-01-06", "a=b", "", "Rp 4.500.000"])
def test_safe_cell_keeps_plain_text(value: str) -> None:
    assert safe_cell(value) == value


def test_a_rendered_email_is_plain_text_with_the_name_as_written() -> None:
    rendered = templating.render(templating.INVITATION, "id", {
        "name": PAYLOAD, "program": f"Las {SCRIPT}", "cohort": "A1", "survey_link": "L",
        "unsubscribe_link": "U", "wave_title": "T", "centre": "BLK"})
    assert PAYLOAD in rendered.body  # a text/plain part: no markup is interpreted
    email = build_email(Outgoing(message_id=1, channel="email", address="a@example.com",
                                 body=rendered.body, subject=rendered.subject),
                        "Jejak <tracer@localhost>", "secret-key-0123456789")
    assert [part.get_content_type() for part in email.walk()] == ["text/plain"]


def test_a_name_or_address_cannot_add_mail_headers() -> None:
    rendered = templating.render({"id": {"subject": "Halo {{ name }}", "body": "x"}}, "id",
                                 {"name": "Budi\r\nBcc: victim@example.com"})
    for address, subject in (("a@example.com", rendered.subject),
                             ("a@example.com\r\nBcc: victim@example.com", "Halo")):
        message = Outgoing(message_id=1, channel="email", address=address, body=rendered.body,
                           subject=subject)
        for write in (lambda m: build_email(m, "Jejak <tracer@localhost>", "k" * 20).as_bytes(),
                      lambda m: email_bytes(m, "Jejak <tracer@localhost>", "k" * 20)):
            with pytest.raises(ValueError):  # refused: the message fails, no header is added
                write(message)


# --- message templates: the sandbox ------------------------------------------------------


class Canary:
    fired = False

    def _fire(self) -> str:
        Canary.fired = True
        return "fired"


ESCAPES = (
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].system('true') }}",
    "{{ name.__class__ }}",
    "{{ name|attr('__class__') }}",
    "{{ '{0.__class__}'.format(name) }}",
    "{% set x = name.__class__ %}{{ x }}",
    "{{ self.__init__ }}",
    "{{ name.encode.__self__ }}",
    "{{ canary._fire() }}",
    "{{ items.append(1) }}",
    "{{ range(10**9)|list }}",
)


@pytest.mark.parametrize("source", ESCAPES)
def test_templates_cannot_reach_python_internals(source: str) -> None:
    items: list[int] = []
    context = {"name": "Ani", "canary": Canary(), "items": items}
    with pytest.raises(templating.TemplateProblem) as refused:
        templating.render({"id": {"subject": "s", "body": source}}, "id", context)
    assert str(refused.value)  # a reason a person can read
    assert not Canary.fired and items == []
    problem = templating.check({"id": {"subject": "s", "body": source}}, "id", "email", context)
    assert problem and ("not allowed" in problem or "undefined" in problem)


def test_an_underscore_attribute_is_named_in_the_refusal() -> None:
    with pytest.raises(templating.TemplateProblem, match="not allowed.*__class__"):
        templating.render({"id": {"body": "{{ name.__class__ }}"}}, "id", {"name": "Ani"})


def test_the_ordinary_templates_still_render() -> None:
    context = {"name": "Ani", "program": "Las", "cohort": "A1", "survey_link": "L",
               "unsubscribe_link": "U", "wave_title": "T", "centre": "BLK"}
    for _, _, template in templating.DEFAULT_SEQUENCE:
        assert "Ani" in templating.render(template, "id", context).body


# --- uploads -------------------------------------------------------------------------------


def workbook_bytes(rows: list[list[str]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


ROSTER_ROWS = [["registration_no", "full_name", "gender", "program", "cohort", "training_start",
                "training_end"], ["X1", "Ani", "P", "Las", "A1", "2025-01-06", "2025-03-28"]]


def zip_bomb(unpacked_mib: int = 64) -> bytes:
    """A small archive shaped like a workbook whose sheet inflates to `unpacked_mib` MiB."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            block = b" " * (1 << 20)
            for _ in range(unpacked_mib):
                sheet.write(block)
    return out.getvalue()


def api_import(app, headers, content: bytes, filename: str):
    return app.test_client().post(
        "/api/v1/alumni/import", headers=headers, content_type="multipart/form-data",
        data={"file": (io.BytesIO(content), filename)})


def assert_refused(response, *words: str) -> None:
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    message = str(response.get_json()["errors"]["file"])
    for word in words:
        assert word in message, message


def test_a_real_workbook_and_csv_still_import(survey_app, survey) -> None:
    operator = survey["headers"]["operator"]
    workbook = workbook_bytes(ROSTER_ROWS)
    assert api_import(survey_app, operator, workbook, "r.xlsx").status_code == 200
    text = "\n".join(",".join(row) for row in ROSTER_ROWS).encode()
    assert api_import(survey_app, operator, text, "r.csv").status_code == 200


def test_uploads_are_judged_by_content_not_only_by_name(survey_app, survey) -> None:
    operator = survey["headers"]["operator"]
    csv_text = "\n".join(",".join(row) for row in ROSTER_ROWS).encode()
    assert_refused(api_import(survey_app, operator, csv_text, "roster.exe"), ".exe")
    assert_refused(api_import(survey_app, operator, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
                              "roster.csv"), "not text")
    assert_refused(api_import(survey_app, operator, workbook_bytes(ROSTER_ROWS), "roster.csv"),
                   "not text")
    assert_refused(api_import(survey_app, operator, csv_text, "roster.xlsx"),
                   "not an Excel workbook")
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("notes.txt", "hello")
    assert_refused(api_import(survey_app, operator, plain_zip.getvalue(), "roster.xlsx"),
                   "xl/workbook.xml")


def test_a_malformed_workbook_is_refused_with_a_clear_error(survey_app, survey) -> None:
    operator = survey["headers"]["operator"]
    whole = workbook_bytes(ROSTER_ROWS)
    assert_refused(api_import(survey_app, operator, whole[: len(whole) // 2], "roster.xlsx"),
                   "damaged or incomplete")
    damaged = io.BytesIO()
    with zipfile.ZipFile(damaged, "w") as archive:  # a workbook part that is not XML
        archive.writestr("[Content_Types].xml", "not xml at all")
        archive.writestr("xl/workbook.xml", "<<<")
    assert_refused(api_import(survey_app, operator, damaged.getvalue(), "roster.xlsx"),
                   "not a readable Excel workbook")


def test_a_zip_bomb_is_refused_before_anything_is_inflated(survey_app, survey) -> None:
    bomb = zip_bomb(64)
    assert len(bomb) < 1_000_000
    tracemalloc.start()
    try:
        response = api_import(survey_app, survey["headers"]["operator"], bomb, "roster.xlsx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_refused(response, "zip bomb", "sheet1.xml")
    assert peak < 32 * 1024 * 1024, f"{peak} bytes allocated while refusing a zip bomb"


def test_a_workbook_too_large_unpacked_is_refused_naming_the_limit(
    survey_app, survey, monkeypatch
) -> None:
    monkeypatch.setattr(uploads, "MAX_UNPACKED_BYTES", 1024)
    response = api_import(survey_app, survey["headers"]["operator"],
                          workbook_bytes(ROSTER_ROWS), "roster.xlsx")
    assert_refused(response, "expands to", "split the roster")


def test_the_import_page_names_the_problem_too(survey_app, survey) -> None:
    with survey_app.app_context():
        create_user(db.session(), "ani", "kata-sandi-ani", "operator")
        db.session().commit()
    client = survey_app.test_client()
    login(client, "ani", "kata-sandi-ani")
    token = csrf_of(client.get("/import").get_data(as_text=True))
    response = client.post("/import", data={"csrf_token": token, "file": (
        io.BytesIO(zip_bomb(16)), "roster.xlsx")}, content_type="multipart/form-data",
        follow_redirects=True)
    assert response.status_code == 200
    assert "zip bomb" in response.get_data(as_text=True)


def test_an_upload_over_the_size_limit_is_413_problem_json(survey_app, survey) -> None:
    survey_app.config["MAX_CONTENT_LENGTH"] = 4096
    response = api_import(survey_app, survey["headers"]["operator"], b"a,b\n" * 4096,
                          "roster.csv")
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 413
    with survey_app.app_context():
        assert db.session().scalar(select(Alumnus).where(Alumnus.registration_no == "a")) is None


def test_an_xlsform_upload_is_checked_the_same_way(survey_app, survey) -> None:
    client = survey_app.test_client()

    def upload(content: bytes, filename: str):
        return client.post("/api/v1/questionnaires/xlsform", headers=survey["headers"]["admin"],
                           content_type="multipart/form-data",
                           data={"key": "blk", "version": "9", "file": (io.BytesIO(content),
                                                                        filename)})

    assert_refused(upload(zip_bomb(16), "form.xlsx"), "zip bomb")
    assert_refused(upload(b"type,name\ntext,q1\n", "form.csv"), "bukan buku kerja Excel")
    assert_refused(upload(b"type,name\n", "form.xlsx"), "bukan buku kerja Excel")

