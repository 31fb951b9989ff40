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


class WitnessError(RuntimeError):
    pass


def line(cp: AuditCheckpoint, origin: str) -> dict:
    """What a witness keeps of a checkpoint: enough to check its signature with the public key alone."""
    row = {
        "origin": origin,
        "seq": cp.seq,
        "entry_hash": cp.entry_hash,
        "signed_at": audit_chain.format_time(cp.signed_at),
        "key_fingerprint": cp.key_fingerprint,
        "signature": cp.signature,
    }
    if cp.signed_from is not None:
        row["signed_from"] = cp.signed_from
    return row


def encode(row: dict) -> bytes:
    return (json.dumps(row, sort_keys=True, separators=(",", ":")) + "\n").encode()


def all_lines(origin: str) -> Iterable[dict]:
    """Every stored checkpoint, oldest first."""
    for cp in db.session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq, AuditCheckpoint.id)):
        yield line(cp, origin)


def kept(stream) -> set[int]:
    """The seqs of the checkpoints an open witness file already holds (a few hundred bytes each)."""
    stream.seek(0)
    seqs = set()
    for number, raw in enumerate(stream, 1):
        if not raw.strip():
            continue
        try:
            seqs.add(int(json.loads(raw)["seq"]))
        except (ValueError, KeyError, TypeError, OverflowError):
            raise WitnessError(f"{stream.name}: line {number} is not a checkpoint") from None
    return seqs


def append(path: str, rows: Iterable[dict]) -> int:
    """Append the *rows* the file does not hold yet, under an exclusive lock; returns how many.

    Judged by seq, not by the file's last line: two servers commit checkpoints in one order and may
    publish them in the other, and the earlier one must still be written (by them, or by `publish`).
    """
    with open(path, "a+b") as stream:
        fcntl.flock(stream, fcntl.LOCK_EX)  # two servers publishing at once append whole lines
        present = kept(stream)
        fresh = [row for row in rows if row["seq"] not in present]
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
