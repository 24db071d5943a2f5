"""A printable A4 poster of a wave's open link (issue 14): the centre's name (and logo), the
wave's title, a large QR code of the open link on the public base URL, the link written out,
and what an alumnus needs to identify (registration number or phone number).

The staff page and the API both return `poster_pdf(...)` (one code path). The link comes
from the centre's public URL (shared/centre.py); a loopback URL is printed with a warning
line, so a poster that would not open on a phone says so before it is put on a wall.
"""

from __future__ import annotations

import io

import segno
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from shared.centre import Centre, base_url_warning

FONT = "Helvetica"
ACCENT = (14, 92, 138)


def _text(value: str) -> str:
    """What the core fonts can draw (Windows-1252), as the reports do."""
    return value.encode("cp1252", "replace").decode("cp1252")


def poster_pdf(centre: Centre, wave_title: str, link: str) -> bytes:
    """The poster as PDF bytes (A4 portrait)."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title(_text(f"Poster tracer study {wave_title} - {centre.name}"))
    pdf.set_author(_text(centre.name))
    pdf.set_creator("Jejak")
    pdf.add_page()
    pdf.set_fill_color(*ACCENT)
    pdf.rect(0, 0, pdf.w, 14, style="F")
    top = 24
    if centre.logo is not None:
        pdf.image(io.BytesIO(centre.logo[1]), x=pdf.w / 2 - 12, y=top, h=24)
        top += 28
    pdf.set_y(top)
    pdf.set_font(FONT, "B", 22)
    pdf.set_text_color(*ACCENT)
    pdf.multi_cell(0, 10, _text(centre.name), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0)
    pdf.ln(2)
    pdf.set_font(FONT, "", 14)
    pdf.cell(0, 8, "Survei Penelusuran Alumni (Tracer Study)", align="C",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "B", 18)
    pdf.multi_cell(0, 9, _text(wave_title), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    qr = io.BytesIO()
    segno.make(link, error="m").save(qr, kind="png", scale=12, border=2)
    qr.seek(0)
    size = 110
    y = pdf.get_y()
    pdf.image(qr, x=(pdf.w - size) / 2, y=y, w=size, h=size)
    pdf.set_y(y + size + 4)
    pdf.set_font(FONT, "", 12)
    pdf.cell(0, 7, "Pindai kode QR dengan kamera ponsel, atau buka:", align="C",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "B", 16)
    short = link.split("://", 1)[-1]
    pdf.multi_cell(0, 8, _text(short), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT,
                   link=link)
    pdf.ln(5)
    pdf.set_font(FONT, "B", 13)
    pdf.cell(0, 7, "Siapkan salah satu:", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 13)
    for line in ("- nomor peserta pelatihan (no. registrasi), atau",
                 "- nomor HP yang Anda daftarkan saat pelatihan."):
        pdf.cell(0, 7, line, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_font(FONT, "", 10)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(0, 5, "Mengisi survei sekitar 10 menit. Jawaban Anda dijaga kerahasiaannya "
                   "dan hanya dilaporkan sebagai angka kelompok.", align="C",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    contact = " - ".join(part for part in (centre.address, centre.contact) if part)
    if contact:
        pdf.multi_cell(0, 5, _text(contact), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if base_url_warning(link):
        pdf.set_y(-22)
        pdf.set_font(FONT, "B", 10)
        pdf.set_text_color(180, 30, 30)
        pdf.multi_cell(0, 5, "PERHATIAN: alamat ini hanya dapat dibuka di komputer server "
                       "(loopback). Atur URL publik di halaman Pengaturan sebelum mencetak.",
                       align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
