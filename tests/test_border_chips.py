"""Record integrity at entry: every microchip typed at the border ends up on an animal or is refused."""

from registry.models import Animal
from tests.border import chip, entry_body, exit_body, snapshot
from tests.helpers import animal_in, declared_animal, export_permit, issued_permit

# ------------------------------------------------------------------ entry: every chip on an animal or refused


def test_more_described_animals_than_the_quantity_is_refused(api, world, session):
    permit = issued_permit(world)
    before = snapshot(session)
    body = entry_body(1, chip("410000000000601"), chip("410000000000602"))
    answer = api("customs", "POST", f"/permits/{permit.id}/endorsements", body)
    assert answer.status_code == 422, answer.json
    assert "410000000000602" in answer.json["errors"]["lines.0.animals"]
    assert snapshot(session) == before


def test_scanned_chip_that_differs_from_the_declared_one_stops_the_line(api, world, session):
    permit = issued_permit(world)
    declared_animal(world, "410000000000111", permit)
    before = snapshot(session)
    answer = api("customs", "POST", f"/permits/{permit.id}/endorsements", entry_body(1, chip("410000000000999")))
    assert answer.status_code == 409, answer.json
    message = answer.json["errors"]["lines.0.animals"]
    assert "410000000000111" in message and "410000000000999" in message
    assert snapshot(session) == before


def test_the_scanned_declared_animal_is_the_one_that_enters(api, world, session):
    permit = issued_permit(world)
    first = declared_animal(world, "410000000000111", permit)
    second = declared_animal(world, "410000000000112", permit)
    answer = api("customs", "POST", f"/permits/{permit.id}/endorsements", entry_body(1, chip("410000000000112")))
    assert answer.status_code == 201, answer.json
    session.expire_all()
    assert (session.get(Animal, first.id).state, session.get(Animal, second.id).state) == ("declared", "entered")


def test_chips_of_undeclared_animals_each_go_on_their_own_animal(api, world, session):
    permit = issued_permit(world)
    declared = declared_animal(world, "410000000000111", permit)
    body = entry_body(3, chip("410000000000111"), chip("410000000000701"), chip("410000000000702"))
    answer = api("customs", "POST", f"/permits/{permit.id}/endorsements", body)
    assert answer.status_code == 201, answer.json
    session.expire_all()
    arrived = session.query(Animal).filter_by(permit_line_id=permit.lines[0].id, state="entered").all()
    chips = sorted((a.id == declared.id, [i.value for i in a.identifiers]) for a in arrived)
    assert chips == [(False, ["410000000000701"]), (False, ["410000000000702"]), (True, ["410000000000111"])]


def test_a_chip_read_on_an_animal_declared_without_one_is_attached_to_it(api, world, session):
    permit = issued_permit(world)
    unmarked = declared_animal(world, permit=permit)
    answer = api("customs", "POST", f"/permits/{permit.id}/endorsements", entry_body(1, chip("410000000000801")))
    assert answer.status_code == 201, answer.json
    session.expire_all()
    animal = session.get(Animal, unmarked.id)
    assert animal.state == "entered" and [i.value for i in animal.identifiers] == ["410000000000801"]
    assert session.query(Animal).filter_by(permit_line_id=permit.lines[0].id).count() == 1


def test_marks_that_cannot_be_matched_are_refused(api, world, session):
    permit = issued_permit(world)
    elsewhere = animal_in(world, "in_captivity", chip="410000000000901")
    first = declared_animal(world, "410000000000111", permit)
    declared_animal(world, "410000000000112", permit)
    before = snapshot(session)
    # A chip active on an animal off this line.
    answer = api("customs", "POST", f"/permits/{permit.id}/endorsements", entry_body(1, chip("410000000000901")))
    assert answer.status_code == 422 and "410000000000901" in answer.json["errors"]["lines.0.animals"], answer.json
    # One animal read with the chips of two declared animals.
    two = entry_body(1, chip("410000000000111", "410000000000112"))
    answer = api("customs", "POST", f"/permits/{permit.id}/endorsements", two)
    assert answer.status_code == 422 and "410000000000112" in answer.json["errors"]["lines.0.animals"], answer.json
    # The same chip typed twice.
    twice = entry_body(2, chip("410000000000111"), chip("410000000000111"))
    answer = api("customs", "POST", f"/permits/{permit.id}/endorsements", twice)
    assert answer.status_code == 422 and "410000000000111" in answer.json["errors"]["lines.0.animals"], answer.json
    assert snapshot(session) == before
    assert (
        session.get(Animal, elsewhere.id).state == "in_captivity" and session.get(Animal, first.id).state == "declared"
    )


