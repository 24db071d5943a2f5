"""The Content-Security-Policy in a real Chromium: no page of `jejak up --demo` breaks it.

Chromium reports every blocked script, style or frame on the console; the pages must load
without one, and the Swagger UI (started by a static file, not an inline script) must
still draw the API description.
"""

from __future__ import annotations

import pytest

from tests.conftest import TEST_DB
from tests.e2e.test_dashboard_browser import sign_in

pytestmark = pytest.mark.skipif(
    TEST_DB != "sqlite", reason="drives `jejak up` (SQLite); runs in the SQLite pass"
)

PAGES = ("/analytics/?wave=tracer-2025", "/survey/", "/survey/import", "/outreach/",
         "/survey/w/tracer-2025", "/analytics/login")


def test_no_page_breaks_the_content_security_policy(jejak, browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    try:
        sign_in(page, jejak)
        for path in PAGES:
            response = page.goto(jejak.base_url + path)
            assert response is not None and response.status == 200, path
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            page.wait_for_load_state("networkidle")
        page.goto(jejak.base_url + "/survey/api/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
        assert "Jejak survey" in page.inner_text(".swagger-ui .info .title")
    finally:
        context.close()
    assert not violations, "\n".join(violations)
