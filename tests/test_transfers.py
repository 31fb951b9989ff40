"""Transfers with a handshake: offer, accept or decline, cancel, acknowledge; the facility is checked."""

import pytest

from registry.machines import TRANSFER
from registry.models import Animal, AuditEntry, Keeping, Transfer
from registry.services import audit, transfers
from registry.services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests import uses
from tests.helpers import animal_in


def offer(world, count=1, **extra):
    birds = [animal_in(world, "in_captivity").id for _ in range(count)]
    return uses.offer(world.actor("zoo"), {"animal_ids": birds, "facility_id": world.breeder_site, **extra}), birds


def test_offer_accept_acknowledge(world, session):
    t, birds = offer(world, 2)
    assert t.state == "pending" and len(t.code) == 8
    assert [p.id for p in transfers.pending_for(world.actor("breeder"))] == [t.id]
    uses.transfer_event(world.actor("breeder"), "accept", code=t.code.lower())
    for bird in birds:
        animal = session.get(Animal, bird)
        assert (animal.owner_party_id, animal.holder_party_id, animal.facility_id) == (
            world.breeder,
            world.breeder,
            world.breeder_site,
        )
        owners = session.query(Keeping).filter_by(animal_id=bird, relation="owner").order_by(Keeping.id)
        assert [k.party_id for k in owners] == [world.zoo, world.breeder]
    assert [p.id for p in transfers.pending_for(world.actor("officer"))] == [t.id]
    done = uses.transfer_event(world.actor("officer"), "acknowledge", t.id)
    assert done.state == "acknowledged" and done.acknowledged_at is not None
    assert audit.verify_database().ok


def test_custody_only_transfer_keeps_the_owner(world, session):
    t, birds = offer(world, ownership=False)
    uses.transfer_event(world.actor("breeder"), "accept", t.id)
    animal = session.get(Animal, birds[0])
    assert animal.owner_party_id == world.zoo and animal.holder_party_id == world.breeder


def test_over_capacity_refused_at_acceptance_and_nothing_moves(world, session):
    t, birds = offer(world, 3)  # the aviary takes 2 parrots
    entries = session.query(AuditEntry).count()
    with pytest.raises(Conflict, match=r"at capacity .* \(2 of 2\)"):
        uses.transfer_event(world.actor("breeder"), "accept", t.id)
    assert session.get(Transfer, t.id).state == "pending"
    assert {session.get(Animal, b).facility_id for b in birds} == {world.zoo_site}
    assert session.query(AuditEntry).count() == entries


def test_unregistered_facility_and_species_are_refused_at_start(world, operator):
    bird = animal_in(world, "in_captivity").id
    snakes_only = uses.register_facility(operator, "F-SNK", "Snakes", world.breeder, "x", {world.python: 3}).id
    with pytest.raises(Conflict, match="not registered for the species"):  # an officer is told which
        uses.offer(world.actor("officer"), {"animal_ids": [bird], "facility_id": snakes_only})
    with pytest.raises(ValidationFailed, match="cannot be started"):  # a keeper, not (tests/test_oracles.py)
        uses.offer(world.actor("zoo"), {"animal_ids": [bird], "facility_id": snakes_only})


def test_who_may_do_what(world, session):
    t, birds = offer(world)
    with pytest.raises(Conflict, match="only the transferee"):
        uses.transfer_event(world.actor("zoo"), "accept", t.id)
    with pytest.raises(Forbidden):
        uses.transfer_event(world.actor("customs"), "accept", t.id)
    from registry.permissions import Actor
    from registry.services import reference, users

    third = reference.create_party(world.operator, "person", "Third keeper").id
    outsider = Actor.for_user(users.create_user(world.operator, "third", "long enough pw", "keeper", party_id=third))
    with pytest.raises(NotFound):  # another keeper's transfer does not exist for an outsider
        uses.transfer_event(outsider, "accept", t.id)
    with pytest.raises(Conflict, match="only the transferor"):
        uses.transfer_event(world.actor("breeder"), "cancel", t.id)
    with pytest.raises(Conflict, match="possible only when the transfer is 'Accepted'"):
        uses.transfer_event(world.actor("officer"), "acknowledge", t.id)
    assert uses.transfer_event(world.actor("zoo"), "cancel", t.id).state == "cancelled"
    with pytest.raises(Conflict, match="final state"):
        uses.transfer_event(world.actor("breeder"), "accept", t.id)
    assert session.get(Animal, birds[0]).owner_party_id == world.zoo


def test_decline_and_no_double_offer(world):
    t, birds = offer(world)
    with pytest.raises(Conflict, match="already in a pending transfer"):
        uses.offer(world.actor("zoo"), {"animal_ids": birds, "facility_id": world.breeder_site})
    uses.transfer_event(world.actor("breeder"), "decline", t.id, note="no room this year")
    again = uses.offer(world.actor("zoo"), {"animal_ids": birds, "facility_id": world.breeder_site})
    assert again.state == "pending"


def test_keepers_no_longer_transfer_one_sidedly(world):

    bird = animal_in(world, "in_captivity").id
    with pytest.raises(Forbidden):
        uses.fire(world.actor("zoo"), bird, "transfer", {"facility_id": world.breeder_site})


def test_only_the_owner_offers(world, operator):

    bird = animal_in(world, "in_captivity").id
    uses.fire(operator, bird, "transfer", {"facility_id": world.breeder_site})  # custody to the breeder
    with pytest.raises(Conflict, match="only the owner"):
        uses.offer(world.actor("breeder"), {"animal_ids": [bird], "facility_id": world.breeder_site})


def test_machine_declaration():
    assert (
        TRANSFER.rejection("accepted", "accept")
        == "'Accept' is possible only when the transfer is 'Waiting for the transferee'; it is now 'Accepted'"
    )


def test_handshake_in_the_browser_forms(client, login, world, session):
    bird = animal_in(world, "in_captivity")
    login(world.users["zoo"])
    offered = client.post(
        "/transfers/new", data={"animal_ids": [str(bird.id)], "facility_id": str(world.breeder_site), "ownership": "y"}
    )
    assert offered.status_code == 302
    t = session.query(Transfer).one()
    login(world.users["breeder"])
    assert t.code in client.get("/transfers/").get_data(as_text=True)
    client.post("/transfers/answer", data={"code": t.code})
    session.expire_all()
    assert session.get(Transfer, t.id).state == "accepted"
    assert session.get(Animal, bird.id).owner_party_id == world.breeder
    login(world.users["officer"])
    client.post(f"/transfers/{t.id}/acknowledge", data={})
    session.expire_all()
    assert session.get(Transfer, t.id).state == "acknowledged"
