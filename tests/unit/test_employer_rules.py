"""The employer records' plain rules: the name key, a KBLI section, what a contact needs."""

from __future__ import annotations

import pytest

from services.survey.employers import (
    KBLI_SECTIONS,
    ContactFields,
    EmployerFields,
    check_contact,
    check_employer,
    name_key,
    person_key,
)


@pytest.mark.parametrize(("typed", "key"), [
    ("PT. Maju Jaya Tbk", "maju jaya"),
    ("Maju Jaya", "maju jaya"),
    ("CV MAJU-JAYA", "maju jaya"),
    ("  pt  maju   jaya (Persero) ", "maju jaya"),
    ("PT Pupuk Kalimantan Timur", "pupuk kalimantan timur"),
    ("Bengkel Jaya Motor", "bengkel jaya motor"),
    ("Café Señor", "cafe senor"),  # accents dropped
    ("PT", "pt"),  # a name of legal forms only keeps them
    ("Koperasi Karyawan", "koperasi karyawan"),  # koperasi names the company, not a form
])
def test_the_name_key_drops_case_punctuation_accents_and_legal_forms(typed, key) -> None:
    assert name_key(typed) == key


def test_a_contact_name_compares_without_case_or_spacing() -> None:
    assert person_key("  Budi   SANTOSO ") == person_key("budi santoso") == "budi santoso"


def test_the_kbli_has_the_twenty_one_sections_a_to_u() -> None:
    assert "".join(KBLI_SECTIONS) == "ABCDEFGHIJKLMNOPQRSTU"


@pytest.mark.parametrize(("typed", "letter"), [
    ("c", "C"), ("C", "C"), ("C - Industri Pengolahan", "C"), ("F Konstruksi", "F"), ("", None),
])
def test_a_kbli_section_is_read_from_a_letter_or_a_letter_and_its_name(typed, letter) -> None:
    fields, problems = check_employer({"name": "Maju Jaya", "kbli_section": typed})
    assert problems == []
    assert fields == EmployerFields(name="Maju Jaya", kbli_section=letter)


@pytest.mark.parametrize("typed", ["V", "Z", "CC", "47", "Industri"])
def test_anything_else_is_no_kbli_section(typed) -> None:
    fields, problems = check_employer({"name": "Maju Jaya", "kbli_section": typed})
    assert fields is None
    assert [(p.column, p.code) for p in problems] == [("kbli_section", "kbli")]


def test_an_employer_is_normalised_like_the_roster() -> None:
    fields, problems = check_employer({"name": " PT  Maju Jaya ", "phone": "0541 123456",
                                       "email": "Info@MajuJaya.co.id", "city": "Bontang"})
    assert problems == []
    assert fields == EmployerFields(name="PT Maju Jaya", city="Bontang", phone="+62541123456",
                                    email="info@majujaya.co.id")


def test_every_problem_of_an_employer_is_named_at_once() -> None:
    fields, problems = check_employer({"name": "", "phone": "12", "email": "x", "city": "y" * 121})
    assert fields is None
    assert [(p.column, p.code) for p in problems] == [
        ("name", "required"), ("city", "too_long"), ("phone", "phone"), ("email", "email")]


def test_a_supervisor_needs_a_phone_or_an_email_a_listed_contact_does_not() -> None:
    assert check_contact({"name": "Budi"}) == (ContactFields(name="Budi"), [])
    fields, problems = check_contact({"name": "Budi"}, reachable=True)
    assert fields is None and [(p.column, p.code) for p in problems] == [
        ("phone", "phone_or_email")]
    # A phone that is given but wrong is named as wrong, not as missing.
    _, problems = check_contact({"name": "Budi", "phone": "12"}, reachable=True)
    assert [(p.column, p.code) for p in problems] == [("phone", "phone")]
