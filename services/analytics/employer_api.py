"""The employer survey's indicators in the API: `GET /api/v1/employer-indicators?wave=…`.

From analytics' projection as of the wave's newest refresh (services/analytics/
employer_figures.py); every role gets them through the small-group rule, and an admin sees
them unsuppressed only by asking `unsuppressed=true`, written to the audit log, as for the
alumni indicators.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import select

from services.analytics.employer_figures import employer_figures, suppress
from shared import auth, db
from shared.models import IndicatorSnapshot, Wave

blp = Blueprint(
    "employer_indicators", __name__, url_prefix="/api/v1",
    description="What the employers of a wave's alumni say (docs/employers.md): satisfaction "
    "per aspect by program and sector, hiring again, competencies to strengthen beside the "
    "alumni's own gap, demand for workers, the employer response rate.")


class EmployerIndicatorsQuery(Schema):
    class Meta:
        unknown = RAISE

    wave = fields.String(required=True, validate=validate.Length(1, 80),
                         metadata={"description": "the wave's slug"})
    unsuppressed = fields.Boolean(load_default=False, metadata={
        "description": "admins only, audited: the figures without the small-group rule"})


class EmployerIndicatorsOut(Schema):
    wave = fields.String()
    ratings = fields.Integer(metadata={"description": "supervisor ratings of alumni"})
    companies_answered = fields.Integer()
    satisfaction = fields.Dict(metadata={"description": "per aspect: share rating 3-4 "
                                         "(value, count, n, ci_low, ci_high), mean, small_n"})
    satisfaction_by_program = fields.Dict()
    satisfaction_by_sector = fields.Dict(metadata={"description": "by KBLI section letter"})
    hire_again = fields.Dict()
    hire_again_by_program = fields.Dict()
    strengthen = fields.Dict(metadata={"description": "per program: competencies (A keys of "
                                       "f17) by companies naming them, with the alumni gap"})
    demand_by_sector = fields.Dict()
    demand_by_city = fields.Dict()
    willingness = fields.Dict()
    response_rate = fields.Dict()
    sectors = fields.Dict()
    aspects = fields.List(fields.String())
    suppressed = fields.Boolean()


@blp.route("/employer-indicators")
class EmployerIndicators(MethodView):
    @auth.requires("viewer")
    @blp.arguments(EmployerIndicatorsQuery, location="query", unknown=RAISE)
    @blp.response(200, EmployerIndicatorsOut)
    @blp.alt_response(404, description="no such wave, or its indicators are not computed yet")
    @blp.alt_response(403, description="unsuppressed figures asked for by a non-admin")
    def get(self, query: dict[str, Any]) -> Any:
        """The employer indicators of a wave, as of its newest refresh."""
        session = db.session()
        principal = auth.current_principal()
        if query["unsuppressed"] and not principal.may("admin"):
            abort(403, message="unsuppressed figures are for admins only")
        wave = session.scalar(select(Wave).where(Wave.slug == query["wave"]))
        if wave is None:
            abort(404, message="no wave with this slug",
                  errors={"wave": ["no wave with this slug"]})
        if session.scalar(select(IndicatorSnapshot.id)
                          .where(IndicatorSnapshot.wave_id == wave.id).limit(1)) is None:
            message = "the indicators of this wave have not been computed yet; refresh it"
            abort(404, message=message, errors={"wave": [message]})
        figures = employer_figures(session, wave.id)
        if query["unsuppressed"]:
            auth.audit(session, principal.name, "indicators.unsuppressed", wave.slug,
                       part="employer")
            session.commit()
        else:
            figures = suppress(figures)
        return {"wave": wave.slug, "suppressed": not query["unsuppressed"], **figures}
