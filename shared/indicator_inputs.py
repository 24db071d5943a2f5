"""Indicator inputs: the named answers the indicators are computed from, as a questionnaire
declares them (docs/questionnaire.md, "Indicator inputs"; docs/indicators.md).

A questionnaire definition carries a top-level "indicator_inputs" object mapping its items to
the inputs of this catalogue (employment status with its codes, waiting months with the rule
that derives them, income, work place, relevance, ...). The survey checks a mapping against
the items of the questionnaire when a version is stored and tells, when a wave opens, which
indicators the wave will have; analytics builds its projection from it. Services may not
import each other, so the catalogue, the parser and the reference reading of one response's
answers live here.

Invariants:

- Inputs hold canonical codes (`CANONICAL`): status codes are blk-tracer v1's f8 codes
  (1 working, 2 not yet able, 3 self-employed, 4 studying, 5 seeking), and so on. A mapping
  may translate its item's codes ("codes": {"item code": canonical code}); without one the
  item's codes are taken as they are, and only canonical ones count.
- An answer counts only as a JSON integer among the item's mapped codes (True is not 1,
  "1" is not 1), as the survey's validator keeps them.
- A definition without "indicator_inputs" (stored before the mapping existed) reads as
  blk-tracer v1's mapping restricted to the items it has with the right types
  (`indicator_mapping.inputs_of`), so a v1 wave's figures do not depend on when its
  questionnaire was stored.
- An input absent from the mapping is *not collected*: its indicators are reported as such,
  never as zero (`indicators_lacking`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from shared.regions import ABROAD, EAST_KALIMANTAN_CITIES, PROVINCES, province_of

# Canonical codes of each coded input.
CANONICAL: dict[str, tuple[int, ...]] = {
    "status": (1, 2, 3, 4, 5),  # working, not yet able, self-employed, studying, seeking
    "work_location": (1, 2, 3, 4),  # Bontang, elsewhere in East Kalimantan, other province, abroad
    "work_province": (*PROVINCES, ABROAD),  # BPS province codes, 99 abroad
    "work_city": tuple(EAST_KALIMANTAN_CITIES),  # BPS regency codes of East Kalimantan
    "relevance": (1, 2, 3, 4, 5),  # very closely .. not at all
    "edu_match": (1, 2, 3, 4),  # higher, same, lower level, no particular level
    "contract": (1, 2, 3),  # PKWTT (permanent), PKWT (fixed term), none or informal
    "certificate": (1, 2, 3),  # yes, no, in progress
    "further_training": (1, 2),  # yes, no
}
CODED_INPUTS = tuple(CANONICAL)
RATINGS = (1, 2, 3, 4, 5)  # competency levels and training ratings
WAITING_RULES = ("split_at_6", "single")
# Columns of the projection reserved for list inputs (docs/indicators.md): a mapping may name
# at most this many competencies, rated training aspects and job-search channels.
COMPETENCY_SLOTS = 12
TRAINING_EVAL_SLOTS = 8
CHANNEL_SLOTS = 31  # bits of a 32-bit integer column
INPUT_NAMES = (*CODED_INPUTS, "waiting_months", "income", "competencies", "training_eval",
               "job_search_channels")

# Every indicator of the API with the inputs it needs (all of them).
INDICATOR_INPUTS: dict[str, tuple[str, ...]] = {
    "status_share": ("status",),
    "absorption_rate": ("status",),
    "employed_within_6_months": ("status", "waiting_months"),
    "waiting_months_median": ("status", "waiting_months"),
    "waiting_months_mean": ("status", "waiting_months"),
    "waiting_bins": ("status", "waiting_months"),
    "income_median": ("status", "income"),
    "above_minimum_wage": ("status", "income"),
    "relevance_share": ("status", "relevance"),
    "local_absorption": ("status", "work_location"),
    "certificate_share": ("certificate",),
    "competency_gap": ("competencies",),
    "training_eval": ("training_eval",),
    "job_search_channels": ("status", "job_search_channels"),
    "decent_work": ("status", "waiting_months", "income"),
}


def N_(message: str) -> str:
    """Marks a message for translation (pybabel finds it); the caller translates it."""
    return message


# Each indicator's name in English, the msgid; pages show its translation.
INDICATOR_TITLES: dict[str, str] = {
    "status_share": N_("Status of the alumni"),
    "absorption_rate": N_("Absorption rate"),
    "employed_within_6_months": N_("Employed within 6 months"),
    "waiting_months_median": N_("Median waiting time"),
    "waiting_months_mean": N_("Mean waiting time"),
    "waiting_bins": N_("Waiting time in bands"),
    "income_median": N_("Median income"),
    "above_minimum_wage": N_("Earning at least the minimum wage"),
    "relevance_share": N_("Work related to the training"),
    "local_absorption": N_("Working locally"),
    "certificate_share": N_("With a competency certificate"),
    "competency_gap": N_("Competency gap"),
    "training_eval": N_("Rating of the training"),
    "job_search_channels": N_("Job-search channels"),
    "decent_work": N_("Decent work"),
}


class InputsError(ValueError):
    """A mapping that cannot be used; `problems` are (path, English sentence) pairs, the
    sentence naming the input and the item."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


