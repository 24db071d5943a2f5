"""Every kind of condition in words, in Indonesian and in English, worked out by hand.

The definition below is plain JSON as the contract writes it (docs/questionnaire.md); the
words name questions by their label in the page's language and options by theirs.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from services.survey.condition_words import ConditionWords, local
from services.survey.questionnaire_preview import preview
from shared import i18n

DEFINITION: dict[str, Any] = {
    "key": "uji",
    "version": 1,
    "title": {"id": "Uji", "en": "Test"},
    "sections": [{"key": "s1", "title": {"id": "Bagian", "en": "Part"}, "questions": [
        {"key": "status", "type": "single", "label": {"id": "Status", "en": "Status"},
         "options": [{"code": 1, "label": {"id": "Bekerja", "en": "Working"}},
                     {"code": 2, "label": {"id": "Belum bekerja", "en": "Not working"}},
                     {"code": 3, "label": {"id": "Wiraswasta", "en": "Self-employed"}}]},
        {"key": "umur", "type": "integer", "label": {"id": "Umur", "en": "Age"}},
        {"key": "umur_mulai", "type": "integer", "label": {"id": "Umur mulai kerja"}},
        {"key": "kanal", "type": "multi", "label": {"id": "Cara mencari", "en": "Channels"},
         "options": [{"code": "kanal_koran", "label": {"id": "Koran", "en": "Newspaper"}},
                     {"code": "kanal_web", "label": {"id": "Internet", "en": "Internet"}}]},
        {"key": "gaji", "type": "decimal", "label": {"id": "Gaji (juta)", "en": "Pay (million)"}},
        {"key": "nama_usaha", "type": "text", "label": {"id": "Nama usaha", "en": "Business"}},
        {"key": "mulai", "type": "date", "label": {"id": "Tanggal mulai", "en": "Start date"}},
    ]}],
}

# (condition, Indonesian, English)
CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"key": "status", "eq": 1}, "“Status” = “Bekerja”", "“Status” = “Working”"),
    ({"key": "status", "ne": 2}, "“Status” ≠ “Belum bekerja”", "“Status” ≠ “Not working”"),
    ({"key": "status", "in": [1, 3]},
     "“Status” salah satu dari “Bekerja”, “Wiraswasta”",
     "“Status” is one of “Working”, “Self-employed”"),
    ({"key": "kanal", "has": "kanal_web"},
     "“Internet” dipilih pada “Cara mencari”", "“Internet” is ticked in “Channels”"),
    ({"key": "umur", "lt": 18}, "“Umur” < 18", "“Age” < 18"),
    ({"key": "umur", "le": 18}, "“Umur” ≤ 18", "“Age” ≤ 18"),
    ({"key": "umur", "gt": 18}, "“Umur” > 18", "“Age” > 18"),
    ({"key": "umur", "ge": 18}, "“Umur” ≥ 18", "“Age” ≥ 18"),
    ({"key": "gaji", "ge": 2.5}, "“Gaji (juta)” ≥ 2,5", "“Pay (million)” ≥ 2.5"),
    ({"key": "mulai", "ge": "2025-01-01"}, "“Tanggal mulai” ≥ “2025-01-01”",
     "“Start date” ≥ “2025-01-01”"),
    ({"key": "nama_usaha", "eq": "Warung"}, "“Nama usaha” = “Warung”",
     "“Business” = “Warung”"),
    # a reference to another answer; the English page falls back to the Indonesian label
    ({"key": "umur", "ge": {"ref": "umur_mulai"}}, "“Umur” ≥ “Umur mulai kerja”",
     "“Age” ≥ “Umur mulai kerja”"),
    ({"key": "umur", "answered": True}, "“Umur” dijawab", "“Age” is answered"),
    ({"key": "umur", "answered": False}, "“Umur” tidak dijawab", "“Age” is not answered"),
    ({"count": "kanal", "ge": 2}, "jumlah pilihan yang dipilih pada “Cara mencari” ≥ 2",
     "the number of options ticked in “Channels” ≥ 2"),
    ({"length": "nama_usaha", "le": 40}, "panjang “Nama usaha” ≤ 40",
     "the length of “Business” ≤ 40"),
    ({"not": {"key": "status", "eq": 2}}, "tidak benar bahwa “Status” = “Belum bekerja”",
     "it is not so that “Status” = “Not working”"),
    ({"all": [{"key": "status", "eq": 1}, {"key": "umur", "ge": 18}]},
     "“Status” = “Bekerja” dan “Umur” ≥ 18", "“Status” = “Working” and “Age” ≥ 18"),
    ({"any": [{"key": "status", "eq": 1}, {"key": "status", "eq": 3}]},
     "“Status” = “Bekerja” atau “Status” = “Wiraswasta”",
     "“Status” = “Working” or “Status” = “Self-employed”"),
    # a combination inside a combination keeps its parentheses
    ({"all": [{"key": "umur", "ge": 18},
              {"any": [{"key": "status", "eq": 1}, {"key": "status", "eq": 3}]}]},
     "“Umur” ≥ 18 dan (“Status” = “Bekerja” atau “Status” = “Wiraswasta”)",
     "“Age” ≥ 18 and (“Status” = “Working” or “Status” = “Self-employed”)"),
    ({"not": {"any": [{"key": "umur", "answered": False}, {"key": "umur", "lt": 15}]}},
     "tidak benar bahwa (“Umur” tidak dijawab atau “Umur” < 15)",
     "it is not so that (“Age” is not answered or “Age” < 15)"),
    # a one-part combination is just its part
    ({"all": [{"key": "status", "eq": 1}]}, "“Status” = “Bekerja”", "“Status” = “Working”"),
]


@pytest.fixture(scope="module")
def app() -> Flask:
    app = Flask(__name__)
    i18n.init_app(app)
    return app


def words_of(app: Flask, language: str, condition: dict[str, Any],
             this: dict[str, Any] | None = None) -> str:
    with app.test_request_context(f"/?lang={language}"):
        return ConditionWords(DEFINITION, language).sentence(condition, this=this)


@pytest.mark.parametrize(("condition", "indonesian", "english"), CASES,
                         ids=[str(case[0]) for case in CASES])
def test_a_condition_reads_as_a_sentence_in_both_languages(
        app, condition, indonesian, english) -> None:
    assert words_of(app, "id", condition) == indonesian
    assert words_of(app, "en", condition) == english


def test_the_cases_cover_every_kind_of_the_contract() -> None:
    kinds = set()

    def collect(condition: dict[str, Any]) -> None:
        kinds.update(name for name in condition if name != "key")
        for name in ("all", "any"):
            for part in condition.get(name, ()):
                collect(part)
        if "not" in condition:
            collect(condition["not"])
        if any(isinstance(value, dict) and "ref" in value for value in condition.values()):
            kinds.add("ref")

    for condition, _, _ in CASES:
        collect(condition)
    assert kinds >= {"eq", "ne", "in", "has", "lt", "le", "gt", "ge", "ref", "answered",
                     "count", "length", "not", "all", "any"}


def test_a_constraint_names_the_question_s_own_answer_as_this_answer(app) -> None:
    umur = DEFINITION["sections"][0]["questions"][1]
    constraint = {"all": [{"key": ".", "ge": 15}, {"key": ".", "le": {"ref": "umur_mulai"}}]}
    assert words_of(app, "id", constraint, this=umur) == \
        "jawaban ini ≥ 15 dan jawaban ini ≤ “Umur mulai kerja”"
    assert words_of(app, "en", constraint, this=umur) == \
        "this answer ≥ 15 and this answer ≤ “Umur mulai kerja”"
    status = DEFINITION["sections"][0]["questions"][0]
    assert words_of(app, "id", {"key": ".", "ne": 2}, this=status) == \
        "jawaban ini ≠ “Belum bekerja”"  # its own option codes by their labels


def test_an_unknown_key_reads_as_itself_instead_of_failing(app) -> None:
    assert words_of(app, "id", {"key": "hilang", "eq": 1}) == "“hilang” = 1"


def test_a_text_falls_back_to_the_default_language_then_to_any() -> None:
    assert local({"id": "Umur", "en": "Age"}, "en") == "Age"
    assert local({"id": "Umur"}, "en") == "Umur"
    assert local({"fr": "Âge", "en": "Age"}, "id", default_language="fr") == "Âge"
    assert local({"und": "Age"}, "id", default_language="und") == "Age"
    assert local(None, "id") == ""


def test_the_preview_words_rules_and_counts_questions(app) -> None:
    definition = {**DEFINITION, "sections": [{**DEFINITION["sections"][0], "questions": [
        *DEFINITION["sections"][0]["questions"],
        {"key": "catatan", "type": "note", "label": {"id": "Terima kasih"}},
        {"key": "setuju", "type": "acknowledge", "label": {"id": "Saya setuju"},
         "required": True, "required_message": {"id": "Centang dulu"}},
        {"key": "jam", "type": "integer", "label": {"id": "Jam kerja"}, "min": 0, "max": 80,
         "default": 40, "if": {"key": "status", "eq": 1},
         "constraint": {"if": {"key": ".", "le": {"ref": "umur"}},
                        "message": {"id": "Terlalu banyak"}}},
    ]}]}
    with app.test_request_context("/?lang=id"):
        seen = preview(definition, "id")
    assert (seen.title, seen.key, seen.version, seen.languages) == (
        "Uji", "uji", 1, ("Bahasa Indonesia", "Bahasa Inggris"))
    assert seen.question_count == 9  # the note takes no answer
    jam = seen.sections[0].questions[-1]
    assert jam.kind == "bilangan bulat" and jam.default == "40"
    assert jam.asked_when == "Ditanyakan bila “Status” = “Bekerja”"
    assert jam.accepted_when == ("Dari 0 sampai 80.", "Diterima bila jawaban ini ≤ “Umur”")
    assert jam.messages == ("Terlalu banyak",)
    setuju = seen.sections[0].questions[-2]
    assert (setuju.kind, setuju.required, setuju.messages) == (
        "centang tanda setuju", True, ("Centang dulu",))


def test_the_shipped_instrument_reads_in_words_with_no_key_left_in_its_conditions(app) -> None:
    from services.survey.questionnaire import default_definition

    definition = default_definition()
    keys = {question["key"] for section in definition["sections"]
            for question in section["questions"]}
    with app.test_request_context("/?lang=id"):
        seen = preview(definition, "id")
    conditions = [question.asked_when for section in seen.sections
                  for question in section.questions if question.asked_when]
    assert conditions and all(text.startswith("Ditanyakan bila “") for text in conditions)
    assert not [text for text in conditions if set(text.split()) & {f"“{k}”" for k in keys}]
