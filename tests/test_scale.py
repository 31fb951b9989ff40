"""The demo generator (`registry demo --scale N`, services/scale.py): a registry that verifies,
reconciles, and shows every state; bad sizes are refused before anything is written."""

from collections import defaultdict

import pytest
from sqlalchemy import func, select

from registry.cli import demo, verify_audit
from registry.extensions import db
from registry.machines import AnimalState, PermitState, TransferState
from registry.models import Animal, AuditEntry, AuditHead, Identifier, Permit, Transfer, User
from registry.models.animal import identifier_key
from registry.permissions import Actor
from registry.services import deadlines, scale
from registry.services import demo as demo_service


@pytest.mark.parametrize("size", ["0", "-5", "ten", "1.5", ""])
def test_a_bad_size_is_refused_and_nothing_is_written(app, session, size):
    result = app.test_cli_runner().invoke(demo, ["--scale", size])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--scale'" in result.output
    assert session.scalar(select(func.count()).select_from(User)) == 0
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def _every_state_is_there(session) -> None:
    animals = set(session.scalars(select(Animal.state).distinct()))
    assert animals == set(AnimalState)
    permits = set(session.scalars(select(Permit.state).distinct()))
    assert permits == set(PermitState)
    transfers = set(session.scalars(select(Transfer.state).distinct()))
    assert transfers == set(TransferState)


@pytest.mark.slow
def test_scale_builds_a_registry_that_verifies_reconciles_and_shows_every_state(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(demo, ["--scale", "400"])
    assert result.exit_code == 0, result.output
    assert "400 animals" in result.output and "keeper00001" in result.output
    assert session.scalar(select(func.count()).select_from(Animal)) == 400
    checked = runner.invoke(verify_audit, ["--full"])
    assert checked.exit_code == 0, checked.output
    assert "audit chain intact" in checked.output and "no row differs" in checked.output
    _every_state_is_there(session)
    # Births name their parents: of the species, a sire that is male (or unknown), a dam female.
    born = session.scalars(select(Animal).where(Animal.sire_id.is_not(None))).all()
    assert born
    for chick in born:
        assert chick.dam_id is not None
        assert chick.sire.species_id == chick.dam.species_id == chick.species_id
        assert chick.sire.sex in "MU" and chick.dam.sex in "FU"
    # Generated marks are searchable like any other: their search key is written with them.
    marks = session.execute(select(Identifier.value, Identifier.value_key)).all()
    assert marks and all(key == identifier_key(value) for value, key in marks)
    # Things left undone are overdue on the officers' list.
    officer = session.scalar(select(User).where(User.username == "officer"))
    overdue = {item.rule.code for item in deadlines.items(Actor.for_user(officer), overdue_only=True)}
    assert {"carcass_disposal", "register_after_entry", "missing_outcome", "acknowledge_transfer"} <= overdue
    # A second run changes nothing.
    entries = session.scalar(select(func.count()).select_from(AuditEntry))
    again = runner.invoke(demo, ["--scale", "400"])
    assert again.exit_code == 0 and "already present; nothing changed" in again.output
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries


@pytest.mark.slow
def test_the_bulk_path_writes_the_entries_the_services_write(app, session):
    """For every action both wrote, the bulk entries carry the same keys as the services' entries and
    concern the same kinds of subjects."""
    operator = Actor.system("test")
    demo_service.load(operator)
    core = session.scalar(select(AuditHead.seq))
    scale.generate(operator, 120, seed=7)
    shapes: dict[tuple[str, bool], dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for e in session.scalars(select(AuditEntry).where(AuditEntry.action != "audit.checkpoint")):
        made = shapes[(e.action, e.seq > core)]
        made["before"].add(frozenset(e.before or ()))
        made["after"].add(frozenset(e.after or ()))
        made["subjects"].add(frozenset(s["type"] for s in e.subjects))
    both = {action for action, bulk in shapes if bulk and (action, False) in shapes}
    assert {"animal.declare", "animal.enter", "animal.birth", "animal.transfer", "permit.endorse"} <= both
    for action in sorted(both):
        service, bulk = shapes[(action, False)], shapes[(action, True)]
        ignore = {"pdf_sha256"} if action == "permit.issue" else set()  # not rendered in bulk (services/scale.py)
        if service["before"] == {frozenset()}:  # a creation: the whole snapshot, the same keys
            assert bulk["after"] == service["after"], action
        else:  # a change: only what changed, so the keys the bulk path wrote are ones the services write
            assert set().union(*bulk["after"]) - ignore <= set().union(*service["after"]), action
            assert set().union(*bulk["before"]) <= set().union(*service["before"]), action
        assert set().union(*bulk["subjects"]) <= set().union(*service["subjects"]), action


@pytest.mark.slow
def test_the_default_demo_shows_every_state(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(demo)
    assert result.exit_code == 0, result.output
    assert session.scalar(select(func.count()).select_from(Animal)) == demo_service.ANIMALS
    _every_state_is_there(session)
    assert runner.invoke(verify_audit, ["--full"]).exit_code == 0
    db.session.remove()
