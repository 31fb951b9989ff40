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
import re
from pathlib import Path

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from registry import offline_qr, pdf_boxes, pdf_layout
from registry.pdf_boxes import BLOCK_ROW, BLOCK_ROW_12, FIRST_PAGE_BLOCKS, block_letter
from registry.pdf_layout import BOLD, FONT, Annex, Box, Grid

TITLES = {
    "import": ("IMPORT PERMIT", "수입허가서"),
    "export": ("EXPORT PERMIT", "수출허가서"),
    "reexport": ("RE-EXPORT CERTIFICATE", "재수출증명서"),
    "origin": ("CERTIFICATE OF ORIGIN", "원산지증명서"),
    "captive_breeding": ("CAPTIVE-BREEDING CERTIFICATE", "인공증식증명서"),
    "pre_convention": ("PRE-CONVENTION CERTIFICATE", "협약적용전 취득증명서"),
}


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
    runs = [
        (row + QR_BORDER, found.start() + QR_BORDER, found.end() - found.start())
        for row, modules in enumerate(code.matrix)  # 1 for a dark module, 0 for a light one
        for found in _DARK_RUN.finditer(bytes(modules))
    ]
    return len(code.matrix) + 2 * QR_BORDER, runs


_DARK_RUN = re.compile(b"\x01+")


def draw_qr(canvas: Canvas, data: str, x: float, y: float, side: float) -> None:
    """The QR code of *data* as one filled vector path, *side* wide with its lower left corner at (x, y).

    ReportLab's QR widget drew each module as a shape of its own and took ~50 ms a permit; one path
    of the runs of dark modules draws the same code in a fraction of a millisecond. The path is
    written in module units (rows counted down from the top), as PDF operators: with the signed
    offline payload the code has ~1,300 runs, and ReportLab's own ``rect`` formats each number in
    Python, which took ~40 ms.
    """
    size, runs = qr_runs(data)
    canvas.saveState()
    canvas.setFillColorRGB(0, 0, 0)
    canvas.translate(x, y + side)
    canvas.scale(side / size, -side / size)
    canvas.addLiteral("\n".join(f"{column} {row} {length} 1 re" for row, column, length in runs) + "\nf")
    canvas.restoreState()


def _marking(canvas: Canvas, copy: bool) -> None:
    """Original or copy (Convention Art. VI.8: copies clearly marked as such), on every page."""
    canvas.setFont(BOLD, 11)
    canvas.drawRightString(200 * mm, 291 * mm, "COPY · 사본" if copy else "ORIGINAL · 원본")
    if copy:  # across the page too, in light grey under everything, clear of the QR code
        canvas.saveState()
        canvas.setFillColorRGB(0.82, 0.82, 0.82)
        canvas.setFont(BOLD, 64)
        canvas.translate(105 * mm, 165 * mm)
        canvas.rotate(40)
        canvas.drawCentredString(0, 0, "COPY · 사본")
        canvas.restoreState()


