"""A questionnaire's indicator-input mapping against its items (shared.indicator_inputs).

`items_of` lists a definition's answer keys with their types, straight from its JSON (the
survey service validated it when it was stored, and analytics reads it from the table
without the survey's parser); `input_problems` says what a mapping names that the
questionnaire lacks or holds in the wrong type, each problem an English template (the
msgid) with its values, so the survey words it in the page's language; `inputs_of` is the
mapping of a stored definition, blk-tracer v1's restricted to its items when it declares
none. Kept apart from the catalogue so each module has one job.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from shared.indicator_inputs import (
    _WAITING_PARTS,
    N_,
    V1_RAW,
    IndicatorInputs,
    parse_inputs,
)

# --- checking a mapping against the questionnaire's items ---------------------------------------


@dataclass(frozen=True)
class ItemShape:
    """What an answer key holds: the question type ("single", "multi", "integer",
    "currency", "rating" for a matrix cell...) and its option codes."""

    kind: str
    codes: tuple[Any, ...] = ()


def items_of(definition: Mapping[str, Any]) -> dict[str, ItemShape]:
    """Every answer key of a definition (raw JSON) with its shape; tolerant of a malformed
    definition (it was validated when stored)."""
    shapes: dict[str, ItemShape] = {}
    for question in _questions(definition):
        kind = question.get("type")
        if kind == "matrix":
            for row in question.get("rows") or ():
                for part in ("key", "key_a", "key_b"):
                    if isinstance(row, Mapping) and isinstance(row.get(part), str):
                        shapes[row[part]] = ItemShape("rating")
        elif isinstance(question.get("key"), str) and kind not in ("group", "note"):
            codes = tuple(option.get("code") for option in question.get("options") or ()
                          if isinstance(option, Mapping))
            shapes[question["key"]] = ItemShape(str(kind), codes)
    return shapes


def _questions(definition: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for section in definition.get("sections") or ():
        for question in (section.get("questions") or ()) if isinstance(section, Mapping) else ():
            if isinstance(question, Mapping):
                yield question
                for sub in question.get("questions") or ():
                    if isinstance(sub, Mapping):
                        yield sub


# The kinds of item each part of a mapping may name.
_CODED_KINDS = ("single",)
_INTEGER_KINDS = ("integer", "currency")
_RATING_KINDS = ("rating", "single", "integer")


@dataclass(frozen=True)
class InputProblem:
    """Why a mapping cannot be used with a questionnaire: `template` (English, the msgid)
    with `params` naming the input and the item; `text` is it filled in."""

    path: str
    template: str
    params: tuple[tuple[str, str], ...]

    @property
    def text(self) -> str:
        return self.template % dict(self.params)


MISSING_ITEM = N_("indicator input '%(input)s' names item '%(item)s', which the questionnaire "
                  "does not have")
WRONG_TYPE = N_("indicator input '%(input)s' needs item '%(item)s' to be %(kinds)s, not "
                "%(kind)s")
NO_CODES = N_("indicator input '%(input)s': item '%(item)s' offers none of the codes it is "
              "read with")
NO_SPLIT = N_("indicator input '%(input)s': item '%(item)s' must offer codes 1 (within 6 "
              "months) and 2 (later)")
NO_OPTION = N_("indicator input '%(input)s': item '%(item)s' has no option %(options)s")
NO_PLACE = N_("indicator input '%(input)s' is derived from the work place: map work_province "
              "(and work_city) too")


def check_inputs(inputs: IndicatorInputs, items: Mapping[str, ItemShape]) -> list[tuple[str, str]]:
    """The problems of a mapping against the questionnaire's items as (path, sentence):
    an item it does not have, or one of the wrong type, or codes the item does not offer.
    Empty: usable."""
    return [(problem.path, problem.text) for problem in input_problems(inputs, items)]


def input_problems(inputs: IndicatorInputs, items: Mapping[str, ItemShape]) -> list[InputProblem]:
    """`check_inputs`, each problem as a template and its values (for translation)."""
    problems: list[InputProblem] = []

    def problem(path: str, template: str, **params: str) -> None:
        problems.append(InputProblem(path, template, tuple(params.items())))

    def need(path: str, name: str, item: str, kinds: tuple[str, ...]) -> ItemShape | None:
        shape = items.get(item)
        if shape is None:
            problem(path, MISSING_ITEM, input=name, item=item)
            return None
        if shape.kind not in kinds:
            problem(path, WRONG_TYPE, input=name, item=item, kinds=" / ".join(kinds),
                    kind=shape.kind)
            return None
        return shape

    if inputs.local_city is not None and inputs.code("work_province") is None:
        problem("indicator_inputs.work_location", NO_PLACE, input="work_location")
    for name, coded in inputs.coded:
        shape = need(f"indicator_inputs.{name}.item", name, coded.item, _CODED_KINDS)
        if shape is not None:
            offered = {code for code in shape.codes if type(code) is int}
            if not offered & set(coded.item_codes):
                problem(f"indicator_inputs.{name}", NO_CODES, input=name, item=coded.item)
    if inputs.waiting_months is not None:
        rule = inputs.waiting_months
        for part, item in zip(_WAITING_PARTS[rule.rule], rule.items, strict=True):
            kinds = _CODED_KINDS if part == "within_6" else _INTEGER_KINDS
            path = f"indicator_inputs.waiting_months.{part}"
            shape = need(path, "waiting_months", item, kinds)
            if shape is not None and part == "within_6" and not {1, 2} <= set(shape.codes):
                problem(path, NO_SPLIT, input="waiting_months", item=item)
    if inputs.income is not None:
        need("indicator_inputs.income.item", "income", inputs.income, _INTEGER_KINDS)
    for index, competency in enumerate(inputs.competencies):
        for part in ("a", "b"):
            need(f"indicator_inputs.competencies[{index}].{part}", "competencies",
                 getattr(competency, part), _RATING_KINDS)
    for index, item in enumerate(inputs.training_eval):
        need(f"indicator_inputs.training_eval.items[{index}]", "training_eval", item,
             _RATING_KINDS)
    if inputs.job_search_channels is not None:
        channels = inputs.job_search_channels
        shape = need("indicator_inputs.job_search_channels.item", "job_search_channels",
                     channels.item, ("multi",))
        if shape is not None:
            missing = [option for option in channels.options if option not in shape.codes]
            if missing:
                problem("indicator_inputs.job_search_channels.options", NO_OPTION,
                        input="job_search_channels", item=channels.item,
                        options=", ".join(missing))
    return problems



def inputs_of(definition: Mapping[str, Any]) -> IndicatorInputs:
    """The mapping a stored definition declares, or for one without "indicator_inputs"
    blk-tracer v1's restricted to the items it has with the right types."""
    if "indicator_inputs" in definition:
        return parse_inputs(definition["indicator_inputs"])
    items = items_of(definition)
    raw: dict[str, Any] = {}
    for name, part in V1_RAW.items():
        if name == "competencies":
            usable = [pair for pair in part if not _problems_of({name: [pair]}, items)]
            if usable:
                raw[name] = usable
        elif name == "training_eval":
            usable = [item for item in part["items"]
                      if not _problems_of({name: {"items": [item]}}, items)]
            if usable:
                raw[name] = {"items": usable}
        elif not _problems_of({name: part}, items):
            raw[name] = part
    return parse_inputs(raw)


def _problems_of(raw: dict[str, Any], items: Mapping[str, ItemShape]) -> list[tuple[str, str]]:
    return check_inputs(parse_inputs(raw), items)
