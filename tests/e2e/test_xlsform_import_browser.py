"""An admin imports an XLSForm in a real Chromium (`jejak up --demo`), Indonesian pages: the
preview at 390 px and 1366 px, written to var/screenshots/ (JEJAK_SCREENSHOT_DIR), must not
scroll sideways; then the form is saved as a new version.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import TEST_DB
from tests.e2e.test_staff_pages_phone import LAPTOP, PHONE, ROOT, sign_in
from tests.xlsforms import LONGER, SURVEY, workbook

pytestmark = pytest.mark.skipif(
    TEST_DB != "sqlite", reason="drives `jejak up` (SQLite); runs in the SQLite pass"
)


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = Path(os.environ.get("JEJAK_SCREENSHOT_DIR", ROOT / "var" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_an_admin_checks_an_xlsform_in_words_and_saves_it(jejak, browser, shots,
                                                          tmp_path) -> None:
    form = tmp_path / "tracer-bontang.xlsx"
    form.write_bytes(workbook(LONGER))
    context = browser.new_context(viewport=LAPTOP, locale="id-ID")
    page = context.new_page()
    try:
        sign_in(page, jejak)
        page.goto(f"{jejak.base_url}/survey/")
        page.click("a[href$='/questionnaires/import']")
        page.wait_for_load_state()
        page.set_input_files("#file", str(form))
        page.click("form[enctype] button[type=submit]")
        page.wait_for_load_state()
        question = page.locator(
            "#q-bulan_tunggu_sampai_pekerjaan_pertama_setelah_pelatihan_selesai").inner_text()
        assert "Ditanyakan bila “Status” = “Bekerja” atau “Status” = “Belum bekerja”" in question
        assert "wajib" in question
        assert ("Ditanyakan bila “Status” = “Bekerja” dan “Internet” dipilih pada "
                "“Cara mencari kerja”") in page.locator("#q-umur").inner_text()
        for size, label in ((PHONE, "390"), (LAPTOP, "1366")):
            page.set_viewport_size(size)
            page.screenshot(path=str(shots / f"xlsform-preview-{label}.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= size["width"], f"{width} px wide at {label} px"
        page.click("#save-form button[type=submit]")
        page.wait_for_load_state()
        assert "Tersimpan: Uji XLSForm, kunci uji_xlsform, versi 1" in page.locator(
            ".flash.ok").inner_text()
        assert "uji_xlsform" in page.locator("#questionnaires").inner_text()
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(shots / "xlsform-import-390.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        # a form Jejak cannot run exactly: its refusal, and nothing to save
        broken = tmp_path / "rusak.xlsx"
        broken.write_bytes(workbook([*SURVEY, ["geopoint", "lokasi", "Lokasi", "", "", "", "",
                                               ""]]))
        page.set_input_files("#file", str(broken))
        page.click("form[enctype] button[type=submit]")
        page.wait_for_load_state()
        assert "8" in page.locator("#refusals li").first.inner_text()
        assert page.locator("#save-form").count() == 0
        page.screenshot(path=str(shots / "xlsform-refused-390.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()
