"""What every animal use case shares: the guards' context, locked loading, who keeps the animal
where (owner and holder periods), and its timeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from registry import clock
from registry.i18n import _
from registry.machines import ANIMAL
from registry.models import Animal, AnimalEvent, Facility, Keeping, Permit
from registry.permissions import Actor, can_see_animal
from registry.services import audit
from registry.services.context import load_locked, lock
from registry.services.facilities import occupancy


@dataclass
class Context:
    """What the animal machine's guards look at (see registry.machines.animal)."""

    actor: Actor
    animal: Animal | None
    #: The use case's input (a command from registry.commands.animals); None when only asking
    #: which events are open, before anything is typed.
    command: Any
    today: date
    species_id: int | None = None
    facility: Facility | None = None
    occupancy: int = 0
    parents: dict = field(default_factory=dict)
    permit: Permit | None = None
    #: Animals of the species already exported on ctx.permit.
    permit_used: int = 0
    disease_suspected: bool = False
    #: The state the animal was seized from.
    seized_from: str | None = None
    #: The event comes from a transfer both keepers agreed to.
    handshake: bool = False
    #: A ministry officer approved giving the carcass to a museum or research institute.
    donation_approved: bool = False


@dataclass
class EventContext(Context):
    """The context of an event on an existing animal: the animal is always there."""

    animal: Animal


def load_for_update(session, actor: Actor, animal_id: int, expected_version: int | None, scoped: bool = True) -> Animal:
    """The animal, row-locked; 404 outside the actor's scope, 409 when it changed since *expected_version*."""
    can_see = can_see_animal if scoped else None
    return load_locked(session, actor, ANIMAL, Animal, can_see, Animal.id == animal_id, expected_version)


def locked_facility(session, facility_id: int | None, errors: dict, name: str = "facility_id") -> Facility | None:
    """The facility, locked: its occupancy is counted next, and two writers must not both take the
    last place. An unknown id is recorded in *errors* under *name*."""
    if facility_id is None:
        return None
    facility = session.execute(lock(select(Facility).where(Facility.id == facility_id))).scalar_one_or_none()
    if facility is None:
        errors[name] = _("no such facility")
    return facility


def locked_permit(session, permit_id: int) -> Permit | None:
    """The permit, locked: its quantities are counted and it must not be cancelled meanwhile."""
    return session.execute(lock(select(Permit).where(Permit.id == permit_id))).scalar_one_or_none()


def with_facility(ctx: Context, session, facility: Facility | None) -> None:
    """Put *facility* and the animals of the species it keeps already into the guards' context."""
    ctx.facility = facility
    if facility is not None and ctx.species_id is not None:
        ctx.occupancy = occupancy(
            session, facility.id, ctx.species_id, excluding=ctx.animal.id if ctx.animal is not None else None
        )


def _keep(
    session, animal: Animal, relation: str, party_id: int | None, facility_id: int | None, since: date, event
) -> None:
    """Close the open owner/holder period if it changes, and open the new one."""
    current = session.scalar(
        select(Keeping).where(Keeping.animal_id == animal.id, Keeping.relation == relation, Keeping.until.is_(None))
    )
    if current is not None:
        if current.party_id == party_id and (relation == "owner" or current.facility_id == facility_id):
            return
        current.until = since
    if party_id is not None:
        session.add(
            Keeping(
                animal_id=animal.id,
                relation=relation,
                party_id=party_id,
                facility_id=facility_id if relation == "holder" else None,
                since=since,
                event_id=event.id,
            )
        )


def place(session, animal: Animal, event, owner_id: int | None, facility: Facility | None, when: date) -> None:
    """Give the animal a new owner and/or facility (whose holder becomes its holder), with their periods."""
    if owner_id is not None:
        animal.owner_party_id = owner_id
    if facility is not None:
        animal.facility_id = facility.id
        animal.holder_party_id = facility.holder_party_id
    session.flush()
    _keep(session, animal, "owner", animal.owner_party_id, None, when, event)
    _keep(session, animal, "holder", animal.holder_party_id, animal.facility_id, when, event)


def release(session, animal: Animal, event, when: date) -> None:
    """Nobody holds an exported animal or a disposed carcass; the owner stays on record."""
    animal.facility_id = None
    animal.holder_party_id = None
    _keep(session, animal, "holder", None, None, when, event)


def timeline(
    session, actor: Actor, animal: Animal, event: str, from_state: str | None, when: date, details: dict,
    permit_id: int | None = None,
) -> AnimalEvent:  # fmt: skip
    """Append the event to the animal's timeline (the record people read; the audit log is the proof)."""
    row = AnimalEvent(
        animal_id=animal.id,
        event=event,
        from_state=from_state,
        to_state=animal.state,
        occurred_on=when,
        recorded_at=clock.now(),
        actor_id=actor.user_id,
        actor_name=actor.username,
        permit_id=permit_id,
        details=audit.jsonable(details),
    )
    session.add(row)
    session.flush()
    return row
