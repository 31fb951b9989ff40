"""A partner authority's e-permit, checked against one of our applications and recorded on it.

On an import application the partner's document is the exporting country's export permit,
re-export certificate or certificate of origin; on an Appendix I export it is the importing
country's import permit (Art. III.2(d)). The document is refused, with every reason, when it is
malformed, fails the schema or its signature, or does not match the application: the parties and
their countries, the species, the quantities (ours may not exceed what it permits), its validity,
its number. When it matches, its number and date become the application's foreign document.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from flask import current_app
from lxml import etree

from registry import clock
from registry.epermit import reader, schema, signature
from registry.epermit.reader import ForeignDocument
from registry.i18n import _
from registry.machines import PermitState
from registry.models import Permit
from registry.permissions import Actor, require
from registry.services import audit, foreign_documents
from registry.services.context import write_transaction
from registry.services.errors import Conflict, ValidationFailed
from registry.services.permits import locked

#: Who records a partner's document: the officers who review applications.
CAPABILITY = "permit.review"
#: The states in which an application still takes its foreign document; an issued Appendix I
#: import learns the exporting country's permit only when the goods come (Art. III.3).
OPEN = foreign_documents.EDITABLE_OR_PENDING
#: The partner's document types that may stand behind our document (box 1 letters).
ACCEPTED_TYPES = {"import": ("E", "R", "O"), "export": ("I",)}


@dataclass(frozen=True)
class Checked:
    """A partner's document that passed the schema, and its signer when a signature was checked."""

    document: ForeignDocument
    signed_by: str | None


def partner_root(country: str) -> bytes | None:
    """The trusted root of *country*'s authority (``EPERMIT_PARTNER_ROOTS``/<ISO>.pem), if configured."""
    folder = current_app.config.get("EPERMIT_PARTNER_ROOTS")
    if not folder or len(country) != 2 or not country.isalpha():
        return None
    path = Path(folder) / f"{country.upper()}.pem"
    return path.read_bytes() if path.is_file() else None


def parse(data: bytes) -> etree._ElementTree:
    """Parse (hardened) and validate a partner's document.

    :raises ValidationFailed: with one reason per XML or schema error, each with its line
    """
    try:
        tree = schema.parse(data)
        schema.validate(tree)
    except schema.InvalidDocument as exc:
        raise ValidationFailed(
            _("the document is not a valid CITES e-permit"),
            {f"document.{i}": reason for i, reason in enumerate(exc.reasons, 1)},
        ) from None
    return tree


def authenticate(tree: etree._ElementTree, trust_pem: bytes | None) -> Checked:
    """What the document says; with *trust_pem*, only once its signature is shown to come from a
    certificate that root issued, and only what the signature covers.

    :raises ValidationFailed: the signature is missing, does not match, or is not from the root
    """
    if trust_pem is None:
        return Checked(reader.from_element(tree.getroot()), None)
    try:
        signed, certificate = signature.verify(tree, trust_pem)
    except signature.SignatureInvalid as exc:
        raise ValidationFailed(_("the document's signature is not valid"), {"signature": str(exc)}) from None
    return Checked(reader.from_element(signed), certificate.subject.rfc4514_string())


