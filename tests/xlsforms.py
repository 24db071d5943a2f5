"""Small XLSForms built with openpyxl, for the import page, the CLI and the browser tests."""

from __future__ import annotations

from tests.xlsform_forms import workbook as build

HEADER = ["type", "name", "label::Indonesian (id)", "label::English (en)",
          "hint::Indonesian (id)", "required", "relevant", "constraint"]
SURVEY = [
    ["begin_group", "data", "Data diri", "About you", "", "", "", ""],
    ["select_one status", "status", "Status", "Status", "", "yes", "", ""],
    ["select_multiple kanal", "kanal", "Cara mencari kerja", "How you searched", "", "",
     "${status} = 1", ""],
    ["integer", "umur", "Umur", "Age", "", "",
     "${status} = 1 and selected(${kanal}, 'online')", ". >= 15 and . <= 70"],
    ["end_group", "", "", "", "", "", "", ""],
    ["text", "komentar", "Komentar", "Comments", "Boleh kosong", "", "", ""],
]
CHOICES = [
    ["list_name", "name", "label::Indonesian (id)", "label::English (en)"],
    ["status", 1, "Bekerja", "Working"],
    ["status", 2, "Belum bekerja", "Not working"],
    ["kanal", "koran", "Koran", "Newspaper"],
    ["kanal", "online", "Internet", "Internet"],
]


def workbook(survey: list[list] = SURVEY, title: str = "Uji XLSForm") -> bytes:
    """SURVEY (or `survey`) with CHOICES and a settings sheet naming the form."""
    return build([HEADER, *survey], CHOICES,
                 [["form_title", "form_id"], [title, "uji_xlsform"]])


# Long labels, a long key and an "or": what a real form holds, for the screenshots.
LONGER = [
    *SURVEY[:4],
    ["integer", "bulan_tunggu_sampai_pekerjaan_pertama_setelah_pelatihan_selesai",
     "Berapa bulan setelah menyelesaikan pelatihan Anda mendapatkan pekerjaan pertama?",
     "How many months after finishing your training did you find your first job?",
     "Isi 0 bila sudah bekerja sebelum pelatihan selesai", "yes",
     "${status} = 1 or ${status} = 2", ". >= 0 and . <= 120"],
    *SURVEY[4:],
]
