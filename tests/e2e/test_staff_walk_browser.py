"""Issue 14's first acceptance point as ONE walk: an admin of `jejak up --demo`, signed in
through the login page of a real Chromium with an Indonesian UI, runs a tracer study through
the staff pages only (no API call, no database write for a step):

1. imports a roster, then a second one with a row of mistakes (every problem of the row at
   once, naming the file's columns) and a suspicious update, and confirms the update;
2. creates a wave by program and cohort and opens it;
3. imports late alumni and adds them to the open wave after a preview of how many;
4. sets the wave year's UMK on the minimum wages page;
5. sets quiet hours around now on the settings page, launches a campaign and reads when the
   next message goes;
6. ends the quiet hours, filters who has not answered ("belum menjawab") and downloads them;
7. corrects a phone number and resends an invitation on an alumnus page;
8. makes the PDF and the XLSX on the reports page, downloads and opens both;
9. closes the wave (with its confirmation) and reopens it.

Every page is saved at 1366 px and 390 px into JEJAK_SCREENSHOT_DIR (default
var/screenshots/staff-walk/), and the walk fails on a page that scrolls sideways at 390 px.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pypdf
import pytest

from shared.centre import CACHE_SECONDS
from tests.conftest import TEST_DB
from tests.e2e.conftest import Running, free_port, start_jejak, stop_jejak
from tests.e2e.test_staff_pages_phone import sign_in

pytestmark = pytest.mark.skipif(
    TEST_DB != "sqlite", reason="drives `jejak up` (SQLite); runs in the SQLite pass"
)

ROOT = Path(__file__).resolve().parents[2]
WITA = ZoneInfo("Asia/Makassar")
LAPTOP, PHONE = {"width": 1366, "height": 900}, {"width": 390, "height": 844}
HEADER = ("no_peserta;nama;jenis_kelamin;tanggal_lahir;kejuruan;angkatan;tanggal_mulai;"
          "tanggal_selesai;no_hp;email\n")
COOLING = "Teknik Pendingin Jalan;Angkatan Jalan 1;2025-02-03;2025-04-25"
MAKEUP = "Tata Rias Jalan;Angkatan Jalan 2;2025-03-03;2025-05-23"


def person(number: int, name: str, course: str = COOLING) -> str:
    return (f"JLN-{number:03d};{name};{'LP'[number % 2]};2001-01-{number + 10:02d};{course};"
            f"0812-3456-71{number:02d};jalan{number}@example.com\n")


FIRST = HEADER + "".join(person(n, f"Alumni Jalan {n}") for n in (1, 2, 3)) + person(
    10, "Alumni Jalan 10", MAKEUP)
SECOND = HEADER + person(1, "Alumni Jalan 1") + person(2, "Rina Kartika").replace(
    "2001-01-12", "1999-09-09") + (
    "JLN-004;;X;31/02/2001;" + COOLING + ";123;bukan-email\n") + person(5, "Joko Susilo")
LATE = HEADER + person(6, "Alumni Jalan 6") + person(7, "Alumni Jalan 7")
EVERYONE = {f"JLN-{n:03d}" for n in (1, 2, 3, 5, 6, 7, 10)}
NOT_ANSWERED = {"diundang", "membuka formulir", "sebagian"}


@pytest.fixture(scope="module")
def own_jejak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A `jejak up --demo` of its own: the walk changes settings, wages and waves, which the
    session's shared installation must not see (other tests count its waves)."""
    home = tmp_path_factory.mktemp("jejak-walk")
    port = free_port()
    process, output = start_jejak(home, port, "--demo")
    try:
        yield Running(f"http://127.0.0.1:{port}", home, output.split("admin / ")[1].split()[0])
    finally:
        stop_jejak(process)


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = Path(os.environ.get("JEJAK_SCREENSHOT_DIR")
                  or ROOT / "var" / "screenshots" / "staff-walk")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


