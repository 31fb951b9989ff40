"""The operators' commands call the same services and answer with exit codes."""

import pytest

from registry.cli import create_user, demo, expire_permits, verify_audit
from registry.machines import AnimalState
from registry.models import Animal, AuditEntry, Permit, User


def test_users_create_from_stdin(app, session, world):
    runner = app.test_cli_runner()
    result = runner.invoke(
        create_user,
        ["newkeeper", "--role", "keeper", "--party", str(world.breeder), "--password-stdin"],
        input="a long password\n",
    )
    assert result.exit_code == 0 and "created newkeeper (keeper)" in result.output
    user = session.query(User).filter_by(username="newkeeper").one()
    assert user.party_id == world.breeder
    entry = session.query(AuditEntry).filter_by(action="user.create", object_id=str(user.id)).one()
    assert entry.actor_role == "system" and entry.actor_name.startswith("system:cli:")
    refused = runner.invoke(create_user, ["lonely", "--role", "keeper", "--password-stdin"], input="a long password\n")
    assert refused.exit_code == 2 and "party_id: a keeper must be linked" in refused.output
    assert session.query(User).filter_by(username="lonely").count() == 0


@pytest.mark.slow
def test_demo_loads_once_and_verifies(app, session):
    runner = app.test_cli_runner()
    first = runner.invoke(demo)
    assert first.exit_code == 0, first.output
    for username in ("admin", "officer", "customs", "zoo", "auditor"):
        assert username in first.output
    counts = (session.query(Animal).count(), session.query(Permit).count(), session.query(AuditEntry).count())
    states = {p.state for p in session.query(Permit)}
    assert {"issued", "used", "expired", "closed", "submitted", "draft", "cancelled"} <= states
    assert {a.state for a in session.query(Animal)} == set(AnimalState)
    again = runner.invoke(demo)
    assert again.exit_code == 0 and "already present" in again.output
    assert counts == (session.query(Animal).count(), session.query(Permit).count(), session.query(AuditEntry).count())
    assert runner.invoke(verify_audit).exit_code == 0
    assert runner.invoke(expire_permits).exit_code == 0
