"""Backups of the whole database, consistent while the application keeps writing (docs/deploy.md).

SQLite goes through its online backup API, never a file copy: in WAL mode the last commits live in
the ``-wal`` file until a checkpoint moves them into the database file, so a copy of the database
file alone silently lacks them, and still verifies (the chain it holds is just shorter). The backup
API reads through a connection, WAL included, in one read transaction: a snapshot of every commit
made before it started. PostgreSQL goes through ``pg_dump -Fc``, which reads one snapshot too.

A restore goes into an empty database only (a new file, a freshly created PostgreSQL database):
it never overwrites a registry, so a wrong path or URL cannot destroy the live one.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL, inspect

#: A table every migrated registry has.
MARKER_TABLE = "audit_head"


class BackupError(Exception):
    """The backup or restore did not happen; the message says why (the CLI prints it, exit 2)."""


@dataclass(frozen=True)
class Done:
    path: Path
    #: The audit log's head in the copy: every entry up to it is in the backup.
    head_seq: int | None


def backup(url: URL, dest: Path) -> Done:
    """Write a consistent copy of the database at *url* to *dest* (which must not exist yet)."""
    if dest.exists():
        raise BackupError(f"{dest} exists; a backup never overwrites a file")
    if not dest.parent.is_dir():
        raise BackupError(f"{dest.parent} is not a directory")
    if url.get_backend_name() == "sqlite":
        _sqlite_backup(_sqlite_path(url), dest)
        return Done(dest, sqlite_head(dest))
    if url.get_backend_name() == "postgresql":
        _pg_dump(url, dest)
        return Done(dest, None)
    raise BackupError(f"no backup for {url.get_backend_name()} databases")


def restore(source: Path, url: URL, engine) -> None:
    """Load the backup *source* into the empty database at *url* (*engine* is its engine)."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    if _has_tables(engine):
        raise BackupError(
            f"{url.render_as_string(hide_password=True)} already holds tables: restore into a new, empty "
            "database (a new file, or createdb), check it, then point DATABASE_URL at it"
        )
    engine.dispose()
    if url.get_backend_name() == "sqlite":
        _sqlite_restore(source, _sqlite_path(url))
    elif url.get_backend_name() == "postgresql":
        _pg_restore(source, url)
    else:
        raise BackupError(f"no restore for {url.get_backend_name()} databases")


def sqlite_head(path: Path) -> int | None:
    """The audit log's head sequence number in the SQLite file at *path* (None before any entry)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute(f"SELECT seq FROM {MARKER_TABLE} WHERE id = 1").fetchone()
    finally:
        conn.close()
    return row[0] if row else None


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(url.database)


def _sqlite_backup(source: Path, dest: Path) -> None:
    # Into a temporary name first, renamed when complete: a crash never leaves a partial backup
    # under the name a restore would use.
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    # Read-write, though it only reads: a read-only connection cannot open a WAL database whose
    # shared-memory file it may not create.
    live = sqlite3.connect(source, timeout=30)
    copy = sqlite3.connect(partial)
    try:
        # pages=-1: every page in one step, so in one read transaction (a snapshot). Copied in steps,
        # a write by another connection between two steps would restart the copy, forever under load.
        live.backup(copy, pages=-1)
        # The copy is one self-contained file: no -wal beside it to lose in transit.
        copy.execute("PRAGMA journal_mode=DELETE")
        verdict = copy.execute("PRAGMA quick_check").fetchone()[0]
    finally:
        copy.close()
        live.close()
    if verdict != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy fails SQLite's quick_check: {verdict}")
    os.replace(partial, dest)


def _sqlite_restore(source: Path, target: Path) -> None:
    backup_file = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    live = sqlite3.connect(target)
    try:
        backup_file.backup(live, pages=-1)
        live.execute("PRAGMA journal_mode=WAL")  # what the application sets on every connection
    finally:
        live.close()
        backup_file.close()


def _has_tables(engine) -> bool:
    try:
        return bool(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The URL pg_dump/pg_restore take, without the password (which `ps` would show), and its env."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _pg_dump(url: URL, dest: Path) -> None:
    target, env = _libpq(url)
    partial = dest.with_name(dest.name + ".partial")
    # -Fc: compressed, and pg_restore can pick or reorder what it loads. The dump is one snapshot.
    done = subprocess.run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(partial), "--dbname", target],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed (exit {done.returncode}): {done.stderr.strip()}")
    os.replace(partial, dest)


def _pg_restore(source: Path, url: URL) -> None:
    target, env = _libpq(url)
    done = subprocess.run(
        [_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction", "--dbname", target, str(source)],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed (exit {done.returncode}): {done.stderr.strip()}")