class Walk:
    """The page, the running installation and the screenshot folder, with one `look` per
    page: a screenshot at 390 px (failing on sideways scrolling) and at 1366 px."""

    def __init__(self, page, base: str, shots: Path) -> None:
        self.page, self.base, self.shots, self.count = page, base, shots, 0

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.page.wait_for_load_state()

    def submit(self, selector: str) -> None:
        with self.page.expect_navigation():
            self.page.click(selector)
        self.page.wait_for_load_state()

    def look(self, name: str) -> None:
        self.count += 1
        stem = f"{self.count:02d}-{name}"
        self.page.set_viewport_size(PHONE)
        self.page.screenshot(path=str(self.shots / f"{stem}-390.png"), full_page=True)
        wide, window = self.page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]")
        assert wide <= window, f"{name} ({self.page.url}) is {wide} px wide at {window} px"
        self.page.set_viewport_size(LAPTOP)
        self.page.screenshot(path=str(self.shots / f"{stem}-1366.png"), full_page=True)


def people(numbers: list[str]) -> set[str]:
    """The registration numbers, each once; the retired holder of a number reads
    `<id>~JLN-002` and must be there too (confirmed suspicious update)."""
    retired = [number for number in numbers if "~" in number]
    assert [number.split("~")[1] for number in retired] == ["JLN-002"], numbers
    assert len(numbers) == len(EVERYONE) + 1, numbers
    return {number.split("~")[-1] for number in numbers}


def targets(page) -> str:
    """The wave page's count of targets (the row after status and closing date)."""
    return page.locator("section.card table.data").first.locator("tr").nth(2).locator(
        "td").inner_text().strip()


def upload(walk: Walk, roster: Path) -> None:
    walk.go("/survey/import")
    walk.page.set_input_files("#file", str(roster))
    walk.submit("form[enctype] button[type=submit]")


