"""An animal's marks (microchips, rings, tags, photos): attached, retired, never reused while active."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select

from registry import clock
from registry.commands.arrivals import NewIdentifier
from registry.i18n import _
from registry.machines import ANIMAL
from registry.models import Animal, Identifier
from registry.permissions import Actor, can_see_animal, require
from registry.services import audit
from registry.services.context import write_transaction
from registry.services.errors import Conflict, NotFound
from registry.services.keeping import load_for_update


def active_microchips(session, values: Iterable[str]) -> set[str]:
    """Those of *values* that are microchips active on an animal (one query)."""
    wanted = set(values)
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(Identifier.value).where(
                Identifier.kind == "microchip", Identifier.value.in_(wanted), Identifier.active
            )
        )
    )


def record_attached(actor: Actor, ident: Identifier, *also: tuple[str, int]) -> None:
    """The entry of a mark put on an animal: it concerns the animal too (and whatever else *also* names)."""
    audit.record(
        actor,
        "animal.identifier_add",
        "identifier",
        ident.id,
        None,
        ident.as_audit(),
        subjects=[("animal", ident.animal_id), *also],
    )


def attach(
    session, animal: Animal, mark: NewIdentifier, applied_on: date | None = None, actor: Actor | None = None
) -> Identifier:
    """Put *mark* on *animal*; a microchip active on another animal is refused (409).

    The refusal names the other animal's chip only to an *actor* who may see that animal (officers,
    its keeper): anyone else is told the number cannot be recorded, not that a chip of that number
    exists elsewhere (no chip oracle for keepers)."""
    if mark.kind == "microchip":
        holders = session.scalars(
            select(Animal)
            .join(Identifier)
            .where(Identifier.kind == "microchip", Identifier.value == mark.value, Identifier.active)
        ).all()
        if holders and (actor is None or all(can_see_animal(actor, a) for a in holders)):
            raise Conflict(
                _("microchip already in use"),
                {"identifiers": _("microchip %(value)s is already active on another animal", value=mark.value)},
            )
        if holders:
            raise Conflict(
                _("the microchip cannot be recorded"),
                {"identifiers": _("microchip %(value)s cannot be recorded: ask the regional office", value=mark.value)},
            )
    ident = Identifier(
        animal_id=animal.id, kind=mark.kind, value=mark.value, applied_on=mark.applied_on or applied_on, note=mark.note
    )
    session.add(ident)
    session.flush()
    return ident


def add_identifier(actor: Actor, animal_id: int, mark: NewIdentifier) -> Identifier:
    require(actor, "animal.identify")
    with write_transaction() as session:
        animal = load_for_update(session, actor, animal_id, None)
        if animal.state in ANIMAL.terminal:
            raise Conflict(
                _(
                    "the animal is in the final state '%(state)s'; its record is closed",
                    state=ANIMAL.label(animal.state),
                )
            )
        ident = attach(session, animal, mark, actor=actor)
        record_attached(actor, ident)
    return ident


def retire_identifier(
    actor: Actor, identifier_id: int, retired_on: date | None = None, note: str | None = None
) -> Identifier:
    """Mark an identifier as no longer on the animal (lost ring, failed chip); it stays in the history."""
    require(actor, "animal.identify")
    with write_transaction() as session:
        ident = session.get(Identifier, identifier_id)
        if ident is None or not can_see_animal(actor, ident.animal):
            raise NotFound(_("no such identifier"))
        if not ident.active:
            raise Conflict(_("the identifier is already retired"))
        before = ident.as_audit()
        ident.active, ident.retired_on, ident.note = False, retired_on or clock.today(), note or ident.note
        session.flush()
        audit.record(
            actor,
            "animal.identifier_retire",
            "identifier",
            ident.id,
            before,
            ident.as_audit(),
            subjects=[("animal", ident.animal_id)],
        )
    return ident
