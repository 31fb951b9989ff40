"""Keeping facilities through their lifecycle (registry.machines.facility)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from sqlalchemy import func, select

from registry import clock
from registry.i18n import _
from registry.machines import FACILITY, AnimalState
from registry.models import INSPECTION_RESULTS, Animal, Facility, FacilitySpecies, Inspection, Party, Species
from registry.permissions import Actor, can_see_facility, has_capability, party_bound, require
from registry.services import audit
from registry.services.context import lock, write_transaction
from registry.services.errors import Conflict, NotFound, ValidationFailed, allowed
from registry.services.numbers import next_serial

#: States in which an animal occupies a place in its facility.
OCCUPYING = (AnimalState.IN_CAPTIVITY, AnimalState.SEIZED)


@dataclass
class Context:
    actor: Actor
    facility: Facility
    data: dict
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


def _allowances(session, raw, errors: dict) -> dict[int, int]:
    result = {}
    for species_id, capacity in (raw or {}).items():
        try:
            species_id, capacity = int(species_id), int(capacity)
        except (TypeError, ValueError):
            errors["allowances"] = _("species ids with whole-number capacities")
            continue
        if capacity < 1:
            errors["allowances"] = _("each capacity is 1 or more")
        elif session.get(Species, species_id) is None:
            errors["allowances"] = _("no species with id %(id)s", id=species_id)
        result[species_id] = capacity
    if not result and "allowances" not in errors:
        errors["allowances"] = _("at least one species with its capacity")
    return result


def _create(actor: Actor, event: str, data: dict) -> Facility:
    t = FACILITY.transitions[event]
    require(actor, t.capability)
    errors: dict[str, str] = {}
    for name in ("name", "address"):
        if not (data.get(name) or "").strip():
            errors[name] = _("required")
    holder = actor.party_id if party_bound(actor) else data.get("holder_party_id")
    registration_no = (data.get("registration_no") or "").strip() or None
    if event == "register" and not registration_no:
        errors["registration_no"] = _("required")
    with write_transaction() as session:
        allowances = _allowances(session, data.get("allowances"), errors)
        if holder is None or session.get(Party, holder) is None:
            errors["holder_party_id"] = _("no such party")
        if errors:
            raise ValidationFailed(_("the facility cannot be recorded"), errors)
        facility = Facility(
            registration_no=registration_no,
            name=data["name"].strip(),
            holder_party_id=holder,
            address=data["address"].strip(),
            status=t.target,
            allowances=[FacilitySpecies(species_id=s, capacity=c) for s, c in allowances.items()],
        )
        session.add(facility)
        session.flush()
        audit.record(actor, f"facility.{event}", "facility", facility.id, None, facility.as_audit())
    return facility


def apply(actor: Actor, data: dict) -> Facility:
    """A keeper applies to register a facility (an officer may apply on a keeper's behalf)."""
    return _create(actor, "apply", data)


def register_facility(
    actor: Actor, registration_no: str, name: str, holder_party_id: int, address: str, allowances: dict[int, int]
) -> Facility:
    """Record a facility that is already registered, with its number."""
    return _create(
        actor,
        "register",
        {
            "registration_no": registration_no,
            "name": name,
            "address": address,
            "holder_party_id": holder_party_id,
            "allowances": allowances,
        },
    )


def kept(facility_id: int) -> dict[int, int]:
    """Animals kept in a facility now, by species id."""
    from registry.extensions import db

    return _kept(db.session, facility_id)


def available_actions(actor: Actor, facility: Facility, events) -> list:
    """The actions among *events* that *actor* could take on *facility* now."""
    ctx = Context(actor, facility, {}, kept(facility.id))
    return [
        t
        for t in FACILITY.available(facility.status)
        if t.event in events and has_capability(actor, t.capability) and FACILITY.blocked(t, ctx) is None
    ]


def fire(
    actor: Actor, facility_id: int, event: str, data: dict | None = None, expected_version: int | None = None
) -> Facility:
    """resubmit, request_changes, approve, refuse, change_capacity, inspect or close."""
    data = dict(data or {})
    t = FACILITY.transitions.get(event)
    if t is None or t.creates:
        raise ValidationFailed(_("unknown action '%(action)s'", action=event), {"action": _("not a facility action")})
    require(actor, t.capability)
    with write_transaction() as session:
        facility = session.execute(lock(select(Facility).where(Facility.id == facility_id))).scalar_one_or_none()
        if facility is None or not can_see_facility(actor, facility):
            raise NotFound(_("no such facility"))
        if expected_version is not None and facility.version != expected_version:
            raise Conflict(_("the facility was changed by someone else; reload and try again"))
        errors: dict[str, str] = {}
        if event == "change_capacity":
            data["allowances"] = _allowances(session, data.get("allowances"), errors)
        if event == "inspect" and data.get("result") not in INSPECTION_RESULTS:
            errors["result"] = _("one of %(values)s", values=", ".join(INSPECTION_RESULTS))
        if errors:
            raise ValidationFailed(_("the action has errors"), errors)
        step = allowed(FACILITY, facility.status, event, Context(actor, facility, data, _kept(session, facility.id)))
        before = facility.as_audit()
        facility.status = step.target
        reason = (data.get("reason") or "").strip()
        if reason:
            facility.decision_note = reason
        if event == "approve" and facility.registration_no is None:
            year = clock.today().year
            facility.registration_no = (
                f"{current_app.config['ISSUING_COUNTRY']}-FAC-{year}-{next_serial('facility', year):04d}"
            )
        if event == "change_capacity":
            facility.allowances = [FacilitySpecies(species_id=s, capacity=c) for s, c in data["allowances"].items()]
            session.flush()
        if event == "inspect":
            due = data.get("next_due")
            facility.inspections.append(
                Inspection(
                    inspected_on=data.get("inspected_on") or clock.today(),
                    result=data["result"],
                    findings=(data.get("findings") or "").strip() or None,
                    next_due=date.fromisoformat(due) if isinstance(due, str) and due else due,
                    officer_name=actor.username,
                )
            )
        session.flush()
        after = facility.as_audit()
        if event == "inspect":
            last = facility.inspections[-1]
            after["inspection"] = {"result": last.result, "findings": last.findings, "next_due": last.next_due}
        audit.record(actor, f"facility.{event}", "facility", facility.id, before, after)
    return facility
