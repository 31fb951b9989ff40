"""Record integrity of custody: only the holder (or an officer) reports an animal missing and records
its recovery, into the holder's facility; a stale transfer offer is refused, and an event that ends
the transferor's hold cancels it."""

import pytest

from registry.models import Animal, AuditEntry
from registry.services import audit
from registry.services.errors import Conflict
from tests import uses
from tests.helpers import animal_in


def held_by_breeder(world, session):
    """A zoo parrot in the breeder's aviary after a custody-only transfer."""
    bird = animal_in(world, "in_captivity")
    t = uses.offer(world.actor("zoo"), {"animal_ids": [bird.id], "facility_id": world.breeder_site, "ownership": False})
    uses.transfer_event(world.actor("breeder"), "accept", t.id)
    animal = session.get(Animal, bird.id)
    assert (animal.owner_party_id, animal.holder_party_id) == (world.zoo, world.breeder)
    return animal


def snapshot(session, animal_id):
    a = session.get(Animal, animal_id)
    session.refresh(a)
    return (a.state, a.owner_party_id, a.holder_party_id, a.facility_id, a.version), session.query(AuditEntry).count()


def test_the_owner_cannot_report_missing_what_another_keeper_holds(world, session):
    animal = held_by_breeder(world, session)
    before = snapshot(session, animal.id)
    with pytest.raises(Conflict, match="only the keeper holding the animal"):
        uses.fire(world.actor("zoo"), animal.id, "report_missing", {"circumstances": "gone"})
    assert snapshot(session, animal.id) == before


def test_the_owner_cannot_recover_into_its_own_facility(world, session):
    animal = held_by_breeder(world, session)
    uses.fire(world.actor("breeder"), animal.id, "report_missing", {"circumstances": "escaped"})
    before = snapshot(session, animal.id)
    with pytest.raises(Conflict, match="only the keeper holding the animal"):
        uses.fire(world.actor("zoo"), animal.id, "recover", {"facility_id": world.zoo_site})
    with pytest.raises(Conflict, match="only the keeper holding the animal"):
        uses.fire(world.actor("zoo"), animal.id, "recover", {})
    assert snapshot(session, animal.id) == before


def test_the_holder_recovers_into_the_facility_it_was_in(world, session, operator):
    animal = held_by_breeder(world, session)
    other = uses.register_facility(operator, "F-BR2", "Second aviary", world.breeder, "Suwon", {world.parrot: 2}).id
    uses.fire(world.actor("breeder"), animal.id, "report_missing", {"circumstances": "escaped"})
    before = snapshot(session, animal.id)
    with pytest.raises(Conflict, match="into the facility it was in") as refused:
        uses.fire(world.actor("breeder"), animal.id, "recover", {"facility_id": other})
    assert list(refused.value.fields) == ["facility_id"]
    assert snapshot(session, animal.id) == before
    back = uses.fire(world.actor("breeder"), animal.id, "recover", {})
    assert (back.state, back.owner_party_id, back.holder_party_id, back.facility_id) == (
        "in_captivity",
        world.zoo,
        world.breeder,
        world.breeder_site,
    )
    assert audit.verify_database().ok


def test_an_officer_recovers_into_a_facility_of_the_same_holder_only(world, session, operator):
    animal = held_by_breeder(world, session)
    other = uses.register_facility(operator, "F-BR2", "Second aviary", world.breeder, "Suwon", {world.parrot: 2}).id
    uses.fire(world.actor("officer"), animal.id, "report_missing", {"circumstances": "escaped"})
    before = snapshot(session, animal.id)
    with pytest.raises(Conflict, match="facility of the keeper holding it"):
        uses.fire(world.actor("officer"), animal.id, "recover", {"facility_id": world.zoo_site})
    assert snapshot(session, animal.id) == before
    back = uses.fire(world.actor("officer"), animal.id, "recover", {"facility_id": other, "note": "found near it"})
    assert (back.holder_party_id, back.facility_id) == (world.breeder, other)
