"""Files of personal data outside the database: private to the service account, short-lived.

Jejak writes personal data to disk in three places under `JEJAK_HOME` (docs/operations.md,
"Personal data on disk"): `imports/` (rejected roster rows, survey), `exports/` (report files;
the raw-responses workbook names every respondent, analytics) and `backups/` (`jejak
backup`). Every such file is created here with mode 0600 in a folder of mode 0700, whatever
the umask: another account on the server can neither list the folder nor read the file.
Each folder's owner deletes its files after `Settings.personal_files_days` (a beat job calls
`expire`), and erasure rewrites or lists them (services/survey/privacy.py).
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o600
FOLDER_MODE = 0o700
DAY_SECONDS = 86_400
IMPORTS, EXPORTS, BACKUPS = "imports", "exports", "backups"


def private_folder(folder: Path) -> Path:
    """Create `folder` (mode 0700) or tighten it to 0700; return it.

    For Jejak's own folders under JEJAK_HOME only: an older version made them 0755, and a
    folder someone else chose (a backup target) is checked with `is_private` instead.
    """
    folder = Path(folder)
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(folder.stat().st_mode) != FOLDER_MODE:
        os.chmod(folder, FOLDER_MODE)  # mkdir's mode is masked by the umask; old folders
    return folder


def is_private(folder: Path) -> bool:
    """Whether no other account may enter or list `folder` (no group or other bits)."""
    return not stat.S_IMODE(Path(folder).stat().st_mode) & 0o077


def open_private(path: Path, mode: str = "w", **options: Any) -> IO[Any]:
    """Open `path` for writing as a new 0600 file (an existing one is truncated and made
    0600); its folder must already be private (`private_folder`)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)  # O_CREAT's mode is masked; an old file kept its own
        return os.fdopen(descriptor, mode, **options)
    except BaseException:
        os.close(descriptor)
        raise


def reserve_private(path: Path) -> Path:
    """An empty 0600 file at `path`, for a writer that opens the path itself (openpyxl,
    sqlite3, pg_dump): they truncate an existing file and keep its mode."""
    open_private(path, "wb").close()
    return path


def expire(folder: Path, days: int, *, now: float | None = None) -> list[Path]:
    """Delete the files directly in `folder` last written more than `days` days ago.

    By modification time (an erasure that rewrites a file puts its time back, so the file
    still goes when it would have). Returns the deleted paths, oldest first.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - days * DAY_SECONDS
    old = sorted((entry.stat().st_mtime, Path(entry.path)) for entry in os.scandir(folder)
                 if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff)
    for _, path in old:
        path.unlink(missing_ok=True)
    return [path for _, path in old]
