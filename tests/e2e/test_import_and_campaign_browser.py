"""An officer in a real Chromium, at 1366 px and 390 px, Indonesian pages: import a roster with
mistakes and a suspicious update and confirm it; launch a campaign in quiet hours and read
when the next message goes. Screenshots of each page go to JEJAK_SCREENSHOT_DIR (default: the
test's temporary folder); no page may scroll sideways at 390 px.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import TEST_DB
from tests.e2e.conftest import free_port, start_jejak, stop_jejak

pytestmark = pytest.mark.skipif(
    TEST_DB != "sqlite", reason="drives `jejak up` (SQLite); runs in the SQLite pass"
)

WIDTHS = (1366, 390)
HEADER = "no_peserta;nama;jenis_kelamin;tanggal_lahir;kejuruan;angkatan;tanggal_mulai;" \
         "tanggal_selesai;no_hp;email\n"
COURSE = "Desain Grafis;Angkatan E2E;2025-02-03;2025-04-25"
FIRST = HEADER + "".join(
    f"E2E-{n:03d};Peserta Uji {n};{'LP'[n % 2]};2001-01-{n + 10:02d};{COURSE};"
    f"0812-3456-70{n:02d};uji{n}@example.com\n" for n in (1, 2, 3))
SECOND = HEADER + (
    "E2E-001;Peserta Uji 1;P;2001-01-11;" + COURSE + ";0812-3456-7001;uji1@example.com\n"
    "E2E-002;Rina Kartika;L;1999-09-09;" + COURSE + ";0812-3456-7099;rina@example.com\n"
    "E2E-004;;X;31/02/2001;" + COURSE + ";123;bukan-email\n"
    "E2E-005;Joko Susilo;L;2000-05-05;" + COURSE + ";0812-3456-7005;joko@example.com\n")
WITA = ZoneInfo("Asia/Makassar")


@pytest.fixture(scope="module")
def quiet_now(tmp_path_factory):
    """`jejak up --demo` whose quiet hours hold the present moment: from an hour ago to two
    hours from now, WITA."""
    local = datetime.now(WITA)
    start, end = local - timedelta(hours=1), local + timedelta(hours=2)
    home = tmp_path_factory.mktemp("jejak-quiet")
    port = free_port()
    process, output = start_jejak(home, port, "--demo", environ={
        "JEJAK_QUIET_HOURS": f"{start:%H:%M}-{end:%H:%M}", "JEJAK_TIMEZONE": "Asia/Makassar"})
    password = output.split("admin / ")[1].split()[0]
    try:
        yield {"base": f"http://127.0.0.1:{port}", "password": password, "home": home,
               "start": start, "end": end, "local": local}
    finally:
        stop_jejak(process)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("JEJAK_SCREENSHOT_DIR") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def look(page, shots: Path, name: str, width: int) -> None:
    """Screenshot the page, and fail on sideways scrolling at phone width."""
    page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
    if width <= 390:
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name


@pytest.mark.parametrize("width", WIDTHS)
def test_an_officer_imports_confirms_and_launches_in_quiet_hours(
        browser, quiet_now, shots, tmp_path, width) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="id-ID")
    page = context.new_page()
    base = quiet_now["base"]
    try:
        page.goto(f"{base}/survey/login")
        page.fill("#username", "admin")
        page.fill("#password", quiet_now["password"])
        page.click("button[type=submit]")
        page.wait_for_load_state()

        # 1. the first roster: checked, then imported
        first = tmp_path / f"roster-{width}.csv"
        first.write_text(FIRST.replace("E2E-", f"E{width}-"), encoding="utf-8")
        page.goto(f"{base}/survey/import")
        look(page, shots, "import", width)
        assert page.locator("a[href$='template.xlsx']").count() == 1
        page.set_input_files("#file", str(first))
        page.click("form[enctype] button[type=submit]")
        page.wait_for_load_state()
        assert "Baru: 3 · tidak berubah: 0" in page.locator("#preview-counts").inner_text()
        page.click("#apply-form button[type=submit]")
        page.wait_for_load_state()
        assert "Ditambahkan" in page.locator("#import-result").inner_text()

        # 2. the second roster: a mistaken row and a suspicious update, held until confirmed
        second = tmp_path / f"roster-2-{width}.csv"
        second.write_text(SECOND.replace("E2E-", f"E{width}-"), encoding="utf-8")
        page.goto(f"{base}/survey/import")
        page.set_input_files("#file", str(second))
        page.click("form[enctype] button[type=submit]")
        page.wait_for_load_state()
        counts = page.locator("#preview-counts").inner_text()
        assert "Baru: 1 · tidak berubah: 1 · diperbarui: 0 · mencurigakan: 1 · ditolak: 1" in counts
        rejected = page.locator("#rejections").inner_text()
        assert "nama wajib diisi" in rejected and "no_hp: '123' bukan nomor telepon" in rejected
        assert "email: 'bukan-email' bukan alamat email" in rejected
        suspicious = page.locator("#suspicious").inner_text()
        assert "Peserta Uji 2" in suspicious and "Rina Kartika" in suspicious
        look(page, shots, "import-preview", width)
        page.check(f"input[name=confirm][value='E{width}-002']")
        page.click("#apply-form button[type=submit]")
        page.wait_for_load_state()
        result = page.locator("#import-result").inner_text()
        assert "Orang baru dengan nomor peserta yang sudah ada\t1" in result or (
            "Orang baru dengan nomor peserta yang sudah ada 1" in result.replace("\n", " "))
        assert page.locator("a[href*='-rejected.csv']").count() == 1
        look(page, shots, "import-result", width)

        # 3. a campaign on the demo wave, launched inside quiet hours
        page.goto(f"{base}/outreach/")
        page.fill("#name", f"Undangan {width}")
        page.click("form.stack button[type=submit]")
        page.wait_for_load_state()
        assert "alumni akan menerima kampanye ini" in page.locator("#audience").inner_text()
        assert page.locator("#sample tbody tr").count() == 10
        assert "/survey/s/••••••" in page.locator("#preview").inner_text()
        look(page, shots, "campaign-draft", width)
        page.click("#step-1 summary")
        page.fill("#day_offset-1", "5")
        page.click("#steps-form button[type=submit]")
        page.wait_for_load_state()
        assert "hari ke-5" in page.locator("#step-1 summary").inner_text()
        page.click("form[action$='/launch'] button")
        page.wait_for_load_state()
        end = quiet_now["end"]
        when = (f"{end:%H:%M} WITA" if end.date() == quiet_now["local"].date()
                else f"besok pukul {end:%H:%M} WITA")
        waiting = page.locator("#next-sending").inner_text()
        assert f"Pengiriman berikutnya {when}: jam tenang" in waiting, waiting
        assert "alumni dalam kampanye ini" in page.locator("#audience").inner_text()
        look(page, shots, "campaign-launched", width)
    finally:
        context.close()
