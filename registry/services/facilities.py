"""Keeping facilities through their lifecycle (registry.machines.facility).

A new facility comes by ``apply`` (a keeper's application) or ``register_facility`` (an officer
records one already registered); every later action goes through ``record_facility_event``, in the
same order as an animal's events: capability (403) -> load in scope, locked (404, 409 when stale)
-> (state, event) declared by the lifecycle (409) -> what the action needs from the database (422
for unknown species) -> guards (409) -> change -> audit entry -> commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from registry import clock
from registry.commands import facilities as commands
from registry.i18n import _
from registry.machines import FACILITY, AnimalState
from registry.models import Animal, Facility, FacilitySpecies, Inspection, Party, Species
from registry.permissions import Actor, can_see_facility, has_capability, party_bound, require
from registry.services import audit
from registry.services.context import changed, load_locked, write_transaction
from registry.services.errors import ValidationFailed, refusals_as_conflict
from registry.services.numbers import next_serial

#: States in which an animal occupies a place in its facility.
OCCUPYING = (AnimalState.IN_CAPTIVITY, AnimalState.SEIZED)


@dataclass
class Context:
    """What the facility machine's guards look at (see registry.machines.facility)."""

    actor: Actor
    facility: Facility
    #: The action's input; None when only asking which actions are open, before anything is typed.
    command: Any
    occupancy: dict = field(default_factory=dict)


def occupancy(session, facility_id: int, species_id: int, excluding: int | None = None) -> int:
    """Animals of a species currently kept in a facility."""
    q = (
        select(func.count())
        .select_from(Animal)
        .where(Animal.facility_id == facility_id, Animal.species_id == species_id, Animal.state.in_(OCCUPYING))
    )
    if excluding is not None:
        q = q.where(Animal.id != excluding)
    return session.scalar(q)


def _kept(session, facility_id: int) -> dict[int, int]:
    return dict(
        session.execute(
            select(Animal.species_id, func.count())
            .where(Animal.facility_id == facility_id, Animal.state.in_(OCCUPYING))
            .group_by(Animal.species_id)
        ).all()
    )


def _unknown_species(session, allowances: tuple[commands.Allowance, ...], errors: dict) -> None:
    for allowance in allowances:
        if session.get(Species, allowance.species_id) is None:
            errors["allowances"] = _("no species with id %(id)s", id=allowance.species_id)


def _rows(allowances: tuple[commands.Allowance, ...]) -> list[FacilitySpecies]:
    return [FacilitySpecies(species_id=a.species_id, capacity=a.capacity) for a in allowances]


def _create(actor: Actor, command: commands.Application) -> Facility:
    t = FACILITY.transitions[command.EVENT]
    require(actor, t.capability)
    # A keeper applies for their own party, whatever they send.
    holder = actor.party_id if party_bound(actor) else command.holder_party_id
    with write_transaction() as session:
        with refusals_as_conflict():
            FACILITY.transition(None, command.EVENT)
        errors: dict[str, str] = {}
        _unknown_species(session, command.allowances, errors)
        if holder is None or session.get(Party, holder) is None:
            errors["holder_party_id"] = _("no such party")
        if errors:
            raise ValidationFailed(_("the facility cannot be recorded"), errors)
        facility = Facility(
            registration_no=getattr(command, "registration_no", None),
            name=command.name,
            holder_party_id=holder,
            address=command.address,
            status=t.target,
            allowances=_rows(command.allowances),
        )
        session.add(facility)
        session.flush()
        audit.record(actor, f"facility.{command.EVENT}", "facility", facility.id, None, facility.as_audit())
    return facility


def apply(actor: Actor, command: commands.Application) -> Facility:
    """A keeper applies to register a facility (an officer may apply on a keeper's behalf)."""
    return _create(actor, command)


def register_facility(actor: Actor, command: commands.Registration) -> Facility:
    """Record a facility that is already registered, with its number."""
    return _create(actor, command)


def kept(facility_id: int) -> dict[int, int]:
    """Animals kept in a facility now, by species id."""
    from registry.extensions import db

    return _kept(db.session, facility_id)


def open_events(actor: Actor, facility: Facility) -> list:
    """The actions *actor* could take on *facility* now: declared from its state, allowed to the
    role, and no guard against them that does not wait for the user's input."""
    ctx = Context(actor, facility, None, kept(facility.id))
    return [
        t
        for t in FACILITY.available(facility.status)
        if t.event in commands.ACTION_SCHEMAS
        and has_capability(actor, t.capability)
        and FACILITY.blocked(t, ctx) is None
    ]


def _registration_number() -> str:
    year = clock.today().year
    return f"{current_app.config['ISSUING_COUNTRY']}-FAC-{year}-{next_serial('facility', year):04d}"


def record_facility_event(actor: Actor, facility_id: int, command: commands.FacilityAction) -> Facility:
    """Record *command* (one action of the facility lifecycle) on an existing facility.

    :raises Forbidden: the actor's role may not take the action.
    :raises NotFound: the facility is not visible to the actor.
    :raises Conflict: the action is illegal in the facility's state, a guard refused it, or the
        facility changed since ``command.version``.
    :raises ValidationFailed: a species the new capacities name does not exist.
    """
    event = command.EVENT
    require(actor, FACILITY.transitions[event].capability)
    with write_transaction() as session:
        facility = load_locked(
            session, actor, FACILITY, Facility, can_see_facility, Facility.id == facility_id, command.version
        )
        with refusals_as_conflict():
            t = FACILITY.transition(facility.status, event)
        if isinstance(command, commands.ChangeCapacity):
            errors: dict[str, str] = {}
            _unknown_species(session, command.allowances, errors)
            if errors:
                raise ValidationFailed(_("the action has errors"), errors)
        with refusals_as_conflict():
            FACILITY.check_guards(t, facility.status, Context(actor, facility, command, _kept(session, facility.id)))
        before = facility.as_audit()
        facility.status = t.target
        changed(facility, "status")
        if command.reason:
            facility.decision_note = command.reason
        after_extra = {}
        if isinstance(command, commands.Approve) and facility.registration_no is None:
            facility.registration_no = _registration_number()
        elif isinstance(command, commands.ChangeCapacity):
            facility.allowances = _rows(command.allowances)
        elif isinstance(command, commands.Inspect):
            inspection = Inspection(
                inspected_on=command.inspected_on or clock.today(),
                result=command.result,
                findings=command.findings,
                next_due=command.next_due,
                officer_name=actor.username,
            )
            facility.inspections.append(inspection)
            after_extra["inspection"] = {
                "result": command.result,
                "findings": command.findings,
                "next_due": command.next_due,
            }
        session.flush()
        audit.record(actor, f"facility.{event}", "facility", facility.id, before, facility.as_audit() | after_extra)
    return facility
