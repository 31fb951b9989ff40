"""The printed documents: an issued permit, and the receipt of an endorsement (PDF)."""

from __future__ import annotations

from flask import current_app

from registry import offline_qr, pdf
from registry.i18n import _
from registry.models import Endorsement, Permit
from registry.services import anchor
from registry.services.errors import Conflict


def permit_pdf(permit: Permit, copy: bool = False) -> bytes:
    """The issued permit as a PDF (the same bytes every time: the original's fingerprint is on
    record). *copy*: the same document marked as a copy on every page, which is not the original."""
    if permit.number is None:
        raise Conflict(_("only an issued permit has a document"))
    return pdf.render_permit(
        permit,
        current_app.config["AUTHORITY"],
        current_app.config["PUBLIC_BASE_URL"],
        offline_qr.payload(permit, anchor.signer()),
        copy=copy,
    )


def receipt_pdf(endorsement: Endorsement) -> bytes:
    """The printable receipt of one endorsement."""
    return pdf.render_receipt(endorsement, current_app.config["AUTHORITY"], current_app.config["PUBLIC_BASE_URL"])
