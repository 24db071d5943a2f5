"""Every staff page fits a phone (issue 14 point 9): `jejak up --demo`, real Chromium.

The pages are not listed by hand: the test reads the three apps' url_map (in a child process,
against the running installation's data directory) and visits every GET page a signed-in
person can open: routes without parameters, plus those whose parameters the demo can fill
(a wave, an alumnus, a campaign, an uploaded XLSForm's preview). A page added tomorrow is
walked tomorrow.

Each page is visited as admin at 390 px (a common phone) and 1366 px (a laptop), and saved
as a screenshot to JEJAK_SCREENSHOT_DIR (default var/screenshots/staff/). At 390 px the page
must not scroll sideways: `document.documentElement.scrollWidth > window.innerWidth` fails
the test, naming the page. Tables may scroll inside their own box (`.table-wrap`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from shared.models import Alumnus, Campaign, Employer, EmployerCampaign, Wave
from tests.conftest import TEST_DB
from tests.e2e.test_dashboard_browser import figures  # noqa: F401 (a fixture)

pytestmark = pytest.mark.skipif(
    TEST_DB != "sqlite", reason="drives `jejak up` (SQLite); runs in the SQLite pass"
)

ROOT = Path(__file__).resolve().parents[2]
PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}

# The child process prints every GET route of the three apps with the access it declares.
LIST_ROUTES = """
import json
from services.cli import SERVICES, create_service
from shared.auth import access_of
routes = []
for name in SERVICES:
    app = create_service(name)
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods:
            routes.append([name, rule.rule, rule.endpoint, sorted(rule.arguments),
                           access_of(app, rule.endpoint, "GET")])
print(json.dumps(routes))
"""
# Not pages: the JSON API and its documents, files, the sign-in itself.
NOT_PAGES = re.compile(r"^/(api|_jejak|_swagger)(/|$)|^/(healthz|login|logout)$|\.\w+$")


def staff_routes(jejak) -> list[tuple[str, str, str, list[str]]]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("JEJAK_")}
    env.update(JEJAK_HOME=str(jejak.home), JEJAK_SECRET_KEY=jejak.secret_key)
    done = subprocess.run([sys.executable, "-c", LIST_ROUTES], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [(service, rule, endpoint, arguments)
            for service, rule, endpoint, arguments, access in json.loads(done.stdout)
            # The kiosk's pages need a kiosk pass, not staff: tests/e2e/test_kiosk_browser.py
            if access not in ("public", "kiosk") and not NOT_PAGES.search(rule)]


def demo_ids(jejak) -> dict[str, str]:
    """Values for the route parameters the demo can fill, read from its database."""
    engine = create_engine(jejak.database_url)
    try:
        with engine.connect() as connection:
            wave = connection.execute(select(Wave.id, Wave.slug).order_by(Wave.id)).first()
            alumnus = connection.scalar(select(Alumnus.id).order_by(Alumnus.id))
            campaign = connection.scalar(select(Campaign.id).order_by(Campaign.id))
            employer = connection.scalar(select(Employer.id).order_by(Employer.id))
            employer_campaign = connection.scalar(select(EmployerCampaign.id)
                                                  .order_by(EmployerCampaign.id))
    finally:
        engine.dispose()
    ids = {"slug": wave.slug, "wave_id": str(wave.id), "alumnus_id": str(alumnus),
           "employer_id": str(employer)}
    if campaign is not None:
        ids["campaign_id"] = str(campaign)
    if employer_campaign is not None:
        ids["employer_campaign_id"] = str(employer_campaign)
    return ids


def fill(rule: str, ids: dict[str, str]) -> str | None:
    """The rule with its parameters filled in, or None when the demo has no value for one."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1).split(":")[-1]
        if name not in ids:
            missing = True
            return ""
        return ids[name]

    path = re.sub(r"<([^>]+)>", value, rule)
    return None if missing else path


