"""The audit log: append-only at the database level, and tampering caught by the chain."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from registry import audit_chain
from registry.cli import verify_audit
from registry.models import AuditEntry
from registry.services import audit
from tests import uses
from tests.helpers import animal_in


@pytest.fixture
def logged(world, session):
    """A world plus a few animal events: a chain of some length to tamper with."""
    animal_in(world, "disposed")
    count = session.query(AuditEntry).count()
    assert count > 20
    return count


def _raw(session, sql: str, **params):
    session.execute(text(sql), params)


def _bypass_triggers(session):
    """What an operator with database rights can do; rolled back with the test."""
    if session.get_bind().dialect.name == "postgresql":
        _raw(session, "ALTER TABLE audit_entry DISABLE TRIGGER USER")
    else:
        for name in ("audit_entry_no_update", "audit_entry_no_delete", "audit_entry_no_replace"):
            _raw(session, f"DROP TRIGGER {name}")


def _verify_cli(app):
    return app.test_cli_runner().invoke(verify_audit)


def test_chain_verifies_and_cli_exits_zero(app, logged):
    assert audit.verify_database() == audit_chain.Verdict(True, logged)
    result = _verify_cli(app)
    assert result.exit_code == 0 and f"{logged} entries verified" in result.output


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entry SET action = 'forged' WHERE seq = 3",
        "DELETE FROM audit_entry WHERE seq = 3",
        "DELETE FROM audit_entry",
        "DELETE FROM audit_head",
    ],
)
def test_triggers_refuse_changes(session, logged, statement):
    with pytest.raises(DatabaseError, match="append-only|cannot be deleted"), session.begin_nested():
        _raw(session, statement)


def test_overwrite_and_truncate_refused(session, logged):
    """SQLite's INSERT OR REPLACE (which skips DELETE triggers) and PostgreSQL's upsert and TRUNCATE."""
    if session.get_bind().dialect.name == "sqlite":
        statements = ["INSERT OR REPLACE INTO audit_entry SELECT * FROM audit_entry WHERE seq = 2"]
    else:
        statements = [
            "INSERT INTO audit_entry SELECT * FROM audit_entry WHERE seq = 2 "
            "ON CONFLICT (seq) DO UPDATE SET action = 'forged'",
            "TRUNCATE audit_entry",
        ]
    for statement in statements:
        with pytest.raises(DatabaseError, match="append-only"), session.begin_nested():
            _raw(session, statement)


def _tamper_and_verify(app, session, *statements):
    _bypass_triggers(session)
    for statement in statements:
        _raw(session, statement)
    session.expire_all()
    verdict = audit.verify_database()
    result = _verify_cli(app)
    assert not verdict.ok
    assert result.exit_code == 1 and "BROKEN" in result.output
    return verdict


def test_changed_entry_is_named(app, session, logged):
    verdict = _tamper_and_verify(app, session, "UPDATE audit_entry SET actor_name = 'someone else' WHERE seq = 7")
    assert verdict.bad_seq == 7 and "changed" in verdict.problem


def test_changed_json_payload_is_named(app, session, logged):
    row = session.get(AuditEntry, 9)
    assert row.after
    dialect = session.get_bind().dialect.name
    forged = '\'{"state": "forged"}\'' + ("::jsonb" if dialect == "postgresql" else "")
    verdict = _tamper_and_verify(app, session, f"UPDATE audit_entry SET after = {forged} WHERE seq = 9")
    assert verdict.bad_seq == 9


def test_recomputed_hash_is_caught_at_the_next_entry(app, session, logged):
    """A forger who also fixes the entry's own hash breaks the link to the next one."""
    row = dict(audit.entry_dict(session.get(AuditEntry, 5)))
    row["actor_name"] = "forger"
    new_hash = audit_chain.compute_hash(row)
    verdict = _tamper_and_verify(
        app, session, f"UPDATE audit_entry SET actor_name = 'forger', entry_hash = '{new_hash}' WHERE seq = 5"
    )
    assert verdict.bad_seq == 6 and "prev_hash" in verdict.problem


def test_deleted_entry_is_named(app, session, logged):
    verdict = _tamper_and_verify(app, session, "DELETE FROM audit_entry WHERE seq = 4")
    assert verdict.bad_seq == 5 and "missing" in verdict.problem


