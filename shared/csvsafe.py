"""Spreadsheet formula injection: a cell that a spreadsheet would run as a formula is made inert.

Excel and LibreOffice start a formula at = + - @, also after leading spaces, and a leading
tab or carriage return has been used to smuggle one past naive checks.
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@")
CONTROL_START = ("\t", "\r", "\n")
_LEADING_BLANKS = " \t\r\n\x0b\x0c\u00a0"


def is_formula_like(text: str) -> bool:
    return text.startswith(CONTROL_START) or text.lstrip(_LEADING_BLANKS).startswith(FORMULA_START)


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A leading apostrophe makes Excel and LibreOffice show the text instead of running it.
    return "'" + text if is_formula_like(text) else text


def restore_cell(text: str) -> str:
    """Undo `safe_cell`, so a file Jejak wrote (a rejections report) imports as it was."""
    return text[1:] if text.startswith("'") and is_formula_like(text[1:]) else text
