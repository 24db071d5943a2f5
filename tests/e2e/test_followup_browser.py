"""Issue 14, point 5 in a real Chromium: the follow-up page of the demo wave, on a laptop
(1366 px) and a phone (390 px). A staff member filters the alumni who have not answered yet
and downloads them. Screenshots go to JEJAK_SCREENSHOT_DIR (or a temporary folder, printed).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from tests.conftest import TEST_DB

pytestmark = pytest.mark.skipif(
    TEST_DB != "sqlite", reason="drives `jejak up` (SQLite); runs in the SQLite pass"
)

FOLLOWUP = "/survey/waves/tracer-2025/alumni"
NOT_ANSWERED = {"diundang", "membuka formulir", "sebagian"}


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("JEJAK_SCREENSHOT_DIR") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {folder}")
    return folder


def no_sideways_scrolling(page, name: str, width: int) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name}: {overflow}px of sideways scrolling at {width}px"


@pytest.mark.parametrize("width", [1366, 390])
def test_staff_filter_who_has_not_answered_and_download_them(browser, jejak, shots,
                                                             width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  locale="id-ID", accept_downloads=True,
                                  is_mobile=width < 500, has_touch=width < 500)
    page = context.new_page()
    try:
        page.goto(f"{jejak.base_url}/survey/login")
        page.fill("#username", "admin")
        page.fill("#password", jejak.admin_password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(jejak.base_url + FOLLOWUP)
        assert page.locator("h1").inner_text().startswith("Tindak lanjut")
        page.screenshot(path=str(shots / f"followup-all-{width}.png"), full_page=True)

        page.select_option("#status", "not_answered")
        page.click("#filters button[type=submit]")
        page.wait_for_load_state()
        assert "status=not_answered" in page.url
        statuses = page.locator("table.data tbody td:last-child").all_inner_texts()
        assert statuses and set(statuses) <= NOT_ANSWERED, statuses
        # No sideways scrolling of the page at phone width: the table scrolls in its box.
        no_sideways_scrolling(page, "follow-up", width)
        page.screenshot(path=str(shots / f"followup-not-answered-{width}.png"),
                        full_page=True)

        with page.expect_download() as waiting:
            page.click("text=Unduh CSV")
        download = waiting.value
        rows = list(csv.reader(io.StringIO(
            Path(download.path()).read_text(encoding="utf-8-sig"))))
        assert rows[0][0] == "no_registrasi" and rows[0][-1] == "status"
        assert len(rows) > 1 and {row[-1] for row in rows[1:]} <= NOT_ANSWERED
        counted = page.locator("[data-status=not_answered]").inner_text()
        assert counted.endswith(f": {len(rows) - 1}")

        # One of them, then the wave's own page: readable at this width too.
        page.click("table.data tbody a >> nth=0")
        page.wait_for_load_state()
        assert page.locator("#phone").is_visible()
        page.screenshot(path=str(shots / f"followup-alumnus-{width}.png"), full_page=True)
        no_sideways_scrolling(page, "alumnus", width)
        page.goto(jejak.base_url + "/survey/waves/tracer-2025")
        assert "Tutup gelombang" in page.content()
        page.screenshot(path=str(shots / f"wave-{width}.png"), full_page=True)
        no_sideways_scrolling(page, "wave", width)
    finally:
        context.close()
