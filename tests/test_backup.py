"""Backups taken while the registry writes: `registry backup` copies every committed entry, a plain
file copy does not, and a restored copy verifies and reconciles (docs/deploy.md, "Backups")."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from registry import create_app, signing
from registry.backup import sqlite_head
from registry.cli import backup_command, restore_command
from registry.extensions import db
from registry.models import AuditEntry, AuditHead
from registry.permissions import Actor
from registry.services import audit, reference
from registry.services.reconcile import reconcile
from tests.conftest import BACKENDS, _config, make_database

OPERATOR = Actor.system("tests")


@pytest.fixture
def databases(tmp_path):
    """Makes empty databases of a backend and drops them all at the end."""
    cleanups = []

    def make(kind: str) -> str:
        url, cleanup = make_database(kind, tmp_path)
        cleanups.append(cleanup)
        return url

    yield make
    for cleanup in cleanups:
        cleanup()


def _app(url: str, *, migrate: bool = False):
    application = create_app(_config(url))
    if migrate:
        with application.app_context():
            upgrade()
    return application


def _dispose(application) -> None:
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def _head(application) -> int:
    with application.app_context():
        try:
            return db.session.scalar(select(AuditHead.seq).where(AuditHead.id == 1))
        finally:
            db.session.remove()


def _parties(application, count: int, name: str) -> None:
    with application.app_context():
        for i in range(count):
            reference.create_party(OPERATOR, "organisation", f"{name} {i}")
        db.session.remove()


def _checked(application) -> tuple[bool, list, list[str]]:
    """The copy's verdict, the rows that differ from its log, and its entries' hashes in order."""
    public_pem = signing.Signer(application.config["AUDIT_SIGNING_KEY"]).public_pem
    with application.app_context():
        try:
            verdict = audit.verify_database(public_pem)
            differences = list(reconcile())
            hashes = list(db.session.scalars(select(AuditEntry.entry_hash).order_by(AuditEntry.seq)))
        finally:
            db.session.remove()
    return verdict.ok, differences, hashes


def test_a_file_copy_loses_the_commits_in_the_wal_and_still_verifies_the_backup_has_them(tmp_path, databases):
    live = _app(databases("sqlite"), migrate=True)
    try:
        _parties(live, 5, "Before the checkpoint")
        with live.app_context():  # the commits so far move into the database file...
            db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            db.session.remove()
        _parties(live, 5, "Only in the WAL")  # ...these stay in the -wal file, committed
        head = _head(live)
        path = Path(live.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))

        copied = tmp_path / "copied.sqlite"
        shutil.copyfile(path, copied)  # what a nightly `cp registry.sqlite` takes
        done = live.test_cli_runner().invoke(backup_command, [str(tmp_path / "backup.sqlite")])
        assert done.exit_code == 0, done.output
        assert f"audit entries up to {head}" in done.output

        lost = head - sqlite_head(copied)
        assert lost >= 5  # committed entries missing from the copy...
        copy = _app(f"sqlite:///{copied}")
        ok, differences, _ = _checked(copy)
        _dispose(copy)
        assert ok and differences == []  # ...and nothing says so: the shorter chain verifies

        assert sqlite_head(tmp_path / "backup.sqlite") == head
        assert not (tmp_path / "backup.sqlite-wal").exists()  # one self-contained file
    finally:
        _dispose(live)


@pytest.mark.slow
@pytest.mark.parametrize("kind", BACKENDS)
def test_a_backup_taken_while_a_writer_writes_restores_whole_and_verified(kind, tmp_path, databases):
    """The demo's history, then a writer that keeps committing during the backup: the restored copy
    holds every entry committed before the backup started, verifies, and reconciles."""
    from registry.services import demo

    live = _app(databases(kind), migrate=True)
    target = _app(databases(kind))
    stop, written = threading.Event(), threading.Event()
    writer_errors: list[Exception] = []

    def writer():
        with live.app_context():
            i = 0
            try:
                while not stop.is_set():
                    reference.create_party(OPERATOR, "organisation", f"Written during the backup {i}")
                    i += 1
                    written.set()
            except Exception as exc:  # asserted on below
                writer_errors.append(exc)
            finally:
                db.session.remove()

    try:
        with live.app_context():
            demo.load(OPERATOR)
            db.session.remove()
        thread = threading.Thread(target=writer)
        thread.start()
        assert written.wait(30)
        committed = _head(live)  # every entry up to here was committed before the backup started
        dest = tmp_path / ("backup.sqlite" if kind == "sqlite" else "backup.dump")
        done = live.test_cli_runner().invoke(backup_command, [str(dest)])
        stop.set()
        thread.join(30)
        assert done.exit_code == 0, done.output
        assert not writer_errors
        _, _, live_hashes = _checked(live)

        restored = target.test_cli_runner().invoke(restore_command, [str(dest)])
        assert restored.exit_code == 0, restored.output
        ok, differences, hashes = _checked(target)
        assert ok
        assert differences == []
        assert len(hashes) >= committed
        assert hashes == live_hashes[: len(hashes)]  # the same entries, the same chain
        with target.app_context():
            assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == len(hashes)
            db.session.remove()
    finally:
        stop.set()
        _dispose(live)
        _dispose(target)


def test_backup_and_restore_refuse_to_overwrite(app, session, tmp_path):
    runner = app.test_cli_runner()
    existing = tmp_path / "existing"
    existing.write_bytes(b"keep me")
    refused = runner.invoke(backup_command, [str(existing)])
    assert refused.exit_code == 2
    assert "never overwrites" in refused.output
    assert existing.read_bytes() == b"keep me"

    # The configured database is a registry: a restore over it would destroy the live record.
    before = session.scalar(select(func.count()).select_from(AuditEntry))
    refused = runner.invoke(restore_command, [str(existing)])
    assert refused.exit_code == 2
    assert "already holds tables" in refused.output
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == before
