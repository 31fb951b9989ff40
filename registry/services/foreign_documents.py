"""The ledger of foreign documents: which import applications and permits cite an exporting
country's permit (box 12), and how much has crossed on each.

One foreign export permit covers one consignment. A second application citing it is flagged (the
officer sees the warning), issuing it is refused, and so is clearing it at the border once another
permit has cleared goods on it, unless the officer acting (the issuing ministry officer, the
endorsing customs officer) overrides with a reason, which the ledger and the audit entry keep.
Called inside the caller's write transaction.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from registry.i18n import _
from registry.machines import PermitState
from registry.models import ForeignDocumentUse, Permit
from registry.permissions import Actor
from registry.services.errors import Conflict, ValidationFailed

#: Applications that no longer claim their foreign document.
DEAD = (PermitState.WITHDRAWN, PermitState.REFUSED)
#: Applications not yet issued: the ones whose warning an officer still acts on.
EDITABLE_OR_PENDING = (
    PermitState.DRAFT,
    PermitState.SUBMITTED,
    PermitState.CHANGES_REQUESTED,
    PermitState.APPROVED,
)


def normalise(number: str | None) -> str | None:
    """The ledger's form of a document number: upper case, spaces trimmed."""
    if number is None:
        return None
    text = "".join(number.split()).upper()
    return text or None


def _key(permit: Permit) -> tuple[str, str] | None:
    number = normalise(permit.foreign_permit_no)
    if permit.doc_type != "import" or number is None:
        return None
    return permit.export_country, number


def _others(session, permit: Permit, key: tuple[str, str]) -> list[tuple[ForeignDocumentUse, Permit]]:
    """The other live uses of *key*, except the cancelled permit *permit* replaces."""
    rows = session.execute(
        select(ForeignDocumentUse, Permit)
        .join(Permit, Permit.id == ForeignDocumentUse.permit_id)
        .where(
            ForeignDocumentUse.country == key[0],
            ForeignDocumentUse.document_no == key[1],
            ForeignDocumentUse.permit_id != permit.id,
            Permit.state.not_in(DEAD),
        )
        .order_by(ForeignDocumentUse.id)
    ).all()
    return [(use, other) for use, other in rows if other.id != permit.replaces_id]


def _warning(key: tuple[str, str], permits: list[Permit]) -> str | None:
    if not permits:
        return None
    return _(
        "foreign document %(country)s %(document)s is also cited by %(permits)s",
        country=key[0],
        document=key[1],
        permits=", ".join(p.display_number for p in permits),
    )


def note(session, permit: Permit) -> ForeignDocumentUse | None:
    """Record (or bring up to date) *permit*'s use of its foreign document, with a warning when
    another application or permit already cites it. Returns the ledger row, None when none applies."""
    use = session.scalar(select(ForeignDocumentUse).where(ForeignDocumentUse.permit_id == permit.id))
    key = _key(permit)
    if key is None:
        if use is not None:  # the draft no longer cites a foreign document (the audit log keeps that it did)
            session.delete(use)
            session.flush()
            session.expire(permit, ["foreign_document"])
        return None
    if use is None:
        use = ForeignDocumentUse(permit_id=permit.id, cleared=Decimal(0))
        session.add(use)
    use.country, use.document_no = key
    use.quantity = sum((line.quantity for line in permit.lines), Decimal(0))
    others = _others(session, permit, key)
    use.warning = _warning(key, [other for _use, other in others])
    # The earlier uses are flagged too: whichever comes first to issue, the officer sees both.
    for other_use, other in others:
        if other.state in EDITABLE_OR_PENDING:
            other_use.warning = _warning(key, [p for _u, p in _others(session, other, key)])
    session.flush()
    session.expire(permit, ["foreign_document"])
    return use


def _override(use: ForeignDocumentUse, actor: Actor, reason: str) -> None:
    use.override_reason, use.overridden_by_id = reason, actor.user_id


def check_issue(session, actor: Actor, permit: Permit, override_reason: str | None) -> dict | None:
    """Refuse (409) to issue *permit* on a foreign document another issued permit already cites,
    unless *override_reason* is given. Returns what the audit entry records about the ledger."""
    use = note(session, permit)
    key = _key(permit)
    if use is None or key is None:
        return None
    issued = [other for _use, other in _others(session, permit, key) if other.number is not None]
    if issued:
        if not override_reason:
            raise Conflict(
                _(
                    "foreign document %(document)s was already used on permit %(permit)s",
                    document=key[1],
                    permit=issued[0].display_number,
                ),
                {"foreign_permit_no": _("already used on permit %(permit)s", permit=issued[0].display_number)},
            )
        _override(use, actor, override_reason)
    return use.as_audit()


def check_border(session, actor: Actor, permit: Permit, override_reason: str | None) -> dict | None:
    """Refuse (409) to clear goods on *permit* when another permit has already cleared goods on
    its foreign document, unless *override_reason* is given."""
    use = session.scalar(select(ForeignDocumentUse).where(ForeignDocumentUse.permit_id == permit.id))
    key = _key(permit)
    if use is None or key is None:
        return None
    spent = [other for other_use, other in _others(session, permit, key) if other_use.cleared > 0]
    if spent:
        if not override_reason:
            raise Conflict(
                _(
                    "foreign document %(document)s was already used up at the border on permit %(permit)s",
                    document=key[1],
                    permit=spent[0].display_number,
                ),
                {"foreign_permit_no": _("already used up on permit %(permit)s", permit=spent[0].display_number)},
            )
        _override(use, actor, override_reason)
    return use.as_audit()


def learn_after_issue(session, permit: Permit, number: str, day: date, today: date) -> None:
    """Record the foreign document of an import permit issued without it (Appendix I: the import
    permit is granted first, Art. III.3), learned at the border or from the partner's e-permit.

    Only ever filled in, never changed, and marked as learned: the printed permit stays the
    document that was issued (its fingerprint is on record). The exporting country grants its
    permit only once the import permit exists (Art. III.2(d)): one dated before the issue is refused.
    """
    if permit.foreign_permit_no is not None:
        raise Conflict(_("permit %(permit)s already quotes a foreign document", permit=permit.display_number))
    issued_on = permit.issued_at.date() if permit.issued_at is not None else permit.valid_from
    if issued_on is not None and day < issued_on:
        raise ValidationFailed(
            _("the exporting country's permit predates this import permit"),
            {
                "foreign_permit_date": _(
                    "dated before this import permit was issued (%(day)s): the export permit is granted "
                    "only once the import permit exists (Art. III.2(d))",
                    day=issued_on.isoformat(),
                )
            },
        )
    permit.foreign_permit_no, permit.foreign_permit_date, permit.foreign_permit_learned_on = number, day, today
    session.flush()
    note(session, permit)


def record_cleared(session, permit: Permit, quantity: Decimal) -> None:
    """Add what cleared at the border on *permit* to its ledger row."""
    use = session.scalar(select(ForeignDocumentUse).where(ForeignDocumentUse.permit_id == permit.id))
    if use is not None and quantity:
        use.cleared += quantity
        session.flush()
