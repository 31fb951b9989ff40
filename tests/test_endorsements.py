"""Customs endorsement at entry and exit: quantities, validity, direction, and the animals that cross."""

import pytest

from registry.models import Animal, AuditEntry, EndorsedLine, Permit
from registry.services import audit, endorsements
from registry.services.errors import Conflict, Forbidden, ValidationFailed
from tests import uses
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
    e = uses.endorse(world.actor("customs"), permit.id, entry(quantity=2))
    assert [x.quantity for x in e.lines] == [2]
    assert session.get(Permit, permit.id).state == "partly_used"
    assert {session.get(Animal, a.id).state for a in (first, second)} == {"entered"}
    uses.endorse(
        world.actor("customs"),
        permit.id,
        entry(quantity=1, animals=[{"sex": "M", "identifiers": [{"kind": "microchip", "value": "410000000000103"}]}]),
    )
    assert session.get(Permit, permit.id).state == "used"
    arrived = session.query(Animal).filter_by(permit_line_id=permit.lines[0].id).order_by(Animal.id).all()
    assert [a.state for a in arrived] == ["entered"] * 3 and arrived[2].identifiers[0].value == "410000000000103"
    # The permit lifecycle refuses, in its own words (endorsement no longer restates them).
    with pytest.raises(Conflict, match="it is now 'Fully used'"):
        uses.endorse(world.actor("customs"), permit.id, entry())
    assert audit.verify_database().ok


def test_over_quantity_is_refused_and_changes_nothing(world, session):
    permit = issued_permit(world)
    before = (session.query(AuditEntry).count(), session.query(Animal).count())
    with pytest.raises(Conflict, match="allows 3; 0 already crossed, 4 more would exceed it"):
        uses.endorse(world.actor("customs"), permit.id, entry(quantity=4))
    assert (session.query(AuditEntry).count(), session.query(Animal).count()) == before
    assert session.query(EndorsedLine).count() == 0 and session.get(Permit, permit.id).state == "issued"


def test_expired_cancelled_and_wrong_direction_are_refused(world):
    permit = issued_permit(world)
    with pytest.raises(Conflict, match="endorsed at entry, not at exit"):
        uses.endorse(world.actor("customs"), permit.id, entry() | {"direction": "exit"})
    with after_validity(permit), pytest.raises(Conflict, match="expired on"):
        uses.endorse(world.actor("customs"), permit.id, entry())
    other = issued_permit(world)
    uses.permit_event(world.actor("officer"), other.id, "cancel", {"reason": "forged export permit"})
    with pytest.raises(Conflict, match="final state 'Cancelled'"):  # the lifecycle's words
        uses.endorse(world.actor("customs"), other.id, entry())


def test_refused_and_seized_consignments(world, session):
    permit = issued_permit(world)
    refused = declared_animal(world, permit=permit)
    uses.endorse(world.actor("customs"), permit.id, entry(outcome="refused", reason="sick animals"))
    assert session.get(Animal, refused.id).state == "void"
    with pytest.raises(ValidationFailed):  # a seizure needs a facility to take the animals
        uses.endorse(world.actor("customs"), permit.id, entry(outcome="seized"))
    uses.endorse(world.actor("customs"), permit.id, entry(outcome="seized") | {"seizure_facility_id": world.rescue})
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
        uses.endorse(world.actor("customs"), permit.id, data)
    assert "name the 2 animal(s)" in exc.value.fields["lines.0.animal_ids"]
    data["lines"][0]["animal_ids"] = birds
    uses.endorse(world.actor("customs"), permit.id, data)
    assert [session.get(Animal, b).state for b in birds] == ["exported", "exported"]
    assert session.get(Permit, permit.id).state == "partly_used"
    assert endorsements.cleared(session, permit)[permit.lines[0].id] == 2


def test_a_seizure_at_exit_needs_no_rescue_facility(world, session):
    """Animals stopped at exit stay where they are: only a seizure at entry sends them somewhere."""
    permit = export_permit(world)
    bird = animal_in(world, "in_captivity")
    stopped = {"direction": "exit", "port": "ICN", "transport_doc": "AWB 2", "lines": [{"line_no": 1, "quantity": 1}]}
    stopped["lines"][0] |= {"outcome": "seized", "reason": "no veterinary certificate"}
    uses.endorse(world.actor("customs"), permit.id, stopped)
    assert session.get(Animal, bird.id).state == "in_captivity"


def test_only_customs_endorse(world):
    permit = issued_permit(world)
    for who in ("officer", "zoo", "auditor"):
        with pytest.raises(Forbidden):
            uses.endorse(world.actor(who), permit.id, entry())


def test_malformed_endorsement_is_refused_at_the_edge(world, session):
    """The shape is checked once, by the command's schema, before the permit is even loaded."""
    permit = issued_permit(world)
    with pytest.raises(ValidationFailed) as exc:
        uses.endorse(world.actor("customs"), permit.id, entry(quantity="0.0001") | {"direction": "sideways"})
    assert set(exc.value.fields) == {"direction", "lines.0.quantity"}
    assert session.get(Permit, permit.id).state == "issued"


def test_the_wrong_direction_is_the_lifecycles_refusal_on_its_field(world):
    permit = export_permit(world)
    with pytest.raises(Conflict) as exc:
        uses.endorse(world.actor("customs"), permit.id, entry())
    assert "endorsed at exit, not at entry" in exc.value.fields["direction"]
