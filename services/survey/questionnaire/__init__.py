"""The questionnaire engine: definitions, branching and answer validation (no Flask, no DB)."""

from services.survey.questionnaire.definition import (
    Condition,
    DefinitionError,
    LocalText,
    MatrixRow,
    Option,
    Question,
    Questionnaire,
    Section,
    default_definition,
    load_definition,
)
from services.survey.questionnaire.engine import (
    ANSWERS_KEY,
    SectionProgress,
    ValidationResult,
    answers_from_form,
    expectation,
    is_visible,
    label,
    section_progress,
    validate_answers,
    waiting_months,
)
from services.survey.questionnaire.xlsform import definition_from_xlsform

__all__ = [
    "ANSWERS_KEY",
    "Condition",
    "DefinitionError",
    "LocalText",
    "MatrixRow",
    "Option",
    "Question",
    "Questionnaire",
    "Section",
    "SectionProgress",
    "ValidationResult",
    "answers_from_form",
    "default_definition",
    "definition_from_xlsform",
    "expectation",
    "is_visible",
    "label",
    "load_definition",
    "section_progress",
    "validate_answers",
    "waiting_months",
]
