"""The roster import's sentences in the reader's language (pages and API).

`roster.PROBLEM_TEXTS` holds the English sentences, which are the msgids: this module only
looks them up in the catalogue, so the plain core stays free of Flask. Column names are
those of the uploaded file (`nama`, not `full_name (nama)`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask_babel import gettext

from services.survey.roster import PROBLEM_TEXTS, Problem, Rejection


def describer(titles: Mapping[str, str] | None) -> Callable[[Problem], str]:
    """problem → its sentence in the request's language, naming the file's column."""
    def describe(problem: Problem) -> str:
        return problem.text(titles, gettext(PROBLEM_TEXTS[problem.code]))
    return describe


def rejection_out(rejection: Rejection, titles: Mapping[str, str] | None) -> dict[str, object]:
    """A rejected row as the page and the API show it: line, the columns with a problem (as
    the file names them), and every problem as a sentence."""
    describe = describer(titles)
    problems = rejection.problems
    names = titles or {}
    return {
        "line": rejection.line,
        "column": ", ".join(dict.fromkeys(names.get(p.column, p.column) for p in problems))
        if problems else names.get(rejection.column, rejection.column),
        "message": "; ".join(describe(p) for p in problems) if problems else rejection.message,
        "problems": [{"column": names.get(p.column, p.column), "message": describe(p)}
                     for p in problems],
    }
