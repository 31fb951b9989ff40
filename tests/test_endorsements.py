"""Customs endorsement at entry and exit: quantities, validity, direction, and the animals that cross."""

import pytest

from registry.models import Animal, AuditEntry, EndorsedLine, Permit
from registry.services import audit, endorsements, permits
from registry.services.errors import Conflict, Forbidden, ValidationFailed
from tests.helpers import after_validity, animal_in, declared_animal, export_permit, issued_permit


def entry(line_no=1, quantity=1, outcome="cleared", **extra):
    return {
        "direction": "entry",
        "port": "ICN",
        "transport_doc": "AWB 180-12345675",
        "lines": [{"line_no": line_no, "quantity": quantity, "outcome": outcome, **extra}],
    }


def test_entry_in_two_consignments(world, session):
    permit = issued_permit(world)  # 3 live parrots
    first, second = declared_animal(world, "410000000000101", permit), declared_animal(world, permit=permit)
    e = endorsements.endorse(world.actor("customs"), permit.id, entry(quantity=2))
    assert [x.quantity for x in e.lines] == [2]
    assert session.get(Permit, permit.id).state == "partly_used"
    assert {session.get(Animal, a.id).state for a in (first, second)} == {"entered"}
    endorsements.endorse(
        world.actor("customs"),
        permit.id,
        entry(quantity=1, animals=[{"sex": "M", "identifiers": [{"kind": "microchip", "value": "410000000000103"}]}]),
    )
    assert session.get(Permit, permit.id).state == "used"
    arrived = session.query(Animal).filter_by(permit_line_id=permit.lines[0].id).order_by(Animal.id).all()
    assert [a.state for a in arrived] == ["entered"] * 3 and arrived[2].identifiers[0].value == "410000000000103"
    with pytest.raises(Conflict, match="is Fully used: it cannot be used"):
        endorsements.endorse(world.actor("customs"), permit.id, entry())
    assert audit.verify_database().ok


def test_over_quantity_is_refused_and_changes_nothing(world, session):
    permit = issued_permit(world)
    before = (session.query(AuditEntry).count(), session.query(Animal).count())
    with pytest.raises(Conflict, match="allows 3; 0 already crossed, 4 more would exceed it"):
        endorsements.endorse(world.actor("customs"), permit.id, entry(quantity=4))
    assert (session.query(AuditEntry).count(), session.query(Animal).count()) == before
    assert session.query(EndorsedLine).count() == 0 and session.get(Permit, permit.id).state == "issued"


def test_expired_cancelled_and_wrong_direction_are_refused(world):
    permit = issued_permit(world)
    with pytest.raises(Conflict, match="endorsed at entry, not at exit"):
        endorsements.endorse(world.actor("customs"), permit.id, entry() | {"direction": "exit"})
    with after_validity(permit), pytest.raises(Conflict, match="expired on"):
        endorsements.endorse(world.actor("customs"), permit.id, entry())
    other = issued_permit(world)
    permits.fire(world.actor("officer"), other.id, "cancel", {"reason": "forged export permit"})
    with pytest.raises(Conflict, match="is Cancelled"):
        endorsements.endorse(world.actor("customs"), other.id, entry())


def test_refused_and_seized_consignments(world, session):
    permit = issued_permit(world)
    refused = declared_animal(world, permit=permit)
    endorsements.endorse(world.actor("customs"), permit.id, entry(outcome="refused", reason="sick animals"))
    assert session.get(Animal, refused.id).state == "void"
    with pytest.raises(ValidationFailed):  # a seizure needs a facility to take the animals
        endorsements.endorse(world.actor("customs"), permit.id, entry(outcome="seized"))
    endorsements.endorse(
        world.actor("customs"), permit.id, entry(outcome="seized") | {"seizure_facility_id": world.rescue}
    )
    seized = session.query(Animal).filter_by(state="seized").one()
    assert seized.facility_id == world.rescue and session.get(Permit, permit.id).state == "partly_used"


def test_exit_exports_the_named_animals(world, session):
    permit = export_permit(world)  # 5 parrots, export
    birds = [animal_in(world, "in_captivity").id for _ in range(2)]
    data = {
        "direction": "exit",
        "port": "ICN",
        "transport_doc": "AWB 1",
        "lines": [{"line_no": 1, "quantity": 2, "animal_ids": birds[:1]}],
    }
    with pytest.raises(ValidationFailed) as exc:
        endorsements.endorse(world.actor("customs"), permit.id, data)
    assert "name the 2 animal(s)" in exc.value.fields["lines.0.animal_ids"]
    data["lines"][0]["animal_ids"] = birds
    endorsements.endorse(world.actor("customs"), permit.id, data)
    assert [session.get(Animal, b).state for b in birds] == ["exported", "exported"]
    assert session.get(Permit, permit.id).state == "partly_used"
    assert endorsements.cleared(session, permit.lines[0].id) == 2


def test_only_customs_endorse(world):
    permit = issued_permit(world)
    for who in ("officer", "zoo", "auditor"):
        with pytest.raises(Forbidden):
            endorsements.endorse(world.actor(who), permit.id, entry())
