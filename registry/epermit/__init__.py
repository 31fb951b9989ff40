"""UN/CEFACT CITES e-permit XML (CITESEPermit v2, as exchanged through EPIX): export of our
permits, signed per UN/CEFACT Recommendation 14, and the reading and checking of a partner
authority's documents. Box-to-element mapping: docs/epermit.md.

Final and non-final follow EPIX's two "get" operations. A **final** document is an issued
permit as it stands, with what crossed the border (box 14, 15) and signed. A **non-final**
document is the permit without the border record: for an application not yet issued, it is
what was applied for (header ID = the application's id, scheme "application", no security stamp,
no box 13) and never signed, since the authority has not issued it.
"""

from __future__ import annotations

from flask import current_app
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry.epermit import export, reader, schema, signature
from registry.epermit.reader import ForeignDocument, ForeignLine, read
from registry.epermit.schema import InvalidDocument
from registry.epermit.signature import SignatureInvalid
from registry.extensions import db
from registry.i18n import _
from registry.models import Animal, Endorsement, Identifier, Permit
from registry.services.errors import Conflict

__all__ = [
    "ForeignDocument",
    "ForeignLine",
    "InvalidDocument",
    "SignatureInvalid",
    "document",
    "read",
    "verify_xml",
]


def _endorsements(permit: Permit) -> list[Endorsement]:
    return list(
        db.session.scalars(
            select(Endorsement)
            .where(Endorsement.permit_id == permit.id)
            .options(selectinload(Endorsement.lines))
            .order_by(Endorsement.id)
        )
    )


def _marks(permit: Permit) -> dict[int, list[str]]:
    """Box 9: the active marks of the animals declared on each line (imports declare them)."""
    marks: dict[int, list[str]] = {}
    rows = db.session.execute(
        select(Animal.permit_line_id, Identifier.kind, Identifier.value)
        .join(Identifier, Identifier.animal_id == Animal.id)
        .where(Animal.permit_line_id.in_([line.id for line in permit.lines]), Identifier.active.is_(True))
        .order_by(Animal.id, Identifier.id)
    )
    for line_id, kind, value in rows:
        if line_id is not None:
            marks.setdefault(line_id, []).append(f"{kind} {value}")
    return marks


def document(permit: Permit, *, final: bool = True, signed: bool = True) -> bytes:
    """*permit* as CITESEPermit XML (UTF-8, with declaration), valid against the schema.

    ``final``: with the border record (box 14/15); only an issued permit has a final document
    (Conflict otherwise). ``signed``: with the authority's XML signature; an application not yet
    issued is never signed, whatever ``signed`` says.
    """
    if final and permit.number is None:
        raise Conflict(_("only an issued permit has a document"))
    config = current_app.config
    root = export.build(
        permit,
        authority=config["AUTHORITY"],
        issuing_country=config["ISSUING_COUNTRY"],
        endorsements=_endorsements(permit) if final else (),
        marks=_marks(permit),
    )
    if signed and permit.number is not None:
        # The application's keys: in development, the CA is made on first use (as for the PDF).
        from registry.services import document_signing

        root = signature.sign(root, document_signing.keys())
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def verify_xml(data: bytes, trust_cert_pem: bytes) -> dict:
    """Check a signed e-permit offline: well-formed, valid against the schema, signed by a
    certificate that *trust_cert_pem* (a root) issued, unchanged since. Returns what it says
    (``registry.epermit.reader.ForeignDocument.as_dict``) and who signed it.

    :raises InvalidDocument: malformed or failing the schema (with line numbers)
    :raises SignatureInvalid: no signature, a changed document, or a certificate not from the root
    """
    tree = schema.parse(data)
    schema.validate(tree)
    signed, certificate = signature.verify(tree, trust_cert_pem)
    content = reader.from_element(signed)
    return content.as_dict() | {"signed_by": certificate.subject.rfc4514_string()}
