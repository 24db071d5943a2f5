"""What a language code looks like, for the questionnaire format and the language switch.

A definition's texts may carry languages Jejak has no translation of (an XLSForm's French
labels); the switch offers them and the page words its own chrome in English then. Both
sides read the code with this one pattern: a BCP 47-like code (fr, pt-BR) or "und", an
XLSForm's plain `label` column that names no language.
"""

from __future__ import annotations

import re

# \Z, not $: a trailing newline is no part of a code.
LANGUAGE_CODE = re.compile(r"(?:[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})*|und)\Z")
