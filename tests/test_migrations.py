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
