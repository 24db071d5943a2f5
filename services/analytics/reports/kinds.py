"""The kinds of export and their files: light, so the web app need not import the writers
(fpdf2 alone takes about a second to import)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

# kind -> file extension. raw_xlsx holds personal data: operators only (exports_api).
KINDS = {"xlsx": "xlsx", "pdf": "pdf", "csv": "csv", "raw_xlsx": "xlsx"}
AGGREGATE_KINDS = ("xlsx", "pdf", "csv")
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "csv": "text/csv",
}
_DOWNLOAD_WORDS = {"xlsx": "indikator", "pdf": "laporan", "csv": "indikator",
                   "raw_xlsx": "respons"}


def export_path(home: Path, export_id: uuid.UUID, kind: str) -> Path:
    """Where an export's file lives: `<home>/exports/<id>.<ext>`."""
    return Path(home) / "exports" / f"{export_id}.{KINDS[kind]}"


def download_name(kind: str, params: dict[str, Any]) -> str:
    """The file name a browser saves: jejak-<wave>-<what>.<ext>."""
    return f"jejak-{params.get('wave', 'wave')}-{_DOWNLOAD_WORDS[kind]}.{KINDS[kind]}"
