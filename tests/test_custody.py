"""Record integrity of custody: only the holder (or an officer) reports an animal missing and records
its recovery, into the holder's facility; a stale transfer offer is refused, and an event that ends
the transferor's hold cancels it."""

import pytest

from registry.models import Animal, AuditEntry, Transfer
from registry.services import audit
from registry.services.errors import Conflict
from tests import uses
from tests.helpers import animal_in, export_permit


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


def test_the_owner_cannot_report_the_death_of_what_another_keeper_holds(world, session):
    animal = held_by_breeder(world, session)
    before = snapshot(session, animal.id)
    with pytest.raises(Conflict, match="only the keeper holding the animal"):
        uses.fire(world.actor("zoo"), animal.id, "death", {"cause": "invented"})
    assert snapshot(session, animal.id) == before
    uses.fire(world.actor("breeder"), animal.id, "death", {"cause": "old age"})
    burial = {"method": "burial", "handler": "h", "place": "p", "witness": "w"}
    with pytest.raises(Conflict, match="only the keeper holding the animal"):
        uses.fire(world.actor("zoo"), animal.id, "dispose", burial)
    assert uses.fire(world.actor("breeder"), animal.id, "dispose", burial).state == "disposed"


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


def third_keeper(world, operator):
    from registry.services import reference

    third = reference.create_party(operator, "person", "Third keeper").id
    return uses.register_facility(operator, "F-3RD", "Third aviary", third, "Busan", {world.parrot: 2}).id


def offered(world, count=1):
    birds = [animal_in(world, "in_captivity").id for _ in range(count)]
    return uses.offer(world.actor("zoo"), {"animal_ids": birds, "facility_id": world.breeder_site}), birds


def test_a_stale_offer_is_refused_at_acceptance_and_nothing_moves(world, session, operator, monkeypatch):
    """The offer saw the animal with the zoo; an officer moved it since. Even were the offer left open
    (the automatic cancellation switched off here), accepting it is refused."""
    from registry.services import animals

    monkeypatch.setattr(animals, "cancel_stale_offers", lambda *args, **kwargs: None, raising=False)
    elsewhere = third_keeper(world, operator)
    t, birds = offered(world)
    moved = uses.fire(world.actor("officer"), birds[0], "transfer", {"owner_party_id": None, "facility_id": elsewhere})
    before = snapshot(session, birds[0])
    with pytest.raises(Conflict, match=moved.registry_no):
        uses.transfer_event(world.actor("breeder"), "accept", t.id)
    assert snapshot(session, birds[0]) == before
    assert session.get(Transfer, t.id).state == "pending"


def cancellations(session, transfer_id):
    return session.query(AuditEntry).filter_by(action="transfer.cancel", object_id=str(transfer_id)).all()


def test_a_direct_transfer_cancels_the_open_offer(world, session, operator):
    elsewhere = third_keeper(world, operator)
    t, birds = offered(world)
    moved = uses.fire(world.actor("officer"), birds[0], "transfer", {"facility_id": elsewhere})
    t = session.get(Transfer, t.id)
    assert t.state == "cancelled" and moved.registry_no in t.decision_note and "transfer" in t.decision_note
    [entry] = cancellations(session, t.id)
    assert entry.actor_name == "officer"
    before = snapshot(session, birds[0])
    with pytest.raises(Conflict):
        uses.transfer_event(world.actor("breeder"), "accept", t.id)
    assert snapshot(session, birds[0]) == before and moved.facility_id == elsewhere
    assert audit.verify_database().ok


def test_a_death_cancels_the_open_offer_and_the_rest_can_be_offered_again(world, session):
    t, birds = offered(world, 2)
    dead = uses.fire(world.actor("zoo"), birds[0], "death", {"cause": "old age"})
    t = session.get(Transfer, t.id)
    assert t.state == "cancelled" and dead.registry_no in t.decision_note and "death" in t.decision_note
    [entry] = cancellations(session, t.id)
    assert entry.actor_name == "zoo"
    again = uses.offer(world.actor("zoo"), {"animal_ids": [birds[1]], "facility_id": world.breeder_site})
    assert again.state == "pending"


def test_an_export_cancels_the_open_offer(world, session):
    permit = export_permit(world)
    t, birds = offered(world)
    uses.fire(world.actor("customs"), birds[0], "export", {"permit_id": permit.id})
    assert session.get(Transfer, t.id).state == "cancelled"
    [entry] = cancellations(session, t.id)
    assert entry.actor_name == "customs"


def test_accepting_one_offer_leaves_other_offers_alone(world, session):
    t, birds = offered(world)
    other, more = offered(world)
    uses.transfer_event(world.actor("breeder"), "accept", t.id)
    assert session.get(Transfer, t.id).state == "accepted" and not cancellations(session, t.id)
    assert session.get(Transfer, other.id).state == "pending"


def test_the_owner_cannot_offer_back_an_animal_another_keeper_holds(world, session):
    """Offering it to one's own facility and accepting one's own offer would take it from the holder."""
    animal = held_by_breeder(world, session)
    before = snapshot(session, animal.id)
    with pytest.raises(Conflict, match=f"{animal.registry_no} is held by another keeper"):
        uses.offer(world.actor("zoo"), {"animal_ids": [animal.id], "facility_id": world.zoo_site})
    assert snapshot(session, animal.id) == before
    assert session.query(Transfer).filter_by(state="pending").count() == 0


def test_the_offer_form_lists_only_animals_the_keeper_owns_and_holds(client, login, world, session):
    lent = held_by_breeder(world, session)
    kept = animal_in(world, "in_captivity")
    login(world.users["zoo"])
    page = client.get("/transfers/new").get_data(as_text=True)
    assert kept.registry_no in page and lent.registry_no not in page


def test_through_the_api_the_owner_is_refused_and_the_field_named(api, world, session):
    animal = held_by_breeder(world, session)
    before = snapshot(session, animal.id)
    refused = api("zoo", "POST", f"/animals/{animal.id}/events", {"event": "report_missing", "circumstances": "x"})
    assert refused.status_code == 409 and "only the keeper holding the animal" in refused.get_json()["detail"]
    assert (
        api(
            "breeder", "POST", f"/animals/{animal.id}/events", {"event": "report_missing", "circumstances": "x"}
        ).status_code
        == 201
    )
    refused = api(
        "breeder", "POST", f"/animals/{animal.id}/events", {"event": "recover", "facility_id": world.zoo_site}
    )
    assert refused.status_code == 409 and "facility_id" in refused.get_json()["errors"]
    assert snapshot(session, animal.id)[0][0] == "missing"
    assert snapshot(session, animal.id)[1] == before[1] + 1
