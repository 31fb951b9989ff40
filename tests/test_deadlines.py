"""Legal deadlines: each rule finds what waits, in the user's scope, due then overdue."""

from datetime import timedelta

from registry import clock
from registry.services import deadlines
from tests import uses
from tests.helpers import animal_in, issued_permit


def _codes(found):
    return sorted((i.rule.code, deadlines.label(i)) for i in found)


def test_rules_find_what_waits_and_turn_overdue(world):
    dead = animal_in(world, "in_captivity")
    uses.fire(world.actor("zoo"), dead.id, "death", {"cause": "age"})
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
    t = uses.offer(world.actor("zoo"), {"animal_ids": [bird.id], "facility_id": world.breeder_site})
    uses.transfer_event(world.actor("breeder"), "accept", t.id)
    assert ("acknowledge_transfer", t.code) in _codes(deadlines.items(world.actor("officer")))
    assert ("acknowledge_transfer", t.code) not in _codes(deadlines.items(world.actor("breeder")))


def test_deadline_pages_and_export(client, login, world):
    dead = animal_in(world, "in_captivity")
    uses.fire(world.actor("zoo"), dead.id, "death", {"cause": "age"})
    login(world.users["officer"])
    page = client.get("/deadlines/").get_data(as_text=True)
    assert dead.registry_no in page and "Dispose of the carcass" in page
    csv_text = client.get("/deadlines/export.csv", query_string={"rule": "carcass_disposal"}).get_data(as_text=True)
    assert csv_text.splitlines()[0] == "rule,subject,object,since,due,overdue,done"
    assert f"carcass_disposal,animal,{dead.registry_no}," in csv_text


def test_a_rule_can_apply_to_some_national_categories_only(world, monkeypatch, session):
    from dataclasses import replace

    from registry import deadlines as rules
    from registry.models import Species

    dead = animal_in(world, "in_captivity")
    uses.fire(world.actor("zoo"), dead.id, "death", {"cause": "age"})
    only_designated = replace(rules.BY_CODE["carcass_disposal"], categories=frozenset({"DESIGNATED"}))
    monkeypatch.setattr(rules, "RULES", (only_designated,))
    assert deadlines.items(world.actor("officer")) == []
    session.get(Species, world.parrot).national_category_code = "DESIGNATED"
    from registry.models import NationalCategory

    session.add(NationalCategory(code="DESIGNATED", name_en="Designated", name_ko="지정관리"))
    session.flush()
    assert [i.rule.code for i in deadlines.items(world.actor("officer"))] == ["carcass_disposal"]


def test_a_death_reported_late_is_found_for_the_authority(world, session):
    from registry.models import NationalCategory, Species
    from registry.services import admin

    today = clock.today()
    with clock.on(today - timedelta(days=60)):
        on_time, late, designated = (animal_in(world, "in_captivity") for _ in range(3))
    uses.fire(world.actor("zoo"), on_time.id, "death", {"cause": "age", "occurred_on": today - timedelta(days=2)})
    uses.fire(world.actor("zoo"), late.id, "death", {"cause": "age", "occurred_on": today - timedelta(days=10)})

    found = [i for i in deadlines.items(world.actor("officer"), overdue_only=True) if i.rule.kind == "report"]
    assert [(i.rule.code, i.subject.registry_no, i.done) for i in found] == [("death_report", late.registry_no, today)]
    assert found[0].due == today - timedelta(days=7)
    # The keeper cannot undo a late report: it is the authority's to follow up.
    assert not [i for i in deadlines.items(world.actor("zoo")) if i.rule.kind == "report"]

    # The authority reads "without delay" as its administrators set it.
    admin.set_deadline_days(world.actor("admin"), "death_report", 14)
    assert deadlines.items(world.actor("officer"), "death_report") == []

    # Designated-management wildlife has 30 days, under its own rule: ten days is on time, forty late.
    session.add(NationalCategory(code="DESIGNATED", name_en="Designated", name_ko="지정관리"))
    session.get(Species, world.parrot).national_category_code = "DESIGNATED"
    session.commit()  # a service's write transaction starts afresh: what is only flushed is rolled back
    uses.fire(world.actor("zoo"), designated.id, "death", {"cause": "age", "occurred_on": today - timedelta(days=40)})
    assert [
        (i.rule.code, i.subject.registry_no) for i in deadlines.items(world.actor("officer")) if i.rule.kind == "report"
    ] == [("death_report_designated", designated.registry_no)]

    # A late report stays on the list for the look-back window, then leaves it.
    with clock.on(today + timedelta(days=31)):
        assert deadlines.items(world.actor("officer"), "death_report_designated") == []


def test_the_demo_replays_deaths_as_reported_on_their_day(world):
    """A replayed history records each event on the day it is replayed, so it is not reported late."""
    today = clock.today()
    with clock.on(today - timedelta(days=100)):
        bird = animal_in(world, "in_captivity")
        uses.fire(world.actor("zoo"), bird.id, "death", {"cause": "age"})
    assert bird.events[-1].recorded_at.date() == today - timedelta(days=100)
    assert deadlines.items(world.actor("officer"), "death_report") == []


def test_officers_page_shows_a_late_report_with_its_day(client, login, world):
    with clock.on(clock.today() - timedelta(days=30)):
        bird = animal_in(world, "in_captivity")
    uses.fire(world.actor("zoo"), bird.id, "death", {"cause": "age", "occurred_on": clock.today() - timedelta(days=20)})
    login(world.users["officer"])
    page = client.get("/deadlines/", query_string={"rule": "death_report"}).get_data(as_text=True)
    assert bird.registry_no in page and "Reported late" in page
    login(world.users["zoo"])
    assert bird.registry_no not in client.get("/deadlines/", query_string={"rule": "death_report"}).get_data(
        as_text=True
    )
