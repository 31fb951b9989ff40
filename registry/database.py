"""Engine-level behaviour both backends need for correct transactions.

SQLite: foreign keys on, WAL, recursive triggers on (otherwise ``INSERT OR
REPLACE`` silently deletes rows behind the audit log's back), and we take over
BEGIN from the driver so that write transactions can start with
``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes fails at
once with SQLITE_BUSY under a concurrent writer, whatever the busy timeout.
"""

from sqlalchemy import event
from sqlalchemy.engine import Engine

#: Execution option a write transaction sets on its connection before BEGIN.
WRITE_OPTION = "registry_write"


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
