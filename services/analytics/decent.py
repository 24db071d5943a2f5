"""Which minimum wage applies where an alumnus works, and the decent-work weight of each
respondent (docs/indicators.md, "Which minimum wage" and "Decent work").

Framework-free: the rules are plain values (`Wages`, `Preset`), and each rule has a Python
form (the reference, `applicable_wage`, `person_weight`) and a SQL form built from the same
values (`wage_threshold_case`, `weight_case`) for the fill statement. Tests check the two
against each other on random data on both databases.

Where an alumnus works: the UMK of the work city or regency when a wage row of the wave's
year exists for it, else the UMP of the work province (the city's province when only the
city is known), else the centre's own wage (`wages.choose`, exactly the figure used before
work places were asked). Work abroad (`shared.regions.ABROAD`) has no Indonesian wage: it
falls to the centre's own.

Money: a decreed wage may have sen, so wages are kept here in sen (integers). An income in
whole rupiah is "at or above" a wage of `s` sen when `income >= ceil(s / 100)` (the
`amount` column: the same comparison `above_minimum_wage` always made), and "over m % of"
it when `income * 10000 > m * s`, i.e. `income >= floor(m * s / 10000) + 1`: every
threshold is an integer worked out here, so the SQL compares integers only.

Decent work is a mean of per-person weights in [0, 1], kept in integer hundredths (a weight
of 0.8 is 80) so cells stay sums of integers: the fill adds, per preset, how many were
weighed (`decent_n`), Σ weight (`decent_sum`) and Σ weight² (`decent_squares`, in ten
thousandths). A respondent is weighed when their status (f8) is answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, case, func, literal

# The projection's column (indicator_answers) each input is read from, in one place: a
# questionnaire version that renames them changes only this mapping.
COLUMNS = {"status": "status", "waiting": "waiting", "income": "income",
           "contract": "contract", "work_city": "work_city", "work_province": "work_province"}
# The coded columns the decent-work measures and the incomes by work place read, whether or
# not the questionnaire asks them (NULL where it does not): the fill statement always
# selects them.
PLACE_COLUMNS = (COLUMNS["status"], COLUMNS["work_city"], COLUMNS["work_province"],
                 COLUMNS["contract"])
EMPLOYEE, SELF_EMPLOYED, FURTHER_STUDY = 1, 3, 4  # status (f8) codes
WRITTEN_CONTRACTS = (1, 2)  # PKWTT, PKWT (3: none or informal)
CASES = ("umk", "ump", "centre")  # which wage applied
PRESET_NAMES = ("iku2", "blk")


# --- wages -----------------------------------------------------------------------------------


class Wages(NamedTuple):
    """The wages of a wave's year, as the rules read them (hashable: a cache key).

    `centre`: the centre's own wage in whole rupiah (`wages.choose`; None: none set), and
    `centre_sen` the same in sen; `cities` and `provinces`: (BPS code, sen) of every UMK and
    UMP row of the year, sorted.
    """

    centre: int | None
    centre_sen: int | None = None
    cities: tuple[tuple[int, int], ...] = ()
    provinces: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, centre: int | None) -> Wages:
        """The centre's wage alone (what every wave had before work places)."""
        return cls(centre, None if centre is None else centre * 100)


def as_wages(minimum_wage: int | Wages | None) -> Wages:
    """A plain amount (the centre's wage, as callers gave it before) as `Wages`."""
    return minimum_wage if isinstance(minimum_wage, Wages) else Wages.of(minimum_wage)


