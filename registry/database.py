"""Engine-level behaviour both backends need for correct transactions, and what a failed statement means.

SQLite: foreign keys on, WAL, recursive triggers on (otherwise ``INSERT OR
REPLACE`` silently deletes rows behind the audit log's back), and we take over
BEGIN from the driver so that write transactions can start with
``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes fails at
once with SQLITE_BUSY under a concurrent writer, whatever the busy timeout.

``fault`` sorts a database error into what the registry answers for it: the database was busy
(a deadlock, a serialization failure, a lock or busy timeout: retrying the same request may work) or
it could not be reached (the connection was refused or lost). Anything else is a bug: a 500.
"""

from __future__ import annotations

import contextvars
import enum

from flask import g
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, scoped_session

#: Execution option a write transaction sets on its connection before BEGIN.
WRITE_OPTION = "registry_write"
#: The bind key of the read replica's engine (REGISTRY_REPLICA_DATABASE_URL).
REPLICA = "replica"

#: COMMITs this thread has sent: a connection lost after one was sent leaves its outcome unknown.
_commits = contextvars.ContextVar("registry_commits", default=0)


class Fault(enum.Enum):
    #: Another writer held what this one needed (deadlock, serialization failure, lock or busy timeout).
    BUSY = "busy"
    #: The database could not be reached, or the connection was lost.
    UNREACHABLE = "unreachable"


#: PostgreSQL SQLSTATEs of a writer that lost to another one: nothing was saved, a retry may work.
_PG_BUSY = {
    "40P01",  # deadlock_detected
    "40001",  # serialization_failure
    "55P03",  # lock_not_available (lock_timeout, NOWAIT)
    "57014",  # query_canceled (statement_timeout)
}
#: The server is going away or refuses connections (class 08 is every connection exception).
_PG_UNREACHABLE = {"57P01", "57P02", "57P03", "53300"}


def fault(exc: BaseException) -> Fault | None:
    """What *exc* (raised by SQLAlchemy) says about the database; None for any other error."""
    if isinstance(exc, DisconnectionError):
        return Fault.UNREACHABLE
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    if type(orig).__module__.startswith("sqlite3"):
        # SQLITE_BUSY / SQLITE_LOCKED, once the busy timeout has run out ("database is locked").
        if getattr(orig, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return Fault.BUSY
        return None
    state = getattr(orig, "sqlstate", None)
    if state in _PG_BUSY:
        return Fault.BUSY
    if exc.connection_invalidated or (state or "").startswith("08") or state in _PG_UNREACHABLE:
        return Fault.UNREACHABLE
    # psycopg gives no SQLSTATE when there is no server to give one (refused, reset, timed out).
    if state is None and type(orig).__name__ in ("OperationalError", "InterfaceError"):
        return Fault.UNREACHABLE
    return None


def commits_sent() -> int:
    """How many COMMITs this thread has sent: compare two readings to know whether one went out
    between them (write transactions, and a request as a whole)."""
    return _commits.get()


@event.listens_for(Engine, "commit")
def _on_commit(_conn):
    _commits.set(_commits.get() + 1)


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection, _record):
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA recursive_triggers=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.close()


@event.listens_for(Engine, "begin")
def _on_begin(conn):
    if conn.dialect.name == "sqlite":
        immediate = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def engine_options(config) -> dict:
    """The engine's options: the configured ones, plus the pool's sizes for a server database.

    SQLite gets no pool sizes: Flask-SQLAlchemy gives an in-memory database a ``StaticPool``, which
    takes none, and a file has no server whose connections need counting. It waits
    ``SQLITE_BUSY_TIMEOUT_MS`` for the write lock (the driver's ``timeout``) before answering
    "database is locked".
    """
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("pool_pre_ping", True)
    if str(config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("timeout", config.get("SQLITE_BUSY_TIMEOUT_MS", 5000) / 1000)
        options["connect_args"] = connect_args
    else:
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