@dataclass(frozen=True)
class Coded:
    """A single-choice item read as canonical codes: `codes` pairs (item code, canonical)."""

    item: str
    codes: tuple[tuple[int, int], ...]

    @property
    def item_codes(self) -> tuple[int, ...]:
        return tuple(code for code, _ in self.codes)

    @property
    def identity(self) -> bool:
        return all(code == canonical for code, canonical in self.codes)


@dataclass(frozen=True)
class Waiting:
    """Months from the end of training to the first job. "split_at_6": items (found within
    6 months (1 yes, 2 no), months if yes, months if no), blk-tracer v1's f504/f502/f506;
    "single": one integer item, 0 = found before the training ended."""

    rule: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Competency:
    name: str  # the key the API reports it under (blk-tracer v1: the A item's key)
    a: str  # level at the end of training
    b: str  # level the job needs


@dataclass(frozen=True)
class Channels:
    item: str  # a multiple-choice item
    options: tuple[str, ...]  # its option codes counted, in report order


@dataclass(frozen=True)
class IndicatorInputs:
    """One questionnaire's mapping, hashable: analytics caches its statements per mapping."""

    coded: tuple[tuple[str, Coded], ...] = ()  # (input name, reading), in CODED_INPUTS order
    waiting_months: Waiting | None = None
    income: str | None = None
    competencies: tuple[Competency, ...] = ()
    training_eval: tuple[str, ...] = ()
    job_search_channels: Channels | None = None
    # work_location derived from the work place ("rule": "from_place"): the BPS code of the
    # centre's own city or regency (location 1), whose province is location 2.
    local_city: int | None = None

    def __hash__(self) -> int:
        """Worked out once: the readers key a thousand groups' figures by the mapping per
        answer, and hashing its nested tuples each time cost more than the lookup."""
        found = self.__dict__.get("_hash")
        if found is None:
            found = hash(tuple(getattr(self, field.name) for field in fields(self)))
            object.__setattr__(self, "_hash", found)
        return found

    def code(self, name: str) -> Coded | None:
        return dict(self.coded).get(name)

    def option_key(self, name: str, canonical: int) -> str:
        """Where the questionnaire labels this input's canonical code: "item.code" of the
        first item code read as it (blk-tracer v1: "f8.1"); "name.code" when not collected."""
        coded = self.code(name)
        city = self.code("work_city")
        if name == "work_location" and self.local_city is not None and city is not None:
            return f"{city.item}.{self.local_city}"  # "Kota Bontang", as v2 names it
        if coded is None:
            return f"{name}.{canonical}"
        item_code = next((code for code, value in coded.codes if value == canonical), canonical)
        return f"{coded.item}.{item_code}"

    def channel_key(self, option: str) -> str:
        """Where the questionnaire labels a job-search channel: "item.option" ("f4.f401")."""
        item = self.job_search_channels.item if self.job_search_channels else "channels"
        return f"{item}.{option}"

    @property
    def collected(self) -> frozenset[str]:
        """The inputs this questionnaire collects."""
        names = {name for name, _ in self.coded}
        if self.local_city is not None and "work_province" in names:
            names.add("work_location")
        for name, present in (("waiting_months", self.waiting_months is not None),
                              ("income", self.income is not None),
                              ("competencies", bool(self.competencies)),
                              ("training_eval", bool(self.training_eval)),
                              ("job_search_channels", self.job_search_channels is not None)):
            if present:
                names.add(name)
        return frozenset(names)

    def to_json(self) -> dict[str, Any]:
        """The mapping as a questionnaire carries it (`parse_inputs` reads it back)."""
        out: dict[str, Any] = {}
        for name, coded in self.coded:
            out[name] = {"item": coded.item}
            if not coded.identity or coded.item_codes != CANONICAL[name]:
                out[name]["codes"] = {str(code): canonical for code, canonical in coded.codes}
        if self.local_city is not None:
            out["work_location"] = {"rule": "from_place", "city": self.local_city}
        if self.waiting_months is not None:
            out["waiting_months"] = {"rule": self.waiting_months.rule,
                                     **dict(zip(_WAITING_PARTS[self.waiting_months.rule],
                                                self.waiting_months.items, strict=True))}
        if self.income is not None:
            out["income"] = {"item": self.income}
        if self.competencies:
            out["competencies"] = [{"name": c.name, "a": c.a, "b": c.b}
                                   for c in self.competencies]
        if self.training_eval:
            out["training_eval"] = {"items": list(self.training_eval)}
        if self.job_search_channels is not None:
            out["job_search_channels"] = {"item": self.job_search_channels.item,
                                          "options": list(self.job_search_channels.options)}
        return out