def test_marks_on_the_wrong_kind_of_line_are_refused_at_the_edge(api, world, session):
    permit, leaving = issued_permit(world), export_permit(world)
    bird = animal_in(world, "in_captivity")
    before = snapshot(session)
    answer = api("customs", "POST", f"/permits/{permit.id}/endorsements", entry_body(1, animal_ids=[bird.id]))
    assert answer.status_code == 422 and "lines.0.animal_ids" in answer.json["errors"], answer.json
    body = exit_body(bird.id) | {"direction": "exit"}
    body["lines"][0]["animals"] = [chip("410000000000950")]
    answer = api("customs", "POST", f"/permits/{leaving.id}/endorsements", body)
    assert answer.status_code == 422 and "lines.0.animals" in answer.json["errors"], answer.json
    assert snapshot(session) == before


# ------------------------------------------------------------------ the customs page


def test_the_customs_page_shows_a_chip_mismatch_and_attaches_scanned_chips(client, login, world, session):
    permit = issued_permit(world)
    declared = declared_animal(world, "410000000000111", permit)
    before = snapshot(session)
    login(world.users["customs"])
    form = {"port": "Incheon", "transport_doc": "AWB 5", "lines-0-quantity": "2", "lines-0-outcome": "cleared"}
    mismatch = client.post(f"/customs/permits/{permit.id}/endorse", data=form | {"lines-0-marks": "410000000000999"})
    page = mismatch.get_data(as_text=True)
    assert mismatch.status_code == 200 and "410000000000111" in page and "410000000000999" in page
    assert 'id="lines-0-marks-err"' in page  # shown under the line's microchips
    assert snapshot(session) == before
    scanned = {"lines-0-marks": "410000000000111\n410000000000999"}
    assert client.post(f"/customs/permits/{permit.id}/endorse", data=form | scanned).status_code == 302
    session.expire_all()
    arrived = session.query(Animal).filter_by(permit_line_id=permit.lines[0].id, state="entered").all()
    assert sorted((a.id == declared.id, [i.value for i in a.identifiers]) for a in arrived) == [
        (False, ["410000000000999"]),
        (True, ["410000000000111"]),
    ]


def test_marks_on_a_line_not_of_live_animals_are_refused(api, world, session):
    permit = issued_permit(
        world, lines=[{"species_id": world.parrot, "term_code": "FEA", "quantity": "2", "unit_code": "KGM"}]
    )
    before = snapshot(session)
    answer = api("customs", "POST", f"/permits/{permit.id}/endorsements", entry_body(1, chip("410000000000960")))
    assert answer.status_code == 422 and "lines.0.animals" in answer.json["errors"], answer.json
    assert snapshot(session) == before


def test_one_line_in_two_parts_moves_different_declared_animals(api, world, session):
    permit = issued_permit(world)
    first, second = declared_animal(world, permit=permit), declared_animal(world, permit=permit)
    body = entry_body(1)
    body["lines"].append({"line_no": 1, "quantity": 1, "outcome": "refused", "reason": "no health certificate"})
    answer = api("customs", "POST", f"/permits/{permit.id}/endorsements", body)
    assert answer.status_code == 201, answer.json
    session.expire_all()
    assert (session.get(Animal, first.id).state, session.get(Animal, second.id).state) == ("entered", "void")
