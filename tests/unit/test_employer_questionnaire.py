"""The shipped employer questionnaire, blk-employer v1: its items, its scale, its rules."""

from __future__ import annotations

from services.survey.catalog import employer_definition
from services.survey.questionnaire import default_definition, load_definition, validate_answers

FORM = load_definition(employer_definition())
ASPECTS = ("emp_integrity", "emp_technical", "emp_k3", "emp_tools", "emp_communication",
           "emp_teamwork", "emp_discipline", "emp_learning")
# A supervisor's whole answer, worked by hand: every aspect rated, then the company's part.
RATED = {**dict(zip(ASPECTS, (4, 3, 3, 2, 3, 4, 4, 3), strict=True)), "emp_hire_again": 1}
COMPANY = {"emp_strengthen": ["f1765", "blk_k3_a"], "emp_strengthen_other": "membaca gambar",
           "emp_need_las": 5, "emp_need_otomotif": 0, "emp_need_other": 2,
           "emp_need_other_trade": "Instrumentasi", "emp_apprentice": 1, "emp_curriculum": 2}


def test_it_is_blk_employer_version_1_in_indonesian_and_english() -> None:
    assert (FORM.key, FORM.version) == ("blk-employer", 1)
    definition = employer_definition()
    assert definition["title"] == {"id": "Survei Pengguna Lulusan BLK",
                                   "en": "BLK Employer Survey"}
    assert [section.key for section in FORM.sections] == ["alumnus", "company"]


def test_the_eight_aspects_are_rated_on_the_four_point_scale() -> None:
    rating = FORM.by_answer_key["emp_integrity"]
    assert rating.type == "matrix" and rating.required
    assert tuple(row.keys[0] for row in rating.rows) == ASPECTS
    assert [(option.code, option.label.get("id")) for option in rating.scale_labels] == [
        (1, "Kurang"), (2, "Cukup"), (3, "Baik"), (4, "Sangat baik")]
    hire = FORM.by_answer_key["emp_hire_again"]
    assert [(option.code, option.label.get("id")) for option in hire.options] == [
        (1, "Ya"), (2, "Mungkin"), (3, "Tidak")]


def test_a_whole_answer_passes_and_comes_back_as_sent() -> None:
    result = validate_answers(FORM, {**RATED, **COMPANY}, complete=True)
    assert result.ok, result.errors
    assert result.answers == {**RATED, **COMPANY}


def test_a_rating_off_the_scale_or_a_missing_aspect_is_refused_by_key() -> None:
    result = validate_answers(FORM, {**RATED, "emp_k3": 5}, complete=True)
    assert list(result.problems) == ["emp_k3"]
    missing = {key: value for key, value in RATED.items() if key != "emp_learning"}
    assert list(validate_answers(FORM, missing, complete=True).problems) == ["emp_learning"]
    no_hire = {key: value for key, value in RATED.items() if key != "emp_hire_again"}
    assert list(validate_answers(FORM, no_hire, complete=True).problems) == ["emp_hire_again"]
    assert list(validate_answers(FORM, {**RATED, "emp_need_las": -1}, complete=True
                                 ).problems) == ["emp_need_las"]


def test_the_competencies_to_strengthen_are_the_alumni_questionnaires_own() -> None:
    """Their codes are the A keys of blk-tracer's f17 pairs, so the employers' view and the
    alumni's own gap sit side by side, competency by competency."""
    tracer = load_definition(default_definition())
    pairs = {row.keys[0]: row.label.get("id") for row in tracer.by_answer_key["f1761"].rows}
    strengthen = FORM.by_answer_key["emp_strengthen"]
    assert [option.code for option in strengthen.options] == list(pairs)