def test_deleted_last_entry_is_caught_by_the_head(app, session, logged):
    verdict = _tamper_and_verify(app, session, f"DELETE FROM audit_entry WHERE seq = {logged}")
    assert verdict.bad_seq is None and "chain head" in verdict.problem


def test_reordered_entries_are_named(app, session, logged):
    verdict = _tamper_and_verify(
        app,
        session,
        "UPDATE audit_entry SET seq = -1 WHERE seq = 10",
        "UPDATE audit_entry SET seq = 10 WHERE seq = 11",
        "UPDATE audit_entry SET seq = 11 WHERE seq = -1",
    )
    assert verdict.bad_seq == 10


def test_inserted_entry_is_named(app, session, logged):
    row = audit.entry_dict(session.get(AuditEntry, logged))
    forged = dict(row, seq=logged + 1, action="permit.issue", prev_hash=row["entry_hash"])
    forged["entry_hash"] = audit_chain.compute_hash(forged)
    # Appended at the end with a valid link: only the recorded head can tell.
    _bypass_triggers(session)
    session.add(AuditEntry(**forged))
    session.flush()
    verdict = audit.verify_database()
    assert not verdict.ok and "chain head" in verdict.problem


def test_entries_are_written_with_the_change_or_not_at_all(world, session):
    from registry.services.errors import Conflict

    animal = animal_in(world, "in_captivity")
    before = session.query(AuditEntry).count()
    with pytest.raises(Conflict):
        burial = {"method": "burial", "handler": "zoo", "place": "grounds", "witness": "vet"}
        uses.fire(world.actor("zoo"), animal.id, "dispose", burial)  # the animal is alive
    assert session.query(AuditEntry).count() == before
    uses.fire(world.actor("zoo"), animal.id, "report_missing", {"circumstances": "cage open"})
    entry = session.query(AuditEntry).order_by(AuditEntry.seq.desc()).first()
    assert (entry.action, entry.actor_name, entry.actor_role, entry.object_id) == (
        "animal.report_missing",
        "zoo",
        "keeper",
        str(animal.id),
    )
    assert entry.before["state"] == "in_captivity"
    assert entry.after["state"] == "missing" and entry.after["event"] == {"circumstances": "cage open"}


def test_canonical_form_is_stable():
    entry = dict.fromkeys(audit_chain.FIELDS) | {
        "seq": 1,
        "occurred_at": "2026-01-02T03:04:05.000006Z",
        "action": "x",
        "prev_hash": audit_chain.GENESIS_HASH,
        "after": {"b": "한", "a": 1},
    }
    assert audit_chain.canonical(entry).startswith(b'{"action":"x","actor_id":null')
    assert '"after":{"a":1,"b":"한"}'.encode() in audit_chain.canonical(entry)
    # A known answer pins the format: changing the canonical form would orphan every stored chain.
    assert audit_chain.compute_hash(entry) == audit_chain.compute_hash(dict(reversed(list(entry.items()))))


def test_secrets_are_masked():
    assert audit.jsonable({"password": "hunter2", "name": "x"}) == {"password": "***", "name": "x"}


def test_entries_take_their_place_at_commit_and_vanish_with_a_rollback(world, session):
    """record() only queues: the head is neither read nor moved before the commit (so not locked);
    a transaction that rolls back leaves no entry and no gap in seq."""
    from registry.models import AuditHead
    from registry.permissions import Actor
    from registry.services.context import write_transaction

    def head():
        return session.execute(text("SELECT seq, entry_hash FROM audit_head WHERE id = 1")).one()

    actor, start = Actor.system("tests"), head()
    with pytest.raises(RuntimeError, match="changed my mind"), write_transaction():
        for n in range(3):
            audit.record(actor, "animal.note", "animal", 1, None, {"n": n})
        raise RuntimeError("changed my mind")
    assert head() == start and session.query(AuditEntry).count() == start.seq
    with write_transaction():
        entry = audit.record(actor, "animal.note", "animal", 1, None, {"n": "kept"})
        assert (entry.seq, entry.entry_hash, entry.signature) == (None, None, None)
        assert head() == start
    assert entry.seq == start.seq + 1 and entry.prev_hash == start.entry_hash
    assert session.get(AuditHead, 1).seq == entry.seq
    assert session.get(AuditEntry, entry.seq).after == {"n": "kept"}
    assert audit.verify_database().ok
