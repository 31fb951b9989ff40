"""Both lifecycles: the declarations themselves, then every (state, event) pair through the services."""

import contextlib

import pytest

from registry.commands import animals as commands
from registry.machines import ANIMAL, FACILITY, PERMIT, TRANSFER, AnimalState, PermitState
from registry.machines.diagram import markdown, mermaid
from registry.models import AuditEntry
from registry.services import audit
from registry.services.errors import Conflict, ValidationFailed
from tests import uses
from tests.helpers import ANIMAL_PATHS, after_validity, animal_in, export_permit, payload, permit_in


@pytest.mark.parametrize("machine", [ANIMAL, PERMIT, TRANSFER, FACILITY], ids=lambda m: m.name)
def test_every_pair_is_a_transition_or_a_reasoned_refusal(machine):
    for state in machine.states:
        for event in machine.events:
            t = machine.transitions[event]
            reason = machine.rejection(state, event)
            if state in t.sources:
                assert reason is None
            else:
                assert reason and len(reason) > 20, (state, event)
    for event, t in machine.transitions.items():
        assert (machine.rejection(None, event) is None) == t.creates


@pytest.mark.parametrize("machine", [ANIMAL, PERMIT, TRANSFER, FACILITY], ids=lambda m: m.name)
def test_shape_of_the_machine(machine):
    # Terminal states have no way out; every other state has one; every state can be reached.
    for state in machine.states:
        outgoing = [t for t in machine.transitions.values() if state in t.sources]
        assert bool(outgoing) == (state not in machine.terminal), state
    reached = {t.target for t in machine.transitions.values() if t.creates}
    while True:
        more = {t.target for t in machine.transitions.values() if t.sources & reached} - reached
        if not more:
            break
        reached |= more
    assert reached == set(machine.states)


@pytest.mark.parametrize("machine", [ANIMAL, PERMIT, TRANSFER, FACILITY], ids=lambda m: m.name)
def test_diagram_shows_every_transition_and_docs_are_current(machine):
    diagram = mermaid(machine)
    for t in machine.transitions.values():
        for source in t.sources or ["[*]"]:
            assert f"{source} --> {t.target}: {t.event}" in diagram
    with open(f"docs/{machine.name}-lifecycle.md", encoding="utf-8") as f:
        assert f.read() == markdown(machine), "run `registry docs diagrams` and commit the result"


ANIMAL_EVENTS = [e for e in ANIMAL.events if e not in ("declare", "birth")]


@pytest.mark.parametrize("state", list(ANIMAL_PATHS))
@pytest.mark.parametrize("event", ANIMAL_EVENTS)
def test_animal_pair(world, session, state, event):
    exporting = export_permit(world)
    animal = animal_in(world, state, export_permit_id=exporting.id)
    data = {"permit_id": exporting.id} if event == "export" else payload(world, event)
    entries = session.query(AuditEntry).count()
    t = ANIMAL.transitions[event]
    if state in t.sources:
        after = uses.fire(world.operator, animal.id, event, data)
        assert after.state == t.target
        assert after.events[-1].event == event and after.events[-1].from_state == state
        assert session.query(AuditEntry).count() == entries + 1
    else:
        with pytest.raises(Conflict) as refused:
            uses.fire(world.operator, animal.id, event, data)
        assert refused.value.message == ANIMAL.rejection(state, event)
        assert session.get(type(animal), animal.id).state == state
        assert session.query(AuditEntry).count() == entries
    assert audit.verify_database().ok


@pytest.mark.parametrize("event", ["declare", "birth"])
def test_creating_events_cannot_apply_to_an_existing_animal(world, event):
    """The machine refuses them, and no command exists to ask: they create animals of their own."""
    assert "creates a new animal" in ANIMAL.rejection("in_captivity", event)
    assert event not in commands.EVENTS
    animal = animal_in(world, "in_captivity")
    with pytest.raises(ValidationFailed, match="unknown event"):
        uses.fire(world.operator, animal.id, event, {})


PERMIT_EVENTS = [e for e in PERMIT.events if e not in ("create", "endorse", "endorse_final")]


def _permit_actor(world, event):
    return world.actor("zoo") if event in ("submit", "withdraw") else world.actor("officer2")


@pytest.mark.parametrize("state", [s.value for s in PermitState])
@pytest.mark.parametrize("event", PERMIT_EVENTS)
def test_permit_pair(world, session, state, event):
    permit = permit_in(world, state)
    # Expiry waits for the end of the validity: fire it on the first day after (when there is one).
    day = after_validity(permit) if event == "expire" and permit.valid_until else contextlib.nullcontext()
    t = PERMIT.transitions[event]
    entries = session.query(AuditEntry).count()
    if state in t.sources:
        with day:
            after = uses.permit_event(_permit_actor(world, event), permit.id, event, {"reason": "a reason"})
        assert after.state == t.target
        assert session.query(AuditEntry).count() == entries + 1
    else:
        with day, pytest.raises(Conflict) as refused:
            uses.permit_event(_permit_actor(world, event), permit.id, event, {"reason": "a reason"})
        assert refused.value.message == PERMIT.rejection(state, event)
        assert session.query(AuditEntry).count() == entries
    assert audit.verify_database().ok


def test_terminal_states_are_declared_final():
    assert {AnimalState.DISPOSED, AnimalState.EXPORTED, AnimalState.VOID} == ANIMAL.terminal
    assert PermitState.CLOSED in PERMIT.terminal and PermitState.ISSUED not in PERMIT.terminal
