"""Permit applications: drafting one, editing it, and copying a permit into a new draft.

The application arrives checked in shape (``commands.permits.Application``); here are the rules
that need the database or the registry: the parties and species exist, a keeper applies for their
own party, this registry's own country is on the right side, and the CITES document rules, which
read the species' appendices.
"""

from __future__ import annotations

import dataclasses

from flask import current_app
from sqlalchemy import select

from registry import document_rules
from registry.commands.permits import Application, Copy
from registry.i18n import _
from registry.machines import PERMIT, PermitState
from registry.models import Party, Permit, PermitLine, Species
from registry.permissions import Actor, party_bound, require
from registry.services import audit, foreign_documents
from registry.services.context import write_transaction
from registry.services.errors import Conflict, ValidationFailed
from registry.services.permits import locked

#: States in which the applicant may still change the application.
EDITABLE = (PermitState.DRAFT, PermitState.CHANGES_REQUESTED)
PARTIES = ("applicant_party_id", "importer_party_id", "exporter_party_id")
#: What a copy takes over from its source.
COPIED = (
    "doc_type",
    *PARTIES,
    "import_country",
    "export_country",
    "origin_country",
    "purpose_code",
    "source_code",
    "foreign_permit_no",
    "foreign_permit_date",
    "origin_permit_no",
    "origin_permit_date",
    "reexport_country",
    "reexport_permit_no",
    "reexport_permit_date",
)
#: What a copy takes over from each line of its source.
COPIED_LINE = (
    "line_no",
    "species_id",
    "appendix",
    "term_code",
    "quantity",
    "unit_code",
    "description",
    "source_code",
    "purpose_code",
    "origin_country",
    "operation_no",
    "acquired_on",
)


def _content(session, actor: Actor, application: Application) -> tuple[dict, list[PermitLine]]:
    """The permit's fields and lines from *application*, or ValidationFailed naming every problem."""
    applicant = application.applicant_party_id
    if party_bound(actor):
        if applicant not in (None, actor.party_id):
            raise ValidationFailed(
                _("the application has errors"), {"applicant_party_id": _("a keeper applies for their own party only")}
            )
        applicant = actor.party_id
    fields = {name: getattr(application, name) for name in COPIED if name != "applicant_party_id"} | {
        "applicant_party_id": applicant
    }
    errors: dict[str, str] = {}
    if applicant is None:
        errors["applicant_party_id"] = _("required")
    own = current_app.config["ISSUING_COUNTRY"]
    parties = {}
    for name in PARTIES:
        if fields[name] is not None:
            parties[name] = session.get(Party, fields[name])
            if parties[name] is None:
                errors[name] = _("no such party")
    errors.update(_sides(actor, application.doc_type, fields, parties, own))
    if application.doc_type == "import" and application.import_country != own:
        errors["import_country"] = _("an import permit of this registry is for imports into %(country)s", country=own)
    if application.doc_type != "import" and application.export_country != own:
        errors["export_country"] = _("this registry issues export-side documents for %(country)s only", country=own)
    lines, facts = [], []
    for i, line in enumerate(application.lines):
        species = session.get(Species, line.species_id)
        if species is None:
            errors[f"lines.{i}.species_id"] = _("no such species")
            continue
        # The population's appendix (split listings) is that of the specimen's origin. An import's
        # exporter may be re-exporting (a Kenyan elephant via South Africa), so its country cannot
        # stand in: a split-listed import names its origin. An export-side document's specimens
        # come from here unless it says otherwise.
        origin = line.origin_country or application.origin_country
        if origin is None and species.populations:
            if application.doc_type == "import":
                errors[f"lines.{i}.origin_country"] = _(
                    "%(species)s is listed by population: give the country of origin (box 12)",
                    species=species.scientific_name,
                )
            origin = own
        appendix = species.appendix_for(origin)
        lines.append(
            PermitLine(
                line_no=i + 1,
                species_id=species.id,
                appendix=appendix,
                term_code=line.term_code,
                quantity=line.quantity,
                unit_code=line.unit_code,
                description=line.description,
                # Stored only where the line differs from the application: None reads the application's.
                source_code=_own(line.source_code, application.source_code),
                purpose_code=_own(line.purpose_code, application.purpose_code),
                origin_country=_own(line.origin_country, application.origin_country),
                operation_no=line.operation_no,
                acquired_on=line.acquired_on,
            )
        )
        facts.append(
            document_rules.Line(
                appendix=appendix,
                source=line.source_code or application.source_code,
                purpose=line.purpose_code or application.purpose_code,
                acquired_on=line.acquired_on,
                listed_on=species.listed_on,
                listed_by_us=species.listed_by(own),
            )
        )
    if not errors:
        errors.update(document_rules.problems(_facts(application, parties, tuple(facts))))
    if errors:
        raise ValidationFailed(_("the application has errors"), errors)
    return fields | {"issuing_country": own}, lines


