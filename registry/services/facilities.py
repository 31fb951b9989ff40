"""Keeping facilities. (The application and review workflow grows on top of these.)"""
from __future__ import annotations

from sqlalchemy import func, select

from registry.machines import AnimalState
from registry.models import Animal, Facility, FacilitySpecies, Party, Species
from registry.permissions import has_capability
from registry.services import audit
from registry.services.context import Actor, write_transaction
from registry.services.errors import Forbidden, ValidationFailed

#: States in which an animal occupies a place in its facility.
OCCUPYING = (AnimalState.IN_CAPTIVITY, AnimalState.SEIZED)


def register_facility(actor: Actor, registration_no: str, name: str, holder_party_id: int, address: str,
                      allowances: dict[int, int]) -> Facility:
    """Record a facility as registered, with the capacity allowed per species."""
    if not has_capability(actor, "facility.manage"):
        raise Forbidden("registering facilities needs facility.manage")
    errors = {}
    if not (registration_no or "").strip():
        errors["registration_no"] = "required"
    if not (name or "").strip():
        errors["name"] = "required"
    if not allowances or any(c < 1 for c in allowances.values()):
        errors["allowances"] = "at least one species with a capacity of 1 or more"
    if errors:
        raise ValidationFailed("the facility cannot be registered", errors)
    with write_transaction() as session:
        if session.get(Party, holder_party_id) is None:
            raise ValidationFailed("unknown holder", {"holder_party_id": "no such party"})
        unknown = [sid for sid in allowances if session.get(Species, sid) is None]
        if unknown:
            raise ValidationFailed("unknown species", {"allowances": f"no species with id {unknown}"})
        facility = Facility(registration_no=registration_no.strip(), name=name.strip(),
                            holder_party_id=holder_party_id, address=address, status="registered",
                            allowances=[FacilitySpecies(species_id=s, capacity=c) for s, c in allowances.items()])
        session.add(facility)
        session.flush()
        audit.record(actor, "facility.register", "facility", facility.id, None, facility.as_audit())
    return facility


def occupancy(session, facility_id: int, species_id: int, excluding: int | None = None) -> int:
    """Animals of a species currently kept in a facility."""
    q = select(func.count()).select_from(Animal).where(
        Animal.facility_id == facility_id, Animal.species_id == species_id, Animal.state.in_(OCCUPYING))
    if excluding is not None:
        q = q.where(Animal.id != excluding)
    return session.scalar(q)
