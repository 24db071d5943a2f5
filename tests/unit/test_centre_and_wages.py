"""Plain functions of issue 14: reading Indonesian rupiah, choosing a wave's wage, checking
the centre's settings (shared/centre.py, services/analytics/wages.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.analytics.wages import choose, label, parse_rupiah
from shared.centre import Centre, base_url_warning, check
from shared.models import MinimumWage


@pytest.mark.parametrize(("text", "value"), [
    ("Rp 3.579.313,77", Decimal("3579313.77")),
    ("3.799.480", Decimal("3799480")),
    ("3799480", Decimal("3799480")),
    ("3579313.77", Decimal("3579313.77")),
    ("rp3.780.012,66", Decimal("3780012.66")),
])
def test_rupiah_is_read_as_indonesians_write_it(text: str, value: Decimal) -> None:
    assert parse_rupiah(text) == value


@pytest.mark.parametrize("text", ["", "tiga juta", "0", "-5", "1,234", "3.799.480,5,1",
                                  "1000000000"])
def test_what_is_not_an_amount_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rupiah(text)


def wage(id: int, level: str, code: str, amount: int, name: str = "") -> MinimumWage:
    return MinimumWage(id=id, year=2026, level=level, region_code=code, region_name=name,
                       amount=amount, source="x")


def test_the_centres_umk_comes_first_then_a_wage_without_region_then_the_ump() -> None:
    bontang = Centre()
    umk = wage(3, "city", "6474", 3_799_480, "Kota Bontang")
    legacy = wage(1, "city", "", 3_600_000)
    ump = wage(2, "province", "64", 3_762_431, "Kalimantan Timur")
    other_city = wage(4, "city", "6472", 3_900_000, "Kota Samarinda")
    assert choose([legacy, ump, umk, other_city], bontang) is umk
    assert choose([legacy, ump, other_city], bontang) is legacy  # as before regions
    assert choose([ump, other_city], bontang) is ump
    assert choose([other_city], bontang) is None
    assert label(umk) == "UMK Kota Bontang 2026: Rp 3.799.480"
    assert label(legacy) == "UMK 2026: Rp 3.600.000"


def test_a_loopback_public_url_is_named_and_a_real_one_is_not() -> None:
    for url in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]/",
                "https://app.localhost"):
        assert base_url_warning(url) == "loopback"
    for url in ("https://tracer.blki-bontang.go.id", "http://192.168.1.20:8000"):
        assert base_url_warning(url) is None


def test_settings_are_cleaned_and_each_problem_names_its_field() -> None:
    clean, errors = check({"name": "  UPTD   BLKI  Contoh ", "base_url": "https://x.id/",
                           "quiet_hours": "21:00 - 6:30", "retention_days": "30",
                           "head_nip": "1970 0101", "timezone": ""})
    assert errors == {}
    assert clean == {"name": "UPTD BLKI Contoh", "base_url": "https://x.id",
                     "quiet_hours": "21:00-06:30", "retention_days": 30,
                     "head_nip": "1970 0101", "timezone": None}
    _, errors = check({"base_url": "ftp://x", "quiet_hours": "malam", "retention_days": "0",
                       "head_nip": "NIP-1", "timezone": "WITA", "colour": "green",
                       "logo": b"GIF89a...."})
    assert set(errors) == {"base_url", "quiet_hours", "retention_days", "head_nip",
                           "timezone", "colour", "logo"}
