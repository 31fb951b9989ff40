"""Signed checkpoints published outside the database, where its administrator cannot change them.

Each checkpoint becomes one JSON line (origin, seq, entry_hash, signed_at, key_fingerprint, signature),
appended to every file in ``AUDIT_WITNESSES`` once its transaction has committed, never for one
rolled back. A witness that fails is logged and left behind: it must not fail the user's write, and
``registry audit publish`` brings it up to date later.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterable

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from registry import audit_chain
from registry.extensions import db
from registry.models import AuditCheckpoint

log = logging.getLogger(__name__)
_PENDING = "audit_witness_pending"
#: Enough of a witness file's end to hold its last line (a line is about 300 bytes).
_TAIL = 4096


class WitnessError(RuntimeError):
    pass


def line(cp: AuditCheckpoint, origin: str) -> dict:
    """What a witness keeps of a checkpoint: enough to check its signature with the public key alone."""
    return {
        "origin": origin,
        "seq": cp.seq,
        "entry_hash": cp.entry_hash,
        "signed_at": audit_chain.format_time(cp.signed_at),
        "key_fingerprint": cp.key_fingerprint,
        "signature": cp.signature,
    }


def encode(row: dict) -> bytes:
    return (json.dumps(row, sort_keys=True, separators=(",", ":")) + "\n").encode()


def all_lines(origin: str) -> Iterable[dict]:
    """Every stored checkpoint, oldest first."""
    for cp in db.session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq, AuditCheckpoint.id)):
        yield line(cp, origin)


def last_seq(stream) -> int:
    """The seq of the last line of an open witness file, -1 when it is empty."""
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(max(0, size - _TAIL))
    tail = [row for row in stream.read().splitlines() if row.strip()]
    if not tail:
        return -1
    try:
        return int(json.loads(tail[-1])["seq"])
    except (ValueError, KeyError, TypeError):
        raise WitnessError(f"{stream.name}: the last line is not a checkpoint") from None


def append(path: str, rows: Iterable[dict]) -> int:
    """Append the *rows* newer than the file's last line, under an exclusive lock; returns how many.

    Only newer ones, so publishing twice, or catching up after a failure, never writes a line twice.
    """
    with open(path, "a+b") as stream:
        fcntl.flock(stream, fcntl.LOCK_EX)  # two servers publishing at once append whole lines in order
        last = last_seq(stream)
        fresh = [row for row in rows if row["seq"] > last]
        if fresh:
            stream.write(b"".join(encode(row) for row in fresh))
            stream.flush()
            os.fsync(stream.fileno())
    return len(fresh)


def queue(session: Session, row: dict) -> None:
    """Publish *row* when the session's transaction commits (dropped if it rolls back)."""
    session.info.setdefault(_PENDING, []).append(row)


def publish(rows: list[dict], witnesses: Iterable[str]) -> list[str]:
    """Append *rows* to every witness; returns the witnesses that failed, each failure logged."""
    failed = []
    for path in witnesses:
        try:
            append(path, rows)
        except (OSError, WitnessError) as exc:
            log.error("audit witness %s not updated (run `registry audit publish`): %s", path, exc)
            failed.append(path)
    return failed


def catch_up(origin: str, witnesses: Iterable[str]) -> dict[str, int | str]:
    """Give every witness the checkpoints it is missing: for each, how many were appended, or the error."""
    rows = list(all_lines(origin))
    done: dict[str, int | str] = {}
    for path in witnesses:
        try:
            done[path] = append(path, rows)
        except (OSError, WitnessError) as exc:
            done[path] = str(exc)
    return done


@event.listens_for(Session, "after_commit")
def _publish_committed(session: Session) -> None:
    rows = session.info.pop(_PENDING, None)
    if not rows:
        return
    from flask import current_app

    try:
        publish(rows, current_app.config["AUDIT_WITNESSES"])
    except Exception:  # the write is committed: nothing here may undo or fail it
        log.exception("audit witnesses not updated (run `registry audit publish`)")


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