_WAITING_PARTS = {"split_at_6": ("within_6", "months_within", "months_after"),
                  "single": ("item",)}


def indicators_lacking(inputs: IndicatorInputs) -> tuple[str, ...]:
    """The indicators (API keys, `INDICATOR_INPUTS` order) this mapping cannot give."""
    collected = inputs.collected
    return tuple(indicator for indicator, needs in INDICATOR_INPUTS.items()
                 if not set(needs) <= collected)


def indicators_having(inputs: IndicatorInputs) -> tuple[str, ...]:
    lacking = set(indicators_lacking(inputs))
    return tuple(indicator for indicator in INDICATOR_INPUTS if indicator not in lacking)


# --- reading a mapping ------------------------------------------------------------------------


def parse_inputs(raw: Any) -> IndicatorInputs:
    """The mapping of a definition's "indicator_inputs" object; InputsError naming each
    problem of its shape (its items are checked by `indicator_mapping.check_inputs`)."""
    problems: list[tuple[str, str]] = []
    if not isinstance(raw, Mapping):
        raise InputsError([("indicator_inputs", "must be an object naming inputs")])
    for name in raw:
        if name not in INPUT_NAMES:
            problems.append((f"indicator_inputs.{name}",
                             f"'{name}' is not an indicator input; choose from "
                             f"{', '.join(INPUT_NAMES)}"))
    coded: list[tuple[str, Coded]] = []
    local_city = None
    if isinstance(raw.get("work_location"), Mapping) and "rule" in raw["work_location"]:
        local_city = _from_place(raw["work_location"], problems)
    for name in CODED_INPUTS:
        if name in raw and not (name == "work_location" and "rule" in raw[name]):
            reading = _coded(name, raw[name], problems)
            if reading is not None:
                coded.append((name, reading))
    waiting = _waiting(raw.get("waiting_months"), problems) if "waiting_months" in raw else None
    income = _item(raw["income"], "indicator_inputs.income", problems) if "income" in raw else None
    competencies = _competencies(raw.get("competencies", []), problems)
    evaluation = _training_eval(raw.get("training_eval", {"items": []}), problems)
    channels = (_channels(raw["job_search_channels"], problems)
                if "job_search_channels" in raw else None)
    if problems:
        raise InputsError(problems)
    return IndicatorInputs(tuple(coded), waiting, income, competencies, evaluation, channels,
                           local_city)