def sign_in(page, jejak) -> None:
    assert jejak.admin_password, "jejak up --demo printed no admin password"
    page.goto(f"{jejak.base_url}/survey/login")
    page.fill("#username", "admin")
    page.fill("#password", jejak.admin_password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def make_a_campaign(page, jejak) -> None:
    """The demo has no campaign; make one from the outreach page, as an officer would."""
    page.goto(f"{jejak.base_url}/outreach/")
    page.fill("#name", "Undangan tracer study")
    page.click("form[action$='/campaigns'] button[type=submit]")
    page.wait_for_load_state()


def make_an_employer_campaign(page, jejak) -> None:
    """An employer campaign (a draft) from its page, as an officer would."""
    page.goto(f"{jejak.base_url}/outreach/employers")
    page.click("form[action$='/employers'] button[type=submit]")
    page.wait_for_load_state()


def upload_an_xlsform(page, jejak, folder: Path) -> str:
    """An XLSForm uploaded on the import page, not saved: the id of its preview page."""
    from tests.xlsforms import LONGER, workbook

    form = folder / "walk.xlsx"
    form.write_bytes(workbook(LONGER))
    page.goto(f"{jejak.base_url}/survey/questionnaires/import")
    page.set_input_files("#file", str(form))
    page.click("form[enctype] button[type=submit]")
    page.wait_for_load_state()
    found = re.search(r"/questionnaires/import/([0-9a-f]{32})", page.url)
    assert found, f"the upload did not lead to its preview: {page.url}"
    return found.group(1)


@pytest.fixture(scope="module")
def screenshots() -> Path:
    folder = Path(os.environ.get("JEJAK_SCREENSHOT_DIR", ROOT / "var" / "screenshots" / "staff"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_no_staff_page_scrolls_sideways_on_a_phone(jejak, browser, screenshots, tmp_path,
                                                   figures) -> None:  # noqa: F811
    context = browser.new_context(viewport=LAPTOP, locale="id-ID")
    page = context.new_page()
    sign_in(page, jejak)
    if "campaign_id" not in demo_ids(jejak):
        make_a_campaign(page, jejak)
    if "employer_campaign_id" not in demo_ids(jejak):
        make_an_employer_campaign(page, jejak)
    ids = demo_ids(jejak)
    assert "campaign_id" in ids, "could not make a campaign on the outreach page"
    assert "employer_campaign_id" in ids, "could not make an employer campaign"
    ids["upload_id"] = upload_an_xlsform(page, jejak, tmp_path)

    visited: list[str] = []
    skipped: list[str] = []
    too_wide: list[str] = []
    broken: list[str] = []
    for service, rule, endpoint, _ in staff_routes(jejak):
        path = fill(rule, ids)
        if path is None:
            skipped.append(f"/{service}{rule}")
            continue
        url = f"{jejak.base_url}/{service}{path}"
        name = f"{service}{path}".replace("/", "_").strip("_") or service
        for size, label in ((PHONE, "390"), (LAPTOP, "1366")):
            page.set_viewport_size(size)
            response = page.goto(url)
            page.wait_for_load_state()
            if response is None or not response.ok:
                broken.append(f"{url} ({endpoint}): {response.status if response else 'none'}")
                break
            if "text/html" not in response.headers.get("content-type", ""):
                break  # a download, not a page
            page.screenshot(path=str(screenshots / f"{name}-{label}.png"), full_page=True)
            if label == "390":
                widths = page.evaluate(
                    "[document.documentElement.scrollWidth, window.innerWidth]")
                if widths[0] > widths[1]:
                    too_wide.append(f"/{service}{path} ({endpoint}): {widths[0]} px wide "
                                    f"in a {widths[1]} px window")
                visited.append(f"/{service}{path}")
    context.close()
    print(f"\n{len(visited)} staff pages, screenshots in {screenshots}; "
          f"not walked (no demo value): {skipped}")
    assert not broken, "staff pages that did not open:\n" + "\n".join(broken)
    assert not too_wide, "staff pages that scroll sideways at 390 px:\n" + "\n".join(too_wide)
    # the walk reached the pages of all three services, with the demo's ids
    assert {"/survey/", "/survey/alumni", "/survey/audit", "/outreach/", "/analytics/",
            "/survey/help", f"/survey/alumni/{ids['alumnus_id']}",
            f"/outreach/campaigns/{ids['campaign_id']}", "/survey/questionnaires/import",
            "/survey/employers", f"/survey/employers/{ids['employer_id']}",
            f"/survey/questionnaires/import/{ids['upload_id']}", "/outreach/employers",
            f"/outreach/employers/{ids['employer_campaign_id']}"} <= set(visited)


def test_a_tap_opens_a_terms_explanation_on_a_phone(jejak, browser, screenshots,
                                                    figures) -> None:  # noqa: F811
    context = browser.new_context(viewport=PHONE, locale="id-ID", is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    page = context.new_page()
    sign_in(page, jejak)
    page.goto(f"{jejak.base_url}/analytics/?wave={demo_ids(jejak)['slug']}")
    button = page.locator("#h-funnel .term-info")
    tip = page.locator("#" + button.get_attribute("aria-describedby"))
    assert not tip.is_visible()
    button.scroll_into_view_if_needed()
    button.tap()
    assert tip.is_visible() and button.get_attribute("aria-expanded") == "true"
    assert tip.inner_text().startswith("Cara baku")
    box = tip.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]  # on the screen
    page.screenshot(path=str(screenshots / "glossary-tap-390.png"))
    page.locator("h1").tap()  # a tap elsewhere closes it
    assert not tip.is_visible()
    context.close()
