"""The `jejak_input` column of an XLSForm's survey sheet: the form's indicator inputs.

A question names the indicator input it feeds (docs/questionnaire.md, "Importing an
XLSForm"); the importer gathers them into the definition's "indicator_inputs" mapping
(shared.indicator_inputs), which `load_definition` then checks against the items' types:

    status                    a select_one whose choice names are the status codes
    status 1=1 2=5 3=3        the same, its codes translated (choice name=input code)
    relevance, work_location, work_province, work_city, edu_match, contract,
    certificate, further_training   select_one, optionally translated the same way
    waiting_months            an integer: months to the first job, 0 = before the training
                              ended (the "single" rule)
    waiting_months:within_6   or the three questions of the "split_at_6" rule (blk-tracer
    waiting_months:months_within  v1's f504/f502/f506): found work within 6 months
    waiting_months:months_after   (select_one, 1 yes, 2 no), then the months if yes, if no
    income                    an integer: monthly income in rupiah
    competency:NAME:a / :b    the two levels of competency NAME (integer or select_one 1-5)
    training_eval             a rating of the training (integer or select_one 1-5)
    job_search_channels       a select_multiple: every choice is a channel

A form without the column carries no mapping and is read as blk-tracer v1's items where
its questions have their names (shared.indicator_mapping.inputs_of).
"""

from __future__ import annotations

import re
from typing import Any

from shared.indicator_inputs import CODED_INPUTS

CODE_PAIR = re.compile(r"(-?\d+)=(-?\d+)")
COMPETENCY = re.compile(r"competency:([A-Za-z][A-Za-z0-9_]{0,63}):([ab])")
WAITING_PART = re.compile(r"waiting_months:(within_6|months_within|months_after)")
SPLIT_AT_6 = ("within_6", "months_within", "months_after")


class InputColumn:
    """The mapping built from the column, question by question."""

    def __init__(self) -> None:
        self.seen = False
        self.mapping: dict[str, Any] = {}
        self.competencies: dict[str, dict[str, str]] = {}
        self.training: list[str] = []
        self.waiting: dict[str, str] = {}  # the split_at_6 rule's parts, part → item

    def note(self, value: Any, question: dict[str, Any]) -> str | None:
        """Record the input named in this question's cell; the bad text when it names none
        (the caller refuses it, naming the row)."""
        text = " ".join(str(value or "").split())
        if not text:
            return None
        self.seen = True
        name, _, rest = text.partition(" ")
        key = question["key"]
        if name in CODED_INPUTS:
            entry: dict[str, Any] = {"item": key}
            if rest:
                pairs = rest.replace(",", " ").split()
                matched = [CODE_PAIR.fullmatch(pair) for pair in pairs]
                if not all(matched):
                    return text
                entry["codes"] = {m.group(1): int(m.group(2)) for m in matched if m}
            return self._put(name, entry, text)
        if rest:
            return text
        if name == "waiting_months":
            if self.waiting:
                return text  # both rules named
            return self._put(name, {"rule": "single", "item": key}, text)
        part = WAITING_PART.fullmatch(name)
        if part:
            if part.group(1) in self.waiting or "waiting_months" in self.mapping:
                return text  # a part named twice, or both rules
            self.waiting[part.group(1)] = key
            return None
        if name == "income":
            return self._put(name, {"item": key}, text)
        if name == "training_eval":
            self.training.append(key)
            return None
        if name == "job_search_channels":
            options = [str(option["code"]) for option in question.get("options", ())]
            return self._put(name, {"item": key, "options": options}, text)
        competency = COMPETENCY.fullmatch(name)
        if competency:
            pair = self.competencies.setdefault(competency.group(1), {})
            if competency.group(2) in pair:
                return text
            pair[competency.group(2)] = key
            return None
        return text

    def _put(self, name: str, entry: dict[str, Any], text: str) -> str | None:
        if name in self.mapping:
            return text  # two questions for one input
        self.mapping[name] = entry
        return None

    def result(self) -> dict[str, Any] | None:
        """The "indicator_inputs" object, or None when the form has no such column; a
        competency with only one of its levels is left for `load_definition` to refuse."""
        if not self.seen:
            return None
        mapping = dict(self.mapping)
        if self.competencies:
            mapping["competencies"] = [{"name": name, "a": pair.get("a", ""),
                                        "b": pair.get("b", "")}
                                       for name, pair in self.competencies.items()]
        if self.training:
            mapping["training_eval"] = {"items": list(self.training)}
        if self.waiting:  # a part not named is left for `load_definition` to refuse
            mapping["waiting_months"] = {"rule": "split_at_6",
                                         **{part: self.waiting.get(part, "")
                                            for part in SPLIT_AT_6}}
        return mapping
