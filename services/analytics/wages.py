"""Minimum wages by year and region, and which one a wave uses (docs/indicators.md, "Which
minimum wage").

A wave compares incomes with the wage of its year (`wave_year`) in
the centre's region (shared.centre: Kota Bontang by default), chosen in this order:

1. the UMK (level "city") of the centre's city or regency;
2. a wage without a region: every wage set before regions were recorded, and those set
   through the API without one. With one wage per year and no regions this is exactly the
   lookup of before, so the figures of existing data do not move;
3. the UMP (level "province") of the centre's province: the legal floor where a city has
   no UMK of its own.

No row: the wave has no minimum wage, and above_minimum_wage has no count.

The settings page and the API call the same `set_wage` (one code path, issue 14).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.analytics import numbers
from services.analytics.decent import Wages
from shared.centre import Centre
from shared.models import MinimumWage, Wave, utcnow
from shared.regions import EAST_KALIMANTAN_CITIES, PROVINCES

LEVELS = ("city", "province")
CHECK_DECREE = "periksa terhadap Keputusan Gubernur Kalimantan Timur"
# East Kalimantan figures a centre can check (issue 14); seeded by `jejak db upgrade` into
# years that have no wage and no wave yet (services/cli.py seed), never over a figure staff
# set nor under an existing wave.
EAST_KALIMANTAN = (
    (2025, "province", "64", "Kalimantan Timur", Decimal("3579313.77")),
    (2026, "province", "64", "Kalimantan Timur", Decimal("3762431")),
    (2025, "city", "6474", "Kota Bontang", Decimal("3780012.66")),
    (2026, "city", "6474", "Kota Bontang", Decimal("3799480")),
)
SEED_SOURCE = "Keputusan Gubernur Kalimantan Timur (nilai awal Jejak)"
# What every income is compared with (docs/indicators.md, "Which minimum wage").
WAGE_RULE = ("UMK of the work city or regency when set for the year, else UMP of the work "
             "province, else the centre's own wage")


# The regions the wage page offers (shared.regions): value "level:code", and the name.
REGION_CHOICES: tuple[tuple[str, str], ...] = (
    *((f"city:{code}", name) for code, name in EAST_KALIMANTAN_CITIES.items()),
    *((f"province:{code}", name) for code, name in PROVINCES.items()),
)


def region_name(level: str, code: str) -> str:
    """The shared.regions name of a BPS code at this level ("" when not listed)."""
    if not code.isdigit():
        return ""
    table: dict[int, str] = EAST_KALIMANTAN_CITIES if level == "city" else PROVINCES
    return table.get(int(code), "")


def region_choice(value: str) -> dict[str, str]:
    """A "level:code" picked on the wage page as the fields it stands for ({} for none)."""
    level, _, code = value.partition(":")
    name = region_name(level, code) if level in LEVELS else ""
    return {"level": level, "region_code": code, "region_name": name} if name else {}


def choose(rows: Iterable[MinimumWage], centre: Centre) -> MinimumWage | None:
    """The wage a wave uses among the rows of its year (the order in the module docstring)."""
    def rank(row: MinimumWage) -> int | None:
        if row.level == "city" and row.region_code == centre.region_code:
            return 0
        if row.region_code == "":
            return 1
        if row.level == "province" and row.region_code == centre.province_code:
            return 2
        return None

    ranked = sorted(((rank(row), row.id or 0, row) for row in rows if rank(row) is not None),
                    key=lambda item: (item[0], item[1]))
    return ranked[0][2] if ranked else None


def wage_of_year(session: Session, year: int, centre: Centre | None = None) -> MinimumWage | None:
    """The wage of `year` for the centre (the app's centre when not given)."""
    if centre is None:
        centre = _current_centre(session)
    return choose(session.scalars(select(MinimumWage).where(MinimumWage.year == year)), centre)


def wages_of_year(session: Session, year: int, centre: Centre | None = None) -> Wages:
    """Every wage of `year` as the rules read them (`decent.Wages`): the centre's own
    (`choose`), and each UMK and UMP row with a BPS code, in sen."""
    if centre is None:
        centre = _current_centre(session)
    rows = list(session.scalars(select(MinimumWage).where(MinimumWage.year == year)
                                .order_by(MinimumWage.id)))
    own = choose(rows, centre)

    def coded(level: str, digits: int) -> tuple[tuple[int, int], ...]:
        return tuple(sorted((int(row.region_code), _sen(row)) for row in rows
                            if row.level == level and row.region_code.isdigit()
                            and len(row.region_code) == digits))

    return Wages(own.amount if own is not None else None,
                 _sen(own) if own is not None else None, coded("city", 4), coded("province", 2))


def _sen(wage: MinimumWage) -> int:
    exact = wage.exact_amount if wage.exact_amount is not None else Decimal(wage.amount)
    return int(exact * 100)


def _current_centre(session: Session) -> Centre:
    from flask import has_app_context

    if not has_app_context():
        return Centre()
    from shared.centre import centre

    return centre(session)


def parse_rupiah(text: str) -> Decimal:
    """ "Rp 3.579.313,77" or "3579313.77" → Decimal("3579313.77"). Indonesian writing uses
    dots between thousands and a comma before sen; a lone dot followed by three digits is
    a thousands dot."""
    cleaned = text.strip().lower().removeprefix("rp").strip().replace(" ", "")
    if "," in cleaned:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    elif cleaned.count(".") > 1 or (cleaned.count(".") == 1
                                    and len(cleaned.rsplit(".", 1)[1]) == 3):
        cleaned = cleaned.replace(".", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError("not an amount in rupiah, e.g. 3.799.480") from exc
    if not value.is_finite() or value <= 0 or value >= 1_000_000_000:
        raise ValueError("an amount from 1 to 999.999.999 rupiah")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("at most two decimals (sen)")
    return value


def set_wage(session: Session, values: dict[str, Any], actor: str) -> MinimumWage:
    """Create or replace the wage of (year, level, region); audited. `values` are checked
    (MinimumWageIn): year, amount (Decimal, may have sen), source, and optional level,
    region_code, region_name, note. Without a region code the row is the year's wage
    without a region (the API's behaviour before regions)."""
    from shared.auth import audit

    level = values.get("level") or "city"
    region_code = (values.get("region_code") or "").strip()
    exact = Decimal(values["amount"])
    whole = math.ceil(exact)
    wage = session.scalar(select(MinimumWage).where(
        MinimumWage.year == values["year"], MinimumWage.level == level,
        MinimumWage.region_code == region_code))
    previous = wage.amount if wage is not None else None
    if wage is None:
        wage = MinimumWage(year=values["year"], level=level, region_code=region_code)
        session.add(wage)
    wage.amount = whole
    wage.exact_amount = exact if exact != whole else None
    wage.region_name = ((values.get("region_name") or "").strip()
                        or region_name(level, region_code))
    wage.source = values["source"]
    wage.note = values.get("note") or None
    wage.updated_at = utcnow()
    session.flush()
    target = f"{values['year']}" + (f" {level} {region_code}" if region_code else "")
    audit(session, actor, "minimum_wage.set", target,
          amount=whole if exact == whole else str(exact), previous=previous,
          source=values["source"])
    return wage


def wave_year(wave: Wave, timezone: str) -> int:
    """The year whose minimum wage applies: of opening, else of creation, in local time."""
    moment: datetime = wave.opened_at or wave.created_at
    return moment.astimezone(ZoneInfo(timezone)).year


def minimum_wage_of(session: Session, wave: Wave, timezone: str) -> MinimumWage | None:
    """The wage the wave uses: of its year, in the centre's region."""
    return wage_of_year(session, wave_year(wave, timezone))


def seed_east_kalimantan(session: Session, timezone: str = "Asia/Makassar") -> int:
    """Add the East Kalimantan figures for years that have no wage and no wave yet; returns
    how many rows were added. A year with a wage (set by staff) is left as it is, and so is
    a year some wave already belongs to (its figures would move under it): seeding never
    changes the indicators of existing data."""
    taken = set(session.scalars(select(MinimumWage.year).distinct()))
    taken |= {wave_year(wave, timezone) for wave in session.scalars(select(Wave))}
    added = 0
    for year, level, code, name, amount in EAST_KALIMANTAN:
        if year in taken:
            continue
        whole = math.ceil(amount)
        session.add(MinimumWage(year=year, level=level, region_code=code, region_name=name,
                                amount=whole, exact_amount=amount if amount != whole else None,
                                source=SEED_SOURCE, note=CHECK_DECREE, updated_at=utcnow()))
        added += 1
    return added


def describe(wage: MinimumWage) -> str:
    """ "UMK Kota Bontang 2026" / "UMP Kalimantan Timur 2025" / "UMK 2024" (no region)."""
    kind = "UMP" if wage.level == "province" else "UMK"
    return " ".join(part for part in (kind, wage.region_name, str(wage.year)) if part)


def label(wage: MinimumWage) -> str:
    """ "UMK Kota Bontang 2026: Rp 3.799.480": which wage, and how much (dashboard, PDF,
    workbook)."""
    return f"{describe(wage)}: {rupiah_exact(wage)}"


def rupiah_exact(wage: MinimumWage) -> str:
    """Rp 3.579.313,77 (the decreed figure, with sen when it has them)."""
    return numbers.rupiah_exact(
        wage.exact_amount if wage.exact_amount is not None else Decimal(wage.amount))
