"""The indicators API's schemas: the query, the answer (every indicator's shape, as the
OpenAPI document describes it to clients), refreshes and minimum wages. The routes and how
an answer is put together are services/analytics/api.py's."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from services.analytics.indicators import BREAKDOWNS
from services.analytics.wages import LEVELS
from shared.web import row_id

GENDERS = ("L", "P")  # laki-laki, perempuan


class IndicatorsQuery(Schema):
    class Meta:
        unknown = RAISE  # a misspelt filter must not silently return the whole wave

    wave = fields.String(required=True, validate=validate.Length(1, 80),
                         metadata={"description": "the wave's slug"})
    program = row_id(
                             metadata={"description": "only this program (kejuruan) id"})
    cohort = row_id(
                            metadata={"description": "only this cohort (angkatan) id"})
    gender = fields.String(validate=validate.OneOf(GENDERS),
                           metadata={"description": "only L (laki-laki) or P (perempuan)"})
    fpc = fields.Boolean(load_default=False, metadata={
        "description": "narrow the intervals of respondents' shares by the finite-population "
                       "correction sqrt((N − n) / (N − 1))"})
    by = fields.String(validate=validate.OneOf(tuple(BREAKDOWNS)), metadata={
        "description": "also give the indicators of each program, cohort or gender"})
    unsuppressed = fields.Boolean(load_default=False, metadata={
        "description": "admins only, audited: the figures without the small-group rule"})


class ShareOut(Schema):
    value = fields.Float(allow_none=True, metadata={"description": "count / n"})
    n = fields.Integer(allow_none=True, metadata={"description": "the base (denominator)"})
    count = fields.Integer(allow_none=True, metadata={"description": "the numerator"})
    ci_low = fields.Float(allow_none=True, metadata={"description": "95 % Wilson interval"})
    ci_high = fields.Float(allow_none=True)
    weighted = fields.Float(allow_none=True, metadata={
        "description": "weighted by N_h / n_h per program × cohort"})
    small_n = fields.Boolean(metadata={"description": "n below 5"})
    suppressed = fields.Boolean(metadata={
        "description": "present (true) only when the small-group rule hid this figure: its "
                       "numbers are null"})
    not_collected = fields.Boolean(metadata={
        "description": "present (true) only when the wave's questionnaire does not collect "
                       "this figure's inputs: its numbers are null, never zero"})


class StatisticOut(Schema):
    value = fields.Float(allow_none=True)
    n = fields.Integer(allow_none=True)
    small_n = fields.Boolean()
    suppressed = fields.Boolean(metadata={
        "description": "present (true) only when the small-group rule hid this figure"})
    not_collected = fields.Boolean(metadata={
        "description": "present (true) only when the questionnaire does not collect it"})


class CompetencyGapOut(StatisticOut):
    mean_a = fields.Float(allow_none=True, metadata={"description": "level after training"})
    mean_b = fields.Float(allow_none=True, metadata={"description": "level the job needs"})


class WageCasesOut(Schema):
    umk = fields.Integer(allow_none=True, metadata={
        "description": "incomes compared with the UMK of the work city or regency"})
    ump = fields.Integer(allow_none=True, metadata={
        "description": "incomes compared with the UMP of the work province"})
    centre = fields.Integer(allow_none=True, metadata={
        "description": "incomes compared with the centre's own wage (work place unknown, "
                       "or no wage set for it)"})


class DecentWorkOut(Schema):
    value = fields.Float(allow_none=True, metadata={
        "description": "mean weight Σ weight / n (null: no minimum wage for the wave)"})
    n = fields.Integer(allow_none=True, metadata={
        "description": "respondents weighed (status answered)"})
    ci_low = fields.Float(allow_none=True, metadata={
        "description": "95 % interval, normal approximation (docs/indicators.md)"})
    ci_high = fields.Float(allow_none=True)
    weighted = fields.Float(allow_none=True, metadata={
        "description": "Σ w·weight / Σ w with the shares' strata weights N_h / n_h"})
    weighted_ci_low = fields.Float(allow_none=True, metadata={
        "description": "95 % interval from the stratified variance"})
    weighted_ci_high = fields.Float(allow_none=True)
    small_n = fields.Boolean(metadata={"description": "n below 5"})
    suppressed = fields.Boolean(metadata={
        "description": "present (true) only when the small-group rule hid this figure"})


class DispositionsOut(Schema):
    complete = fields.Integer()
    partial = fields.Integer()
    refusal = fields.Integer()
    non_contact = fields.Integer()
    unknown = fields.Integer()
    unreachable = fields.Integer()


class AaporEOut(Schema):
    value = fields.Float(allow_none=True, metadata={
        "description": "e: the estimated eligible share of the cases of unknown eligibility"})
    basis = fields.String(metadata={"description": "how e was derived"})


class IndicatorsOut(Schema):
    targets = fields.Integer(metadata={"description": "population N"})
    respondents = fields.Integer(metadata={"description": "complete responses n"})
    unreachable = fields.Integer(metadata={"description": "U"})
    employed = fields.Integer(allow_none=True, metadata={
        "description": "respondents with status 1 or 3 (working, self-employed); null when "
                       "the questionnaire does not ask the status"})
    status_answered = fields.Integer(allow_none=True)
    not_collected = fields.List(fields.String(), metadata={
        "description": "the indicators the wave's questionnaire does not collect (its "
                       "indicator inputs lack what they need): reported with null numbers "
                       "and \"not_collected\": true"})
    small_n = fields.Boolean(metadata={"description": "fewer than 5 respondents"})
    suppressed = fields.Boolean(metadata={
        "description": "present (true) only when the small-group rule hid the whole group: "
                       "every figure is null"})
    weight_coverage = fields.Float(allow_none=True)
    minimum_wage = fields.Integer(allow_none=True)
    fpc = fields.Boolean()
    dispositions = fields.Nested(DispositionsOut)
    response_rate = fields.Nested(ShareOut)
    net_response_rate = fields.Nested(ShareOut)
    status_share = fields.Dict(keys=fields.String(), values=fields.Nested(ShareOut),
                               metadata={"description": "by f8 code 1–5"})
    absorption_rate = fields.Nested(ShareOut)
    employed_within_6_months = fields.Nested(ShareOut)
    waiting_months_median = fields.Nested(StatisticOut)
    waiting_months_mean = fields.Nested(StatisticOut)
    waiting_bins = fields.Dict(keys=fields.String(), values=fields.Integer(allow_none=True))
    income_median = fields.Nested(StatisticOut)
    above_minimum_wage = fields.Nested(ShareOut)
    minimum_wage_applied = fields.Nested(WageCasesOut, metadata={
        "description": "how many incomes above_minimum_wage compared with each kind of wage "
                       "(the rule: minimum_wage_rule)"})
    decent_work = fields.Dict(keys=fields.String(), values=fields.Nested(DecentWorkOut),
                              metadata={"description": "mean decent-work weight per preset "
                                        "(iku2, blk; docs/indicators.md, 'Decent work')"})
    relevance_share = fields.Nested(ShareOut)
    local_absorption = fields.Nested(ShareOut)
    certificate_share = fields.Nested(ShareOut)
    competency_gap = fields.Dict(keys=fields.String(), values=fields.Nested(CompetencyGapOut))
    training_eval = fields.Dict(keys=fields.String(), values=fields.Nested(StatisticOut))
    job_search_channels = fields.Dict(keys=fields.String(), values=fields.Nested(ShareOut))
    # AAPOR rates (docs/indicators.md, "Response rates from dispositions"): of the selection
    # only (`indicators`), not of each breakdown group; read from the tables at request time.
    rr1 = fields.Float(allow_none=True, metadata={"description": "AAPOR RR1 = I / D"})
    rr2 = fields.Float(allow_none=True, metadata={"description": "AAPOR RR2 = (I + P) / D"})
    rr3 = fields.Float(allow_none=True, metadata={
        "description": "AAPOR RR3 = I / ((I + P) + (R + NC + O) + e·(UH + UO))"})
    rr4 = fields.Float(allow_none=True, metadata={
        "description": "AAPOR RR4 = (I + P) / ((I + P) + (R + NC + O) + e·(UH + UO))"})
    coop1 = fields.Float(allow_none=True, metadata={
        "description": "AAPOR COOP1 = I / ((I + P) + R + O)"})
    ref1 = fields.Float(allow_none=True, metadata={"description": "AAPOR REF1 = R / D"})
    con1 = fields.Float(allow_none=True, metadata={
        "description": "AAPOR CON1 = ((I + P) + R + O) / D"})
    aapor_e = fields.Nested(AaporEOut)
    aapor_dispositions = fields.Dict(keys=fields.String(), values=fields.Integer(allow_none=True),
                                     metadata={"description": "targets per final AAPOR "
                                               "disposition: I P R NE NC O UO UH"})
    response_rate_by_mode = fields.Dict(
        keys=fields.String(), values=fields.Float(allow_none=True),
        metadata={"description": "complete interviews (I) of each mode / D"})


class MinimumWageOut(Schema):
    year = fields.Integer()
    amount = fields.Integer(metadata={"description": "rupiah per month"})
    source = fields.String()
    updated_at = fields.DateTime(dump_only=True)


class GroupOut(Schema):
    key = fields.Raw(metadata={"description": "program or cohort id, or the gender"})
    label = fields.String(allow_none=True)
    indicators = fields.Nested(IndicatorsOut)


class FiltersOut(Schema):
    program = fields.Integer(allow_none=True)
    cohort = fields.Integer(allow_none=True)
    gender = fields.String(allow_none=True)


class IndicatorsResponse(Schema):
    wave = fields.String()
    snapshot_id = fields.Integer()
    computed_at = fields.DateTime(metadata={"description": "when the snapshot was written"})
    responses_included = fields.Integer(allow_none=True, metadata={
        "description": "complete responses of the wave's targets in the snapshot; null when "
                       "the small-group rule hides the whole wave"})
    filters = fields.Nested(FiltersOut)
    minimum_wage = fields.Nested(MinimumWageOut, allow_none=True, metadata={
        "description": "the UMK of the wave's year; null: not set (above_minimum_wage has "
                       "no count)"})
    minimum_wage_year = fields.Integer()
    minimum_wage_rule = fields.String(metadata={
        "description": "which wage each income is compared with"})
    indicators = fields.Nested(IndicatorsOut, metadata={"description": "of the selection"})
    by = fields.String(allow_none=True)
    breakdown = fields.List(fields.Nested(GroupOut), allow_none=True)


class RefreshIn(Schema):
    wave = fields.String(load_default=None, validate=validate.Length(1, 80), metadata={
        "description": "the wave's slug; empty: every open and closed wave"})


class RefreshQueued(Schema):
    task_id = fields.String()
    run_id = fields.Integer(allow_none=True, metadata={
        "description": "poll GET /refresh/{run_id}; empty when refreshing every wave"})
    wave = fields.String(allow_none=True)


class RefreshRunOut(Schema):
    id = fields.Integer()
    wave_id = fields.Integer(allow_none=True)
    kind = fields.String(metadata={"description": "full or live"})
    status = fields.String(metadata={
        "description": "queued, running, done, skipped (another refresh ran) or failed"})
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    detail = fields.String(allow_none=True)


class MinimumWageRowOut(MinimumWageOut):
    """A row of the minimum-wage table: the wage, its region and its note."""

    id = fields.Integer()
    level = fields.String(metadata={"description": "city (UMK) or province (UMP)"})
    region_code = fields.String(metadata={"description": "BPS code; empty: no region"})
    region_name = fields.String()
    exact_amount = fields.Decimal(as_string=True, allow_none=True, metadata={
        "description": "the decreed figure with sen, when it has them (amount is it rounded "
                       "up)"})
    note = fields.String(allow_none=True)


MAX_WAGE = 999_999_999


def _wage_out_of_range() -> bool:
    raise ValidationError(f"Must be greater than or equal to 1 and less than or equal to "
                          f"{MAX_WAGE}.")


class MinimumWageIn(Schema):
    year = fields.Integer(required=True, validate=validate.Range(2000, 2100))
    # Bounded so an absurd figure is a 422, not a database overflow. Sen are allowed (UMP
    # Kalimantan Timur 2025 is Rp 3.579.313,77); incomes compare with it rounded up.
    # A plain check, not validate.Range: apispec would write Range's bound as the string
    # "999999999.00" (a Decimal), which is no OpenAPI number.
    amount = fields.Decimal(required=True, places=2, allow_nan=False,
                            validate=lambda value: 1 <= value <= MAX_WAGE or _wage_out_of_range(),
                            metadata={"description": "rupiah per month", "minimum": 1,
                                      "maximum": MAX_WAGE})
    source = fields.String(required=True, validate=validate.Length(1, 300), metadata={
        "description": "where the figure comes from, e.g. the governor's decree"})
    level = fields.String(load_default="city", validate=validate.OneOf(LEVELS), metadata={
        "description": "city: UMK of a city or regency; province: UMP"})
    region_code = fields.String(load_default="", validate=validate.Regexp(r"^[0-9]{0,16}$"),
                                metadata={"description": "BPS code (6474 Kota Bontang, 64 "
                                          "Kalimantan Timur); empty: a wage without region"})
    region_name = fields.String(load_default="", validate=validate.Length(0, 120))
    note = fields.String(load_default=None, validate=validate.Length(0, 300))


