"""The permit's QR code verifies offline: a compact payload signed with the registry's published
Ed25519 key, checked without network (registry.offline_qr, and the saved /verify-offline page)."""

import base64
import json
import zlib
from datetime import date

import pytest

from registry import offline_qr, signing
from registry.services import anchor
from tests.helpers import issued_permit


@pytest.fixture
def permit(world):
    return issued_permit(world)


def test_the_payload_carries_the_permit_and_verifies_with_the_public_key(app, permit):
    signer = anchor.signer()
    found = offline_qr.read(offline_qr.payload(permit, signer), signer.public_pem)
    assert found["n"] == permit.number
    assert found["t"] == permit.doc_type
    assert (found["f"], found["u"]) == (permit.valid_from.isoformat(), permit.valid_until.isoformat())
    assert [row[0] for row in found["l"]] == [line.species.scientific_name for line in permit.lines]
    assert [row[2] for row in found["l"]] == [f"{line.quantity.normalize():f}" for line in permit.lines]
    # The whole QR text (the online address with the payload in its fragment) reads the same.
    assert (
        offline_qr.read(
            f"https://example.kr/verify/{permit.number}?t=x#" + offline_qr.payload(permit, signer), signer.public_pem
        )["n"]
        == permit.number
    )


def _tampered(text: str, change) -> str:
    prefix, body, signature = text.split(".")
    content = json.loads(zlib.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))
    change(content)
    forged = base64.urlsafe_b64encode(zlib.compress(json.dumps(content).encode())).decode().rstrip("=")
    return ".".join((prefix, forged, signature))


def test_a_changed_quantity_or_another_key_is_refused(app, permit, tmp_path):
    signer = anchor.signer()
    text = offline_qr.payload(permit, signer)

    def more(content):
        content["l"][0][2] = "500"

    with pytest.raises(offline_qr.Invalid, match="signature"):
        offline_qr.read(_tampered(text, more), signer.public_pem)
    other = signing.Signer(signing.generate(tmp_path / "other.pem"))
    with pytest.raises(offline_qr.Invalid, match="signature"):
        offline_qr.read(offline_qr.payload(permit, other), signer.public_pem)
    for damaged in ("", "WRQ1.abc", "XYZ9.a.b", text[:-3] + "!!!", "WRQ1.%%%.%%%"):
        with pytest.raises(offline_qr.Invalid):
            offline_qr.read(damaged, signer.public_pem)


def test_a_payload_signed_over_damaged_content_is_refused_without_a_crash(app, tmp_path):
    signer = signing.Signer(signing.generate(tmp_path / "k.pem"))
    for body in (b"not deflated", zlib.compress(b"[1, 2]"), zlib.compress(b"{not json")):
        signature = base64.b64decode(signer.sign(offline_qr.DOMAIN + body))
        text = "WRQ1." + offline_qr._b64(body) + "." + offline_qr._b64(signature)
        with pytest.raises(offline_qr.Invalid, match="damaged"):
            offline_qr.read(text, signer.public_pem)


def test_expiry_is_read_from_the_signed_validity(app, permit):
    signer = anchor.signer()
    found = offline_qr.read(offline_qr.payload(permit, signer), signer.public_pem)
    assert not offline_qr.expired(found, permit.valid_until)
    assert offline_qr.expired(found, date.fromordinal(permit.valid_until.toordinal() + 1))


def test_the_verification_code_is_short_stable_and_forgiving_to_type():
    code = offline_qr.verification_code("secret-token")
    assert len(code) == 14 and code.count("-") == 2
    assert code == offline_qr.verification_code("secret-token")
    assert code != offline_qr.verification_code("secret-token2")
    assert not set(code) & set("ILOU")
    assert offline_qr.normalise_code(code.lower().replace("-", " ")) == code
    assert offline_qr.normalise_code("oil0-aaaa") == "0110-AAAA"


def test_the_offline_page_carries_the_registry_public_key(app, client):
    answer = client.get("/verify-offline")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    signer = anchor.signer()
    assert signer.fingerprint in page
    assert "verify-offline.js" in page
    # The key in the page is the one that signs (the browser test checks a payload with it).
    body = page.split('data-public-key="', 1)[1].split('"', 1)[0]
    assert body.replace("&#10;", "\n").strip() == signer.public_pem.strip()
