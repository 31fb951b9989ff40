"""What the public verification page says about a permit, given its number and either its security
token (in the QR code's address) or the short verification code printed under the QR code."""

from __future__ import annotations

import hmac

from flask import current_app
from sqlalchemy import select

from registry import clock, offline_qr
from registry.extensions import db
from registry.i18n import N_
from registry.machines import PermitState
from registry.models import Permit
from registry.services.endorsements import cleared

#: The status the page and the JSON answer give, in English (the JSON keeps it so); marked for
#: translation so the page can show it in the reader's language.
STATUS: dict[str, str] = {
    PermitState.ISSUED: N_("valid"),
    PermitState.PARTLY_USED: N_("partly used"),
    PermitState.USED: N_("fully used"),
    PermitState.CLOSED: N_("fully used"),
    PermitState.EXPIRED: N_("expired"),
    PermitState.CANCELLED: N_("cancelled"),
}


def _matches(permit: Permit, token: str | None, code: str | None) -> bool:
    """Whether *token*, or else the typed *code*, is this permit's (compared in constant time)."""
    if permit.security_token is None:
        return False
    if token:
        return hmac.compare_digest(permit.security_token.encode(), token.encode())
    if code:
        typed = offline_qr.normalise_code(code)
        return hmac.compare_digest(offline_qr.verification_code(permit.security_token).encode(), typed.encode())
    return False


def check(number: str, token: str | None, code: str | None = None) -> dict | None:
    """The document's status, or None when the number is unknown or the token (or code) wrong: one
    answer for both."""
    permit = db.session.scalar(
        select(Permit).where(
            Permit.issuing_country == current_app.config["ISSUING_COUNTRY"], Permit.number == number.strip().upper()
        )
    )
    if permit is None or not _matches(permit, token, code):
        return None
    status = STATUS.get(permit.state)
    if status is None or permit.valid_from is None or permit.valid_until is None:
        return None  # not an issued document
    if status in (STATUS[PermitState.ISSUED], STATUS[PermitState.PARTLY_USED]) and permit.valid_until < clock.today():
        status = STATUS[PermitState.EXPIRED]
    used = cleared(db.session, permit)
    return {
        "authentic": True,
        "number": permit.number,
        "status": status,
        "document": permit.doc_type,
        "valid_from": permit.valid_from.isoformat(),
        "valid_until": permit.valid_until.isoformat(),
        "import_country": permit.import_country,
        "export_country": permit.export_country,
        "lines": [
            {
                "line_no": line.line_no,
                "species": line.species.scientific_name,
                "common_name_en": line.species.name_en,
                "common_name_ko": line.species.name_ko,
                "term": line.term_code,
                "unit": line.unit_code,
                "permitted": f"{line.quantity.normalize():f}",
                "used": f"{used[line.id].normalize():f}",
            }
            for line in permit.lines
        ],
    }
