"""Rules of the default instrument that more than one service needs (docs/questionnaire.md).

The survey validates answers and analytics counts them; both must read the waiting time the
same way, and services may not import each other, so the rule lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _is(value: Any, expected: int) -> bool:
    # Same type and value: True is not the option code 1, "1" is not 1.
    return type(value) is int and value == expected


def waiting_months(answers: Mapping[str, Any]) -> int | None:
    """Months from the end of training to the first job (docs/questionnaire.md, "Waiting time").

    f502 if f504 = 1, f506 if f504 = 2; defined only for the employed and self-employed
    (f8 in {1, 3}).
    """
    if not any(_is(answers.get("f8"), status) for status in (1, 3)):
        return None
    for found_within_6, key in ((1, "f502"), (2, "f506")):
        if _is(answers.get("f504"), found_within_6):
            months = answers.get(key)
            return months if type(months) is int else None
    return None
