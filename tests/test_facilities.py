"""Keeping facilities: application, review, capacity changes, inspections, closure."""

import pytest

from registry.models import Facility, Inspection
from registry.services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests import uses
from tests.helpers import animal_in


def application(world, **extra):
    return {"name": "New aviary", "address": "Suwon", "allowances": {world.parrot: 3}, **extra}


def test_application_review_and_registration(world, session):
    f = uses.apply_facility(world.actor("breeder"), application(world))
    assert (f.status, f.registration_no, f.holder_party_id) == ("pending", None, world.breeder)
    # The reason is input the action's schema requires: refused at the edge (422, on the field),
    # before the facility is loaded, no longer by a guard of the lifecycle (409).
    with pytest.raises(ValidationFailed) as refused:
        uses.facility_event(world.actor("officer"), f.id, "request_changes", {})
    assert refused.value.fields == {"reason": "required"}
    uses.facility_event(world.actor("officer"), f.id, "request_changes", {"reason": "send the floor plan"})
    assert session.get(Facility, f.id).decision_note == "send the floor plan"
    with pytest.raises(Forbidden):
        uses.facility_event(world.actor("breeder"), f.id, "approve")
    uses.facility_event(world.actor("breeder"), f.id, "resubmit")
    done = uses.facility_event(world.actor("officer"), f.id, "approve")
    assert done.status == "registered" and done.registration_no.startswith("KR-FAC-")


def test_unregistered_facility_takes_no_animal(world):
    f = uses.apply_facility(world.actor("zoo"), application(world))
    a = animal_in(world, "entered")
    with pytest.raises(Conflict, match="is not registered"):
        uses.fire(world.actor("zoo"), a.id, "register", {"facility_id": f.id})


def test_keeper_acts_on_own_facility_only(world):
    with pytest.raises(NotFound):
        uses.facility_event(world.actor("breeder"), world.zoo_site, "close")
    f = uses.apply_facility(world.actor("zoo"), application(world, holder_party_id=world.breeder))
    assert f.holder_party_id == world.zoo  # a keeper applies for their own party whatever they send


def test_capacity_cannot_drop_below_the_animals_kept(world, session):
    for _ in range(2):
        animal_in(world, "in_captivity")  # two parrots in the zoo's bird house (capacity 5)
    with pytest.raises(Conflict, match="2 animal"):
        uses.facility_event(
            world.actor("officer"), world.zoo_site, "change_capacity", {"allowances": {world.parrot: 1}}
        )
    changed = uses.facility_event(
        world.actor("officer"), world.zoo_site, "change_capacity", {"allowances": {world.parrot: 2, world.python: 4}}
    )
    assert {a.species_id: a.capacity for a in changed.allowances} == {world.parrot: 2, world.python: 4}


def test_inspection_and_closure(world, session):
    uses.facility_event(
        world.actor("officer"),
        world.breeder_site,
        "inspect",
        {"result": "improvement_ordered", "findings": "perches worn", "next_due": "2027-01-31"},
    )
    inspection = session.query(Inspection).one()
    assert (inspection.result, str(inspection.next_due), inspection.officer_name) == (
        "improvement_ordered",
        "2027-01-31",
        "officer",
    )
    bird = animal_in(world, "entered")
    uses.fire(world.actor("officer"), bird.id, "register", {"facility_id": world.breeder_site})
    with pytest.raises(Conflict, match="still kept there"):
        uses.facility_event(world.actor("breeder"), world.breeder_site, "close")
    uses.fire(world.actor("officer"), bird.id, "transfer", {"facility_id": world.zoo_site})
    assert uses.facility_event(world.actor("breeder"), world.breeder_site, "close").status == "closed"


def test_facility_api_and_pages(api_tokens, client, login, world):
    headers = {"Authorization": f"Bearer {api_tokens['breeder']}"}
    created = client.post(
        "/api/v1/facilities",
        json={"name": "API aviary", "address": "Suwon", "allowances": [{"species_id": world.parrot, "capacity": 2}]},
        headers=headers,
    )
    assert created.status_code == 201 and created.json["status"] == "pending"
    officer = {"Authorization": f"Bearer {api_tokens['officer']}"}
    approved = client.post(f"/api/v1/facilities/{created.json['id']}/actions/approve", json={}, headers=officer)
    assert approved.json["status"] == "registered" and approved.json["registration_no"].startswith("KR-FAC-")
    login(world.users["officer"])
    page = client.get(f"/facilities/{created.json['id']}").get_data(as_text=True)
    assert "API aviary" in page and "Record an inspection" in page
    login(world.users["breeder"])
    assert client.get("/facilities/apply").status_code == 200
    assert client.get(f"/facilities/{world.zoo_site}").status_code == 404
