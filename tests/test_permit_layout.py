"""The permit's layout (issue #14): annex pages that continue every box that overflows, wrapping
inside the box, the standard boxes 6, 12/12a/12b, 13, 14 and 15, original and copy, and the QR
code that carries the signed offline payload."""

import io
import re
from datetime import date

import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader
from reportlab.lib.units import mm

from registry import offline_qr, pdf
from registry.models import AuditEntry
from registry.services import anchor, documents
from tests.helpers import issued_permit


def _pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def _flat(data: bytes) -> str:
    """All the text, lines joined by spaces (a wrapped line reads as one)."""
    return " ".join(" ".join(_pages(data)).split())


def _qr(data: bytes) -> str:
    image = pypdfium2.PdfDocument(data)[0].render(scale=3).to_pil()
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode
    return found[0].text


def _many_species(count: int) -> list[int]:
    from registry.services.context import write_transaction
    from tests.conftest import species

    with write_transaction():
        return [species(f"Testus speciesno{i:02d}", "II") for i in range(1, count + 1)]


@pytest.fixture
def twelve(world):
    """An import permit of twelve lines, quantities 101-112."""
    ids = _many_species(12)
    lines = [{"species_id": sid, "term_code": "LIV", "quantity": str(100 + i)} for i, sid in enumerate(ids, 1)]
    return issued_permit(world, lines=lines)


def test_a_twelve_line_permit_prints_every_line(twelve):
    data = documents.permit_pdf(twelve)
    pages = _pages(data)
    text = _flat(data)
    for i in range(1, 13):
        assert f"Testus speciesno{i:02d}" in text, i
        assert f"\n{100 + i}\n" in "\n" + "\n".join(pages) + "\n", i  # box 11, on a line of its own
    assert "more line(s)" not in text
    # Lines 5-12 continue as blocks E-L on the annex, whose pages name the permit.
    for letter in "EFGHIJKL":
        assert f"7/8 {letter}." in text, letter
    assert len(pages) >= 2
    annex = len(pages) - 1
    assert f"Annex: {annex} page" in pages[0]
    for k, page in enumerate(pages[1:], 1):
        flat = " ".join(page.split())
        assert twelve.number in flat and f"Annex page {k} of {annex}" in flat, k


def test_all_29_special_conditions_print(world):
    permit = issued_permit(world)
    conditions = [f"Condition {i:02d}: keep the specimens apart from lot {i * 7}." for i in range(1, 30)]
    permit.special_conditions = "\n".join(conditions)
    text = _flat(documents.permit_pdf(permit))
    for condition in conditions:
        assert condition in text, condition
    assert "5. Special conditions (continued)" in text


def test_a_long_address_prints_fully(world):
    permit = issued_permit(world)
    words = [f"Street{i:02d}-building" for i in range(60)]
    permit.importer.address = " ".join(words)
    text = _flat(documents.permit_pdf(permit))
    for word in words:
        assert word in text, word


def test_a_long_word_wraps_inside_its_box(world):
    """Box 3 spans 10-105 mm: a word wider than it is broken by characters, never drawn past the edge."""
    permit = issued_permit(world)
    word = "Unit" + "".join(str(i % 10) for i in range(70))  # wider than the box, fits two lines
    permit.importer.address = f"Seoul {word}"
    data = documents.permit_pdf(permit)
    assert word in "".join(_flat(data).split())
    page = pypdfium2.PdfDocument(data)[0]
    textpage = page.get_textpage()
    searcher = textpage.search("Unit0123456789")
    first = searcher.get_next()
    assert first is not None
    index, seen, boxes = first[0], 0, []
    while seen < len(word) and index < textpage.count_chars():
        char = textpage.get_text_range(index, 1)
        if char.strip():
            boxes.append(textpage.get_charbox(index))
            seen += 1
        index += 1
    assert seen == len(word)
    for left, _bottom, right, _top in boxes:
        assert 10 * mm <= left and right <= 105 * mm, (left / mm, right / mm)


def test_boxes_12_12a_12b_and_the_foreign_document_date(world):
    permit = issued_permit(world)
    permit.foreign_permit_date = date(2026, 3, 4)
    permit.origin_country, permit.origin_permit_no, permit.origin_permit_date = "ID", "ID-ORIG-77", date(2025, 1, 2)
    permit.reexport_country, permit.reexport_permit_no = "SG", "SG-RE-55"
    permit.reexport_permit_date = date(2025, 6, 7)
    permit.lines[0].operation_no = "A-PS-501"
    text = _flat(documents.permit_pdf(permit))
    assert f"{permit.foreign_permit_no} of 2026-03-04" in text
    assert "12. Country of origin" in text and "ID · ID-ORIG-77 · 2025-01-02" in text
    assert "12a. Country of last re-export" in text and "SG · SG-RE-55 · 2025-06-07" in text
    assert "12b." in text and "A-PS-501" in text


def test_box_12b_prints_the_date_of_acquisition(world):
    permit = issued_permit(world)
    permit.lines[0].acquired_on = date(1974, 5, 6)
    assert "Acquired 1974-05-06" in _flat(documents.permit_pdf(permit))