def applicable_wage(wages: Wages, city: int | None, province: int | None
                    ) -> tuple[str, int | None]:
    """(case, wage in sen) for an alumnus working in this city and province (None:
    unknown): "umk", "ump" or "centre" (the centre's wage, None when none is set)."""
    if city is not None:
        for code, sen in wages.cities:
            if code == city:
                return "umk", sen
    place = province if province is not None else (None if city is None else city // 100)
    if place is not None:
        for code, sen in wages.provinces:
            if code == place:
                return "ump", sen
    return "centre", wages.centre_sen


def at_or_above(sen: int) -> int:
    """The smallest whole-rupiah income at or above a wage of `sen` sen."""
    return -(-sen // 100)


def over(sen: int, percent: int) -> int:
    """The smallest whole-rupiah income over `percent` % of a wage of `sen` sen."""
    return percent * sen // 10000 + 1


def place_key(city: int | None, province: int | None, income: int) -> str:
    """The key of `Cell.income_place`: "city:province:income", city 0 when unknown and the
    province the city's own when only the city is known."""
    if province is None and city is not None:
        province = city // 100
    return f"{city or 0}:{province or 0}:{income}"


def parse_place_key(key: str) -> tuple[int | None, int | None, int]:
    city, province, income = (int(part) for part in key.split(":"))
    return city or None, province or None, income


# --- presets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusTable:
    """Weights (hundredths) of one status by waiting time and pay: under `full_months` and
    paid over the multiple → `full`; under `partial_months` and paid over → `partial_paid`;
    under `partial_months` otherwise → `partial_unpaid`; else 0. A missing waiting time or
    income meets no condition that needs it."""

    full_months: int = 6
    partial_months: int = 12
    full: int = 100
    partial_paid: int = 80
    partial_unpaid: int = 60


@dataclass(frozen=True)
class Preset:
    """One rule set of the decent-work indicator, kept as data (decent_work_presets).

    `pay_percent`: pay must exceed this percentage of the applicable wage (120: 1.2 ×).
    `contract_required`: an employee (status 1) without a written contract (PKWTT or PKWT)
    weighs 0. `further_study`: the weight of a respondent in further study (status 4).
    """

    name: str
    pay_percent: int = 120
    contract_required: bool = False
    employee: StatusTable = field(default_factory=StatusTable)
    self_employed: StatusTable = field(default_factory=StatusTable)
    further_study: int = 100

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body.pop("name")
        return body

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any]) -> Preset:
        """The preset stored as `data`; missing entries take IKU 2's values."""
        tables = {key: StatusTable(**{**asdict(StatusTable()), **dict(data.get(key) or {})})
                  for key in ("employee", "self_employed")}
        plain = {key: data[key] for key in ("pay_percent", "contract_required",
                                            "further_study") if key in data}
        return cls(name=name, **plain, **tables)  # type: ignore[arg-type]


# IKU 2 of Kepmendiktisaintek 358/M/KEP/2025 for employees; self-employment and further
# study are Jejak's reading (docs/indicators.md, "Decent work"): check them against the
# decree before an official report.
IKU2 = Preset(name="iku2")
BLK_DEFAULT = replace(IKU2, name="blk")
DEFAULT_PRESETS = {"iku2": IKU2, "blk": BLK_DEFAULT}
EDITABLE = frozenset({"blk"})


class Plan(NamedTuple):
    """What the fill weighs respondents with: the wave's wages and the presets (hashable:
    the fill statement is cached per plan, i.e. per settings version)."""

    wages: Wages
    presets: tuple[Preset, ...]


