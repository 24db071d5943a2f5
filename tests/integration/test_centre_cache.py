"""The centre's settings (shared/centre.py) as another process sees them right after a save.

Found by the staff walk (tests/e2e/test_staff_walk_browser.py): `jejak up` serves the pages
from two gunicorn workers. An admin saved the quiet hours in one; the page after "Settings
saved." came from the other, which had read the settings a few seconds before and kept
them for the process, so it showed (and a campaign launched then would have used) the old
quiet hours. The settings are now read once per session (one request, one task), so the next
request of any process reads what was committed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from shared.centre import centre

ROOT = Path(__file__).resolve().parents[2]
# Another process (the other gunicorn worker) saves the quiet hours, as the settings page does.
SAVE = """
import sys
from sqlalchemy.orm import sessionmaker
from shared.centre import check, save_centre
from shared.db import Database
database = Database.for_url(sys.argv[1])
clean, errors = check({"quiet_hours": "22:12-01:12"})
assert not errors, errors
with database.session_factory() as session:
    save_centre(session, clean, "admin")
    session.commit()
"""


def test_a_request_after_a_save_in_another_process_reads_the_saved_settings(
        settings, clean_db) -> None:
    with clean_db.session_factory() as earlier:  # a request served a moment before
        assert centre(earlier, settings).quiet_hours == settings.quiet_hours
    done = subprocess.run([sys.executable, "-c", SAVE, settings.database_url], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    with clean_db.session_factory() as page:  # the page after "Settings saved."
        assert centre(page, settings).quiet_hours == "22:12-01:12"
