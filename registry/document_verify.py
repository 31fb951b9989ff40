"""Offline checks of the documents the registry issues (``registry permits verify``): a signed permit
PDF, a permit's QR payload, or an e-permit XML. Needs no database and no network: only the
authority's certificate (for PDF and XML) or the registry's public key (for the QR code).

Each check answers a Result whose ``status`` is the command's exit code: 0 valid, 1 invalid (with
the reason), 2 nothing could be checked (unreadable bytes, an unknown format, no trust anchor).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from registry import clock, offline_qr, pdf_signature


class Status(enum.IntEnum):
    VALID = 0
    INVALID = 1
    UNCHECKED = 2


@dataclass(frozen=True)
class Result:
    status: Status
    #: Why it is not valid, in one sentence (empty when valid).
    reason: str = ""
    #: What the document says, one "name: value" line each, to print.
    facts: list[str] = field(default_factory=list)


def trust_roots(pem: bytes) -> list[bytes]:
    """Every certificate in *pem*, as PEM (raises ValueError when there is none)."""
    certificates = x509.load_pem_x509_certificates(pem)
    return [c.public_bytes(serialization.Encoding.PEM) for c in certificates]


def fingerprint(certificate_pem: bytes) -> str:
    """The SHA-256 fingerprint of a certificate, as printed by ``openssl x509 -fingerprint -sha256``."""
    digest = x509.load_pem_x509_certificate(certificate_pem).fingerprint(hashes.SHA256())
    return ":".join(f"{b:02X}" for b in digest)


def verify_file(data: bytes, roots: list[bytes]) -> Result:
    """A permit document: a PDF (by its header) or an e-permit XML."""
    head = data[:1024].lstrip()
    if head.startswith(b"%PDF-"):
        return verify_pdf(data, roots)
    if head.startswith(b"<"):
        return verify_xml(data, roots)
    return Result(Status.UNCHECKED, "not a PDF or XML document")


def verify_pdf(data: bytes, roots: list[bytes]) -> Result:
    try:
        verdict = pdf_signature.verify(data, roots)
    except pdf_signature.Unreadable as exc:
        return Result(Status.UNCHECKED, str(exc))
    facts = []
    if verdict.signer:
        facts.append(f"signed by: {verdict.signer}")
    if verdict.signed_at is not None:
        facts.append(f"signed at: {verdict.signed_at.isoformat()}")
    if verdict.permit_number:
        facts.append(f"permit: {verdict.permit_number}")
    return Result(Status.VALID if verdict.valid else Status.INVALID, verdict.reason, facts)


def verify_xml(data: bytes, roots: list[bytes]) -> Result:
    """The e-permit XML (registry.epermit): well-formed, valid against the schema, signed under one
    of *roots* (each is tried, as the PDF check trusts every certificate of the trust file)."""
    from registry import epermit

    refusal = ""
    for root in roots:
        try:
            content = epermit.verify_xml(data, root)
        except epermit.InvalidDocument as exc:
            return Result(Status.UNCHECKED, f"not a readable e-permit: {exc}")
        except epermit.SignatureInvalid as exc:
            refusal = refusal or str(exc)
            continue
        return Result(Status.VALID, "", _xml_facts(content))
    return Result(Status.INVALID, refusal or "no certificate to check the signature with")


#: What a line of an e-permit says, in the order the QR payload prints it.
_XML_LINE = ("scientific_name", "term_code", "quantity", "unit_code", "appendix", "source")


def _xml_facts(content: dict) -> list[str]:
    names = {
        "signed_by": "signed by",
        "number": "permit",
        "doc_type": "type",
        "issuer_country": "issued by",
        "valid_from": "valid from",
        "valid_until": "valid until",
    }
    facts = [f"{label}: {content[key]}" for key, label in names.items() if content.get(key)]
    for n, line in enumerate(content.get("lines") or (), 1):
        if isinstance(line, dict):
            said = (line.get(key) for key in _XML_LINE)
            facts.append(f"line {n}: {' '.join(str(v) for v in said if v)}")
    return facts


def verify_qr(text: str, public_pem: str) -> Result:
    """A permit's QR payload (or the whole QR text), signed with the registry's Ed25519 key."""
    try:
        found = offline_qr.read(text, public_pem)
    except offline_qr.Invalid as exc:
        return Result(Status.INVALID, str(exc))
    except ValueError:  # the key itself is no Ed25519 public key
        return Result(Status.UNCHECKED, "the public key is not an Ed25519 public key in PEM form")
    try:
        facts = [
            f"permit: {found['n']} ({found['t']}, issued by {found['c']})",
            f"holder: {found['h']}",
            f"export: {found['e']} -> import: {found['i']}",
            f"valid: {found['f']} to {found['u']}{' (EXPIRED)' if offline_qr.expired(found, clock.today()) else ''}",
            *(f"line {n}: {' '.join(str(v) for v in line if v)}" for n, line in enumerate(found["l"], 1)),
        ]
    except (KeyError, TypeError, ValueError):
        return Result(Status.INVALID, "the payload is signed but does not describe a permit")
    return Result(Status.VALID, "", facts)
