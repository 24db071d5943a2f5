"""Staff on a phone and on a projector: the analytics dashboard of `jejak up --demo`.

The demo starts without indicator figures; the test computes them as an operator would,
with `jejak analytics refresh`, then signs in and reads the dashboard in a real Chromium.
JEJAK_SCREENSHOTS=1 also saves docs/screenshots/dashboard.png (the README shows it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_DB

pytestmark = pytest.mark.skipif(
    TEST_DB != "sqlite", reason="drives `jejak up` (SQLite); runs in the SQLite pass"
)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "screenshots" / "dashboard.png"
DASHBOARD = "/analytics/?wave=tracer-2025"


@pytest.fixture(scope="module")
def figures(jejak) -> None:
    """The demo wave's indicators, computed by the CLI against the running installation."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("JEJAK_")}
    env.update(JEJAK_HOME=str(jejak.home), JEJAK_SECRET_KEY=jejak.secret_key)
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "analytics", "refresh"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "refreshed 1 wave(s)" in done.stdout


def sign_in(page, jejak) -> None:
    assert jejak.admin_password, "jejak up --demo printed no admin password"
    page.goto(f"{jejak.base_url}/analytics/login")
    page.fill("#username", "admin")
    page.fill("#password", jejak.admin_password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(jejak.base_url + DASHBOARD)


def visible_charts(page) -> list:
    charts = page.locator("svg[role=img]")
    assert charts.count() >= 6
    shown = []
    for index in range(charts.count()):
        chart = charts.nth(index)
        chart.scroll_into_view_if_needed()
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 40
        assert chart.get_attribute("aria-labelledby")
        shown.append(box)
    return shown


def test_dashboard_on_a_phone(jejak, figures, phone) -> None:
    page = phone
    sign_in(page, jejak)
    assert page.locator("h1").inner_text()
    for box in visible_charts(page):
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scroll
    assert page.locator("form.filters select[name=wave]").is_visible()
    # The refresh button is there for the admin, and answers with a redirect and a note.
    page.click("form.refresh button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".flash").count() >= 1
    assert "wave=tracer-2025" in page.url


def test_dashboard_on_a_wide_screen(jejak, figures, browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    page = context.new_page()
    try:
        sign_in(page, jejak)
        boxes = visible_charts(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        # Two columns: the progress and the dispositions sit side by side.
        progress = page.locator("#chart-progress").bounding_box()
        funnel = page.locator("#chart-funnel").bounding_box()
        assert progress is not None and funnel is not None
        assert funnel["x"] > progress["x"] + progress["width"]
        assert max(box["width"] for box in boxes) > 400  # readable from the back of a room
        if os.environ.get("JEJAK_SCREENSHOTS") == "1":
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.evaluate("window.scrollTo(0, 0)")
            # The figures and the first charts; the whole page is too long for the README.
            page.screenshot(path=str(SCREENSHOT), full_page=True,
                            clip={"x": 0, "y": 0, "width": 1280, "height": 2000})
    finally:
        context.close()