def _from_place(raw: Mapping[str, Any], problems: list[tuple[str, str]]) -> int | None:
    path = "indicator_inputs.work_location"
    if raw.get("rule") != "from_place":
        problems.append((f"{path}.rule", "must be from_place (or give an item instead)"))
        return None
    city = raw.get("city")
    if type(city) is not int or city not in EAST_KALIMANTAN_CITIES:
        problems.append((f"{path}.city", "must be the BPS code of a city or regency of "
                                         "East Kalimantan (Kota Bontang: 6474)"))
        return None
    return city


def _item(raw: Any, path: str, problems: list[tuple[str, str]], part: str = "item") -> str | None:
    value = raw.get(part) if isinstance(raw, Mapping) else None
    if not isinstance(value, str) or not _is_key(value):
        problems.append((f"{path}.{part}", "must name an item key (letters, digits, _)"))
        return None
    return value


def _is_key(value: str) -> bool:
    return bool(value) and all(ch.isascii() and (ch.isalnum() or ch == "_") for ch in value)


def _coded(name: str, raw: Any, problems: list[tuple[str, str]]) -> Coded | None:
    path = f"indicator_inputs.{name}"
    item = _item(raw, path, problems)
    if item is None:
        return None
    given = raw.get("codes")
    if given is None:
        return Coded(item, tuple((code, code) for code in CANONICAL[name]))
    if not isinstance(given, Mapping) or not given:
        problems.append((f"{path}.codes", "must map the item's codes to input codes"))
        return None
    pairs = []
    for item_code, canonical in given.items():
        try:
            code = int(item_code)
        except ValueError:
            code = None
        if code is None or str(code) != str(item_code).strip():
            problems.append((f"{path}.codes", f"'{item_code}' is not a whole-number code"))
        elif type(canonical) is not int or canonical not in CANONICAL[name]:
            problems.append((f"{path}.codes.{item_code}",
                             f"{canonical!r} is not a code of {name} "
                             f"({', '.join(map(str, CANONICAL[name][:12]))}"
                             f"{', ...' if len(CANONICAL[name]) > 12 else ''})"))
        else:
            pairs.append((code, canonical))
    return Coded(item, tuple(sorted(pairs)))


def _waiting(raw: Any, problems: list[tuple[str, str]]) -> Waiting | None:
    path = "indicator_inputs.waiting_months"
    rule = raw.get("rule") if isinstance(raw, Mapping) else None
    if rule not in WAITING_RULES:
        problems.append((f"{path}.rule", f"must be one of {', '.join(WAITING_RULES)}"))
        return None
    items = [_item(raw, path, problems, part) for part in _WAITING_PARTS[rule]]
    if any(item is None for item in items):
        return None
    return Waiting(rule, tuple(item for item in items if item is not None))


def _competencies(raw: Any, problems: list[tuple[str, str]]) -> tuple[Competency, ...]:
    path = "indicator_inputs.competencies"
    if not isinstance(raw, list):
        problems.append((path, "must be a list of {name, a, b}"))
        return ()
    if len(raw) > COMPETENCY_SLOTS:
        problems.append((path, f"at most {COMPETENCY_SLOTS} competencies"))
        return ()
    found = []
    for index, pair in enumerate(raw):
        parts = [_item(pair, f"{path}[{index}]", problems, part) for part in ("name", "a", "b")]
        if all(part is not None for part in parts):
            found.append(Competency(*(str(part) for part in parts)))
    names = [competency.name for competency in found]
    if len(set(names)) != len(names):
        problems.append((path, "each competency needs its own name"))
    return tuple(found)


def _training_eval(raw: Any, problems: list[tuple[str, str]]) -> tuple[str, ...]:
    path = "indicator_inputs.training_eval.items"
    items = raw.get("items") if isinstance(raw, Mapping) else None
    if not isinstance(items, list) or not all(isinstance(i, str) and _is_key(i) for i in items):
        problems.append((path, "must be a list of item keys"))
        return ()
    if len(items) > TRAINING_EVAL_SLOTS or len(set(items)) != len(items):
        problems.append((path, f"at most {TRAINING_EVAL_SLOTS} different items"))
        return ()
    return tuple(items)


