"""How animals come onto the register: declared on an import permit line, or born in captivity."""

from __future__ import annotations

from datetime import date

from flask import current_app
from sqlalchemy import func, select

from registry import clock
from registry.commands.arrivals import Birth, Declaration, NewIdentifier
from registry.i18n import _
from registry.machines import ANIMAL
from registry.models import Animal, AnimalEvent, Identifier, PermitLine
from registry.permissions import Actor, can_see_animal, can_see_permit, require
from registry.services import audit
from registry.services.context import write_transaction
from registry.services.errors import NotFound, ValidationFailed, refusals_as_conflict
from registry.services.identifiers import attach, record_attached
from registry.services.keeping import Context, locked_facility, locked_permit, place, timeline, with_facility
from registry.services.numbers import registry_number


def _new_animal(
    session, actor: Actor, marks: tuple[NewIdentifier, ...], when: date, **fields
) -> tuple[Animal, list[Identifier]]:
    animal = Animal(registry_no=registry_number(current_app.config["ISSUING_COUNTRY"], when.year), **fields)
    session.add(animal)
    session.flush()
    return animal, [attach(session, animal, mark, when, actor) for mark in marks]


def _record_new(actor: Actor, animal: Animal, row: AnimalEvent, marks: list[Identifier], subjects: list) -> None:
    """The animal's creation entry (also concerning *subjects*), then one per mark: each mark is a row
    of its own, retired later by its own entry, so its creation is recorded as attaching one to a
    known animal is."""
    audit.record(
        actor,
        f"animal.{row.event}",
        "animal",
        animal.id,
        None,
        animal.as_audit()
        | {
            "identifiers": [[m.kind, m.value] for m in marks],
            "event": row.details,
            "occurred_on": row.occurred_on,
            "event_id": row.id,
        },
        subjects=subjects,
    )
    for ident in marks:
        record_attached(actor, ident)


def register_birth(actor: Actor, birth: Birth) -> Animal:
    """A birth or hatching in captivity: a new animal, linked to its parents, owned by the mother's
    (else the father's, else the facility holder's) owner."""
    require(actor, ANIMAL.transitions["birth"].capability)
    errors: dict[str, str] = {}
    with write_transaction() as session:
        # The new row refers to its parents: take the key-share lock that insert would take, before
        # the facility's (context.LOCK_ORDER: animals, then facility).
        parent_ids = sorted(i for i in (birth.sire_id, birth.dam_id) if i is not None)
        session.execute(
            select(Animal.id)
            .where(Animal.id.in_(parent_ids))
            .order_by(Animal.id)
            .with_for_update(read=True, key_share=True)
        )
        facility = locked_facility(session, birth.facility_id, errors)
        parents = {}
        for word, parent_id in (("sire", birth.sire_id), ("dam", birth.dam_id)):
            if parent_id is not None:
                parent = session.get(Animal, parent_id)
                if parent is None or not can_see_animal(actor, parent):
                    errors[f"{word}_id"] = _("no such animal")
                else:
                    parents[word] = parent
        if errors:
            raise ValidationFailed(_("the birth cannot be recorded"), errors)
        ctx = Context(actor, None, birth, clock.today(), species_id=birth.species_id, parents=parents)
        with_facility(ctx, session, facility)
        with refusals_as_conflict():
            t = ANIMAL.allowed(None, "birth", ctx)
        assert facility is not None  # Birth.facility_id is an id, and an unknown one was refused above
        parent = parents.get("dam") or parents.get("sire")
        animal, marks = _new_animal(
            session,
            actor,
            birth.identifiers,
            birth.birth_date,
            species_id=birth.species_id,
            state=t.target,
            sex=birth.sex,
            name=birth.name,
            birth_date=birth.birth_date,
            birth_date_estimated=birth.birth_date_estimated,
            source_code=birth.source_code,
            origin_country=current_app.config["ISSUING_COUNTRY"],
            sire_id=birth.sire_id,
            dam_id=birth.dam_id,
            owner_party_id=parent.owner_party_id if parent else facility.holder_party_id,
        )
        details = {"sire_id": birth.sire_id, "dam_id": birth.dam_id, "facility_id": facility.id}
        row = timeline(session, actor, animal, "birth", None, birth.birth_date, details)
        place(session, animal, row, None, facility, birth.birth_date)
        # A birth is in the parents' histories too.
        _record_new(
            actor, animal, row, marks, [("animal", birth.sire_id), ("animal", birth.dam_id), ("facility", facility.id)]
        )
    return animal


def declare(actor: Actor, permit_line_id: int, declaration: Declaration) -> Animal:
    """Declare one live animal on a permit line before it crosses the border."""
    require(actor, ANIMAL.transitions["declare"].capability)
    today = clock.today()
    errors: dict[str, str] = {}
    with write_transaction() as session:
        line = session.get(PermitLine, permit_line_id)
        if line is None or not can_see_permit(actor, line.permit):
            raise NotFound(_("no such permit line"))
        permit = locked_permit(session, line.permit_id)
        assert permit is not None  # a line belongs to a permit (foreign key)
        if line.term_code != "LIV":
            errors["permit_line_id"] = _("only live animals (term LIV) are followed individually")
        declared = session.scalar(select(func.count(Animal.id)).where(Animal.permit_line_id == line.id))
        if declared >= line.quantity:
            errors["permit_line_id"] = _(
                "the line's quantity (%(quantity)s) is already fully declared", quantity=f"{line.quantity:f}"
            )
        if errors:
            raise ValidationFailed(_("the animal cannot be declared"), errors)
        ctx = Context(actor, None, declaration, today, species_id=line.species_id, permit=permit)
        with refusals_as_conflict():
            t = ANIMAL.allowed(None, "declare", ctx)
        animal, marks = _new_animal(
            session,
            actor,
            declaration.identifiers,
            today,
            species_id=line.species_id,
            state=t.target,
            sex=declaration.sex,
            birth_date=declaration.birth_date,
            birth_date_estimated=declaration.birth_date_estimated,
            source_code=permit.source_code,
            origin_country=permit.origin_country or permit.export_country,
            permit_line_id=line.id,
            owner_party_id=permit.importer_party_id or permit.applicant_party_id,
        )
        row = timeline(session, actor, animal, "declare", None, today, {"permit_line_id": line.id}, permit.id)
        _record_new(actor, animal, row, marks, [("permit", permit.id), ("permit_line", line.id)])
    return animal
