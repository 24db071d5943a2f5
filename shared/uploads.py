"""Uploaded spreadsheets checked by their content before any parser opens them.

Only CSV text and XLSX workbooks are accepted, judged by the bytes and not only the name: a
renamed executable, image or ZIP is refused. An XLSX is a ZIP archive, and openpyxl would
inflate whatever it holds: the central directory (read without inflating anything) gives
every member's uncompressed size, so a zip bomb (a few KB that expand to gigabytes) and a
workbook larger than the server should hold are refused before a byte is inflated.
Python's zipfile stops inflating a member at its declared size, so a member cannot lie its
way past these limits either.
"""

from __future__ import annotations

import zipfile
from pathlib import PurePath
from typing import IO

MAX_UNPACKED_BYTES = 256 * 1024 * 1024  # all members of one workbook, inflated
MAX_MEMBERS = 1000
# Sheet XML compresses about 5-20 times; a bomb, hundreds to millions of times.
MAX_RATIO = 200
RATIO_CHECKED_ABOVE = 1024 * 1024  # tiny members (styles, empty sheets) compress oddly well
SNIFF_BYTES = 8192
ZIP_MAGIC = b"PK\x03\x04"
# Signatures of files that are certainly not CSV text (images, PDF, executables, archives).
BINARY_MAGIC = (ZIP_MAGIC, b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"MZ", b"\x7fELF",
                b"\xd0\xcf\x11\xe0", b"\x1f\x8b", b"Rar!", b"7z\xbc\xaf")
ACCEPTED = (".csv", ".xlsx")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an Excel 97-2003 workbook (.xls)


class UploadRejected(ValueError):
    """The upload is not a spreadsheet this server will open; the message says why."""


def check_spreadsheet(file: IO[bytes], filename: str) -> str:
    """"csv" or "xlsx" when `file` really is one (by name and content), else UploadRejected.

    Leaves the file at the position it was found.
    """
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in ACCEPTED:
        raise UploadRejected(
            f"only .csv and .xlsx files can be imported, not {suffix or 'a file without one'}")
    start = file.tell()
    head = file.read(SNIFF_BYTES)
    file.seek(start)
    if suffix == ".xlsx":
        if not head.startswith(ZIP_MAGIC):
            raise UploadRejected("the file is named .xlsx but is not an Excel workbook "
                                 "(an XLSX file is a ZIP archive)")
        _check_workbook_archive(file)
        file.seek(start)
        return "xlsx"
    if head.startswith(BINARY_MAGIC) or b"\x00" in head:
        raise UploadRejected("the file is named .csv but is not text: save the roster as "
                             "'CSV UTF-8' or as an Excel workbook (.xlsx)")
    return "csv"


def check_workbook(file: IO[bytes], filename: str) -> str:
    """"xlsx" or "xls" when `file` really is an Excel workbook (an XLSForm), else
    UploadRejected. An .xlsx gets the archive checks of `check_spreadsheet`; an .xls is not
    an archive, it is read as it is, so the request's size limit bounds it.

    Leaves the file at the position it was found.
    """
    suffix = PurePath(filename or "").suffix.lower()
    if suffix == ".xlsx":
        return check_spreadsheet(file, filename)
    if suffix != ".xls":
        raise UploadRejected(f"only .xlsx and .xls workbooks are accepted, not "
                             f"{suffix or 'a file without one'}")
    start = file.tell()
    head = file.read(len(OLE2_MAGIC))
    file.seek(start)
    if head != OLE2_MAGIC:
        raise UploadRejected("the file is named .xls but is not an Excel 97-2003 workbook")
    return "xls"


def _check_workbook_archive(file: IO[bytes]) -> None:
    try:
        with zipfile.ZipFile(file) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise UploadRejected(f"the Excel workbook is damaged or incomplete: {exc}") from exc
    if len(members) > MAX_MEMBERS:
        raise UploadRejected(f"the workbook holds {len(members)} parts; at most "
                             f"{MAX_MEMBERS} are accepted")
    names = {member.filename for member in members}
    if "xl/workbook.xml" not in names:
        raise UploadRejected("the file is a ZIP archive but not an Excel workbook "
                             "(no xl/workbook.xml)")
    unpacked = 0
    for member in members:
        unpacked += member.file_size
        if (member.file_size > RATIO_CHECKED_ABOVE
                and member.file_size > MAX_RATIO * max(member.compress_size, 1)):
            ratio = member.file_size // max(member.compress_size, 1)
            raise UploadRejected(
                f"the workbook part {member.filename} expands {ratio} times "
                f"({member.file_size // 1_048_576} MiB): refused as a possible zip bomb")
    if unpacked > MAX_UNPACKED_BYTES:
        raise UploadRejected(
            f"the workbook expands to {unpacked // 1_048_576} MiB; at most "
            f"{MAX_UNPACKED_BYTES // 1_048_576} MiB are accepted: split the roster")