def _channels(raw: Any, problems: list[tuple[str, str]]) -> Channels | None:
    path = "indicator_inputs.job_search_channels"
    item = _item(raw, path, problems)
    options = raw.get("options") if isinstance(raw, Mapping) else None
    if not isinstance(options, list) or not options or not all(
            isinstance(o, str) and _is_key(o) for o in options):
        problems.append((f"{path}.options", "must list the option codes counted"))
        return None
    if len(options) > CHANNEL_SLOTS or len(set(options)) != len(options):
        problems.append((f"{path}.options", f"at most {CHANNEL_SLOTS} different options"))
        return None
    return None if item is None else Channels(item, tuple(options))


# --- the mapping of a stored definition ------------------------------------------------------

# blk-tracer v1's items, as its definition declares them (services/survey/questionnaire/
# blk_tracer_v1.json, "indicator_inputs"): the mapping of definitions stored without one.
V1_RAW: dict[str, Any] = {
    "status": {"item": "f8"},
    "waiting_months": {"rule": "split_at_6", "within_6": "f504", "months_within": "f502",
                       "months_after": "f506"},
    "income": {"item": "f505"},
    "work_location": {"item": "f5a2"},
    "relevance": {"item": "f14"},
    "certificate": {"item": "blk_cert"},
    "competencies": [{"name": a, "a": a, "b": b} for a, b in (
        ("f1761", "f1762"), ("f1763", "f1764"), ("f1765", "f1766"), ("f1767", "f1768"),
        ("f1769", "f1770"), ("f1771", "f1772"), ("f1773", "f1774"),
        ("blk_k3_a", "blk_k3_b"), ("blk_tools_a", "blk_tools_b"))],
    "training_eval": {"items": ["blk_eval_instructor", "blk_eval_facilities",
                                "blk_eval_practice", "blk_eval_material"]},
    "job_search_channels": {"item": "f4", "options": [
        "f401", "f402", "f403", "f404", "f405", "f406", "f407", "f408", "f409", "f410",
        "f411", "f412", "f413", "f416"]},
}
V1_INPUTS = parse_inputs(V1_RAW)


# --- the reference reading of one response ----------------------------------------------------


def code_of(answers: Mapping[str, Any], coded: Coded | None) -> int | None:
    """The canonical code an answer holds, or None (not a JSON integer among the codes)."""
    if coded is None:
        return None
    value = answers.get(coded.item)
    if type(value) is not int:  # True is not the code 1, "1" is not 1
        return None
    for code, canonical in coded.codes:
        if value == code:
            return canonical
    return None


EMPLOYED = (1, 3)  # canonical status codes of the employed and self-employed


def work_location_of(answers: Mapping[str, Any], inputs: IndicatorInputs) -> int | None:
    """The work_location code (1 the centre's city, 2 elsewhere in its province, 3 another
    province, 4 abroad): the item's answer, or with "from_place" derived from the work
    province and city (the centre's province without a city answer is not known)."""
    if inputs.local_city is None:
        return code_of(answers, inputs.code("work_location"))
    province = code_of(answers, inputs.code("work_province"))
    city = code_of(answers, inputs.code("work_city"))
    if province is None:
        return None
    if province == ABROAD:
        return 4
    if province != province_of(inputs.local_city):
        return 3
    if city is None:
        return None
    return 1 if city == inputs.local_city else 2


def waiting_months(answers: Mapping[str, Any], inputs: IndicatorInputs) -> int | None:
    """Months from the end of training to the first job, employed only (docs/questionnaire.md,
    "Waiting time"): split_at_6 reads the first months item when the first item is 1, the
    second when it is 2; single reads its item (0: found before the training ended)."""
    if code_of(answers, inputs.code("status")) not in EMPLOYED or inputs.waiting_months is None:
        return None
    rule = inputs.waiting_months
    if rule.rule == "single":
        key: str | None = rule.items[0]
    else:
        within = answers.get(rule.items[0])
        key = (rule.items[1] if type(within) is int and within == 1
               else rule.items[2] if type(within) is int and within == 2 else None)
    months = answers.get(key) if key is not None else None
    return months if type(months) is int else None
