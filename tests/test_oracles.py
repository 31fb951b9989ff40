"""No oracle for keepers: naming a facility or a microchip that is not theirs tells them nothing of
whether it exists or who holds it. Officers are still told."""

from __future__ import annotations

import pytest

from registry.models import Identifier
from registry.services.errors import Conflict
from tests import uses
from tests.helpers import animal_in


def breeders_bird(world, chip: str):
    """An animal of the breeder's, with *chip*: the zoo's, transferred and accepted."""
    bird = animal_in(world, "in_captivity", chip=chip)
    offer = uses.offer(world.actor("zoo"), {"animal_ids": [bird.id], "facility_id": world.breeder_site})
    uses.transfer_event(world.actor("breeder"), "accept", offer.id)
    return bird


def _answer(response) -> tuple[int, dict]:
    body = dict(response.get_json())
    body.pop("instance", None)
    return response.status_code, body


def test_a_keeper_is_told_the_same_whatever_is_wrong_with_the_facility_named(api, world, operator):
    bird = animal_in(world, "in_captivity").id
    applied = uses.apply_facility(
        world.actor("breeder"), {"name": "New aviary", "address": "Suwon", "allowances": {world.parrot: 2}}
    ).id
    snakes = uses.register_facility(operator, "F-SNK", "Snakes", world.breeder, "Suwon", {world.python: 3}).id
    answers = [
        _answer(api("zoo", "POST", "/transfers", json={"animal_ids": [bird], "facility_id": facility}))
        for facility in (2_000_000, applied, snakes)
    ]
    assert answers[0][0] == 422 and answers == [answers[0]] * 3
    assert "F-SNK" not in str(answers)
    # An officer offering on the zoo's behalf is told which.
    told = api("officer", "POST", "/transfers", json={"animal_ids": [bird], "facility_id": snakes})
    assert told.status_code == 409 and "F-SNK" in told.get_json()["detail"]


def test_a_keepers_offer_does_not_name_the_facilitys_holder_until_accepted(api, client, login, world):
    bird = animal_in(world, "in_captivity").id
    offered = api("zoo", "POST", "/transfers", json={"animal_ids": [bird], "facility_id": world.breeder_site})
    assert offered.status_code == 201 and offered.get_json()["transferee_party_id"] is None
    t = offered.get_json()["id"]
    login(world.users["zoo"])
    assert "Kim Breeder" not in client.get(f"/transfers/{t}").get_data(as_text=True)
    assert "Kim Breeder" not in client.get("/transfers/").get_data(as_text=True)
    assert api("zoo", "POST", f"/transfers/{t}/actions/cancel", json={}).status_code == 200
    assert api("zoo", "GET", f"/transfers/{t}").get_json()["transferee_party_id"] is None  # nor once withdrawn
    assert api("breeder", "GET", f"/transfers/{t}").get_json()["transferee_party_id"] == world.breeder
    assert api("officer", "GET", f"/transfers/{t}").get_json()["transferee_party_id"] == world.breeder
    again = api("zoo", "POST", "/transfers", json={"animal_ids": [bird], "facility_id": world.breeder_site}).get_json()
    assert api("breeder", "POST", f"/transfers/{again['id']}/actions/accept", json={}).status_code == 200
    assert api("zoo", "GET", f"/transfers/{again['id']}").get_json()["transferee_party_id"] == world.breeder


def test_another_keepers_chip_is_refused_without_saying_it_exists(api, world, session):
    theirs = breeders_bird(world, "900111222333444")
    mine = animal_in(world, "in_captivity").id
    chip = {"kind": "microchip", "value": "900111222333444"}
    refused = api("zoo", "POST", f"/animals/{mine}/identifiers", json=chip)
    assert refused.status_code == 409 and "cannot be recorded" in refused.get_json()["detail"]
    assert "another animal" not in refused.get_data(as_text=True)
    with pytest.raises(Conflict) as declared:
        uses.declare(
            world.actor("zoo"),
            _zoo_line(world),
            {"sex": "F", "identifiers": [chip]},
        )
    assert "another animal" not in str(declared.value.fields)
    # An officer is told; and the chip stays on the one animal either way.
    told = api("officer", "POST", f"/animals/{mine}/identifiers", json=chip)
    assert told.status_code == 409 and "another animal" in told.get_data(as_text=True)
    holders = session.query(Identifier).filter_by(value="900111222333444", active=True).all()
    assert [i.animal_id for i in holders] == [theirs.id]


def test_a_keeper_is_still_told_of_a_chip_on_one_of_its_own_animals(api, world):
    animal_in(world, "in_captivity", chip="900111222333555")
    mine = animal_in(world, "in_captivity").id
    refused = api("zoo", "POST", f"/animals/{mine}/identifiers", json={"kind": "microchip", "value": "900111222333555"})
    assert refused.status_code == 409 and "another animal" in refused.get_data(as_text=True)


def _zoo_line(world) -> int:
    from tests.helpers import issued_permit

    return issued_permit(world).lines[0].id


def test_application_ids_do_not_count_other_parties_applications(api, world):
    """Ids are drawn at random: a keeper's two drafts do not tell how many came in between."""
    from tests.conftest import import_application

    def draft(user: str, party: int) -> int:
        body = import_application(world, importer_party_id=party)
        answer = api(user, "POST", "/permits", json=body)
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()["id"]

    ids = []
    for _ in range(4):
        ids.append(draft("zoo", world.zoo))
        ids.append(draft("breeder", world.breeder))
    assert ids != list(range(ids[0], ids[0] + len(ids)))  # sequential ids would be ids[0], ids[0] + 1...
    assert len(set(ids)) == len(ids) and all(0 < i < 2**31 for i in ids)
    assert api("zoo", "GET", f"/permits/{ids[0]}").status_code == 200  # a random id is an ordinary id
    assert api("zoo", "GET", f"/permits/{ids[1]}").status_code == 404