def test_a_staff_member_runs_a_tracer_study_from_the_browser(
        own_jejak, browser, shots, tmp_path) -> None:
    jejak = own_jejak
    context = browser.new_context(viewport=LAPTOP, locale="id-ID", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)  # 2 shared cores: a slow import apply
    walk = Walk(page, jejak.base_url, shots)
    started = time.monotonic()
    try:
        sign_in(page, jejak)  # the login page, as admin
        walk.look("after-sign-in")

        # 1. import: a first roster, then one with mistakes and a suspicious update
        (tmp_path / "roster.csv").write_text(FIRST, encoding="utf-8")
        (tmp_path / "roster-2.csv").write_text(SECOND, encoding="utf-8")
        walk.go("/survey/import")
        walk.look("import")
        upload(walk, tmp_path / "roster.csv")
        assert "Baru: 4 · tidak berubah: 0" in page.locator("#preview-counts").inner_text()
        walk.look("import-preview-first")
        walk.submit("#apply-form button[type=submit]")
        assert "Ditambahkan" in page.locator("#import-result").inner_text()
        upload(walk, tmp_path / "roster-2.csv")
        counts = page.locator("#preview-counts").inner_text()
        assert ("Baru: 1 · tidak berubah: 1 · diperbarui: 0 · mencurigakan: 1 · ditolak: 1"
                in counts), counts
        rejected = page.locator("#rejections").inner_text()
        for problem in ("nama wajib diisi", "no_hp: '123' bukan nomor telepon",
                        "email: 'bukan-email' bukan alamat email", "jenis_kelamin",
                        "tanggal_lahir"):
            assert problem in rejected, (problem, rejected)  # every problem, as the file names it
        assert "full_name" not in rejected
        suspicious = page.locator("#suspicious").inner_text()
        assert "Alumni Jalan 2" in suspicious and "Rina Kartika" in suspicious
        walk.look("import-preview-suspicious")
        page.check("input[name=confirm][value='JLN-002']")
        walk.submit("#apply-form button[type=submit]")
        result = " ".join(page.locator("#import-result").inner_text().split())
        assert "Orang baru dengan nomor peserta yang sudah ada 1" in result, result
        walk.look("import-result")

        # 2. a wave by program (cooling) and cohort (make-up, cohort 2), then opened
        walk.go("/survey/")
        walk.look("waves")
        for box in page.locator("form[action$='/waves'].stack input[name=program_ids]").all():
            box.uncheck()
        page.check("label:has-text('Teknik Pendingin Jalan') input[name=program_ids]")
        page.click("text=Atau pilih angkatan")
        page.check("label:has-text('Angkatan Jalan 2') input[name=cohort_ids]")
        page.fill("#title", "Tracer Jalan 2026")
        page.fill("#slug", "jalan-2026")
        walk.submit("form[action$='/waves'].stack button[type=submit]")
        # nobody of these is in another wave: no overlap warning stands in the way
        assert page.locator("text=Tetap buat gelombang").count() == 0
        walk.submit("form[action$='/jalan-2026/open'] button")
        walk.go("/survey/waves/jalan-2026")
        assert page.locator(".badge.open").count() == 1
        # 5 in the cooling program (the retired holder of JLN-002 among them) + 1 of cohort 2
        assert targets(page) == "6"
        walk.look("wave-open")

        # 3. late alumni: imported after opening, counted, then added
        (tmp_path / "late.csv").write_text(LATE, encoding="utf-8")
        upload(walk, tmp_path / "late.csv")
        walk.submit("#apply-form button[type=submit]")
        walk.go("/survey/waves/jalan-2026")
        page.check("form[action$='/targets'].stack label:has-text('Teknik Pendingin Jalan') "
                   "input[name=program_ids]")
        walk.submit("form[action$='/targets'].stack button[type=submit]")
        add = page.locator(".flash.ok form button[type=submit]")
        assert re.search(r"\b2\b", page.locator(".flash.ok").inner_text()), "preview of 2"
        walk.look("wave-late-preview")
        assert "2" in add.inner_text()
        walk.submit(".flash.ok form button[type=submit]")
        assert targets(page) == "8"
        walk.look("wave-late-added")

        # 4. the UMK of the wave's year
        year = datetime.now(WITA).year
        walk.go("/analytics/minimum-wages")
        page.fill("#w-year", str(year))
        page.select_option("#w-level", "city")
        page.fill("#w-amount", "3.812.345")
        page.fill("#w-source", "SK Gubernur Kaltim 100.3.3.1/K.832/2025 (uji jalan)")
        walk.submit("form.card.stack button[type=submit]")
        wages = page.locator("#wages").inner_text()
        assert "Rp 3.812.345" in wages and "uji jalan" in wages, wages
        assert "Rp 3.799.480" not in wages  # the seeded figure of that year, corrected
        walk.look("minimum-wages")
        walk.go("/analytics/?wave=jalan-2026")  # the dashboard names the wage the wave uses
        assert "3.812.345" in page.locator("main").inner_text()
        walk.look("dashboard")

        # 5. quiet hours around now (settings page), a campaign launched inside them
        local = datetime.now(WITA)
        start, end = local - timedelta(hours=1), local + timedelta(hours=2)
        walk.go("/analytics/settings")
        centre_name = page.input_value("#s-name")
        page.fill("#s-quiet_hours", f"{start:%H:%M}-{end:%H:%M}")
        page.fill("#s-timezone", "Asia/Makassar")
        walk.submit("form.card.stack button[type=submit]")
        assert page.input_value("#s-quiet_hours") == f"{start:%H:%M}-{end:%H:%M}", (
            page.url, page.locator("main").inner_text()[:1500])
        walk.look("settings")
        walk.go("/outreach/")
        page.fill("#name", "Undangan Tracer Jalan")
        page.select_option("#wave_id", label="Tracer Jalan 2026")
        walk.look("campaigns")
        walk.submit("form[action$='/campaigns'] button[type=submit]")
        assert "8 alumni" in page.locator("#audience").inner_text()
        walk.look("campaign-draft")
        walk.submit("form[action$='/launch'] button")
        when = (f"{end:%H:%M} WITA" if end.date() == local.date()
                else f"besok pukul {end:%H:%M} WITA")
        expected = f"Pengiriman berikutnya {when}: jam tenang"
        # The other gunicorn worker may keep the settings it read for CACHE_SECONDS.
        deadline = time.monotonic() + CACHE_SECONDS + 5
        while expected not in (waiting := page.locator("#next-sending").inner_text()):
            assert time.monotonic() < deadline, waiting
            page.wait_for_timeout(1000)
            page.reload()
        walk.look("campaign-launched")

        # 6. quiet hours end (moved later); the invitations go; who has not answered
        later, latest = local + timedelta(hours=3), local + timedelta(hours=4)
        walk.go("/analytics/settings")
        page.fill("#s-quiet_hours", f"{later:%H:%M}-{latest:%H:%M}")
        walk.submit("form.card.stack button[type=submit]")
        walk.go("/survey/waves/jalan-2026/alumni")
        walk.look("followup-all")
        page.select_option("#status", "not_answered")
        walk.submit("#filters button[type=submit]")
        assert "status=not_answered" in page.url
        listed = page.locator("table.data tbody td:first-child a")
        deadline = time.monotonic() + 90
        while listed.count() < len(EVERYONE) + 1:  # outreach.dispatch runs every 10 s
            assert time.monotonic() < deadline, page.locator("table.data").inner_text()
            page.wait_for_timeout(2000)
            page.reload()
        assert people(listed.all_inner_texts()) == EVERYONE
        statuses = page.locator("table.data tbody td:last-child").all_inner_texts()
        assert set(statuses) <= NOT_ANSWERED, statuses
        walk.look("followup-not-answered")
        with page.expect_download() as waiting_file:
            page.click("text=Unduh CSV")
        rows = list(csv.reader(io.StringIO(
            Path(waiting_file.value.path()).read_text(encoding="utf-8-sig"))))
        assert rows[0][0] == "no_registrasi" and rows[0][-1] == "status", rows[0]
        assert people([row[0] for row in rows[1:]]) == EVERYONE
        assert {row[-1] for row in rows[1:]} <= NOT_ANSWERED

        # 7. a phone number corrected, an invitation resent
        page.click("table.data tbody a:text-is('JLN-003')")
        page.wait_for_load_state()
        walk.look("alumnus")
        page.fill("#phone", "0813-5000-7003")
        walk.submit("form[action$='/contact'] button[type=submit]")
        assert page.locator(".flash.ok").count() == 1, page.locator("main").inner_text()
        assert page.input_value("#phone") == "+6281350007003"  # stored normalised
        page.select_option("#channel", "email")
        walk.submit("form[action$='/invitation'] button[type=submit]")
        assert "dikirim ulang" in page.locator(".flash.ok").inner_text()
        walk.look("alumnus-corrected")

        # 8. the PDF and the XLSX from the reports page, downloaded and opened
        walk.go("/analytics/reports?wave=jalan-2026")
        walk.look("reports")
        files = {}
        for kind in ("pdf", "xlsx"):
            page.select_option("#r-wave", "jalan-2026")
            walk.submit(f"button[name=kind][value={kind}]")
            link = page.locator("#exports tbody tr").first.locator("a.download")
            link.wait_for(timeout=90_000)  # reports.js polls and reloads
            with page.expect_download() as waiting_file:
                link.click()
            files[kind] = tmp_path / f"report.{kind}"
            waiting_file.value.save_as(str(files[kind]))
        walk.look("reports-done")
        text = " ".join(p.extract_text() or "" for p in pypdf.PdfReader(files["pdf"]).pages)
        assert centre_name in " ".join(text.split()), text[:500]
        workbook = openpyxl.load_workbook(files["xlsx"], read_only=True)
        cells = " ".join(str(value) for sheet in workbook.worksheets
                         for line in sheet.iter_rows(values_only=True) for value in line
                         if value is not None)
        assert "Tracer Jalan 2026" in cells or "jalan-2026" in cells, cells[:500]

        # 9. closed (after the confirmation) and reopened
        walk.go("/survey/waves/jalan-2026")
        close = "form[action$='/jalan-2026/close'] button[type=submit]"
        page.click(close)  # the confirmation box is required: nothing happens yet
        assert page.locator(".badge.open").count() == 1
        page.check("form[action$='/jalan-2026/close'] input[name=confirm]")
        walk.submit(close)
        walk.go("/survey/waves/jalan-2026")
        assert page.locator(".badge.closed").count() == 1
        walk.look("wave-closed")
        walk.submit("form[action$='/reopen'] button[type=submit]")
        walk.go("/survey/waves/jalan-2026")
        assert page.locator(".badge.open").count() == 1
        walk.look("wave-reopened")
    except Exception:
        page.screenshot(path=str(shots / "failed.png"), full_page=True)
        raise
    finally:
        context.close()
    print(f"walk took {time.monotonic() - started:.0f} s, {walk.count} pages")
