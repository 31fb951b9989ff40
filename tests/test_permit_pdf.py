"""The permit as a document: its text, its QR code, its fingerprint, and the public verification page."""

import io
import re
from datetime import date, timedelta
from urllib.parse import urlsplit

import pypdfium2
import zxingcpp
from pypdf import PdfReader

from registry import clock, pdf
from registry.models import AuditEntry
from registry.services import documents
from tests import uses
from tests.helpers import expired, issued_permit


def _text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _qr(data: bytes) -> str:
    page = pypdfium2.PdfDocument(data)[0]
    image = page.render(scale=3).to_pil()
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode
    return found[0].text


def test_pdf_carries_the_permit_in_both_languages(world):
    permit = issued_permit(world)
    text = _text(documents.permit_pdf(permit))
    for expected in (
        permit.number,
        "Psittacus erithacus",
        "City Zoo",
        "Foreign Exporter",
        "IMPORT PERMIT",
        "수입허가서",
        "수입자",
        "수출자",
        "관리당국",
        "학명 및 일반명",
        "LIV - live",
        permit.valid_until.isoformat(),
    ):
        assert expected in text, expected
    assert "\n3\n" in f"\n{text}\n" or " 3\n" in text  # the quantity, box 11


def test_same_permit_same_bytes_and_hash_on_record(world, session):
    permit = issued_permit(world)
    first, second = documents.permit_pdf(permit), documents.permit_pdf(permit)
    assert first == second and first.startswith(b"%PDF")
    issued = session.query(AuditEntry).filter_by(action="permit.issue", object_id=str(permit.id)).one()
    assert issued.after["pdf_sha256"] == pdf.sha256(first)


def test_korean_font_is_embedded(world):
    reader = PdfReader(io.BytesIO(documents.permit_pdf(issued_permit(world))))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    nanum = [f.get_object() for f in fonts.values() if "NanumGothic" in str(f.get_object()["/BaseFont"])]
    assert nanum, [f.get_object()["/BaseFont"] for f in fonts.values()]
    for font in nanum:  # a TrueType program in the file, not a name the reader must find
        assert "/FontFile2" in font["/FontDescriptor"].get_object(), font["/BaseFont"]


def test_qr_code_leads_to_a_page_saying_valid(client, world):
    permit = issued_permit(world)
    url, _, offline = _qr(documents.permit_pdf(permit)).partition("#")
    assert url == pdf.verification_url("http://127.0.0.1:5000", permit) and offline.startswith("WRQ1.")
    parts = urlsplit(url)
    page = client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Authentic document" in text and ">valid<" in text and "Psittacus erithacus" in text


def test_verification_statuses_and_json(client, world):
    permit = issued_permit(world)
    path = f"/verify/{permit.number}?t={permit.security_token}"
    json_headers = {"Accept": "application/json"}
    assert client.get(path, headers=json_headers).json["status"] == "valid"
    uses.endorse(
        world.actor("customs"),
        permit.id,
        {"direction": "entry", "port": "ICN", "transport_doc": "AWB 1", "lines": [{"line_no": 1, "quantity": 1}]},
    )
    body = client.get(path, headers=json_headers).json
    assert body["status"] == "partly used" and body["lines"][0] == {
        "line_no": 1,
        "species": "Psittacus erithacus",
        "common_name_en": "Psittacus erithacus",
        "common_name_ko": None,
        "term": "LIV",
        "unit": None,
        "permitted": "3",
        "used": "1",
    }
    expired(world, permit)
    assert client.get(path, headers=json_headers).json["status"] == "expired"
    # Past its validity, a permit reads as expired even before the expiry job has run.
    with clock.on(date.today() - timedelta(days=400)):
        old = issued_permit(world)
    assert old.state == "issued"
    assert client.get(f"/verify/{old.number}?t={old.security_token}", headers=json_headers).json["status"] == "expired"
    other = issued_permit(world)
    uses.permit_event(world.actor("officer"), other.id, "cancel", {"reason": "lost"})
    assert (
        client.get(f"/verify/{other.number}?t={other.security_token}", headers=json_headers).json["status"]
        == "cancelled"
    )


def test_wrong_token_and_unknown_number_answer_the_same(client, world):
    permit = issued_permit(world)
    answers = [
        client.get(path, headers={"Accept": "application/json"})
        for path in (f"/verify/{permit.number}?t=wrong", f"/verify/{permit.number}", "/verify/KR/1999/999999?t=x")
    ]
    assert {r.status_code for r in answers} == {404}
    assert len({r.get_data() for r in answers}) == 1
    html = client.get(f"/verify/{permit.number}?t=wrong")
    assert html.status_code == 404 and "Not found" in html.get_data(as_text=True)


