"""Permit use cases: drafting an application and moving it through the workflow."""

from __future__ import annotations

import calendar
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from flask import current_app
from sqlalchemy import select

from registry import clock, codes, document_rules, pdf
from registry.extensions import db
from registry.i18n import _
from registry.machines import PERMIT, PermitState
from registry.models import DOCUMENT_TYPES, Party, Permit, PermitLine, Species
from registry.models.base import utcnow
from registry.permissions import Actor, can_see_permit, has_capability, party_bound, require
from registry.services import audit
from registry.services.context import lock, write_transaction
from registry.services.errors import Conflict, NotFound, ValidationFailed, allowed
from registry.services.numbers import permit_number

EDITABLE = (PermitState.DRAFT, PermitState.CHANGES_REQUESTED)


@dataclass
class Context:
    actor: Actor
    permit: Permit
    data: dict
    today: date
    #: Users who drafted or edited the application: none of them may decide on it.
    editors: frozenset = frozenset()


def _editors(session, permit: Permit) -> frozenset:
    from registry.models import AuditEntry

    return frozenset(
        session.scalars(
            select(AuditEntry.actor_id).where(
                AuditEntry.object_type == "permit",
                AuditEntry.object_id == str(permit.id),
                AuditEntry.action.in_(("permit.create", "permit.update")),
                AuditEntry.actor_id.is_not(None),
            )
        )
    )


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _country(value, name: str, errors: dict, required: bool = True) -> str | None:
    value = (value or "").strip().upper()
    if not value:
        if required:
            errors[name] = _("required")
        return None
    if codes.country_name(value) is None:
        errors[name] = _("an ISO 3166-1 alpha-2 country code")
    return value


def _code(value, table: dict, name: str, errors: dict) -> str | None:
    value = (value or "").strip().upper()
    if value not in table:
        errors[name] = _("one of %(values)s", values=", ".join(k for k in table if k))
        return None
    return value


def _parse_lines(session, raw_lines, errors: dict) -> list[PermitLine]:
    lines = []
    for i, raw in enumerate(raw_lines or [], start=1):
        if not any(raw.get(k) for k in ("species_id", "quantity")):
            continue  # a blank row of the form
        prefix = f"lines.{i}"
        species_id = str(raw.get("species_id") or "")
        species = session.get(Species, int(species_id)) if species_id.isdigit() else None
        if species is None:
            errors[f"{prefix}.species_id"] = _("no such species")
        term = _code(raw.get("term_code") or "LIV", codes.TERMS, f"{prefix}.term_code", errors)
        unit = _code(raw.get("unit_code") or "", codes.UNITS, f"{prefix}.unit_code", errors)
        try:
            quantity = Decimal(str(raw.get("quantity")))
            if not quantity.is_finite() or quantity <= 0 or quantity != quantity.quantize(Decimal("0.001")):
                raise InvalidOperation
            if term == "LIV" and unit in ("", "NAR") and quantity != quantity.to_integral_value():
                errors[f"{prefix}.quantity"] = _("live animals are counted in whole numbers")
        except (InvalidOperation, ValueError):
            errors[f"{prefix}.quantity"] = _("a positive number with at most 3 decimals")
            quantity = None
        if species is not None and quantity is not None and term and unit is not None:
            lines.append(
                PermitLine(
                    line_no=len(lines) + 1,
                    species_id=species.id,
                    appendix=species.appendix,
                    term_code=term,
                    quantity=quantity,
                    unit_code=unit or None,
                    description=(raw.get("description") or "").strip() or None,
                )
            )
    if not lines and not any(k.startswith("lines.") for k in errors):
        errors["lines"] = _("at least one line item")
    return lines


