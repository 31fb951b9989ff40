"""Permits as PDF documents in the CITES standard layout (boxes 1-15), in Korean and English.

The Korean text is set in NanumGothic, embedded (subset) in the file so that any reader shows it;
the font comes from the koreanize-matplotlib package, located without importing it. Files are
rendered with ``invariant=1``: the same permit always gives the same bytes, so the SHA-256 taken
at issue identifies the document. Changing how anything is drawn changes those bytes for permits
already issued (the QR code drawn as one path, issue #13, did): the file handed out still matches
its record, a new rendering of an old permit does not.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
from pathlib import Path

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from registry import codes

FONT, BOLD = "NanumGothic", "NanumGothicBold"
TITLES = {
    "import": ("IMPORT PERMIT", "수입허가서"),
    "export": ("EXPORT PERMIT", "수출허가서"),
    "reexport": ("RE-EXPORT CERTIFICATE", "재수출증명서"),
    "origin": ("CERTIFICATE OF ORIGIN", "원산지증명서"),
    "captive_breeding": ("CAPTIVE-BREEDING CERTIFICATE", "인공증식증명서"),
    "pre_convention": ("PRE-CONVENTION CERTIFICATE", "협약적용전 취득증명서"),
}
BOX_TYPE = {"import": "IMPORT", "export": "EXPORT", "reexport": "RE-EXPORT"}


def register_fonts() -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the koreanize-matplotlib package (which carries the NanumGothic font) is not installed")
    fonts = Path(next(iter(spec.submodule_search_locations))) / "fonts"
    pdfmetrics.registerFont(TTFont(FONT, str(fonts / "NanumGothic.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(fonts / "NanumGothicBold.ttf")))


def verification_url(base: str, permit) -> str:
    return f"{base.rstrip('/')}/verify/{permit.number}?t={permit.security_token}"


#: Modules of light margin around the code, which readers need (the QR standard's quiet zone).
QR_BORDER = 4
#: The data mask, fixed: any of the eight gives a valid code, and scoring all eight to pick one (segno's
#: default) took three times as long as the rest of the permit. The test reads the printed code back.
QR_MASK = 2


def qr_runs(data: str) -> tuple[int, list[tuple[int, int, int]]]:
    """*data* as a QR code (error correction level M, mask QR_MASK), from segno: its side in modules, the
    quiet zone included, and each horizontal run of dark modules as (row from the top, first column, length)."""
    code = segno.make(data, error="m", boost_error=False, micro=False, mask=QR_MASK)
    runs, size = [], 0
    for row, modules in enumerate(code.matrix_iter(border=QR_BORDER)):
        size, start = row + 1, None
        for column, dark in enumerate((*modules, 0)):
            if dark and start is None:
                start = column
            elif not dark and start is not None:
                runs.append((row, start, column - start))
                start = None
    return size, runs


def draw_qr(canvas: Canvas, data: str, x: float, y: float, side: float) -> None:
    """The QR code of *data* as one filled vector path, *side* wide with its lower left corner at (x, y).

    ReportLab's QR widget drew each module as a shape of its own and took ~50 ms a permit; one path
    of the runs of dark modules draws the same code in a fraction of a millisecond.
    """
    size, runs = qr_runs(data)
    unit = side / size
    path = canvas.beginPath()
    for row, column, length in runs:
        path.rect(x + column * unit, y + side - (row + 1) * unit, length * unit, unit)
    canvas.saveState()
    canvas.setFillColorRGB(0, 0, 0)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()


class _Sheet:
    """A canvas with the few drawing moves a CITES form needs."""

    def __init__(self, canvas: Canvas):
        self.c = canvas

    def box(self, x, y, w, h, number: str, label_en: str, label_ko: str, lines=(), size=9):
        c = self.c
        c.setLineWidth(0.6)
        c.rect(x * mm, y * mm, w * mm, h * mm)
        c.setFont(BOLD, 6.5)
        c.drawString((x + 1.2) * mm, (y + h - 3) * mm, f"{number}. {label_en}")
        c.setFont(FONT, 6.5)
        c.drawString((x + 1.2) * mm, (y + h - 5.8) * mm, label_ko)
        c.setFont(FONT, size)
        top = y + h - 10
        for i, text in enumerate(lines):
            for j, chunk in enumerate(_wrap(str(text), w - 3, size)):
                if top - (i + j) * 4.2 < y + 1:
                    return
                c.drawString((x + 1.5) * mm, (top - (i + j) * 4.2) * mm, chunk)
            top -= 4.2 * (len(_wrap(str(text), w - 3, size)) - 1)


def _wrap(text: str, width_mm: float, size: float) -> list[str]:
    words, lines, current = text.split(" "), [], ""
    for word in words:
        trial = f"{current} {word}".strip()
        if pdfmetrics.stringWidth(trial, FONT, size) <= width_mm * mm:
            current = trial
        else:
            if current:
                lines.append(current)
            current = word
    return lines + [current] if current else lines or [""]


def _party(party, country: str | None) -> list[str]:
    if party is None:
        return ["-"]
    return [party.name, party.address or "", codes.country_name(country or party.country) or ""]


def render_permit(permit, authority: dict, base_url: str) -> bytes:
    """The permit as issued: boxes 1-13 filled, 14-15 left for the border, a QR code to verify it."""
    register_fonts()
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(f"CITES {permit.number}")
    canvas.setAuthor(authority["name_en"])
    s = _Sheet(canvas)
    title_en, title_ko = TITLES[permit.doc_type]
    canvas.setFont(BOLD, 10)
    canvas.drawCentredString(
        105 * mm, 287 * mm, "CONVENTION ON INTERNATIONAL TRADE IN ENDANGERED SPECIES OF WILD FAUNA AND FLORA"
    )
    canvas.setFont(FONT, 9)
    canvas.drawCentredString(105 * mm, 282.5 * mm, "멸종위기에 처한 야생동식물종의 국제거래에 관한 협약")
    canvas.setFont(BOLD, 13)
    canvas.drawCentredString(105 * mm, 276 * mm, f"{title_en} · {title_ko}")

    kind = BOX_TYPE.get(permit.doc_type, "OTHER")
    ticks = "  ".join(f"[{'X' if kind == k else ' '}] {k}" for k in ("EXPORT", "RE-EXPORT", "IMPORT", "OTHER"))
    s.box(
        10,
        250,
        95,
        22,
        "1",
        "Permit/Certificate No. · Type",
        "허가서/증명서 번호 · 종류",
        [permit.number, ticks],
        size=10,
    )
    s.box(
        105,
        250,
        95,
        22,
        "2",
        "Valid until",
        "유효기간",
        [f"{permit.valid_until.isoformat()} (from {permit.valid_from.isoformat()})"],
        size=10,
    )
    s.box(
        10,
        222,
        95,
        28,
        "3",
        "Importer (name and address)",
        "수입자 (성명, 주소)",
        _party(permit.importer or (permit.applicant if permit.direction == "import" else None), permit.import_country),
    )
    s.box(
        105,
        222,
        95,
        28,
        "4",
        "Exporter/re-exporter (name, address, country)",
        "수출자/재수출자 (성명, 주소, 국가)",
        _party(permit.exporter or (permit.applicant if permit.direction == "export" else None), permit.export_country),
    )
    s.box(
        10,
        209,
        95,
        13,
        "3a",
        "Country of import",
        "수입국",
        [f"{codes.country_name(permit.import_country)} ({permit.import_country})"],
    )
    s.box(
        10,
        190,
        95,
        19,
        "5",
        "Special conditions",
        "특별조건",
        [permit.special_conditions or "-", f"Replaces {permit.replaces.number}" if permit.replaces else ""],
    )
    s.box(
        105,
        190,
        95,
        32,
        "6",
        "Management Authority (name, address, country)",
        "관리당국 (명칭, 주소, 국가)",
        [authority["name_en"], authority["name_ko"], authority["address"]],
    )
    s.box(
        10,
        178,
        47,
        12,
        "5a",
        "Purpose of the transaction",
        "거래목적",
        [f"{permit.purpose_code} - {codes.PURPOSES[permit.purpose_code]}"],
        size=7.5,
    )
    s.box(
        57,
        178,
        48,
        12,
        "5b",
        "Security stamp No.",
        "보안인지 번호",
        [hashlib.sha256(permit.security_token.encode()).hexdigest()[:12].upper()],
        size=8,
    )
    s.box(
        105,
        178,
        95,
        12,
        "12",
        "Exporting/importing country's document",
        "상대국 허가서",
        [permit.foreign_permit_no or "-", f"Origin {permit.origin_country}" if permit.origin_country else ""],
        size=8,
    )

    y = 176
    for line in permit.lines[:4]:
        sp = line.species
        y -= 30
        letter = "ABCD"[line.line_no - 1] if line.line_no <= 4 else str(line.line_no)
        s.box(
            10,
            y,
            62,
            30,
            f"7/8 {letter}",
            "Scientific and common name",
            "학명 및 일반명",
            [sp.scientific_name, sp.name_en or "", sp.name_ko or ""],
        )
        s.box(
            72,
            y,
            60,
            30,
            "9",
            "Description, marks, sex/age",
            "표본의 설명, 표식",
            [f"{line.term_code} - {codes.TERMS.get(line.term_code, '')}", line.description or ""],
        )
        s.box(132, y, 24, 30, "10", "Appendix, source", "부속서, 출처", [f"{line.appendix} / {permit.source_code}"])
        s.box(
            156,
            y,
            44,
            30,
            "11",
            "Quantity (unit)",
            "수량 (단위)",
            [f"{line.quantity.normalize():f} {line.unit_code or ''}".strip()],
            size=11,
        )
    if len(permit.lines) > 4:
        canvas.setFont(FONT, 8)
        canvas.drawString(12 * mm, (y - 4) * mm, f"+ {len(permit.lines) - 4} more line(s) on the annex")

    s.box(
        10,
        22,
        120,
        28,
        "13",
        "Issued by (place, date, signature)",
        "발급 (장소, 일자, 서명)",
        [authority["place"], permit.valid_from.isoformat(), authority["name_en"]],
    )
    s.box(
        10,
        8,
        120,
        14,
        "14/15",
        "Export endorsement · Bill of lading/air waybill No.",
        "수출 확인 · 선하증권/항공화물운송장 번호",
        [""],
    )
    draw_qr(canvas, verification_url(base_url, permit), 135 * mm, 10 * mm, 60 * mm)
    canvas.setFont(FONT, 6.5)
    canvas.drawCentredString(165 * mm, 8 * mm, "Verify · 진위 확인")
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def render_receipt(endorsement, authority: dict, base_url: str) -> bytes:
    """A one-page verification receipt after a customs endorsement."""
    register_fonts()
    permit = endorsement.permit
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(f"Endorsement {endorsement.id} of {permit.number}")
    s = _Sheet(canvas)
    canvas.setFont(BOLD, 13)
    canvas.drawCentredString(105 * mm, 282 * mm, "CUSTOMS ENDORSEMENT RECEIPT · 세관 확인서")
    s.box(10, 250, 95, 22, "1", "Permit/Certificate No.", "허가서/증명서 번호", [permit.number], size=10)
    s.box(
        105,
        250,
        95,
        22,
        "14",
        "Direction, port, date",
        "구분, 항구, 일자",
        [f"{endorsement.direction} · {endorsement.port}", endorsement.endorsed_on.isoformat()],
    )
    s.box(
        10,
        236,
        190,
        14,
        "15",
        "Bill of lading/air waybill No.",
        "선하증권/항공화물운송장 번호",
        [endorsement.transport_doc],
    )
    y = 236
    for row in endorsement.lines:
        y -= 14
        s.box(
            10,
            y,
            190,
            14,
            f"14 {row.line.line_no}",
            "Actual quantity and outcome",
            "실제 수량 및 결과",
            [
                f"{row.line.species.scientific_name}: {row.quantity.normalize():f} {row.line.unit_code or ''} - "
                f"{row.outcome}"
            ],
        )
    s.box(10, y - 24, 190, 20, "", "Endorsed by", "확인자", [endorsement.officer_name, authority["customs"]])
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
