"""Provinces of Indonesia and the cities and regencies of East Kalimantan, by BPS code.

Where an alumnus works decides which minimum wage their income is compared with (UMK of the
city or regency, else UMP of the province; docs/indicators.md, "Which minimum wage"). The
alumni questionnaire (blk-tracer v2) offers these as answer options, the wage settings name
their regions with them, and analytics resolves a work place to a wage with them, so they live
in shared. Codes are BPS's (Badan Pusat Statistik) two-digit province and four-digit regency
codes, including the provinces formed in Papua in 2022; a city's province is its first two
digits. `ABROAD` is Jejak's own code for work outside Indonesia (no Indonesian wage applies).
"""

from __future__ import annotations

PROVINCES: dict[int, str] = {
    11: "Aceh", 12: "Sumatera Utara", 13: "Sumatera Barat", 14: "Riau", 15: "Jambi",
    16: "Sumatera Selatan", 17: "Bengkulu", 18: "Lampung",
    19: "Kepulauan Bangka Belitung", 21: "Kepulauan Riau", 31: "DKI Jakarta",
    32: "Jawa Barat", 33: "Jawa Tengah", 34: "DI Yogyakarta", 35: "Jawa Timur", 36: "Banten",
    51: "Bali", 52: "Nusa Tenggara Barat", 53: "Nusa Tenggara Timur",
    61: "Kalimantan Barat", 62: "Kalimantan Tengah", 63: "Kalimantan Selatan",
    64: "Kalimantan Timur", 65: "Kalimantan Utara", 71: "Sulawesi Utara",
    72: "Sulawesi Tengah", 73: "Sulawesi Selatan", 74: "Sulawesi Tenggara", 75: "Gorontalo",
    76: "Sulawesi Barat", 81: "Maluku", 82: "Maluku Utara", 91: "Papua Barat",
    92: "Papua Barat Daya", 94: "Papua", 95: "Papua Selatan", 96: "Papua Tengah",
    97: "Papua Pegunungan",
}
ABROAD = 99  # a work-province answer: outside Indonesia
EAST_KALIMANTAN = 64
EAST_KALIMANTAN_CITIES: dict[int, str] = {
    6401: "Kabupaten Paser", 6402: "Kabupaten Kutai Barat",
    6403: "Kabupaten Kutai Kartanegara", 6404: "Kabupaten Kutai Timur",
    6405: "Kabupaten Berau", 6409: "Kabupaten Penajam Paser Utara",
    6411: "Kabupaten Mahakam Ulu", 6471: "Kota Balikpapan", 6472: "Kota Samarinda",
    6474: "Kota Bontang",
}


def province_of(city: int) -> int:
    """The province of a BPS regency code (its first two digits): 6474 -> 64."""
    return city // 100
