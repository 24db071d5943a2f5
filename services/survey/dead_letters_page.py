"""The dead-letters page (admin): events a consumer gave up on, to replay or discard.

The rules are in shared/dead_letters.py; this page and `jejak events dead-letters` /
`replay` / `discard` are two doors to the same functions.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from shared import auth, db, dead_letters

bp = Blueprint("dead_letters", __name__)
PAGE_SIZE = 100


@bp.route("/dead-letters")
@auth.requires("admin")
def dead_letters_page() -> Any:
    status = request.args.get("status", "dead")
    if status not in dead_letters.STATUSES:
        status = "dead"
    rows = db.session().scalars(dead_letters.listing(status).limit(PAGE_SIZE)).all()
    return render_template(
        "survey/dead_letters.html", rows=rows, status=status, statuses=dead_letters.STATUSES,
        zone=ZoneInfo(current_app.config["JEJAK_SETTINGS"].timezone),
    )


@bp.route("/dead-letters/<int:dead_letter_id>/<any(replay, discard):action>", methods=["POST"])
@auth.requires("admin")
def resolve_dead_letter(dead_letter_id: int, action: str) -> Any:
    session = db.session()
    try:
        getattr(dead_letters, action)(session, dead_letter_id, auth.current_principal().name)
    except dead_letters.DeadLetterError:
        flash(_("This failed event cannot be changed any more."), "error")
        return redirect(url_for("dead_letters.dead_letters_page"))
    session.commit()
    flash(_("The event was sent again.") if action == "replay"
          else _("The event was discarded."), "ok")
    return redirect(url_for("dead_letters.dead_letters_page"))
