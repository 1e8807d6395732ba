"""A printable certificate of an award: one A4 landscape PDF page, made with fpdf2.

It says in words who earned what, from whom and when, and carries the two ways to check it:
the QR code of the credential page and the verification URL printed out. The PDF is a
picture of the award for a wall or a folder, not the credential; the page and the signed
files are what verify.

Text is set in DejaVu Sans where the system has it (every script a name may use), else in
the PDF core font Helvetica, which holds only Latin-1 (other characters print as "?").
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import segno
from fpdf import FPDF

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


@dataclass(frozen=True)
class CertificateFacts:
    earner_name: str
    achievement_name: str
    issuer_name: str
    issued_at: datetime
    valid_until: datetime | None
    page_url: str
    verify_url: str
    badge_png: bytes


def _in_words(when: datetime) -> str:
    return f"{when.day} {when:%B %Y}"


def _qr_png(text: str) -> bytes:
    out = io.BytesIO()
    segno.make(text, error="m", micro=False).save(out, kind="png", scale=8, border=4)
    return out.getvalue()


def certificate_pdf(facts: CertificateFacts) -> bytes:
    """The certificate as PDF bytes."""
    pdf = FPDF(orientation="landscape", unit="mm", format="A4")
    pdf.set_title(f"{facts.achievement_name}: {facts.earner_name}")
    pdf.set_author(facts.issuer_name)
    pdf.set_creator("Open Badges 3.0 issuer")
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    family = _font(pdf)

    def text(value: str) -> str:
        if family == "dejavu":
            return value
        return value.encode("latin-1", "replace").decode("latin-1")

    width = pdf.w
    pdf.set_draw_color(11, 92, 173)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, width - 20, pdf.h - 20)
    pdf.image(io.BytesIO(facts.badge_png), x=(width - 48) / 2, y=20, w=48, h=48)
    pdf.set_y(74)
    pdf.set_font(family, size=13)
    pdf.set_text_color(74, 83, 96)
    pdf.cell(0, 8, text("This certifies that"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, style="B", size=28)
    pdf.set_text_color(27, 31, 36)
    pdf.multi_cell(0, 13, text(facts.earner_name), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=13)
    pdf.set_text_color(74, 83, 96)
    pdf.cell(0, 8, text("has earned the Open Badge"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, style="B", size=20)
    pdf.set_text_color(11, 92, 173)
    pdf.multi_cell(0, 10, text(facts.achievement_name), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=12)
    pdf.set_text_color(27, 31, 36)
    awarded = f"awarded by {facts.issuer_name} on {_in_words(facts.issued_at)}"
    if facts.valid_until is not None:
        awarded += f", valid until {_in_words(facts.valid_until)}"
    pdf.multi_cell(0, 7, text(awarded + "."), align="C", new_x="LMARGIN", new_y="NEXT")

    qr_size = 34
    top = pdf.h - 20 - qr_size - 4
    pdf.image(io.BytesIO(_qr_png(facts.page_url)), x=24, y=top, w=qr_size, h=qr_size)
    pdf.set_xy(24 + qr_size + 6, top + 4)
    pdf.set_font(family, style="B", size=11)
    pdf.cell(0, 6, text("Check that it is genuine"), new_x="LEFT", new_y="NEXT")
    pdf.set_font(family, size=10)
    pdf.set_text_color(74, 83, 96)
    pdf.cell(0, 5, text("Scan the code, or open the badge's page:"), new_x="LEFT", new_y="NEXT")
    pdf.set_text_color(11, 92, 173)
    pdf.cell(0, 5, text(facts.page_url), link=facts.page_url, new_x="LEFT", new_y="NEXT")
    pdf.set_text_color(74, 83, 96)
    pdf.cell(0, 5, text("or upload the badge image at:"), new_x="LEFT", new_y="NEXT")
    pdf.set_text_color(11, 92, 173)
    pdf.cell(0, 5, text(facts.verify_url), link=facts.verify_url, new_x="LEFT", new_y="NEXT")
    return bytes(pdf.output())


def _font(pdf: FPDF) -> str:
    regular, bold = _DEJAVU / "DejaVuSans.ttf", _DEJAVU / "DejaVuSans-Bold.ttf"
    if regular.is_file() and bold.is_file():
        pdf.add_font("dejavu", style="", fname=str(regular))
        pdf.add_font("dejavu", style="B", fname=str(bold))
        return "dejavu"
    return "helvetica"
