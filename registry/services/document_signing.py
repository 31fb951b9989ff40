"""The authority's document-signing key as the application uses it, and the permit PDF's signature.

In development (DOCUMENT_KEY_CREATE_IF_MISSING) a missing key and certificate are created on first
use as a development CA, and the log says where, as the audit key is (anchor.signer); production
never creates them: its start refuses a missing or invalid pair (registry.startup).
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

from flask import current_app

from registry import document_keys, pdf_signature
from registry.i18n import _
from registry.models import Permit
from registry.services.errors import Conflict


def keys() -> document_keys.DocumentKeys:
    """The configured key and chain (raises document_keys.KeysMissing with the fix)."""
    config = current_app.config
    try:
        return document_keys.load(config)
    except document_keys.KeysMissing:
        key_path, cert_path = Path(config["DOCUMENT_SIGNING_KEY"]), Path(config["DOCUMENT_SIGNING_CERT"])
        if not config.get("DOCUMENT_KEY_CREATE_IF_MISSING") or key_path.exists() or cert_path.exists():
            raise  # an unreadable or mismatched pair is the developer's to look at, not to replace
    try:
        create_dev_ca(key_path, cert_path)
        current_app.logger.warning(
            "created a development document-signing CA at %s (development: first use)", cert_path
        )
    except FileExistsError:  # another worker made it a moment ago
        pass
    return document_keys.load(config)


def create_dev_ca(key_path: Path, cert_path: Path) -> None:
    """A development CA named after the configured authority (refuses to overwrite)."""
    config = current_app.config
    document_keys.create_dev_ca(
        key_path, cert_path, country=config["ISSUING_COUNTRY"], organisation=config["AUTHORITY"]["name_en"]
    )


def signed_at(permit: Permit) -> datetime:
    """The signing time of *permit*'s document: when it was issued (its first day for a permit
    without that time on record), so every rendering signs to the same bytes."""
    if permit.issued_at is not None:
        return permit.issued_at
    if permit.valid_from is not None:
        return datetime.combine(permit.valid_from, time(), tzinfo=UTC)
    raise Conflict(_("only an issued permit has a document"))


def sign_permit(permit: Permit, document: bytes) -> bytes:
    """The rendered *document* of *permit*, signed by the authority (PAdES B-B)."""
    authority = current_app.config["AUTHORITY"]
    return pdf_signature.sign(
        document,
        keys(),
        signed_at=signed_at(permit),
        reason=f"CITES {permit.number} issued by {authority['name_en']}",
        location=authority["place"],
    )
