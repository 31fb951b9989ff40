"""The printed documents: an issued permit, and the receipt of an endorsement (PDF)."""

from __future__ import annotations

from flask import current_app

from registry import pdf
from registry.i18n import _
from registry.models import Endorsement, Permit
from registry.services import document_signing
from registry.services.errors import Conflict


def permit_pdf(permit: Permit) -> bytes:
    """The issued permit as a PDF signed by the authority (the same bytes every time: its fingerprint
    is on record)."""
    if permit.number is None:
        raise Conflict(_("only an issued permit has a document"))
    rendered = pdf.render_permit(permit, current_app.config["AUTHORITY"], current_app.config["PUBLIC_BASE_URL"])
    return document_signing.sign_permit(permit, rendered)


def receipt_pdf(endorsement: Endorsement) -> bytes:
    """The printable receipt of one endorsement."""
    return pdf.render_receipt(endorsement, current_app.config["AUTHORITY"], current_app.config["PUBLIC_BASE_URL"])