def test_box_6_names_the_office_on_behalf_of_the_authority_and_13_the_signatory(app, world):
    permit = issued_permit(world)
    authority = app.config["AUTHORITY"]
    # A permit issued before offices were recorded prints the Authority alone, as it did.
    permit.issuing_office = permit.signatory_name = permit.signatory_title = None
    before = _flat(documents.permit_pdf(permit))
    assert authority["name_en"] in before and "on behalf of" not in before
    permit.issuing_office = "han-river"
    permit.signatory_name, permit.signatory_title = "Kim Minji", "Director, Natural Environment Division"
    text = _flat(documents.permit_pdf(permit))
    assert "Han River Basin Environmental Office" in text and "한강유역환경청" in text
    assert f"on behalf of the Management Authority · 관리당국을 대리하여 {authority['name_en']}" in text
    assert "Kim Minji, Director, Natural Environment Division" in text
    assert f"Hanam, Gyeonggi-do, {permit.valid_from.isoformat()}" in text


def test_box_14_is_an_empty_grid_per_line_and_15_is_there(twelve):
    text = _flat(documents.permit_pdf(twelve))
    assert "14. Export endorsement" in text and "15. Bill of lading/air waybill No." in text
    for heading in ("Block", "Quantity exported/imported", "Port", "Date", "Signature, stamp, title"):
        assert heading in text, heading
    # Every line has its row (A-D under box 14, E-L under its continuation on the annex).
    assert re.search(r"14\. Export endorsement[^.]*\(continued\)", text)


def test_the_original_and_a_copy(client, login, api_tokens, world, session, twelve):
    original, copy = documents.permit_pdf(twelve), documents.permit_pdf(twelve, copy=True)
    assert all("ORIGINAL · 원본" in page and "COPY" not in page for page in _pages(original))
    assert all("COPY · 사본" in page and "ORIGINAL" not in page for page in _pages(copy))
    issued = session.query(AuditEntry).filter_by(action="permit.issue", object_id=str(twelve.id)).one()
    assert issued.after["pdf_sha256"] == pdf.sha256(original) != pdf.sha256(copy)
    login(world.users["zoo"])
    assert client.get(f"/permits/{twelve.id}/pdf").data == original
    assert client.get(f"/permits/{twelve.id}/pdf?copy=1").data == copy
    login(world.users["zoo"])
    headers = {"Authorization": f"Bearer {api_tokens['zoo']}"}
    assert client.get(f"/api/v1/permits/{twelve.id}/pdf?copy=1", headers=headers).data == copy
    assert client.get(f"/api/v1/permits/{twelve.id}/pdf", headers=headers).data == original


def test_the_qr_code_carries_the_signed_offline_payload_and_the_code_is_printed(app, world):
    permit = issued_permit(world)
    data = documents.permit_pdf(permit)
    text = _qr(data)
    url, fragment = text.split("#", 1)
    assert url == pdf.verification_url(app.config["PUBLIC_BASE_URL"], permit)
    public = anchor.signer().public_pem
    found = offline_qr.read(text, public)
    assert found["n"] == permit.number and found["l"][0][0] == "Psittacus erithacus" and found["l"][0][2] == "3"
    changed = fragment.replace(fragment[10], "A" if fragment[10] != "A" else "B", 1)
    with pytest.raises(offline_qr.Invalid):
        offline_qr.read(changed, public)
    flat = _flat(data)
    assert "Verification code · 확인 코드" in flat and offline_qr.verification_code(permit.security_token) in flat


def test_a_twelve_line_qr_code_still_reads(twelve):
    found = offline_qr.read(_qr(documents.permit_pdf(twelve)), anchor.signer().public_pem)
    assert [line[2] for line in found["l"]] == [str(100 + i) for i in range(1, 13)]


def test_rendering_is_deterministic_with_annex_and_copy(twelve):
    assert documents.permit_pdf(twelve) == documents.permit_pdf(twelve)
    assert documents.permit_pdf(twelve, copy=True) == documents.permit_pdf(twelve, copy=True)


def test_unused_blocks_and_endorsement_rows_are_crossed_out(world):
    """A one-line permit leaves blocks B-D crossed out, so that nothing can be added to them."""
    page = _pages(documents.permit_pdf(issued_permit(world)))[0]
    assert page.count("Not used · 사용하지 않음") == 3 and "Annex" not in page


def test_a_receipt_of_many_lines_stays_on_its_pages(world):
    """Twenty endorsed lines: each has its row, none is drawn below the page (the receipt goes on)."""
    from tests import uses

    ids = _many_species(20)
    permit = issued_permit(world, lines=[{"species_id": s, "term_code": "LIV", "quantity": "2"} for s in ids])
    rows = [{"line_no": n, "quantity": "1"} for n in range(1, 21)]
    done = uses.endorse(
        world.actor("customs"),
        permit.id,
        {"direction": "entry", "port": "ICN", "transport_doc": "AWB 5", "lines": rows},
    )
    data = documents.receipt_pdf(done)
    text = _flat(data)
    for i in range(1, 21):
        assert f"Testus speciesno{i:02d}: 1" in text, i
    assert "14 T." in text  # the twentieth block
    for page in pypdfium2.PdfDocument(data):
        textpage = page.get_textpage()
        height = page.get_height()
        for index in range(textpage.count_chars()):
            if textpage.get_text_range(index, 1).strip():
                assert textpage.get_charbox(index)[1] >= 0 and textpage.get_charbox(index)[3] <= height


def test_customs_finds_the_permit_by_the_whole_qr_text(client, login, world):
    permit = issued_permit(world)
    login(world.users["customs"])
    found = client.get("/customs/", query_string={"q": _qr(documents.permit_pdf(permit))})
    assert found.status_code == 302 and found.headers["Location"].endswith(f"/customs/permits/{permit.id}/endorse")
