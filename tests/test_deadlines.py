"""Legal deadlines: each rule finds what waits, in the user's scope, due then overdue."""
from datetime import timedelta

from registry import clock
from registry.services import animals, deadlines, transfers
from tests.helpers import animal_in, issued_permit


def _codes(found):
    return sorted((i.rule.code, deadlines.label(i)) for i in found)


def test_rules_find_what_waits_and_turn_overdue(world):
    dead = animal_in(world, "in_captivity")
    animals.fire(world.actor("zoo"), dead.id, "death", {"cause": "age"})
    entered = animal_in(world, "entered")
    permit = issued_permit(world)
    keeper = deadlines.items(world.actor("zoo"))
    assert ("carcass_disposal", dead.registry_no) in _codes(keeper)
    assert ("register_after_entry", entered.registry_no) in _codes(keeper)
    assert not any(i.overdue(clock.today()) for i in keeper if i.rule.subject == "animal")
    assert deadlines.items(world.actor("breeder")) == []  # other keepers' items are not theirs
    with clock.on(clock.today() + timedelta(days=31)):
        late = deadlines.items(world.actor("officer"), overdue_only=True)
        assert ("carcass_disposal", dead.registry_no) in _codes(late)
        assert ("register_after_entry", entered.registry_no) in _codes(late)
    with clock.on(permit.valid_until + timedelta(days=1)):
        assert ("permit_expiry", permit.number) in _codes(deadlines.items(world.actor("zoo"), "permit_expiry"))


def test_transfer_acknowledgment_is_the_officers(world):
    bird = animal_in(world, "in_captivity")
    t = transfers.start(world.actor("zoo"), {"animal_ids": [bird.id], "facility_id": world.breeder_site})
    transfers.act(world.actor("breeder"), "accept", t.id)
    assert ("acknowledge_transfer", t.code) in _codes(deadlines.items(world.actor("officer")))
    assert ("acknowledge_transfer", t.code) not in _codes(deadlines.items(world.actor("breeder")))


def test_deadline_pages_and_export(client, login, world):
    dead = animal_in(world, "in_captivity")
    animals.fire(world.actor("zoo"), dead.id, "death", {"cause": "age"})
    login(world.users["officer"])
    page = client.get("/deadlines/").get_data(as_text=True)
    assert dead.registry_no in page and "Dispose of the carcass" in page
    csv_text = client.get("/deadlines/export.csv", query_string={"rule": "carcass_disposal"}).get_data(as_text=True)
    assert csv_text.splitlines()[0] == "rule,subject,object,since,due,overdue"
    assert f"carcass_disposal,animal,{dead.registry_no}," in csv_text


def test_a_rule_can_apply_to_some_national_categories_only(world, monkeypatch, session):
    from dataclasses import replace

    from registry import deadlines as rules
    from registry.models import Species

    dead = animal_in(world, "in_captivity")
    animals.fire(world.actor("zoo"), dead.id, "death", {"cause": "age"})
    only_designated = replace(rules.BY_CODE["carcass_disposal"], categories=frozenset({"DESIGNATED"}))
    monkeypatch.setattr(rules, "RULES", (only_designated,))
    assert deadlines.items(world.actor("officer")) == []
    session.get(Species, world.parrot).national_category_code = "DESIGNATED"
    from registry.models import NationalCategory

    session.add(NationalCategory(code="DESIGNATED", name_en="Designated", name_ko="지정관리"))
    session.flush()
    assert [i.rule.code for i in deadlines.items(world.actor("officer"))] == ["carcass_disposal"]
