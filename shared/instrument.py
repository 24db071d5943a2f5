"""Rules of the default instrument that more than one service needs (docs/questionnaire.md).

The survey validates answers and analytics counts them; both must read the waiting time the
same way, and services may not import each other, so the rule lives in shared. Since the
questionnaire declares its indicator inputs (shared.indicator_inputs), the rule is that
module's `waiting_months` read through blk-tracer v1's mapping; this name stays for the
survey engine and the tests that speak of v1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared import indicator_inputs


def waiting_months(answers: Mapping[str, Any]) -> int | None:
    """Months from the end of training to the first job (docs/questionnaire.md, "Waiting time").

    f502 if f504 = 1, f506 if f504 = 2; defined only for the employed and self-employed
    (f8 in {1, 3}).
    """
    return indicator_inputs.waiting_months(answers, indicator_inputs.V1_INPUTS)