def render_permit(permit, authority: dict, base_url: str, offline_payload: str, copy: bool = False) -> bytes:
    """The permit as issued: boxes 1-13 filled, 14-15 left for the border, the QR code (the online
    address, the signed offline payload after ``#``) and the short verification code; annex pages
    carry every block after D and the rest of any box whose text did not fit. *copy* marks every
    page as a copy (the original is the one whose fingerprint is on record)."""
    register_fonts()
    boxes, letters = pdf_boxes.first_page(permit, authority)
    for box in boxes:
        box.fit()
    annex = Annex()
    for box in boxes:
        annex.continue_box(box)
    for i, line in enumerate(permit.lines[FIRST_PAGE_BLOCKS:], FIRST_PAGE_BLOCKS):
        for box in pdf_boxes.annex_block(permit, line, block_letter(i), annex):
            annex.continue_box(box)
    annex.grid([block_letter(i) for i in range(FIRST_PAGE_BLOCKS, len(permit.lines))])
    pages = len(annex.pages)
    code = offline_qr.verification_code(permit.security_token)

    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(f"CITES {permit.number}{' (copy)' if copy else ''}")
    canvas.setAuthor(authority["name_en"])
    title_en, title_ko = TITLES[permit.doc_type]
    _marking(canvas, copy)
    if pages:
        canvas.setFont(BOLD, 8)
        canvas.drawString(10 * mm, 291 * mm, f"Annex: {pages} page(s) follow · 부속서 {pages}쪽 첨부")
    canvas.setFont(BOLD, 10)
    canvas.drawCentredString(
        105 * mm, 286 * mm, "CONVENTION ON INTERNATIONAL TRADE IN ENDANGERED SPECIES OF WILD FAUNA AND FLORA"
    )
    canvas.setFont(FONT, 9)
    canvas.drawCentredString(105 * mm, 281.5 * mm, "멸종위기에 처한 야생동식물종의 국제거래에 관한 협약")
    canvas.setFont(BOLD, 13)
    canvas.drawCentredString(105 * mm, 275 * mm, f"{title_en} · {title_ko}")
    for box in boxes:
        pdf_layout.draw(canvas, box)
    for unused in range(len(letters), FIRST_PAGE_BLOCKS):  # below the last block
        y = 186 - (unused + 1) * (BLOCK_ROW + BLOCK_ROW_12)
        pdf_layout.draw_unused(canvas, 10, y, 190, BLOCK_ROW + BLOCK_ROW_12)
    pdf_layout.draw(canvas, Grid(10, 14, 120, 28, letters))
    pdf_layout.draw(canvas, Box(10, 6, 120, 8, "15", "Bill of lading/air waybill No.", "선하증권/항공화물운송장 번호"))
    draw_qr(canvas, f"{verification_url(base_url, permit)}#{offline_payload}", 140 * mm, 14 * mm, 50 * mm)
    canvas.setFont(FONT, 6.5)
    canvas.drawCentredString(165 * mm, 10.5 * mm, "Verification code · 확인 코드")
    canvas.setFont(BOLD, 10)
    canvas.drawCentredString(165 * mm, 6.5 * mm, code)
    canvas.showPage()

    for k, items in enumerate(annex.pages, 1):
        _marking(canvas, copy)
        canvas.setFont(BOLD, 8)
        canvas.drawString(10 * mm, 291 * mm, f"Annex page {k} of {pages} · 부속서 {k}/{pages}쪽")
        canvas.setFont(BOLD, 13)
        canvas.drawCentredString(105 * mm, 281 * mm, f"ANNEX · 부속서: {title_en} · {title_ko}")
        canvas.setFont(BOLD, 10)
        canvas.drawCentredString(105 * mm, 274 * mm, f"to permit/certificate No. · 허가서/증명서 번호 {permit.number}")
        canvas.setFont(FONT, 7)
        canvas.drawString(
            10 * mm, 268 * mm, "Blocks after D continue the form's boxes 7-12b; box 14 has a row for each."
        )
        canvas.drawString(10 * mm, 265 * mm, "D 다음 블록은 7-12b란을 이어서 적으며, 14란에 블록마다 한 줄이 있습니다.")
        for item in items:
            pdf_layout.draw(canvas, item)
        canvas.setFont(FONT, 7)
        canvas.drawString(10 * mm, 8 * mm, f"{permit.number} · Verification code · 확인 코드 {code}")
        canvas.drawRightString(200 * mm, 8 * mm, f"Annex page {k} of {pages}")
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def render_receipt(endorsement, authority: dict, base_url: str) -> bytes:
    """The verification receipt after a customs endorsement: a row per block, over as many pages as it takes."""
    register_fonts()
    permit = endorsement.permit
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(f"Endorsement {endorsement.id} of {permit.number}")
    canvas.setFont(BOLD, 13)
    canvas.drawCentredString(105 * mm, 282 * mm, "CUSTOMS ENDORSEMENT RECEIPT · 세관 확인서")
    head = [
        Box(10, 250, 95, 22, "1", "Permit/Certificate No.", "허가서/증명서 번호", [permit.number], size=10),
        Box(
            105,
            250,
            95,
            22,
            "14",
            "Direction, port, date",
            "구분, 항구, 일자",
            [f"{endorsement.direction} · {endorsement.port}", endorsement.endorsed_on.isoformat()],
        ),
        Box(
            10,
            236,
            190,
            14,
            "15",
            "Bill of lading/air waybill No.",
            "선하증권/항공화물운송장 번호",
            [endorsement.transport_doc],
        ),
    ]
    rows = [
        Box(
            10,
            0,
            190,
            14,
            f"14 {block_letter(row.line.line_no - 1)}",
            "Actual quantity and outcome",
            "실제 수량 및 결과",
            [
                f"{row.line.species.scientific_name}: {row.quantity.normalize():f} {row.line.unit_code or ''} - "
                f"{row.outcome}"
            ],
        )
        for row in endorsement.lines
    ]
    signed = Box(10, 0, 190, 20, "", "Endorsed by", "확인자", [endorsement.officer_name, authority["customs"]])
    y = 236.0
    for box in [*head, *rows, signed]:
        if box not in head:
            if y - box.h < 10:  # the next page goes on under the same number
                canvas.showPage()
                canvas.setFont(BOLD, 10)
                canvas.drawString(10 * mm, 285 * mm, f"{permit.number} · CUSTOMS ENDORSEMENT RECEIPT · 세관 확인서")
                y = 280.0
            y -= box.h
            box.y = y
        pdf_layout.draw(canvas, box.fit())
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
