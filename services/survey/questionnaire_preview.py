"""A definition as staff check it before it is saved: sections, questions and their rules
in words, in the page's language (the XLSForm import page and `jejak questionnaire import`).

Built from the definition as JSON, like services/survey/condition_words.py, so it shows
every type and key of the contract (docs/questionnaire.md) whatever the engine runs today.
A text is shown in the page's language, else in the definition's default language.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import format_decimal
from flask_babel import gettext as _

from services.survey.condition_words import ConditionWords

NO_ANSWER = ("note", "group")  # shown, but hold no answer of their own


@dataclass(frozen=True)
class QuestionPreview:
    key: str
    label: str
    kind: str  # the type in words
    required: bool
    hint: str = ""
    options: tuple[str, ...] = ()
    asked_when: str = ""  # the condition in words; "" when always asked
    accepted_when: tuple[str, ...] = ()  # ranges and the constraint in words
    messages: tuple[str, ...] = ()  # the form's own required and constraint messages
    default: str = ""
    in_group: bool = False
    takes_answer: bool = True


@dataclass(frozen=True)
class SectionPreview:
    key: str
    title: str
    questions: tuple[QuestionPreview, ...]


@dataclass(frozen=True)
class FormPreview:
    key: str
    version: int
    title: str
    languages: tuple[str, ...]
    sections: tuple[SectionPreview, ...] = field(default=())

    @property
    def question_count(self) -> int:
        """Questions that take an answer (notes and group headings do not)."""
        return sum(1 for section in self.sections for question in section.questions
                   if question.takes_answer)


def type_words(kind: str) -> str:
    words = {
        "text": _("text"),
        "integer": _("whole number"),
        "decimal": _("number, decimals allowed"),
        "currency": _("amount in Rupiah"),
        "date": _("date"),
        "time": _("time of day"),
        "datetime": _("date and time"),
        "single": _("choose one"),
        "multi": _("choose any"),
        "boolean": _("yes or no"),
        "note": _("note, no answer"),
        "acknowledge": _("tick to acknowledge"),
        "matrix": _("grid of ratings"),
        "group": _("group of questions"),
    }
    return words.get(kind, kind)


def preview(definition: Mapping[str, Any], language: str) -> FormPreview:
    """What `definition` asks, in `language` (the page's)."""
    words = ConditionWords(definition, language)
    sections = tuple(
        SectionPreview(
            key=section["key"], title=words.text(section.get("title")),
            questions=tuple(_question(words, question, in_group)
                            for question, in_group in _with_group_members(section)),
        )
        for section in definition.get("sections", ())
    )
    return FormPreview(key=str(definition.get("key", "")),
                       version=int(definition.get("version", 0)),
                       title=words.text(definition.get("title")),
                       languages=tuple(_languages(definition)), sections=sections)


def _with_group_members(section: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], bool]]:
    for question in section.get("questions", ()):
        yield question, False
        for member in question.get("questions", ()):
            yield member, True


def _question(words: ConditionWords, question: Mapping[str, Any],
              in_group: bool) -> QuestionPreview:
    constraint = question.get("constraint")
    messages = [words.text(question["required_message"])] \
        if question.get("required_message") else []
    if constraint and constraint.get("message"):
        messages.append(words.text(constraint["message"]))
    return QuestionPreview(
        key=question["key"],
        label=words.text(question.get("label")) or question["key"],
        kind=type_words(question.get("type", "")),
        required=bool(question.get("required")),
        hint=words.text(question.get("help")),
        options=tuple(words.text(option.get("label")) or str(option.get("code"))
                      for option in question.get("options", ())),
        asked_when=(_("Asked when %(condition)s", condition=words.sentence(question["if"]))
                    if question.get("if") else ""),
        accepted_when=tuple(_accepted(words, question)),
        messages=tuple(messages),
        default=(words.value(question["default"], question)
                 if "default" in question else ""),
        in_group=in_group,
        takes_answer=question.get("type") not in NO_ANSWER,
    )


def _accepted(words: ConditionWords, question: Mapping[str, Any]) -> Iterator[str]:
    """The question's bounds and its constraint, each as a sentence."""
    low, high = question.get("min"), question.get("max")
    if low is not None and high is not None:
        yield _("From %(low)s to %(high)s.", low=format_decimal(low), high=format_decimal(high))
    elif low is not None:
        yield _("At least %(low)s.", low=format_decimal(low))
    elif high is not None:
        yield _("At most %(high)s.", high=format_decimal(high))
    if question.get("lte"):
        yield _("Not more than the answer to %(question)s.",
                question=words.value({"ref": question["lte"]}, None))
    if question.get("max_length") is not None:
        yield _("At most %(n)s characters.", n=format_decimal(question["max_length"]))
    constraint = question.get("constraint")
    if constraint and constraint.get("if"):
        yield _("Accepted when %(condition)s",
                condition=words.sentence(constraint["if"], this=question))


def _languages(definition: Mapping[str, Any]) -> Iterator[str]:
    """The names of the languages the texts are written in, the default language first."""
    named = {"id": _("Indonesian"), "en": _("English"), "und": _("no language named")}
    for entry in definition.get("languages", ()):
        named.setdefault(entry.get("code", ""), entry.get("name") or entry.get("code", ""))
    default = definition.get("default_language", "id")
    used = sorted(set(_text_languages(definition)), key=lambda code: (code != default, code))
    for code in used:
        yield named.get(code, code)


def _text_languages(value: Any) -> Iterator[str]:
    """The language codes of every text (label, help, title, message) inside `value`."""
    if isinstance(value, Mapping):
        for name, inner in value.items():
            if name in ("label", "help", "title", "message", "required_message") \
                    and isinstance(inner, Mapping):
                yield from (code for code, text in inner.items() if isinstance(text, str))
            else:
                yield from _text_languages(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _text_languages(inner)
