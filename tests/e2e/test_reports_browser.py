"""Issue 14 in a real Chromium against `jejak up --demo`: an admin opens the reports page,
makes the PDF report, watches it finish (reports.js polls the export's status and reloads)
and downloads it; the settings and minimum-wage pages at laptop and phone width.

Screenshots at 1366 px and 390 px go to $JEJAK_SCREENSHOT_DIR (default: a temporary
folder printed in the test's output).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import TEST_DB
from tests.e2e import test_dashboard_browser as dashboard

pytestmark = pytest.mark.skipif(
    TEST_DB != "sqlite", reason="drives `jejak up` (SQLite); runs in the SQLite pass"
)

figures = dashboard.figures  # the demo wave's indicators, computed by `jejak analytics refresh`
WIDTHS = {"laptop": (1366, 800), "phone": (390, 844)}


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("JEJAK_SCREENSHOT_DIR") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


def staff_page(browser, jejak, size: str):
    width, height = WIDTHS[size]
    context = browser.new_context(viewport={"width": width, "height": height},
                                  locale="id-ID", accept_downloads=True)
    page = context.new_page()
    dashboard.sign_in(page, jejak)
    return context, page


@pytest.mark.parametrize("size", sorted(WIDTHS))
def test_an_admin_makes_and_downloads_the_pdf_from_the_reports_page(
        jejak, figures, browser, shots, size) -> None:
    context, page = staff_page(browser, jejak, size)
    try:
        page.click("#to-reports")  # from the dashboard
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Laporan"
        assert "wave=tracer-2025" in page.url
        page.screenshot(path=str(shots / f"reports-{size}.png"), full_page=True)
        page.click("button[name=kind][value=pdf]")
        page.wait_for_load_state()
        row = page.locator("#exports tbody tr").first
        assert "Laporan PDF" in row.inner_text()
        # reports.js polls the status endpoint and reloads when the file is there.
        link = page.locator("#exports tbody tr").first.locator("a.download")
        link.wait_for(timeout=90_000)
        with page.expect_download() as waiting:
            link.click()
        download = waiting.value
        saved = shots / f"report-{size}.pdf"
        download.save_as(str(saved))
        assert saved.read_bytes().startswith(b"%PDF")
        assert download.suggested_filename == "jejak-tracer-2025-laporan.pdf"
        page.screenshot(path=str(shots / f"reports-done-{size}.png"), full_page=True)
        width = WIDTHS[size][0]
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        for path, name in (("/analytics/settings", "settings"),
                           ("/analytics/minimum-wages", "wages")):
            page.goto(jejak.base_url + path)
            page.screenshot(path=str(shots / f"{name}-{size}.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.goto(jejak.base_url + "/analytics/settings")
        assert page.locator("#base-url-warning").is_visible()  # jejak up on 127.0.0.1
        page.goto(jejak.base_url + "/analytics/minimum-wages")
        assert "Rp 3.799.480" in page.locator("#wages").inner_text()  # seeded
    finally:
        context.close()