def _name(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def _unit(code: str | None) -> str | None:
    return None if code in (None, "", "NAR") else code


def _party(reasons: dict, key: str, label: str, theirs: reader.TradeParty, party, country: str) -> None:
    if party is not None and _name(theirs.name) != _name(party.name):
        reasons[f"{key}.name"] = _(
            "the %(party)s is %(theirs)s on the document, %(ours)s on the application",
            party=label,
            theirs=theirs.name or "-",
            ours=party.name,
        )
    if theirs.country != country:
        reasons[f"{key}.country"] = _(
            "the %(party)s's country is %(theirs)s on the document, %(ours)s on the application",
            party=label,
            theirs=theirs.country or "-",
            ours=country,
        )


def _lines(reasons: dict, permit: Permit, document: ForeignDocument) -> None:
    theirs: dict[tuple[str, str | None], list[reader.ForeignLine]] = {}
    for item in document.lines:
        theirs.setdefault((_name(item.scientific_name), item.term_code), []).append(item)
    ours: set[tuple[str, str | None]] = set()
    for line in permit.lines:
        key = (_name(line.species.scientific_name), line.term_code)
        ours.add(key)
        label = f"{line.species.scientific_name} ({line.term_code})"
        found = [f for f in theirs.get(key, []) if _unit(f.unit_code) == _unit(line.unit_code)]
        if not theirs.get(key):
            reasons[f"lines.{line.line_no}.species"] = _("%(line)s is not on the document", line=label)
            continue
        if not found:
            reasons[f"lines.{line.line_no}.unit"] = _("%(line)s is in another unit on the document", line=label)
            continue
        permitted = sum((f.quantity or Decimal(0) for f in found), Decimal(0))
        if line.quantity > permitted:
            reasons[f"lines.{line.line_no}.quantity"] = _(
                "%(line)s: %(ours)s applied for, the document permits %(theirs)s",
                line=label,
                ours=f"{line.quantity.normalize():f}",
                theirs=f"{permitted.normalize():f}",
            )
    for their_key, lines in theirs.items():
        if their_key not in ours:
            reasons[f"document.{lines[0].item_id or '?'}.species"] = _(
                "%(species)s (%(term)s) on the document is not on the application",
                species=lines[0].scientific_name or "-",
                term=their_key[1] or "-",
            )


def check(permit: Permit, document: ForeignDocument, today: date) -> dict[str, str]:
    """Every way *document* does not fit *permit*, keyed by what differs; empty when it fits."""
    reasons: dict[str, str] = {}
    direction = permit.direction
    if document.type_code not in ACCEPTED_TYPES[direction]:
        reasons["type"] = (
            _("an import needs the exporting country's export permit, re-export or other certificate")
            if direction == "import"
            else _("an export needs the importing country's import permit")
        )
    if document.is_application or not document.number:
        reasons["number"] = _("the document is an application, not an issued permit")
    elif permit.foreign_permit_no and foreign_documents.normalise(document.number) != foreign_documents.normalise(
        permit.foreign_permit_no
    ):
        reasons["number"] = _(
            "the document is %(theirs)s, the application cites %(ours)s",
            theirs=document.number,
            ours=permit.foreign_permit_no,
        )
    if document.copy:
        reasons["copy"] = _("the document is marked as a copy")
    # The partner is the other side: the exporting country on an import, the importing one on an export.
    partner = permit.export_country if direction == "import" else permit.import_country
    if not document.issuer_country:
        reasons["issuer"] = _("the document does not name the country that issued it (box 6)")
    elif document.issuer_country != partner:
        reasons["issuer"] = _(
            "the document was issued by %(theirs)s, not by %(partner)s",
            theirs=document.issuer_country,
            partner=partner,
        )
    importer = permit.importer or (permit.applicant if direction == "import" else None)
    exporter = permit.exporter or (permit.applicant if direction == "export" else None)
    _party(reasons, "consignee", _("importer"), document.consignee, importer, permit.import_country)
    _party(reasons, "consignor", _("exporter"), document.consignor, exporter, permit.export_country)
    _lines(reasons, permit, document)
    if document.valid_until is None:
        reasons["valid_until"] = _("the document states no validity")
    elif document.valid_until < today:
        reasons["valid_until"] = _("the document expired on %(day)s", day=document.valid_until.isoformat())
    if document.valid_from is not None and document.valid_from > today:
        reasons["valid_from"] = _("the document is valid only from %(day)s", day=document.valid_from.isoformat())
    if document.issued_on is None:
        reasons["issued_on"] = _("the document states no date of issue")
    elif document.issued_on > today:
        reasons["issued_on"] = _("the document is dated %(day)s, in the future", day=document.issued_on.isoformat())
    return reasons


def _open(permit: Permit) -> bool:
    return permit.state in OPEN or (permit.doc_type == "import" and permit.state == PermitState.ISSUED)


def record(
    actor: Actor, permit_id: int, data: bytes, *, trust_pem: bytes | None = None, version: int | None = None
) -> Permit:
    """Check a partner authority's XML document against application *permit_id* and, when it
    fits, record it as the application's foreign document (number and date), with an audit entry.

    Without *trust_pem* the root configured for the partner's country is used; with neither, the
    signature is not checked (the audit entry says so).

    :raises ValidationFailed: malformed, failing the schema or its signature, or not matching (each reason)
    :raises Conflict: the application no longer takes a foreign document, or changed since *version*
    """
    require(actor, CAPABILITY)
    tree = parse(data)  # before the transaction: a malformed document holds no lock
    with write_transaction() as session:
        permit = locked(session, actor, permit_id, version)
        if not _open(permit):
            raise Conflict(_("this application no longer takes a foreign document"))
        partner = permit.export_country if permit.direction == "import" else permit.import_country
        checked = authenticate(tree, trust_pem if trust_pem is not None else partner_root(partner))
        reasons = check(permit, checked.document, clock.today())
        if reasons:
            raise ValidationFailed(_("the document does not match the application"), reasons)
        before = permit.as_audit()
        if permit.number is not None:  # an issued Appendix I import learns its export permit
            number, day = checked.document.number, checked.document.issued_on
            assert number is not None and day is not None  # check() gave reasons when missing
            foreign_documents.learn_after_issue(session, permit, number, day, clock.today())
        else:
            permit.foreign_permit_no = checked.document.number
            permit.foreign_permit_date = checked.document.issued_on
            session.flush()
            foreign_documents.note(session, permit)
        audit.record(
            actor,
            "permit.foreign_document",
            "permit",
            permit.id,
            before,
            permit.as_audit()
            | {
                "foreign_document": {
                    "number": checked.document.number,
                    "type": checked.document.type_code,
                    "issuer": checked.document.issuer,
                    "signed_by": checked.signed_by,
                }
            },
        )
    return permit
