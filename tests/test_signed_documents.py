"""The permit PDF's signature (PAdES), checked by poppler's pdfsig as an independent reader and by
`registry permits verify` offline; the QR payload checked by the same command."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from registry import document_keys, document_verify, offline_qr, pdf, pdf_signature
from registry.cli import dev_ca, verify_document
from registry.models import AuditEntry, Permit
from registry.services import anchor, document_signing, documents
from tests.helpers import issued_permit

PDFSIG = shutil.which("pdfsig")


def _tamper(data: bytes) -> bytes:
    """*data* with one byte changed inside the signed range: a letter of the document's title."""
    at = data.index(b"(CITES ") + 1
    return data[:at] + b"X" + data[at + 1 :]


def _pdfsig(data: bytes, tmp_path: Path, nss: Path | None = None) -> dict[str, str]:
    """pdfsig's report on the (one) signature of *data*, as its "- Name: value" lines; with *nss*,
    the certificate is checked against that NSS database's trusted roots."""
    path = tmp_path / "permit.pdf"
    path.write_bytes(data)
    command = [PDFSIG, *(["-nssdir", f"sql:{nss}"] if nss else []), str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    return dict(re.findall(r"^\s*- ([^:\n]+): (.*)$", result.stdout, re.MULTILINE))


def _another_root(tmp_path: Path) -> bytes:
    document_keys.create_dev_ca(tmp_path / "other-key.pem", tmp_path / "other.pem", organisation="Another Authority")
    return document_keys.load(
        {"DOCUMENT_SIGNING_KEY": tmp_path / "other-key.pem", "DOCUMENT_SIGNING_CERT": tmp_path / "other.pem"}
    ).chain_pems[-1]


def _nss_trusting(root_pem: bytes, folder: Path) -> Path:
    """An NSS database (NSS's certutil) that trusts *root_pem* to issue signing certificates."""
    certutil = shutil.which("certutil")
    if certutil is None:
        pytest.fail("NSS's certutil is not installed: ./scripts/test installs libnss3-tools")
    folder.mkdir()
    (folder / "root.pem").write_bytes(root_pem)
    subprocess.run([certutil, "-N", "-d", f"sql:{folder}", "--empty-password"], check=True, timeout=60)
    subprocess.run(
        [certutil, "-A", "-d", f"sql:{folder}", "-n", "root", "-t", "C,C,C", "-a", "-i", str(folder / "root.pem")],
        check=True,
        timeout=60,
    )
    return folder


# ---------------------------------------------------------------- the signature on the served file


def test_the_served_permit_is_signed_at_its_issue_time(world):
    permit = issued_permit(world)
    verdict = pdf_signature.verify(documents.permit_pdf(permit), [document_signing.keys().chain_pems[-1]])
    assert verdict.valid, verdict.reason
    assert verdict.signed_at == pdf_signature.signing_time(permit.issued_at)
    assert verdict.permit_number == permit.number
    assert "Test Management Authority" in verdict.signer


def test_the_fingerprint_on_record_is_the_served_file_after_a_reload(world, session):
    """A later request loads the permit afresh: its issue time read back from the database must
    sign to the bytes whose SHA-256 was recorded at issue."""
    permit = issued_permit(world)
    session.expire_all()
    served = documents.permit_pdf(session.get(Permit, permit.id))
    issued = session.query(AuditEntry).filter_by(action="permit.issue", object_id=str(permit.id)).one()
    assert issued.after["pdf_sha256"] == pdf.sha256(served)


def _unsigned(permit) -> bytes:
    """The permit as rendered, before the authority signs it."""
    return pdf.render_permit(permit, _authority(), "https://r.kr", offline_qr.payload(permit, anchor.signer()))


def test_signing_again_gives_the_same_bytes(world):
    """The fingerprint recorded at issue must stay the fingerprint of every copy served later."""
    permit = issued_permit(world)
    keys = document_signing.keys()
    unsigned = _unsigned(permit)
    first = pdf_signature.sign(unsigned, keys, signed_at=permit.issued_at, reason="r", location="l")
    second = pdf_signature.sign(unsigned, keys, signed_at=permit.issued_at, reason="r", location="l")
    assert first == second
    later = pdf_signature.sign(
        unsigned, keys, signed_at=permit.issued_at.replace(year=permit.issued_at.year + 1), reason="r", location="l"
    )
    assert later != first  # the time is in the signature: it is what makes the bytes repeat


def _authority() -> dict:
    from flask import current_app

    return current_app.config["AUTHORITY"]


def test_pdfsig_reports_the_signature_valid_and_a_changed_byte_invalid(world, tmp_path):
    """poppler checks the signature on its own, and the certificate against an NSS database that
    trusts the authority's root (and only then: an empty database does not)."""
    if PDFSIG is None:  # a missing tool must fail the run, not hide the check
        pytest.fail("poppler's pdfsig is not installed: ./scripts/test installs poppler-utils")
    signed = documents.permit_pdf(issued_permit(world))
    nss = _nss_trusting(document_signing.keys().chain_pems[-1], tmp_path / "nss")
    report = _pdfsig(signed, tmp_path, nss)
    assert report.get("Signature Validation") == "Signature is Valid.", report
    assert report.get("Certificate Validation") == "Certificate is Trusted.", report
    stranger = _pdfsig(signed, tmp_path, _nss_trusting(_another_root(tmp_path), tmp_path / "other"))
    assert stranger.get("Signature Validation") == "Signature is Valid.", stranger
    assert stranger.get("Certificate Validation") != "Certificate is Trusted.", stranger
    assert report.get("Signature Field Name") == pdf_signature.FIELD_NAME
    assert "document signing" in report.get("Signer Certificate Common Name", "").lower()
    changed = _pdfsig(_tamper(signed), tmp_path)
    assert "Signature Validation" in changed and changed["Signature Validation"] != "Signature is Valid.", changed


# ---------------------------------------------------------------- registry permits verify


@pytest.fixture
def verify(app, tmp_path):
    runner = app.test_cli_runner()  # Click 8.2+: stdout and stderr apart

    def run(data: bytes | None = None, *options: str):
        args = list(options)
        if data is not None:
            path = tmp_path / "document.pdf"
            path.write_bytes(data)
            args.insert(0, str(path))
        return runner.invoke(verify_document, args)

    return run


def test_verify_accepts_the_served_permit_and_says_what_it_is(world, verify):
    permit = issued_permit(world)
    result = verify(documents.permit_pdf(permit))
    assert result.exit_code == 0, result.output
    assert "VALID" in result.stdout.splitlines()
    assert f"permit: {permit.number}" in result.stdout
    assert f"signed at: {pdf_signature.signing_time(permit.issued_at).isoformat()}" in result.stdout
    assert "signed by: " in result.stdout and "document signing" in result.stdout.lower()


def test_verify_rejects_one_changed_byte(world, verify):
    result = verify(_tamper(documents.permit_pdf(issued_permit(world))))
    assert result.exit_code == 1
    assert "NOT VALID: the document was changed after it was signed" in result.stderr


@pytest.mark.slow
def test_every_changed_byte_is_refused_even_in_the_unsigned_gap(world):
    """The signature's own field lies outside the signed range: a byte changed there (a digit of
    the padding, a space in the hex string, a certificate in the container) must fail too."""
    signed = documents.permit_pdf(issued_permit(world))
    roots = [document_signing.keys().chain_pems[-1]]
    gap = re.search(rb"/ByteRange \[\s*0 (\d+) (\d+)", signed)
    start, end = int(gap[1]), int(gap[2])
    positions = [*range(0, len(signed), len(signed) // 40), *range(start, end, (end - start) // 40)]
    for at in positions:
        for byte in (b"0", b"A", b" "):
            if signed[at : at + 1] == byte:
                continue
            changed = signed[:at] + byte + signed[at + 1 :]
            found = document_verify.verify_file(changed, roots)
            assert found.status != document_verify.Status.VALID, (at, byte)


def test_verify_rejects_a_permit_signed_by_another_authority(world, verify, tmp_path):
    permit = issued_permit(world)
    other = tmp_path / "other-ca"
    document_keys.create_dev_ca(other / "key.pem", other / "chain.pem", organisation="Forger")
    forged = pdf_signature.sign(
        _unsigned(permit),
        document_keys._load(str(other / "key.pem"), str(other / "chain.pem")),
        signed_at=permit.issued_at,
        reason="forged",
        location="nowhere",
    )
    result = verify(forged)
    assert result.exit_code == 1 and "is not certified by the trusted authority certificate" in result.stderr
    # ...and trusting the forger's root instead accepts it: the answer is the trust anchor's.
    assert verify(forged, "--trust", str(other / "chain.pem")).exit_code == 0


def test_a_signature_checked_after_its_certificate_expired_says_so(world):
    signed = documents.permit_pdf(issued_permit(world))
    keys = document_signing.keys()
    expiry = keys.certificate.not_valid_after_utc
    roots = [keys.chain_pems[-1]]
    assert pdf_signature.verify(signed, roots, at=expiry - timedelta(days=1)).valid
    late = pdf_signature.verify(signed, roots, at=expiry + timedelta(days=1))
    assert not late.valid and "is not valid now (expired, or not yet valid)" in late.reason


def test_verify_rejects_an_update_appended_after_signing(world, verify):
    """Every signed byte intact, but a revision added after the signature: not the signed document."""
    writer = IncrementalPdfFileWriter(io.BytesIO(documents.permit_pdf(issued_permit(world))))
    writer.root["/PageMode"] = generic.NameObject("/UseOutlines")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    result = verify(out.getvalue())
    assert result.exit_code == 1 and "updated after it was signed" in result.stderr


def test_verify_rejects_an_unsigned_pdf(world, verify):
    result = verify(_unsigned(issued_permit(world)))
    assert result.exit_code == 1 and "carries no signature" in result.stderr


def test_verify_cannot_read_a_truncated_or_unknown_file(world, verify, tmp_path):
    signed = documents.permit_pdf(issued_permit(world))
    truncated = verify(signed[: len(signed) // 2])
    assert truncated.exit_code == 2 and "not a readable PDF" in truncated.stderr
    assert verify(b"PK\x03\x04 a zip file").exit_code == 2
    assert verify(None).exit_code == 2  # neither a file nor --qr
    no_anchor = verify(signed, "--trust", str(tmp_path / "absent.pem"))
    assert no_anchor.exit_code == 2 and "pass --trust AUTHORITY.pem" in no_anchor.stderr


def test_verify_checks_the_signed_e_permit_xml(world, verify, tmp_path):
    """The command checks our signed XML: valid; one changed character of the signed content is
    not valid (exit 1); a broken document is not checked (exit 2); another root does not vouch."""
    from registry import epermit

    permit = issued_permit(world)
    data = epermit.document(permit)
    good = verify(data)
    assert good.exit_code == 0, good.output
    assert f"permit: {permit.number}" in good.stdout and "Psittacus erithacus" in good.stdout
    changed = verify(data.replace(b"Psittacus erithacus", b"Psittacus erithacuz", 1))
    assert changed.exit_code == 1 and "NOT VALID" in changed.stderr
    broken = verify(data[: len(data) // 2])
    assert broken.exit_code == 2 and "not a readable e-permit" in broken.stderr
    document_keys.create_dev_ca(tmp_path / "k.pem", tmp_path / "c.pem", organisation="Another Authority")
    other = verify(data, "--trust", str(tmp_path / "c.pem"))
    assert other.exit_code == 1, other.output


def test_verify_accepts_the_qr_payload_and_rejects_a_changed_one(world, verify):
    permit = issued_permit(world)
    text = offline_qr.payload(permit, anchor.signer())
    result = verify(None, "--qr", text)
    assert result.exit_code == 0, result.output
    assert f"permit: {permit.number}" in result.stdout and "Psittacus erithacus" in result.stdout
    prefix, body, signature = text.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    changed = verify(None, "--qr", f"{prefix}.{flipped}.{signature}")
    assert changed.exit_code == 1 and "signature does not verify" in changed.stderr


def test_verify_qr_with_a_published_key_offline(world, verify, tmp_path):
    permit = issued_permit(world)
    public = tmp_path / "registry.pub.pem"
    public.write_text(anchor.signer().public_pem)
    result = verify(None, "--qr", offline_qr.payload(permit, anchor.signer()), "--key", str(public))
    assert result.exit_code == 0 and f"permit: {permit.number}" in result.stdout


# ---------------------------------------------------------------- the development CA


def test_dev_ca_writes_a_pair_once_and_prints_the_root_fingerprint(app, monkeypatch, tmp_path):
    key, chain = tmp_path / "ca" / "key.pem", tmp_path / "ca" / "chain.pem"
    monkeypatch.setitem(app.config, "DOCUMENT_SIGNING_KEY", str(key))
    monkeypatch.setitem(app.config, "DOCUMENT_SIGNING_CERT", str(chain))
    runner = app.test_cli_runner()
    result = runner.invoke(dev_ca)
    assert result.exit_code == 0, result.output
    root = document_verify.trust_roots(chain.read_bytes())[-1]
    assert str(key) in result.output and str(chain) in result.output
    assert document_verify.fingerprint(root) in result.output
    assert key.stat().st_mode & 0o077 == 0  # the private key is the owner's alone
    before = key.read_bytes()
    again = runner.invoke(dev_ca)
    assert again.exit_code == 2 and "refusing to replace it" in again.output
    assert key.read_bytes() == before


def test_development_creates_the_document_key_on_first_use(app, monkeypatch, tmp_path, caplog):
    key, chain = tmp_path / "dev" / "key.pem", tmp_path / "dev" / "chain.pem"
    monkeypatch.setitem(app.config, "DOCUMENT_SIGNING_KEY", str(key))
    monkeypatch.setitem(app.config, "DOCUMENT_SIGNING_CERT", str(chain))
    monkeypatch.setattr(app.logger, "disabled", False)  # Alembic's fileConfig disabled it
    with app.app_context():
        with pytest.raises(document_keys.KeysMissing):  # tests, like production, never make one
            document_signing.keys()
        monkeypatch.setitem(app.config, "DOCUMENT_KEY_CREATE_IF_MISSING", True)
        made = document_signing.keys()
    assert key.exists() and made.certificate.public_key().public_numbers()
    assert f"created a development document-signing CA at {chain}" in caplog.text


def test_a_permit_is_signed_and_checked_inside_a_running_event_loop(world):
    """pyHanko's sync wrappers call asyncio.run, which a running event loop refuses (the browser
    tests' Playwright runs one while the demo issues permits): signing must not depend on it."""
    import asyncio

    permit = issued_permit(world)
    roots = [document_signing.keys().chain_pems[-1]]
    outside = documents.permit_pdf(permit)

    async def inside():
        return documents.permit_pdf(permit), pdf_signature.verify(outside, roots)

    signed, verdict = asyncio.run(inside())
    assert signed == outside and verdict.valid, verdict.reason
