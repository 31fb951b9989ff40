"""Production serving: the database pool fits gunicorn's threads, and the gunicorn settings load."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from registry import create_app
from registry.extensions import db

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = "postgresql+psycopg://registry@127.0.0.1:1/registry"  # never connected to


def _setting(name: str, **environ: str) -> str:
    """A setting of config.Config as a fresh process reads it from *environ*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")} | environ
    code = f"import config; print(config.Config.{name})"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    ).stdout.strip()


def test_pool_size_follows_the_threads_unless_set():
    assert _setting("DB_POOL_SIZE") == "4"
    assert _setting("DB_POOL_SIZE", REGISTRY_THREADS="6") == "6"
    assert _setting("DB_POOL_SIZE", REGISTRY_THREADS="6", REGISTRY_DB_POOL_SIZE="9") == "9"
    assert _setting("DB_MAX_OVERFLOW", REGISTRY_DB_MAX_OVERFLOW="0") == "0"


def test_a_server_database_gets_the_configured_pool():
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": SERVER_URL, "DB_POOL_SIZE": 7, "DB_MAX_OVERFLOW": 3, "DB_POOL_TIMEOUT": 5},
        check_start=False,
    )
    with app.app_context():
        pool = db.engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout) == (7, 3, 5)
        assert pool._pre_ping
        assert pool._recycle == 1800


def test_sqlite_keeps_its_own_pool():
    # An in-memory SQLite's StaticPool takes no sizes: passing them would fail at start.
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "DB_POOL_SIZE": 7}, check_start=False)
    with app.app_context():
        assert type(db.engine.pool).__name__ == "StaticPool"


def test_gunicorn_settings(monkeypatch):
    monkeypatch.setenv("REGISTRY_THREADS", "3")
    monkeypatch.delenv("REGISTRY_WORKERS", raising=False)
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    settings = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    assert settings["worker_class"] == "gthread"
    assert settings["threads"] == 3
    assert settings["workers"] == 2 * (os.cpu_count() or 1)
    assert settings["wsgi_app"] == "registry:create_app()"
    assert settings["preload_app"] is True
    # A request may stream for minutes: gunicorn must not cut it before nginx does.
    assert settings["graceful_timeout"] >= 60
    assert "x-request-id" in settings["access_log_format"]


def test_exports_read_the_replica_when_one_is_configured(tmp_path):
    """A replica that lags (here: a backup taken before the last writes) bounds what an export holds;
    the export's own audit entry is still written to the primary."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from registry import backup
    from registry.models import AuditHead
    from registry.permissions import Actor
    from registry.services import exports, reference, reports
    from tests.conftest import _config

    operator = Actor.system("tests")
    primary_url, replica_path = f"sqlite:///{tmp_path / 'primary.sqlite'}", tmp_path / "replica.sqlite"

    def head(app) -> int:
        with app.app_context():
            seq = db.session.scalar(select(AuditHead.seq))
            db.session.remove()
        return seq

    def parties(app, count: int) -> None:
        with app.app_context():
            for i in range(count):
                reference.create_party(operator, "organisation", f"Party {i}")
            db.session.remove()

    def exported(app) -> int:
        with app.app_context():
            chunks, _, _ = exports.export(operator, {}, "csv")
            lines = "".join(chunks).strip().splitlines()
            db.session.remove()
        return len(lines) - 1  # the header

    primary = create_app(_config(primary_url))
    with primary.app_context():
        upgrade()
    parties(primary, 3)
    with primary.app_context():
        backup.backup(db.engine.url, replica_path)  # the replica, as of now
    parties(primary, 4)
    replicated = backup.sqlite_head(replica_path)
    assert head(primary) == replicated + 4

    both = create_app(
        type("WithReplica", (_config(primary_url),), {"REPLICA_DATABASE_URL": f"sqlite:///{replica_path}"})
    )
    assert exported(both) == replicated  # the replica's entries only
    assert head(both) == replicated + 5  # the export itself was recorded on the primary
    assert backup.sqlite_head(replica_path) == replicated
    assert exported(primary) == replicated + 6  # without a replica: the primary, up to its own entry

    # The annual report reads the replica too: one without the tables makes that visible.
    empty = create_app(
        type("EmptyReplica", (_config(primary_url),), {"REPLICA_DATABASE_URL": f"sqlite:///{tmp_path / 'e'}"})
    )
    with primary.app_context():
        assert reports.rows(operator, 2026, "export") == []
    with empty.app_context(), pytest.raises(OperationalError, match="no such table"):
        reports.rows(operator, 2026, "export")
    for app in (primary, both, empty):
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
