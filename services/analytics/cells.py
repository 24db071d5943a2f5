"""Sufficient statistics of one cell of one wave: program × cohort × gender.

Why cells: docs/architecture.md §7.

Every indicator of docs/indicators.md, every breakdown, weight and interval is derived from cells,
so one scan fills them and a submitted or edited response changes one cell. A cell holds only
counts and sums of integers: merging cells is addition, removing a response is subtraction,
and medians stay exact because waiting times and incomes are kept as value-frequency tables.

`Cell.add_response` is the reference definition of every field: a SQL scan that fills cells
directly must give the same cell as adding the same answers one by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from itertools import repeat
from operator import add
from typing import Any, NamedTuple

from services.analytics.decent import Plan, person_weight, place_key
from shared.indicator_inputs import (
    V1_INPUTS,
    IndicatorInputs,
    code_of,
    waiting_months,
    work_location_of,
)

STATUS_CODES = (1, 2, 3, 4, 5)  # canonical status codes (blk-tracer v1's f8)
EMPLOYED_STATUSES = (1, 3)  # bekerja, wiraswasta
RELEVANCE_CODES = (1, 2, 3, 4, 5)  # f14
RELEVANT_CODES = (1, 2, 3)  # sangat erat, erat, cukup erat
LOCATION_CODES = (1, 2, 3, 4)  # f5a2
LOCAL_CODE = 1  # Kota Bontang
CERTIFICATE_CODES = (1, 2, 3)  # blk_cert
CERTIFIED_CODE = 1
RATINGS = (1, 2, 3, 4, 5)  # f17 matrix and blk_eval
# blk-tracer v1's f17 pairs (A: level at the end of training, B: level the job needs), its
# training ratings and job-search channels: the names its cells and indicators use. Other
# questionnaires name theirs in their mapping (shared.indicator_inputs).
COMPETENCIES = (
    ("f1761", "f1762"),
    ("f1763", "f1764"),
    ("f1765", "f1766"),
    ("f1767", "f1768"),
    ("f1769", "f1770"),
    ("f1771", "f1772"),
    ("f1773", "f1774"),
    ("blk_k3_a", "blk_k3_b"),
    ("blk_tools_a", "blk_tools_b"),
)
TRAINING_EVAL_ITEMS = (
    "blk_eval_instructor",
    "blk_eval_facilities",
    "blk_eval_practice",
    "blk_eval_material",
)
JOB_SEARCH_CHANNELS = (
    "f401", "f402", "f403", "f404", "f405", "f406", "f407",
    "f408", "f409", "f410", "f411", "f412", "f413", "f416",
)
# AAPOR dispositions of targeted alumni without a complete response; complete ones (I) are
# `Cell.respondents`. Each target has exactly one disposition, so N is their sum.
OPEN_DISPOSITIONS = ("partial", "refusal", "non_contact", "unknown", "unreachable")
# Tables keyed by an answer value that is an integer (the others are keyed by answer keys).
_INTEGER_KEYED = frozenset({"status", "waiting_months", "income"})


class CellKey(NamedTuple):
    program_id: int  # kejuruan
    cohort_id: int  # angkatan
    gender: str  # L / P, copied onto the wave target when the wave opened


@dataclass
class Cell:
    """Counts for the targets of one cell; answer counts are over complete responses only.

    "Employed" below means f8 ∈ {1, 3}. A code counts only as an int among the instrument's
    codes (a stored "1" or an unknown code is not an answer), as the validator keeps them.
    """

    # Dispositions (AAPOR): complete respondents n (I), then the open ones.
    respondents: int = 0
    partial: int = 0
    refusal: int = 0
    non_contact: int = 0
    unknown: int = 0
    unreachable: int = 0  # U
    # f8 code -> respondents with it.
    status: dict[int, int] = field(default_factory=dict)
    # Employed with waiting_months ≤ 6.
    employed_within_6_months: int = 0
    # waiting_months -> employed with that waiting time (none: not counted).
    waiting_months: dict[int, int] = field(default_factory=dict)
    # f505 -> employed with that income, incomes > 0 only; above any minimum wage is derived.
    income: dict[int, int] = field(default_factory=dict)
    # Employed answering f14 / of them with f14 ∈ {1, 2, 3}.
    relevance_answered: int = 0
    relevant: int = 0
    # Employed answering f5a2 / of them working in Kota Bontang (f5a2 = 1).
    location_answered: int = 0
    local: int = 0
    # Respondents answering blk_cert / of them with blk_cert = 1.
    certificate_answered: int = 0
    certified: int = 0
    # Per competency (A key): respondents answering both A and B, and the sums of A and B.
    competency_answered: dict[str, int] = field(default_factory=dict)
    competency_a_sum: dict[str, int] = field(default_factory=dict)
    competency_b_sum: dict[str, int] = field(default_factory=dict)
    # Per blk_eval item: respondents rating it, and the sum of their ratings.
    training_eval_answered: dict[str, int] = field(default_factory=dict)
    training_eval_sum: dict[str, int] = field(default_factory=dict)
    # f4 option -> employed who ticked it (the share's base is `employed`).
    channels: dict[str, int] = field(default_factory=dict)
    # decent.place_key(work city, work province, income) -> employed with that income whose
    # work place is known (empty for questionnaires that do not ask it): which wage their
    # income is compared with is resolved when the figures are read.
    income_place: dict[str, int] = field(default_factory=dict)
    # Per decent-work preset (docs/indicators.md, "Decent work"): respondents weighed (status
    # answered), Σ weight in hundredths and Σ weight² in ten thousandths; filled only when
    # the wave has a minimum wage (the fill's `decent.Plan`).
    decent_n: dict[str, int] = field(default_factory=dict)
    decent_sum: dict[str, int] = field(default_factory=dict)
    decent_squares: dict[str, int] = field(default_factory=dict)

    @property
    def targets(self) -> int:
        """N: every targeted alumnus has one disposition."""
        return self.respondents + sum(getattr(self, name) for name in OPEN_DISPOSITIONS)

    @property
    def status_answered(self) -> int:
        """Respondents with a recognised f8; fewer than `respondents` only for bad data."""
        return sum(self.status.values())

    @property
    def employed(self) -> int:
        return sum(self.status.get(code, 0) for code in EMPLOYED_STATUSES)

    @classmethod
    def of_response(cls, answers: Mapping[str, Any], inputs: IndicatorInputs = V1_INPUTS,
                    plan: Plan | None = None) -> Cell:
        """The cell holding one complete response and nothing else, read through the
        questionnaire's indicator inputs (default: blk-tracer v1's). Inputs the mapping
        lacks leave their fields at zero; `indicators.compute` reports them not collected.
        `plan`: the wave's wages and decent-work presets (None: decent work is not weighed,
        as without a minimum wage)."""
        cell = cls(respondents=1)
        status = code_of(answers, inputs.code("status"))
        if status is not None:
            cell.status[status] = 1
        months = income = None
        city = code_of(answers, inputs.code("work_city"))
        province = code_of(answers, inputs.code("work_province"))
        if status in EMPLOYED_STATUSES:
            months = waiting_months(answers, inputs)
            if months is not None:
                cell.waiting_months[months] = 1
                cell.employed_within_6_months = int(months <= 6)
            income = answers.get(inputs.income) if inputs.income is not None else None
            if type(income) is int and income > 0:
                cell.income[income] = 1
                if city is not None or province is not None:
                    cell.income_place[place_key(city, province, income)] = 1
            else:
                income = None
            relevance = code_of(answers, inputs.code("relevance"))
            if relevance is not None:
                cell.relevance_answered = 1
                cell.relevant = int(relevance in RELEVANT_CODES)
            location = work_location_of(answers, inputs)
            if location is not None:
                cell.location_answered = 1
                cell.local = int(location == LOCAL_CODE)
            channels = inputs.job_search_channels
            ticked = answers.get(channels.item) if channels is not None else None
            if channels is not None and isinstance(ticked, list):
                cell.channels = {code: 1 for code in channels.options if code in ticked}
        certificate = code_of(answers, inputs.code("certificate"))
        if certificate is not None:
            cell.certificate_answered = 1
            cell.certified = int(certificate == CERTIFIED_CODE)
        for competency in inputs.competencies:
            level_a = _code(answers, competency.a, RATINGS)
            level_b = _code(answers, competency.b, RATINGS)
            if level_a is not None and level_b is not None:
                cell.competency_answered[competency.name] = 1
                cell.competency_a_sum[competency.name] = level_a
                cell.competency_b_sum[competency.name] = level_b
        for item in inputs.training_eval:
            rating = _code(answers, item, RATINGS)
            if rating is not None:
                cell.training_eval_answered[item] = 1
                cell.training_eval_sum[item] = rating
        if plan is not None and status is not None:
            contract = code_of(answers, inputs.code("contract"))
            for preset in plan.presets:
                weight = person_weight(preset, plan.wages, status=status, waiting=months,
                                       income=income, contract=contract, city=city,
                                       province=province) or 0
                cell.decent_n[preset.name] = 1
                if weight:  # zero entries are absent, as every table keeps them
                    cell.decent_sum[preset.name] = weight
                    cell.decent_squares[preset.name] = weight * weight
        return cell

    def add_response(self, answers: Mapping[str, Any], inputs: IndicatorInputs = V1_INPUTS,
                     plan: Plan | None = None) -> None:
        """Count one complete response. The caller moves the alumnus out of their open
        disposition (e.g. `cell.partial -= 1`): N does not change when someone completes."""
        _accumulate(self, Cell.of_response(answers, inputs, plan), 1)

    def remove_response(self, answers: Mapping[str, Any], inputs: IndicatorInputs = V1_INPUTS,
                        plan: Plan | None = None) -> None:
        """Exact inverse of `add_response(answers, inputs, plan)`; an edit is remove(old)
        then add(new).

        Raises ValueError, leaving the cell as it was, when the answers cannot have been
        added to it (a count would go negative).
        """
        response = Cell.of_response(answers, inputs, plan)
        for name in _FIELD_NAMES:
            mine, theirs = getattr(self, name), getattr(response, name)
            if (any(mine.get(key, 0) < count for key, count in theirs.items())
                    if isinstance(mine, dict) else mine < theirs):
                raise ValueError("these answers were not counted in this cell")
        _accumulate(self, response, -1)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (table keys as strings) for a snapshot row."""
        return {
            name: (
                {str(key): count for key, count in sorted(value.items())}
                if isinstance(value := getattr(self, name), dict) else value
            )
            for name in _FIELD_NAMES
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Cell:
        """Inverse of `to_json`; missing fields are zero, unknown ones are an error."""
        unknown = set(data) - set(_FIELD_NAMES)
        if unknown:
            raise ValueError(f"unknown cell fields: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if isinstance(value, Mapping):
                key_type = int if name in _INTEGER_KEYED else str
                values[name] = {key_type(key): int(count) for key, count in value.items()}
            else:
                values[name] = int(value)
        return cls(**values)


_FIELD_NAMES = tuple(item.name for item in fields(Cell))


def merge(cells: Iterable[Cell]) -> Cell:
    """The cell of the union of the cells' targets (a sum; the inputs are not changed)."""
    total = Cell()
    for cell in cells:
        _accumulate(total, cell, 1)
    return total


def replaced(total: Cell, removed: Iterable[Cell], added: Iterable[Cell]) -> Cell:
    """A new cell: `total` with the `removed` cells taken out and the `added` ones put in
    (each removed cell must have been summed into `total`). Exactly the sum a merge of the
    new parts gives, at the cost of the parts that changed."""
    result = Cell(**{name: (dict(value) if isinstance(value := getattr(total, name), dict)
                            else value) for name in _FIELD_NAMES})
    for cell in removed:
        _accumulate(result, cell, -1)
    for cell in added:
        _accumulate(result, cell, 1)
    return result


def cells_to_json(cells: Iterable[tuple[CellKey, Cell]]) -> list[dict[str, Any]]:
    """Keyed cells as a JSON-ready list, the form a snapshot row stores them in."""
    return [{**key._asdict(), "cell": cell.to_json()} for key, cell in cells]


def cells_from_json(data: Iterable[Mapping[str, Any]]) -> list[tuple[CellKey, Cell]]:
    return [
        (CellKey(int(row["program_id"]), int(row["cohort_id"]), str(row["gender"])),
         Cell.from_json(row["cell"]))
        for row in data
    ]


def _code(answers: Mapping[str, Any], key: str, codes: tuple[int, ...]) -> int | None:
    # type() rather than isinstance(): True must not count as the option code 1.
    value = answers.get(key)
    return value if type(value) is int and value in codes else None


def _accumulate(total: Cell, cell: Cell, sign: int) -> None:
    # In place: the live update and merges must not copy the income tables per response.
    for name in _FIELD_NAMES:
        mine, theirs = getattr(total, name), getattr(cell, name)
        if isinstance(mine, dict):
            if sign == 1 and theirs and min(theirs.values()) > 0:
                # Adding positive counts makes no zero entry: the same sums, computed by
                # the interpreter's C loops (a wave's income tables hold ~650,000 entries).
                mine.update(zip(theirs, map(add, map(mine.get, theirs, repeat(0)),
                                            theirs.values()), strict=True))
                continue
            for key, count in theirs.items():
                updated = mine.get(key, 0) + sign * count
                # Zero entries are dropped so that equal cells compare equal.
                if updated:
                    mine[key] = updated
                else:
                    mine.pop(key, None)
        else:
            setattr(total, name, mine + sign * theirs)
