"""Random sequences of lifecycle events, by random roles, against the real services.

The model is the machine's own declaration: an event succeeds exactly when the
role has the capability, the pair (state, event) is declared and the guards
pass. Invariants after every step: each animal has exactly one, known state;
terminal animals never change; every accepted event wrote one audit entry and
every refused one wrote none; the audit chain verifies.
"""

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from registry.extensions import db
from registry.machines import ANIMAL
from registry.models import Animal, AuditEntry
from registry.permissions import has_capability
from registry.services import audit
from registry.services.errors import Conflict, DomainError, Forbidden, NotFound
from tests import uses
from tests.helpers import declared_animal, export_permit, payload

ROLES = ["officer", "customs", "zoo", "breeder", "auditor"]
EVENTS = [e for e in ANIMAL.events if e not in ("declare", "birth")]


@pytest.mark.slow
def test_random_event_sequences(world, session):
    exporting = export_permit(world)

    class Lifecycle(RuleBasedStateMachine):
        @initialize()
        def setup(self):
            self.ids, self.states, self.entries = [], {}, session.query(AuditEntry).count()
            self.frozen = {}

        @rule()
        def declare(self):
            if len(self.ids) < 4:
                a = declared_animal(world)
                self.ids.append(a.id)
                self.states[a.id] = a.state
                self.entries = session.query(AuditEntry).count()

        @precondition(lambda self: self.ids)
        @rule(index=st.integers(0, 3), event=st.sampled_from(EVENTS), role=st.sampled_from(ROLES))
        def fire(self, index, event, role):
            animal_id = self.ids[index % len(self.ids)]
            actor = world.actor(role)
            state = self.states[animal_id]
            data = {"permit_id": exporting.id} if event == "export" else payload(world, event)
            try:
                after = uses.fire(actor, animal_id, event, data)
            except Forbidden:
                assert not has_capability(actor, ANIMAL.transitions[event].capability)
            except NotFound:
                assert actor.role == "keeper"  # only keepers have a scope narrower than everything
            except Conflict as exc:
                legal = ANIMAL.rejection(state, event) is None
                assert not legal or exc.message  # a guard refused it, with a reason
            except DomainError as exc:
                raise AssertionError(f"unexpected {exc!r}") from exc
            else:
                assert ANIMAL.rejection(state, event) is None
                assert after.state == ANIMAL.transitions[event].target
                self.states[animal_id] = after.state
                self.entries += 1
                return
            assert session.get(Animal, animal_id).state == state

        @invariant()
        def one_known_state_and_terminal_never_changes(self):
            for animal_id, expected in self.states.items():
                actual = session.get(Animal, animal_id).state
                assert actual == expected and actual in set(ANIMAL.states)
                if actual in ANIMAL.terminal:
                    self.frozen.setdefault(animal_id, actual)
                if animal_id in self.frozen:
                    assert actual == self.frozen[animal_id]

        @invariant()
        def audit_counts_and_chain(self):
            assert session.query(AuditEntry).count() == self.entries
            assert audit.verify_database().ok

    Lifecycle.TestCase.settings = settings(
        max_examples=25, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
    )
    run = Lifecycle.TestCase("runTest")
    result = run.defaultTestResult()
    run.run(result)
    assert not result.errors and not result.failures, (result.errors + result.failures)[0][1]
    db.session.rollback()
