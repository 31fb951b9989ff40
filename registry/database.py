"""Engine-level behaviour both backends need for correct transactions.

SQLite: foreign keys on, WAL, recursive triggers on (otherwise ``INSERT OR
REPLACE`` silently deletes rows behind the audit log's back), and we take over
BEGIN from the driver so that write transactions can start with
``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes fails at
once with SQLITE_BUSY under a concurrent writer, whatever the busy timeout.
"""

from flask import g
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session

#: Execution option a write transaction sets on its connection before BEGIN.
WRITE_OPTION = "registry_write"
#: The bind key of the read replica's engine (REGISTRY_REPLICA_DATABASE_URL).
REPLICA = "replica"


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection, _record):
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA recursive_triggers=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.close()


@event.listens_for(Engine, "begin")
def _on_begin(conn):
    if conn.dialect.name == "sqlite":
        immediate = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def engine_options(config) -> dict:
    """The engine's options: the configured ones, plus the pool's sizes for a server database.

    SQLite gets none of them: Flask-SQLAlchemy gives an in-memory database a ``StaticPool``, which
    takes no sizes, and a file has no server whose connections need counting.
    """
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("pool_pre_ping", True)
    if not str(config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        options.setdefault("pool_size", config.get("DB_POOL_SIZE", 5))
        options.setdefault("max_overflow", config.get("DB_MAX_OVERFLOW", 10))
        options.setdefault("pool_timeout", config.get("DB_POOL_TIMEOUT", 30))
        options.setdefault("pool_recycle", config.get("DB_POOL_RECYCLE", 1800))
    return options


def replica_binds(config) -> dict:
    """``SQLALCHEMY_BINDS`` with the read replica's engine when one is configured (its own pool)."""
    binds = dict(config.get("SQLALCHEMY_BINDS") or {})
    url = config.get("REPLICA_DATABASE_URL")
    if url:
        options = dict(config) | {"SQLALCHEMY_DATABASE_URI": url}
        binds[REPLICA] = {"url": url, **engine_options(options)}
    return binds


def reader() -> Session | scoped_session:
    """The session for the long read-only paths (audit exports, the annual report).

    On the read replica when one is configured: one session per application context, which a
    streamed export keeps open until its last line (``stream_with_context``), closed at teardown.
    On PostgreSQL it reads in one REPEATABLE READ snapshot, so every batch of an export sees the
    same replica state. Without a replica, the application's own session.
    """
    from registry.extensions import db

    engine = db.engines.get(REPLICA)
    if engine is None:
        return db.session
    session = g.get("replica_session")
    if session is None:
        if engine.dialect.name == "postgresql":
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        session = g.replica_session = Session(engine)
    return session


def close_reader(_exc=None) -> None:
    session = g.pop("replica_session", None)
    if session is not None:
        session.close()