def test_verification_is_rate_limited(app, client, world):
    from registry.extensions import limiter

    limiter.reset()
    answers = [client.get("/verify/KR/1999/000001?t=x").status_code for _ in range(31)]
    assert answers[:30] == [404] * 30 and answers[30] == 429
    limiter.reset()


def test_receipt_after_endorsement(client, login, world):
    permit = issued_permit(world)
    e = uses.endorse(
        world.actor("customs"),
        permit.id,
        {
            "direction": "entry",
            "port": "Incheon",
            "transport_doc": "AWB 180-1",
            "lines": [{"line_no": 1, "quantity": 2}],
        },
    )
    login(world.users["zoo"])
    response = client.get(f"/permits/{permit.id}/endorsements/{e.id}/receipt.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = _text(response.data)
    assert permit.number in text and "AWB 180-1" in text and "cleared" in text and "세관 확인서" in text


def test_customs_finds_by_scanned_qr_and_endorses_in_the_ui(client, login, world, session):
    from registry.models import Animal, Permit

    permit = issued_permit(world)
    login(world.users["customs"])
    url = pdf.verification_url("http://127.0.0.1:5000", permit)
    found = client.get("/customs/", query_string={"q": url})
    assert found.status_code == 302 and found.headers["Location"].endswith(f"/customs/permits/{permit.id}/endorse")
    form = {
        "port": "Incheon",
        "transport_doc": "AWB 180-99",
        "lines-0-quantity": "2",
        "lines-0-outcome": "cleared",
        "lines-0-marks": "410000000000501\n410000000000502",
    }
    done = client.post(f"/customs/permits/{permit.id}/endorse", data=form)
    assert done.status_code == 302 and "receipt.pdf" in done.headers["Location"]
    session.expire_all()
    assert session.get(Permit, permit.id).state == "partly_used"
    chips = sorted(i.value for a in session.query(Animal).filter_by(state="entered") for i in a.identifiers)
    assert chips == ["410000000000501", "410000000000502"]
    over = client.post(f"/customs/permits/{permit.id}/endorse", data=form)
    assert "would exceed it" in over.get_data(as_text=True)


def test_api_pdf_and_endorsement(api_tokens, client, world):
    permit = issued_permit(world)
    headers = {"Authorization": f"Bearer {api_tokens['customs']}"}
    response = client.get(f"/api/v1/permits/{permit.id}/pdf", headers=headers)
    assert response.mimetype == "application/pdf" and response.data == documents.permit_pdf(permit)
    body = {"direction": "entry", "port": "ICN", "transport_doc": "AWB 9", "lines": [{"line_no": 1, "quantity": "3"}]}
    created = client.post(f"/api/v1/permits/{permit.id}/endorsements", json=body, headers=headers)
    assert created.status_code == 201 and created.json["lines"] == [
        {"line_no": 1, "quantity": "3", "outcome": "cleared"}
    ]
    again = client.post(f"/api/v1/permits/{permit.id}/endorsements", json=body, headers=headers)
    # The permit lifecycle's own refusal (the endorsement no longer words it by hand).
    assert again.status_code == 409 and "it is now 'Fully used'" in again.json["detail"]


def test_qr_is_segnos_encoding_drawn_as_one_path(world):
    """The code drawn is segno's for the verification URL, module for module, as a single filled path
    (ReportLab's widget drew every module on its own and was most of a permit's rendering time)."""
    import segno

    permit = issued_permit(world)
    url = pdf.verification_url("https://registry.example", permit)
    size, runs = pdf.qr_runs(url)
    code = segno.make(url, error="m", boost_error=False, micro=False, mask=pdf.QR_MASK)
    expected = {
        (r, c) for r, row in enumerate(code.matrix_iter(border=pdf.QR_BORDER)) for c, dark in enumerate(row) if dark
    }
    drawn = {(r, c + i) for r, c, length in runs for i in range(length)}
    assert size == code.symbol_size(border=pdf.QR_BORDER)[0] and drawn == expected
    assert sum(length for _, _, length in runs) == len(drawn)  # no module drawn twice
    data = documents.permit_pdf(permit)
    stream = PdfReader(io.BytesIO(data)).pages[0].get_contents().get_data().decode("latin-1")
    # A rectangle per run, in module units, and all of them filled once, as one path.
    ops = re.findall(r"^\d+ \d+ \d+ 1 re$", stream, re.M)
    assert len(ops) == len(pdf.qr_runs(_qr(data))[1])
    assert re.search(rf"(?:^\d+ \d+ \d+ 1 re\n){{{len(ops)}}}f$", stream, re.M)
    url = _qr(data).partition("#")[0]  # the signed offline payload follows the '#'
    assert url.endswith(f"/verify/{permit.number}?t={permit.security_token}")
