"""KBLI 2020 sections, shared by the survey (employer records) and analytics (figures by
sector): one table, so a sector reads the same on the company page and in the report."""

from __future__ import annotations


def N_(message: str) -> str:
    """Marks a message for the catalog; pages translate it when they show it."""
    return message


# KBLI 2020 (Klasifikasi Baku Lapangan Usaha Indonesia) sections: the letter and its name.
# The msgids are the sections' English names (ISIC Rev. 4); the Indonesian catalogue holds
# the official KBLI names.
KBLI_SECTIONS: dict[str, str] = {
    "A": N_("Agriculture, forestry and fishing"),
    "B": N_("Mining and quarrying"),
    "C": N_("Manufacturing"),
    "D": N_("Electricity, gas, steam and air conditioning supply"),
    "E": N_("Water supply; sewerage, waste management and remediation"),
    "F": N_("Construction"),
    "G": N_("Wholesale and retail trade; repair of motor vehicles and motorcycles"),
    "H": N_("Transportation and storage"),
    "I": N_("Accommodation and food service activities"),
    "J": N_("Information and communication"),
    "K": N_("Financial and insurance activities"),
    "L": N_("Real estate activities"),
    "M": N_("Professional, scientific and technical activities"),
    "N": N_("Administrative and support service activities"),
    "O": N_("Public administration and defence; compulsory social security"),
    "P": N_("Education"),
    "Q": N_("Human health and social work activities"),
    "R": N_("Arts, entertainment and recreation"),
    "S": N_("Other service activities"),
    "T": N_("Activities of households as employers"),
    "U": N_("Activities of extraterritorial organisations and bodies"),
}
