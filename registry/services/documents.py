"""The printed documents: an issued permit, and the receipt of an endorsement (PDF)."""

from __future__ import annotations

from flask import current_app

from registry import document_keys, epermit, offline_qr, pdf
from registry.i18n import _
from registry.models import Endorsement, Permit
from registry.services import anchor, document_signing
from registry.services.errors import Conflict, Unavailable


def permit_pdf(permit: Permit, copy: bool = False) -> bytes:
    """The issued permit as a PDF signed by the authority (the same bytes every time: the
    original's fingerprint is on record). *copy*: the same document marked as a copy on every
    page, which is not the original."""
    if permit.number is None:
        raise Conflict(_("only an issued permit has a document"))
    rendered = pdf.render_permit(
        permit,
        current_app.config["AUTHORITY"],
        current_app.config["PUBLIC_BASE_URL"],
        offline_qr.payload(permit, anchor.signer()),
        copy=copy,
    )
    return document_signing.sign_permit(permit, rendered)


def receipt_pdf(endorsement: Endorsement) -> bytes:
    """The printable receipt of one endorsement."""
    return pdf.render_receipt(endorsement, current_app.config["AUTHORITY"], current_app.config["PUBLIC_BASE_URL"])


def permit_xml(permit: Permit) -> bytes:
    """The issued permit as signed UN/CEFACT e-permit XML (registry.epermit), box 14 included.

    :raises Conflict: the permit is not issued
    :raises Unavailable: the document-signing key is missing (the operator's fix goes to the log)
    """
    try:
        return epermit.document(permit)
    except document_keys.KeysMissing as exc:
        current_app.logger.error("document signing key unavailable: %s", exc)
        raise Unavailable(_("the registry cannot sign documents just now; try again later")) from None
