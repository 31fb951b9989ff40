"""Production serving: the database pool fits gunicorn's threads, and the gunicorn settings load."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

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
