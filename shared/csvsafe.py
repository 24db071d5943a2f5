"""Spreadsheet formula injection: a cell starting with = + - @ (or tab/CR) is made inert."""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A leading apostrophe makes Excel and LibreOffice show the text instead of running it.
    return "'" + text if text.startswith(FORMULA_START) else text
