"""What each box of the permit says, and where it sits on the first page (the form's boxes 1-13
and blocks A-D); blocks after D go to the annex, as tall as their text needs."""

from __future__ import annotations

import hashlib
from datetime import date

from registry import codes, offices, pdf_layout
from registry.pdf_layout import Annex, Block, Box

BOX_TYPE = {"import": "IMPORT", "export": "EXPORT", "reexport": "RE-EXPORT"}
#: Blocks on the first page (the form's A-D); lines after them continue as blocks on the annex.
FIRST_PAGE_BLOCKS = 4


def block_letter(index: int) -> str:
    """The form's letter for the *index*-th block (0-based): A, B, ... Z, AA, AB, ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _party(party, country: str | None) -> list[str]:
    if party is None:
        return ["-"]
    return [party.name, party.address or "", codes.country_name(country or party.country) or ""]


def _joined(*parts) -> str:
    """Box 12 and 12a: country, document number and date, those that are known."""
    text = " · ".join(p.isoformat() if isinstance(p, date) else str(p) for p in parts if p)
    return text or "-"


def _foreign_box(permit) -> tuple[str, str, str]:
    """The other side's document: the exporting country's on an import, the importing country's
    import permit on an export or re-export (its number and date). One learned after issue is not
    printed: the document stays as it was issued (its fingerprint is on record)."""
    printed = permit.foreign_permit_no if permit.foreign_permit_learned_on is None else None
    value = printed or "-"
    if printed and permit.foreign_permit_date:
        value = f"{permit.foreign_permit_no} of {permit.foreign_permit_date.isoformat()}"
    if permit.direction == "import":
        return "Exporting country's permit/certificate (No., date)", "수출국 허가서/증명서 (번호, 일자)", value
    return "Importing country's import permit (No., date)", "수입국 수입허가서 (번호, 일자)", value


def _box6(permit, authority: dict) -> list[str]:
    """The issuing regional office on behalf of the Management Authority; the Authority alone on a
    permit issued before offices were recorded."""
    office = offices.get(permit.issuing_office)
    if office is None:
        return [authority["name_en"], authority["name_ko"], authority["address"]]
    return [
        f"{office.name_en} · {office.name_ko}",
        f"{office.city_en}, {codes.country_name(permit.issuing_country) or permit.issuing_country}",
        "on behalf of the Management Authority · 관리당국을 대리하여",
        authority["name_en"],
        authority["name_ko"],
    ]


def _box13(permit, authority: dict) -> list[str]:
    office = offices.get(permit.issuing_office)
    place = office.city_en if office else authority["place"]
    signatory = ", ".join(x for x in (permit.signatory_name, permit.signatory_title) if x)
    return [
        f"{place}, {permit.valid_from.isoformat()}",
        *([signatory] if signatory else []),
        office.name_en if office else authority["name_en"],
    ]


def _box12b(line) -> str:
    parts = [line.operation_no or "", f"Acquired {line.acquired_on.isoformat()}" if line.acquired_on else ""]
    return " · ".join(p for p in parts if p) or "-"


#: A block's two rows on the first page (mm): boxes 7/8-11, then 12-12b.
BLOCK_ROW, BLOCK_ROW_12 = 20.0, 11.0


def _block(permit, line, letter: str, y: float, row: float = BLOCK_ROW, row12: float = BLOCK_ROW_12) -> list[Box]:
    """The boxes of one block with its lower edge at *y* (mm)."""
    sp = line.species
    top = y + row12
    boxes = [
        Box(
            10,
            top,
            62,
            row,
            f"7/8 {letter}",
            "Scientific and common name",
            "학명 및 일반명",
            [sp.scientific_name, sp.name_en or "", sp.name_ko or ""],
        ),
        Box(
            72,
            top,
            60,
            row,
            "9",
            "Description, marks, sex/age",
            "표본의 설명, 표식",
            [f"{line.term_code} - {codes.TERMS.get(line.term_code, '')}", line.description or ""],
            size=8,
        ),
        Box(132, top, 24, row, "10", "Appendix, source", "부속서, 출처", [f"{line.appendix} / {line.source}"]),
        Box(
            156,
            top,
            44,
            row,
            "11",
            "Quantity (unit)",
            "수량 (단위)",
            [f"{line.quantity.normalize():f} {line.unit_code or ''}".strip()],
            size=11,
        ),
        Box(
            10,
            y,
            70,
            row12,
            "12",
            "Country of origin, permit No., date",
            "원산국, 허가서 번호, 일자",
            [_joined(line.origin, permit.origin_permit_no, permit.origin_permit_date)],
            size=8,
        ),
        Box(
            80,
            y,
            70,
            row12,
            "12a",
            "Country of last re-export, certificate No., date",
            "최종 재수출국, 증명서 번호, 일자",
            [_joined(permit.reexport_country, permit.reexport_permit_no, permit.reexport_permit_date)],
            size=8,
        ),
        Box(
            150,
            y,
            50,
            row12,
            "12b",
            "Operation No. or date of acquisition",
            "등록번호 또는 취득일",
            [_box12b(line)],
            size=8,
        ),
    ]
    for box in boxes:
        box.ref = f"{box.number.split()[0]} {letter}"
    return boxes


def annex_block(permit, line, letter: str, annex: Annex) -> list[Box]:
    """A block on the annex, as tall as its text needs (never past a page: the rest continues)."""
    probe = _block(permit, line, letter, 0)

    def need(box: Box) -> float:
        lines = [c for t in box.text for c in pdf_layout.wrap(str(t), box.w - 2 * pdf_layout.PAD, box.size)]
        return pdf_layout.height_for(len(lines), box.size)

    row12 = max(BLOCK_ROW_12, *(need(b) for b in probe[4:]))
    row = max(BLOCK_ROW, *(need(b) for b in probe[:4]))
    row = min(row, pdf_layout.ANNEX_TOP - pdf_layout.ANNEX_BOTTOM - row12 - 1)
    boxes = [box.fit() for box in _block(permit, line, letter, annex.block(row + row12), row, row12)]
    annex.add(Block(boxes))
    return boxes


def first_page(permit, authority: dict) -> tuple[list, list[str]]:
    """The first page's boxes (text not yet fitted) and the letters of its blocks."""
    kind = BOX_TYPE.get(permit.doc_type, "OTHER")
    ticks = "  ".join(f"[{'X' if kind == k else ' '}] {k}" for k in ("EXPORT", "RE-EXPORT", "IMPORT", "OTHER"))
    purposes = sorted({line.purpose for line in permit.lines}) or [permit.purpose_code]
    if len(purposes) == 1:
        purpose = f"{purposes[0]} - {codes.PURPOSES.get(purposes[0], '')}"
    else:  # per line: each block's letter and its purpose
        purpose = ", ".join(f"{block_letter(i)}: {line.purpose}" for i, line in enumerate(permit.lines))
    conditions = (permit.special_conditions or "-").splitlines()
    if permit.replaces:
        conditions.append(f"Replaces {permit.replaces.number}")
    foreign_en, foreign_ko, foreign = _foreign_box(permit)
    holder_in = permit.importer or (permit.applicant if permit.direction == "import" else None)
    holder_out = permit.exporter or (permit.applicant if permit.direction == "export" else None)
    boxes: list = [
        Box(
            10,
            252,
            95,
            20,
            "1",
            "Permit/Certificate No. · Type",
            "허가서/증명서 번호 · 종류",
            [permit.number, ticks],
            size=10,
        ),
        Box(
            105,
            252,
            95,
            20,
            "2",
            "Valid until",
            "유효기간",
            [f"{permit.valid_until.isoformat()} (from {permit.valid_from.isoformat()})"],
            size=10,
        ),
        Box(
            10,
            226,
            95,
            26,
            "3",
            "Importer (name and address)",
            "수입자 (성명, 주소)",
            _party(holder_in, permit.import_country),
            size=8,
        ),
        Box(
            105,
            226,
            95,
            26,
            "4",
            "Exporter/re-exporter (name, address, country)",
            "수출자/재수출자 (성명, 주소, 국가)",
            _party(holder_out, permit.export_country),
            size=8,
        ),
        Box(
            10,
            215,
            95,
            11,
            "3a",
            "Country of import",
            "수입국",
            [f"{codes.country_name(permit.import_country)} ({permit.import_country})"],
            size=8,
        ),
        Box(10, 197, 95, 18, "5", "Special conditions", "특별조건", conditions, size=8),
        Box(
            105,
            197,
            95,
            29,
            "6",
            "Management Authority (name, address, country)",
            "관리당국 (명칭, 주소, 국가)",
            _box6(permit, authority),
            size=7,
        ),
        Box(10, 186, 47, 11, "5a", "Purpose of the transaction", "거래목적", [purpose], size=7.5),
        Box(
            57,
            186,
            48,
            11,
            "5b",
            "Security stamp No.",
            "보안인지 번호",
            [hashlib.sha256(permit.security_token.encode()).hexdigest()[:12].upper()],
            size=8,
        ),
        Box(105, 186, 95, 11, "", foreign_en, foreign_ko, [foreign], size=8),
    ]
    letters = []
    y = 186.0
    for i, line in enumerate(permit.lines[:FIRST_PAGE_BLOCKS]):
        y -= BLOCK_ROW + BLOCK_ROW_12
        letters.append(block_letter(i))
        boxes.extend(_block(permit, line, letters[-1], y))
    boxes.append(
        Box(
            10,
            42,
            120,
            20,
            "13",
            "This permit/certificate is issued by (place, date, signatory, office)",
            "발급 (장소, 일자, 서명자, 발급기관)",
            _box13(permit, authority),
            size=8,
        )
    )
    return boxes, letters
