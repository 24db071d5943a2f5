"""The settings page shows what was saved, whichever process saved it.

Found by the staff walk (tests/e2e/test_staff_walk_browser.py): `jejak up` serves the pages
from two gunicorn workers, and each keeps the centre's settings for CACHE_SECONDS. An admin
saved the quiet hours in one worker; the page after "Settings saved." came from the other,
which had read them a moment before, and showed the old quiet hours. The settings page now
reads past the cache (`centre(..., fresh=True)`); other pages still see a change within
CACHE_SECONDS (shared/centre.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integration.test_staff_pages import signed_in, staff  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parents[2]
# The other gunicorn worker: saves the quiet hours as the settings page does.
SAVE = """
import sys
from shared.centre import check, save_centre
from shared.db import Database
database = Database.for_url(sys.argv[1])
clean, errors = check({"quiet_hours": "22:12-01:12"})
assert not errors, errors
with database.session_factory() as session:
    save_centre(session, clean, "admin14")
    session.commit()
"""


def test_the_settings_page_shows_a_save_made_by_another_process(
        analytics_app, staff, settings) -> None:  # noqa: F811
    client = signed_in(analytics_app, "admin")
    before = client.get("/settings").get_data(as_text=True)  # this process reads and keeps
    assert f'value="{settings.quiet_hours}"' in before
    done = subprocess.run([sys.executable, "-c", SAVE, settings.database_url], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    after = client.get("/settings").get_data(as_text=True)  # "Settings saved." here
    assert 'value="22:12-01:12"' in after