def check_preset(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean the editable numbers of a preset (the staff page and any caller): months are
    whole numbers 0–120 with full ≤ partial, weights 0–100 hundredths with full ≥ paid ≥
    unpaid, the pay percentage 1–1000. Returns (preset JSON, {field: problem in English})."""
    errors: dict[str, str] = {}

    def whole(name: str, low: int, high: int) -> int:
        raw = values.get(name)
        try:
            number = int(str(raw).strip())
        except (TypeError, ValueError):
            errors[name] = f"a whole number from {low} to {high}"
            return low
        if not low <= number <= high:
            errors[name] = f"a whole number from {low} to {high}"
        return number

    tables = {}
    for table in ("employee", "self_employed"):
        numbers = {"full_months": whole(f"{table}.full_months", 0, 120),
                   "partial_months": whole(f"{table}.partial_months", 0, 120),
                   "full": whole(f"{table}.full", 0, 100),
                   "partial_paid": whole(f"{table}.partial_paid", 0, 100),
                   "partial_unpaid": whole(f"{table}.partial_unpaid", 0, 100)}
        if numbers["full_months"] > numbers["partial_months"]:
            errors.setdefault(f"{table}.full_months", "not more than the second limit")
        tables[table] = numbers
    data = {"pay_percent": whole("pay_percent", 1, 1000),
            "contract_required": str(values.get("contract_required", "")).lower()
            in ("1", "true", "on", "yes"),
            "further_study": whole("further_study", 0, 100), **tables}
    return data, errors


# --- the Python reference ---------------------------------------------------------------------


def person_weight(preset: Preset, wages: Wages, *, status: int | None, waiting: int | None,
                  income: int | None, contract: int | None, city: int | None,
                  province: int | None) -> int | None:
    """The respondent's weight in hundredths under `preset` (None: not weighed, status not
    answered). The reference for `weight_case`."""
    if status is None:
        return None
    if status == FURTHER_STUDY:
        return preset.further_study
    if status not in (EMPLOYEE, SELF_EMPLOYED):
        return 0
    if status == EMPLOYEE and preset.contract_required and contract not in WRITTEN_CONTRACTS:
        return 0
    table = preset.employee if status == EMPLOYEE else preset.self_employed
    _, sen = applicable_wage(wages, city, province)
    paid = income is not None and sen is not None and income >= over(sen, preset.pay_percent)
    if waiting is None:
        return 0
    if waiting < table.full_months and paid:
        return table.full
    if waiting < table.partial_months and paid:
        return table.partial_paid
    if waiting < table.partial_months:
        return table.partial_unpaid
    return 0


# --- the SQL form ----------------------------------------------------------------------------


def _column(answers: Any, name: str) -> Any:
    return answers[COLUMNS[name]]


def wage_threshold_case(answers: Any, wages: Wages, threshold: Any) -> ColumnElement[Any]:
    """CASE giving `threshold(sen)` of the wage applicable to the row's work place (the
    order of `applicable_wage`), NULL when none applies."""
    city, province = _column(answers, "work_city"), _column(answers, "work_province")
    place = func.coalesce(province, city // 100)
    whens = [(city == code, literal(threshold(sen))) for code, sen in wages.cities]
    whens += [(place == code, literal(threshold(sen))) for code, sen in wages.provinces]
    otherwise = None if wages.centre_sen is None else literal(threshold(wages.centre_sen))
    if not whens:
        return otherwise if otherwise is not None else literal(None)  # type: ignore[return-value]
    return case(*whens, else_=otherwise)


def weight_case(answers: Any, preset: Preset, wages: Wages, *, squared: bool = False
                ) -> ColumnElement[Any]:
    """The respondent's weight under `preset` (hundredths; with `squared`, its square),
    NULL when the status is not answered: `person_weight` as one CASE on the status, each
    arm testing the waiting time and the pay at most twice (a row is looked at once per
    aggregate, a million rows a full refresh)."""
    status, waiting = _column(answers, "status"), _column(answers, "waiting")
    income, contract = _column(answers, "income"), _column(answers, "contract")
    paid = income >= wage_threshold_case(
        answers, wages, lambda sen: over(sen, preset.pay_percent))

    def value(weight: int) -> Any:
        return literal(weight * weight if squared else weight)

    def by_time_and_pay(table: StatusTable) -> Any:
        return case(
            (and_(waiting < table.full_months, paid), value(table.full)),
            (waiting < table.partial_months,
             case((paid, value(table.partial_paid)), else_=value(table.partial_unpaid))),
            else_=value(0))

    employee = by_time_and_pay(preset.employee)
    if preset.contract_required:
        employee = case((contract.in_(WRITTEN_CONTRACTS), employee), else_=value(0))
    return case({FURTHER_STUDY: value(preset.further_study), EMPLOYEE: employee,
                 SELF_EMPLOYED: by_time_and_pay(preset.self_employed)},
                value=status, else_=case((status.is_not(None), value(0))))


def measures(plan: Plan | None) -> list[tuple[str, Any]]:
    """The fill statement's measures of decent work under `plan` (none without a plan),
    named as `measures.MEASURES` names them (`<table>.<key>` of a Cell table)."""
    if plan is None:
        return []
    found: list[tuple[str, Any]] = []
    for preset in plan.presets:
        found += [
            (f"decent_n.{preset.name}",
             lambda a: func.count(_column(a, "status"))),
            (f"decent_sum.{preset.name}",
             lambda a, preset=preset: func.sum(weight_case(a, preset, plan.wages))),
            (f"decent_squares.{preset.name}",
             lambda a, preset=preset: func.sum(weight_case(a, preset, plan.wages,
                                                           squared=True))),
        ]
    return found