def _parse_application(session, actor: Actor, data: dict) -> tuple[dict, list[PermitLine]]:
    errors: dict[str, str] = {}
    doc_type = data.get("doc_type")
    if doc_type not in DOCUMENT_TYPES:
        errors["doc_type"] = _("one of %(values)s", values=", ".join(DOCUMENT_TYPES))
    applicant = data.get("applicant_party_id")
    if party_bound(actor) and applicant in (None, "", actor.party_id, str(actor.party_id)):
        applicant = actor.party_id  # keepers apply for themselves only
    elif party_bound(actor):
        raise ValidationFailed(
            _("the application has errors"), {"applicant_party_id": _("a keeper applies for their own party only")}
        )
    fields: dict = {"doc_type": doc_type}
    for name in ("applicant_party_id", "importer_party_id", "exporter_party_id"):
        value = applicant if name == "applicant_party_id" else data.get(name)
        if value in (None, ""):
            if name == "applicant_party_id":
                errors[name] = _("required")
            fields[name] = None
            continue
        try:
            value = int(value)
        except (TypeError, ValueError):
            errors[name] = _("must be a party id")
            continue
        if session.get(Party, value) is None:
            errors[name] = _("no such party")
        fields[name] = value
    fields["import_country"] = _country(data.get("import_country"), "import_country", errors)
    fields["export_country"] = _country(data.get("export_country"), "export_country", errors)
    fields["origin_country"] = _country(data.get("origin_country"), "origin_country", errors, required=False)
    fields["purpose_code"] = _code(data.get("purpose_code"), codes.PURPOSES, "purpose_code", errors)
    fields["source_code"] = _code(data.get("source_code"), codes.SOURCES, "source_code", errors)
    fields["foreign_permit_no"] = (data.get("foreign_permit_no") or "").strip().upper() or None
    own = current_app.config["ISSUING_COUNTRY"]
    if doc_type == "import" and fields["import_country"] not in (None, own):
        errors["import_country"] = _("an import permit of this registry is for imports into %(country)s", country=own)
    if doc_type in DOCUMENT_TYPES and doc_type != "import" and fields["export_country"] not in (None, own):
        errors["export_country"] = _("this registry issues export-side documents for %(country)s only", country=own)
    lines = _parse_lines(session, data.get("lines"), errors)
    if not errors:
        errors.update(document_rules.problems(fields, {line.appendix for line in lines}))
    if errors:
        raise ValidationFailed(_("the application has errors"), errors)
    fields["issuing_country"] = own
    return fields, lines


def create_application(actor: Actor, data: dict) -> Permit:
    """Draft a new application (by a keeper for themselves, or an officer on someone's behalf)."""
    require(actor, "permit.apply")
    with write_transaction() as session:
        fields, lines = _parse_application(session, actor, data)
        permit = Permit(state=PermitState.DRAFT, created_by_id=actor.user_id, lines=lines, **fields)
        session.add(permit)
        session.flush()
        audit.record(actor, "permit.create", "permit", permit.id, None, permit.as_audit())
    return permit


COPIED = (
    "doc_type",
    "applicant_party_id",
    "importer_party_id",
    "exporter_party_id",
    "import_country",
    "export_country",
    "origin_country",
    "purpose_code",
    "source_code",
    "foreign_permit_no",
)


def copy_application(actor: Actor, permit_id: int, replace: bool = False) -> Permit:
    """A new draft with the same parties, codes and lines. With *replace*, the draft replaces a
    cancelled permit and says so (box 5), as the EU rule for replacement documents asks."""
    require(actor, "permit.apply")
    with write_transaction() as session:
        source = _load(session, actor, permit_id, None)
        if replace and source.state != PermitState.CANCELLED:
            raise Conflict(_("only a cancelled permit can be replaced"))
        if replace and session.scalar(select(Permit.id).where(Permit.replaces_id == source.id)):
            raise Conflict(_("permit %(permit)s already has a replacement", permit=source.display_number))
        copy = Permit(
            state=PermitState.DRAFT,
            created_by_id=actor.user_id,
            issuing_country=source.issuing_country,
            **{name: getattr(source, name) for name in COPIED},
        )
        copy.lines = [
            PermitLine(
                line_no=line.line_no,
                species_id=line.species_id,
                appendix=line.appendix,
                term_code=line.term_code,
                quantity=line.quantity,
                unit_code=line.unit_code,
                description=line.description,
            )
            for line in source.lines
        ]
        if replace:
            copy.replaces_id = source.id
            copy.special_conditions = f"Replaces {source.number}, cancelled: {source.decision_note}"
        session.add(copy)
        session.flush()
        audit.record(
            actor,
            "permit.replace" if replace else "permit.copy",
            "permit",
            copy.id,
            None,
            copy.as_audit() | {"copied_from": source.id},
        )
    return copy


def _load(session, actor: Actor, permit_id: int, expected_version: int | None) -> Permit:
    permit = session.execute(lock(select(Permit).where(Permit.id == permit_id))).scalar_one_or_none()
    if permit is None or not can_see_permit(actor, permit):
        raise NotFound(_("no such permit"))
    if expected_version is not None and permit.version != expected_version:
        raise Conflict(_("the permit was changed by someone else since you opened it; reload and try again"))
    return permit


