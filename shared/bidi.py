"""Bidirectional-override characters: refused in names and free text that staff read.

U+202A–U+202E (embeddings and overrides) and U+2066–U+2069 (isolates) reorder the text
around them when it is displayed: "Budi\u202egnp.exe" reads as "Budiexe.png" on a staff page
or in a spreadsheet, and a name can be made to look like another. No roster value or survey
answer has a reason to hold them (Indonesian and English are written left to right).
"""

from __future__ import annotations

import re

BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")
