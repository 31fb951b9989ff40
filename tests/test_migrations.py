"""Migrations go up from empty, down, and up again; models and migrations agree; triggers exist."""

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from registry.extensions import db

# Every migration up, down and up again on a database of its own.
pytestmark = pytest.mark.slow


def _alembic_config():
    return current_app.extensions["migrate"].migrate.get_config()


def _triggers() -> set[str]:
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            rows = conn.exec_driver_sql(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                "AND tgrelid::regclass::text IN ('audit_entry', 'audit_head')"
            )
        else:
            rows = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {r[0] for r in rows}


def test_single_head(fresh_app):
    with fresh_app.app_context():
        assert len(ScriptDirectory.from_config(_alembic_config()).get_heads()) == 1


def test_up_down_up_and_models_agree(fresh_app):
    with fresh_app.app_context():
        command.check(_alembic_config())  # raises when autogenerate would find a difference
        assert {"audit_entry_no_update", "audit_entry_no_delete"} <= _triggers() or {
            "audit_entry_no_change",
            "audit_entry_no_truncate",
        } <= _triggers()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}
        assert _triggers() == set()
        upgrade()
        command.check(_alembic_config())
        assert len(_triggers()) >= 4
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT seq, entry_hash FROM audit_head").all() == [(0, "0" * 64)]


def test_subjects_migration_indexes_older_entries_and_keeps_their_hashes(fresh_app):
    from sqlalchemy import insert, update

    from registry import audit_chain
    from registry.models import AuditEntry, AuditHead
    from registry.models.base import utcnow
    from registry.permissions import Actor
    from registry.services import audit
    from registry.services.context import write_transaction

    with fresh_app.app_context():
        downgrade(revision="9b8e4c2d1f07")
        old = {
            "seq": 1,
            "occurred_at": audit_chain.format_time(now := utcnow()),
            "actor_id": None,
            "actor_name": "tests",
            "actor_role": "system",
            "action": "animal.note",
            "object_type": "animal",
            "object_id": "7",
            "before": None,
            "after": None,
            "request_id": None,
            "client_addr": None,
            "prev_hash": "0" * 64,
        }
        digest = audit_chain.compute_hash(old)
        with db.engine.begin() as conn:
            # Only the columns of the schema before subjects: the model's own insert would name them all.
            conn.execute(insert(AuditEntry.__table__).values({**old, "occurred_at": now, "entry_hash": digest}))
            conn.execute(update(AuditHead.__table__).values(seq=1, entry_hash=digest))
        upgrade()
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT subject_type, subject_id, seq FROM audit_subject").all() == [
                ("animal", "7", 1)
            ]
        with write_transaction():
            entry = audit.record(Actor.system("tests"), "animal.note", "animal", 7)
        # The first new entry links back to the older one the migration indexed; both verify.
        assert entry.subjects == [{"type": "animal", "id": "7", "prev": 1}]
        assert audit.verify_database() == audit_chain.Verdict(True, 2)
        db.session.remove()
