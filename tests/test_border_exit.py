"""Record integrity at exit: only the exporter's own animals, in captivity, leave on its permit."""

from registry.models import Animal
from tests import uses
from tests.border import exit_body, snapshot
from tests.helpers import animal_in, export_permit

# ------------------------------------------------------------------ exit: whose animals leave


def test_exit_refuses_another_partys_animal_and_writes_nothing(api, world, session, operator):
    permit = export_permit(world)  # the zoo's export permit, 5 parrots
    theirs = animal_in(world, "in_captivity")
    uses.fire(operator, theirs.id, "transfer", {"owner_party_id": world.breeder, "facility_id": world.breeder_site})
    before = snapshot(session)
    answer = api("customs", "POST", f"/permits/{permit.id}/endorsements", exit_body(theirs.id))
    assert answer.status_code == 409, answer.json
    assert theirs.registry_no in answer.json["errors"]["lines.0.animal_ids"]
    assert snapshot(session) == before


def test_exit_refuses_an_animal_not_in_captivity(api, world, session):
    permit = export_permit(world)
    missing = animal_in(world, "missing")
    before = snapshot(session)
    answer = api("customs", "POST", f"/permits/{permit.id}/endorsements", exit_body(missing.id))
    assert answer.status_code == 409, answer.json
    assert missing.registry_no in answer.json["errors"]["lines.0.animal_ids"]
    assert snapshot(session) == before


def test_exit_refuses_an_animal_named_twice(api, world, session):
    permit = export_permit(world)
    bird = animal_in(world, "in_captivity")
    before = snapshot(session)
    answer = api("customs", "POST", f"/permits/{permit.id}/endorsements", exit_body(bird.id, bird.id))
    assert answer.status_code == 422, answer.json
    assert bird.registry_no in answer.json["errors"]["lines.0.animal_ids"]
    assert snapshot(session) == before


def test_exit_takes_an_animal_the_exporter_holds_for_another_owner(api, world, session, operator):
    permit = export_permit(world)
    kept = animal_in(world, "in_captivity")  # in the zoo's facility
    uses.fire(operator, kept.id, "transfer", {"owner_party_id": world.breeder, "facility_id": world.zoo_site})
    answer = api("customs", "POST", f"/permits/{permit.id}/endorsements", exit_body(kept.id))
    assert answer.status_code == 201, answer.json
    session.expire_all()
    assert session.get(Animal, kept.id).state == "exported"


def test_the_export_event_refuses_another_partys_animal(api, world, session, operator):
    permit = export_permit(world)
    theirs = animal_in(world, "in_captivity")
    uses.fire(operator, theirs.id, "transfer", {"owner_party_id": world.breeder, "facility_id": world.breeder_site})
    before = snapshot(session)
    answer = api("customs", "POST", f"/animals/{theirs.id}/events", {"event": "export", "permit_id": permit.id})
    assert answer.status_code == 409, answer.json
    assert theirs.registry_no in answer.json["errors"]["permit_id"]
    assert snapshot(session) == before
    own = animal_in(world, "in_captivity")
    assert (
        api("customs", "POST", f"/animals/{own.id}/events", {"event": "export", "permit_id": permit.id}).status_code
        == 201
    )


def test_the_customs_page_refuses_a_registry_number_typo(client, login, world, session):
    permit = export_permit(world)
    bird = animal_in(world, "in_captivity")
    before = snapshot(session)
    login(world.users["customs"])
    form = {"port": "Incheon", "transport_doc": "AWB 5", "lines-0-quantity": "1", "lines-0-outcome": "cleared"}
    typo = client.post(f"/customs/permits/{permit.id}/endorse", data=form | {"lines-0-marks": "KR-A-0000-999999"})
    assert typo.status_code == 200 and "no animal with registry number KR-A-0000-999999" in typo.get_data(as_text=True)
    assert snapshot(session) == before
    done = client.post(f"/customs/permits/{permit.id}/endorse", data=form | {"lines-0-marks": bird.registry_no})
    assert done.status_code == 302
    session.expire_all()
    assert session.get(Animal, bird.id).state == "exported"