def _own(value: str | None, default: str | None) -> str | None:
    """A line's own code, or None when it is the application's."""
    return None if value == default else value


def _facts(application: Application, parties: dict, lines: tuple) -> document_rules.Application:
    """What the document rules read: the application's boxes, the parties' countries, the lines."""
    boxes = {
        f.name: getattr(application, f.name)
        for f in dataclasses.fields(document_rules.Application)
        if f.name != "lines" and hasattr(application, f.name)
    }

    def country(name: str) -> str | None:
        party = parties.get(name)
        return party.country if party is not None else None

    return document_rules.Application(
        **boxes,
        lines=lines,
        importer_country=country("importer_party_id"),
        exporter_country=country("exporter_party_id"),
    )


def _sides(actor: Actor, doc_type: str, fields: dict, parties: dict, own: str) -> dict[str, str]:
    """Who stands on each side: a keeper names its own party on this country's side (importer of
    an import, exporter of an export-side document), and the other side is a foreign party."""
    domestic, foreign = (
        ("importer_party_id", "exporter_party_id")
        if doc_type == "import"
        else ("exporter_party_id", "importer_party_id")
    )
    errors = {}
    if party_bound(actor) and fields[domestic] not in (None, actor.party_id):
        errors[domestic] = _("a keeper names only their own party on this side")
    party = parties.get(foreign)
    if party is not None and party.country == own:
        errors[foreign] = _("the party on the other side is a foreign party, not one in %(country)s", country=own)
    return errors


def _with_warning(permit: Permit) -> dict:
    """The permit's audit form, with the ledger's warning when its foreign document is cited elsewhere."""
    warning = permit.foreign_document_warning
    return permit.as_audit() | ({"foreign_document_warning": warning} if warning else {})


def create_application(actor: Actor, application: Application) -> Permit:
    """Draft a new application (by a keeper for themselves, or an officer on someone's behalf)."""
    require(actor, "permit.apply")
    with write_transaction() as session:
        fields, lines = _content(session, actor, application)
        permit = Permit(state=PermitState.DRAFT, created_by_id=actor.user_id, lines=lines, **fields)
        session.add(permit)
        session.flush()
        foreign_documents.note(session, permit)
        audit.record(actor, "permit.create", "permit", permit.id, None, _with_warning(permit))
    return permit


def update_application(actor: Actor, permit_id: int, application: Application) -> Permit:
    """Change a draft, or an application sent back for changes (``application.version``: the one read)."""
    require(actor, "permit.apply")
    with write_transaction() as session:
        permit = locked(session, actor, permit_id, application.version)
        if permit.state not in EDITABLE:
            raise Conflict(
                _("an application that is %(state)s can no longer be edited", state=PERMIT.label(permit.state))
            )
        before = permit.as_audit()
        # Whoever edits, the application stays the applicant's.
        application = dataclasses.replace(application, applicant_party_id=permit.applicant_party_id)
        fields, lines = _content(session, actor, application)
        for key, value in fields.items():
            setattr(permit, key, value)
        # Old lines go before new ones come in: they share (permit_id, line_no).
        permit.lines.clear()
        session.flush()
        permit.lines = lines
        session.flush()
        foreign_documents.note(session, permit)
        audit.record(actor, "permit.update", "permit", permit.id, before, _with_warning(permit))
    return permit


def copy_application(actor: Actor, permit_id: int, command: Copy) -> Permit:
    """A new draft with the same parties, codes and lines. With ``command.replace``, the draft
    replaces a cancelled permit and says so (box 5), as the EU rule for replacement documents asks."""
    require(actor, "permit.apply")
    with write_transaction() as session:
        source = locked(session, actor, permit_id)
        if command.replace and source.state != PermitState.CANCELLED:
            raise Conflict(_("only a cancelled permit can be replaced"))
        if command.replace and session.scalar(select(Permit.id).where(Permit.replaces_id == source.id)):
            raise Conflict(_("permit %(permit)s already has a replacement", permit=source.display_number))
        copy = Permit(
            state=PermitState.DRAFT,
            created_by_id=actor.user_id,
            issuing_country=source.issuing_country,
            **{name: getattr(source, name) for name in COPIED},
        )
        copy.lines = [PermitLine(**{name: getattr(line, name) for name in COPIED_LINE}) for line in source.lines]
        if command.replace:
            copy.replaces_id = source.id
            copy.special_conditions = f"Replaces {source.number}, cancelled: {source.decision_note}"
        session.add(copy)
        session.flush()
        foreign_documents.note(session, copy)
        audit.record(
            actor,
            "permit.replace" if command.replace else "permit.copy",
            "permit",
            copy.id,
            None,
            _with_warning(copy) | {"copied_from": source.id},
            subjects=[("permit", source.id)],
        )
    return copy
