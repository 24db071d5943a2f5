"""Plain words for staff: the glossary of the dashboard's terms and the help page ("Bantuan").

One list of terms serves both places: a term on a page (`glossary_term("fpc")` in a template)
shows its one-line explanation on hover, keyboard focus or tap, and the help page lists every
term with the same sentence, so the two never disagree.

The explanation is a `role="tooltip"` element that a button names with `aria-describedby`:
a screen reader reads it on focus, a mouse shows it on hover, a touch screen on tap (the tap
is handled by shared/static/staff.js, a static file: the CSP allows no inline script).
Without JavaScript, hover and focus still show it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from flask import Flask, g, render_template
from flask_babel import gettext
from markupsafe import Markup, escape

from shared import auth


def N_(message: str) -> str:
    """Marks a message for the catalog; it is translated when the page is made."""
    return message


@dataclass(frozen=True)
class Term:
    key: str
    name: str
    explanation: str


GLOSSARY: tuple[Term, ...] = (
    Term("response_rate", N_("Response rate"),
         N_("Complete responses divided by every alumnus the wave targets.")),
    Term("aapor", N_("AAPOR dispositions"),
         N_("The standard way (of the American Association for Public Opinion Research) to "
            "sort every targeted alumnus: complete, partial, refused, not reached, "
            "unreachable.")),
    Term("weighted", N_("Weighted"),
         N_("Corrected for unequal response: a program or cohort that answered less counts "
            "more, so the share speaks for all targeted alumni, not only those who answered.")),
    Term("interval", N_("Confidence interval (95%)"),
         N_("The range where the true share of all alumni lies, with a confidence of 95%; the "
            "fewer the answers, the wider it is.")),
    Term("fpc", N_("Finite-population correction"),
         N_("Narrows the interval when a large part of a small, known population answered "
            "(fpc): use it when the wave targets every alumnus of the cohort.")),
    Term("small_n", N_("Small group (n < 5)"),
         N_("Fewer than 5 respondents: shares are hidden so that no one can be recognised "
            "and no one reads much into a handful of answers.")),
    Term("absorption", N_("Absorption rate"),
         N_("Share of respondents who are working or self-employed.")),
    Term("waiting", N_("Waiting time"),
         N_("Months from the end of the training to the first job.")),
    Term("minimum_wage", N_("Minimum wage (UMP/UMK)"),
         N_("The provincial (UMP) or city/regency (UMK) minimum wage of the wave's year, "
            "against which incomes are compared.")),
    Term("gap", N_("Competency gap"),
         N_("Level the job needs minus the level at the end of the training, on a 1–5 "
            "scale; positive means the training gave less than the job needs.")),
)
TERMS = {term.key: term for term in GLOSSARY}


def glossary_term(key: str, label: str | None = None, *, show_name: bool = True) -> Markup:
    """A term with its explanation on hover, focus or tap. `label` replaces the glossary's
    name in the text; `show_name=False` writes the info button alone (beside a heading
    that already says the term). Unknown keys raise: a typo must fail the page's test."""
    term = TERMS[key]
    counter = g.setdefault("_jejak_glossary_ids", itertools.count(1))
    tip_id = f"tip-{key}-{next(counter)}"
    name = gettext(term.name)
    text = Markup('<span class="term-name">{}</span>').format(label or name) if show_name else ""
    return Markup(
        '<span class="term">{text}<button type="button" class="term-info" '
        'aria-describedby="{tip}" aria-expanded="false">'
        '<span aria-hidden="true">?</span><span class="visually-hidden">{about}</span>'
        '</button><span role="tooltip" id="{tip}" class="term-tip">{explanation}</span></span>'
    ).format(text=text, tip=tip_id, explanation=gettext(term.explanation),
             about=escape(gettext("What does “%(term)s” mean?", term=name)))


@auth.requires("viewer")
def help_page() -> Any:
    """"Bantuan": the glossary and short how-tos for the everyday jobs, for every role."""
    # Translated here, not with the template's _(): Jinja's _() always applies `%`, and a
    # term may hold a literal "95%".
    terms = [(term.key, gettext(term.name), gettext(term.explanation)) for term in GLOSSARY]
    return render_template("help.html", glossary=terms)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["glossary_term"] = glossary_term
    app.add_url_rule("/help", "help", help_page)
