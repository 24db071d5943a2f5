"""Conditions in words: a definition's condition (docs/questionnaire.md) as staff read it.

The preview of an imported XLSForm says when a question is asked and which answers it
accepts, in the page's language, naming questions by their label and options by theirs:

    {"all": [{"key": "f8", "eq": 1}, {"key": "umur", "ge": 18}]}
    -> “Status” = “Bekerja” dan “Umur” ≥ 18

It reads the definition as JSON (a dict), not the engine's dataclasses, so every kind of
the contract is worded whatever the engine accepts today: eq, ne, in, has, lt, le, gt, ge,
a value `{"ref": K}` naming another answer, `"."` for the question's own answer inside a
constraint, answered, count, length, not, all and any. A key the definition does not hold
is shown as the key itself (the definition check refuses such a form anyway), so a preview
never fails on a condition.

Symbols (=, ≠, <, ≤, >, ≥) are the same in both languages; the words around them go
through gettext. A combination inside a combination is put in parentheses, so
"A and (B or C)" never reads as "(A and B) or C".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flask_babel import format_decimal
from flask_babel import gettext as _

SYMBOLS = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥"}
THIS = "."  # the question's own answer, inside a constraint
Texts = Mapping[str, str]


def local(texts: Texts | str | None, language: str, default_language: str = "id") -> str:
    """A text in the page's language, else in the definition's default language, else in
    any language it has ("" when there is none)."""
    if texts is None:
        return ""
    if isinstance(texts, str):
        return texts
    return (texts.get(language) or texts.get(default_language)
            or next((text for text in texts.values() if text), ""))


def quoted(text: str) -> str:
    return f"“{text}”"


def answer_questions(definition: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Every answer key of the definition → the question that holds it (a multi question's
    option codes are answer keys of their own, as are a matrix's row keys)."""
    found: dict[str, Mapping[str, Any]] = {}
    for question in _questions(definition):
        found.setdefault(question["key"], question)
        for row in question.get("rows", ()):
            for name in ("key", "key_a", "key_b"):
                if name in row:
                    found.setdefault(row[name], question)
    return found


def _questions(definition: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for section in definition.get("sections", ()):
        for question in section.get("questions", ()):
            yield question
            yield from question.get("questions", ())


class ConditionWords:
    """Words for the conditions of one definition, in one page language."""

    def __init__(self, definition: Mapping[str, Any], language: str) -> None:
        self.language = language
        self.default_language = definition.get("default_language", "id")
        self.questions = answer_questions(definition)

    def text(self, texts: Texts | str | None) -> str:
        return local(texts, self.language, self.default_language)

    def sentence(self, condition: Mapping[str, Any],
                 this: Mapping[str, Any] | None = None) -> str:
        """The condition as words; `this` is the question whose answer `"."` names (the one
        carrying the constraint)."""
        return self._words(condition, this, nested=False)

    # --- the parts -------------------------------------------------------------------------

    def _words(self, condition: Mapping[str, Any], this: Mapping[str, Any] | None,
               nested: bool) -> str:
        for combination, joining in (("all", _("and")), ("any", _("or"))):
            if combination in condition:
                parts = [self._words(part, this, nested=True) for part in condition[combination]]
                if len(parts) == 1:
                    return parts[0]
                joined = f" {joining} ".join(parts)
                return f"({joined})" if nested else joined
        if "not" in condition:
            return _("it is not so that %(condition)s",
                     condition=self._words(condition["not"], this, nested=True))
        return self._leaf(condition, this)

    def _leaf(self, condition: Mapping[str, Any], this: Mapping[str, Any] | None) -> str:
        if "count" in condition:
            subject = _("the number of options ticked in %(question)s",
                        question=self._name(condition["count"], this))
            return self._compared(subject, condition, None, this)
        if "length" in condition:
            subject = _("the length of %(question)s",
                        question=self._name(condition["length"], this))
            return self._compared(subject, condition, None, this)
        key = condition.get("key", "")
        question = self._question(key, this)
        name = self._name(key, this)
        if "answered" in condition:
            return (_("%(question)s is answered", question=name) if condition["answered"]
                    else _("%(question)s is not answered", question=name))
        if "in" in condition:
            values = [self._value(value, question, this) for value in condition["in"]]
            return _("%(question)s is one of %(values)s", question=name,
                     values=", ".join(values))
        if "has" in condition:
            return _("%(option)s is ticked in %(question)s", question=name,
                     option=self._value(condition["has"], question, this))
        return self._compared(name, condition, question, this)

    def _compared(self, subject: str, condition: Mapping[str, Any],
                  question: Mapping[str, Any] | None, this: Mapping[str, Any] | None) -> str:
        for op, symbol in SYMBOLS.items():
            if op in condition:
                return f"{subject} {symbol} {self._value(condition[op], question, this)}"
        return subject  # not a condition of the contract: the definition check says so

    def _question(self, key: str, this: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        return this if key == THIS else self.questions.get(key)

    def _name(self, key: str, this: Mapping[str, Any] | None) -> str:
        """A question by its label in quotes; `.` is "this answer"."""
        if key == THIS:
            return _("this answer")
        question = self.questions.get(key)
        if question is None:
            return quoted(str(key))
        if question.get("type") == "multi" and question.get("key") != key:
            return self._option(question, key) or quoted(key)  # a tick box of its own
        return quoted(self.text(question.get("label")) or key)

    def value(self, value: Any, question: Mapping[str, Any] | None) -> str:
        """A value of `question` (its default, say) in words; see `_value`."""
        return self._value(value, question, question)

    def _value(self, value: Any, question: Mapping[str, Any] | None,
               this: Mapping[str, Any] | None) -> str:
        """An option code by its label, another answer by its question, a number in the
        page's way of writing numbers, a text in quotes."""
        if isinstance(value, Mapping) and "ref" in value:
            return self._name(value["ref"], this)
        if question is not None:
            option = self._option(question, value)
            if option:
                return option
        if isinstance(value, bool):
            return _("yes") if value else _("no")
        if isinstance(value, int | float):
            return format_decimal(value)
        return quoted(str(value))

    def _option(self, question: Mapping[str, Any], code: Any) -> str | None:
        for option in question.get("options", ()):
            if option.get("code") == code and type(option.get("code")) is type(code):
                return quoted(self.text(option.get("label")) or str(code))
        return None