def update_application(actor: Actor, permit_id: int, data: dict, expected_version: int | None = None) -> Permit:
    """Change a draft, or an application sent back for changes."""
    require(actor, "permit.apply")
    with write_transaction() as session:
        permit = _load(session, actor, permit_id, expected_version)
        if permit.state not in EDITABLE:
            raise Conflict(
                _("an application that is %(state)s can no longer be edited", state=PERMIT.label(permit.state))
            )
        before = permit.as_audit()
        # Whoever edits, the application stays the applicant's.
        fields, lines = _parse_application(session, actor, {**data, "applicant_party_id": permit.applicant_party_id})
        for key, value in fields.items():
            setattr(permit, key, value)
        # Old lines go before new ones come in: they share (permit_id, line_no).
        permit.lines.clear()
        session.flush()
        permit.lines = lines
        session.flush()
        audit.record(actor, "permit.update", "permit", permit.id, before, permit.as_audit())
    return permit


def fire(
    actor: Actor, permit_id: int, event: str, data: dict | None = None, expected_version: int | None = None
) -> Permit:
    """Move a permit along its workflow (submit, withdraw, request_changes, approve, refuse, issue, cancel,
    close, expire). Endorsement at the border has its own use case.

    :raises NotFound, Forbidden, Conflict, ValidationFailed: as for animals.
    """
    data = dict(data or {})
    t = PERMIT.transitions.get(event)
    if t is None or event in ("create", "endorse", "endorse_final"):
        raise ValidationFailed(_("unknown action %(event)s", event=repr(event)), {"event": _("not a workflow action")})
    require(actor, t.capability)
    today = clock.today()
    with write_transaction() as session:
        permit = _load(session, actor, permit_id, expected_version)
        before = permit.as_audit()
        move(session, actor, permit, event, data, today)
        reason = (data.get("reason") or "").strip()
        if reason:
            permit.decision_note = reason
        if event == "submit":
            permit.submitted_at = utcnow()
        elif event == "approve":
            permit.approved_by_id = actor.user_id
        elif event == "issue":
            _issue(permit, actor, data, today)
        session.flush()
        after = permit.as_audit()
        if event == "issue":
            # The issued document is fixed from now on: its fingerprint goes on record.
            after["pdf_sha256"] = pdf.sha256(document(permit))
        audit.record(actor, f"permit.{event}", "permit", permit.id, before, after)
    return permit


def document(permit: Permit) -> bytes:
    """The issued permit as a PDF (the same bytes every time)."""
    if permit.number is None:
        raise Conflict(_("only an issued permit has a document"))
    return pdf.render_permit(permit, current_app.config["AUTHORITY"], current_app.config["PUBLIC_BASE_URL"])


def move(session, actor: Actor, permit: Permit, event: str, data: dict, today: date) -> None:
    """Apply *event* to a loaded, locked permit: the machine decides, or Conflict says why not."""
    t = allowed(PERMIT, permit.state, event, Context(actor, permit, data, today, _editors(session, permit)))
    permit.state = t.target


def load(session, actor: Actor, permit_id: int, expected_version: int | None = None) -> Permit:
    """The permit, locked for the transaction, or NotFound outside the actor's scope."""
    return _load(session, actor, permit_id, expected_version)


def available_actions(actor: Actor, permit: Permit, events) -> list:
    """The workflow actions *actor* could take on *permit* now: declared from its state, allowed
    to the role, and not already refused by a guard that does not wait for the user's input."""
    ctx = Context(actor, permit, {}, clock.today(), _editors(db.session, permit))
    return [
        t
        for t in PERMIT.available(permit.state)
        if t.event in events and has_capability(actor, t.capability) and PERMIT.blocked(t, ctx) is None
    ]


def _issue(permit: Permit, actor: Actor, data: dict, today: date) -> None:
    permit.number = permit_number(permit.issuing_country, today.year)
    permit.security_token = secrets.token_urlsafe(24)
    permit.valid_from = today
    permit.valid_until = add_months(today, DOCUMENT_TYPES[permit.doc_type]) - timedelta(days=1)
    permit.issued_by_id, permit.issued_at = actor.user_id, utcnow()
    conditions = (data.get("special_conditions") or "").strip()
    if conditions:
        permit.special_conditions = conditions


def expire_due(actor: Actor) -> list[str]:
    """Expire every issued or partly used permit whose validity is over, each in its own transaction."""
    due = db.session.scalars(
        select(Permit.id).where(
            Permit.state.in_((PermitState.ISSUED, PermitState.PARTLY_USED)), Permit.valid_until < clock.today()
        )
    ).all()
    return [fire(actor, permit_id, "expire").number for permit_id in due]
