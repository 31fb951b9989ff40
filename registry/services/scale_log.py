"""The audit log written in bulk, in the stored format: for the demo generator (``registry demo --scale``).

``services.audit.record`` appends one entry per use case; a generator of a million entries cannot
afford a flush per entry, so this writes the same rows (``audit_entry`` with its hash and signature,
``audit_subject`` with each subject's ``prev`` link, ``audit_checkpoint`` when one is due, and the
head) a batch at a time, with SQLAlchemy Core, in one write transaction per batch
(``services.context.write_transaction``) that holds the head's lock from its first entry to its
commit. What it stores is built by the same functions the write path uses (``audit.diff``,
``audit_chain.compute_hash``, the registry key over ``signing.entry_message`` as
``anchor.sign_entry`` signs, ``anchor.checkpoint_due``, ``signing.checkpoint_message``), so
``registry audit verify`` and ``registry audit reconcile`` cannot tell the two apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from flask import current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from registry import audit_chain, signing
from registry.extensions import db
from registry.models import AuditCheckpoint, AuditEntry, AuditHead, AuditSubject, SerialCounter
from registry.models.base import utcnow
from registry.permissions import Actor
from registry.services import anchor, audit, witnesses


@dataclass
class Head:
    """The chain head as this writer holds it (the columns ``anchor.checkpoint_due`` reads)."""

    seq: int
    entry_hash: str
    checkpoints: int
    checkpoint_seq: int
    checkpoint_at: datetime | None
    signed_from: int


class BulkLog:
    """Entries, their subjects and the head, buffered for one batch on *conn* (see ``begin``/``flush``)."""

    def __init__(self) -> None:
        self.conn: Connection | None = None
        self.head: Head | None = None
        #: The seq of each subject's newest entry, kept across batches (read again past ``known``).
        self.latest: dict[tuple[str, str], int] = {}
        self.known = 0
        self.entries: list[dict] = []
        self.subjects: list[dict] = []
        self.count = 0
        self._origin = current_app.config["AUDIT_ORIGIN"]
        self._key = anchor.signer()

    def begin(self, conn: Connection) -> None:
        """Lock the head on *conn* (a write transaction) and catch up with entries written by others."""
        self.conn = conn
        row = conn.execute(select(AuditHead.__table__).where(AuditHead.id == 1).with_for_update()).one_or_none()
        if row is None:
            raise RuntimeError("the audit log has no head row: run `registry db upgrade` first")
        self.head = Head(
            row.seq, row.entry_hash, row.checkpoints, row.checkpoint_seq, row.checkpoint_at, row.signed_from
        )
        if row.seq > self.known:
            # Entries appended since the last batch (or before the first): their subjects' newest entries.
            newer = conn.execute(
                select(AuditSubject.subject_type, AuditSubject.subject_id, func.max(AuditSubject.seq))
                .where(AuditSubject.seq > self.known)
                .group_by(AuditSubject.subject_type, AuditSubject.subject_id)
            )
            self.latest.update({(kind, i): seq for kind, i, seq in newer})
        self.known = row.seq

    def record(
        self,
        actor: Actor,
        action: str,
        object_type: str,
        object_id: Any,
        before: dict | None = None,
        after: dict | None = None,
        subjects: Iterable[audit.Subject] = (),
        at: datetime | None = None,
    ) -> int:
        """Append one entry as ``audit.record`` would; returns its seq."""
        head = self._head()
        before, after = audit.diff(before, after)
        seq = head.seq + 1
        wanted = sorted({(kind, str(i)) for kind, i in [(object_type, object_id), *subjects] if i is not None})
        fields = {
            "seq": seq,
            "occurred_at": at or utcnow(),
            "actor_id": actor.user_id,
            "actor_name": actor.username,
            "actor_role": actor.role,
            "action": action,
            "object_type": object_type,
            "object_id": None if object_id is None else str(object_id),
            "before": before,
            "after": after,
            "request_id": actor.request_id,
            "client_addr": actor.client_addr,
            "prev_hash": head.entry_hash,
            "subjects": [{"type": kind, "id": i, "prev": self.latest.get((kind, i))} for kind, i in wanted],
        }
        for kind, i in wanted:
            self.latest[(kind, i)] = seq
            self.subjects.append({"subject_type": kind, "subject_id": i, "seq": seq})
        entry_hash = audit_chain.compute_hash(fields)
        signature = self._key.sign(signing.entry_message(self._origin, seq, entry_hash))
        self.entries.append(fields | {"entry_hash": entry_hash, "signature": signature})
        head.seq, head.entry_hash = seq, entry_hash
        self.count += 1
        if anchor.checkpoint_due(cast(AuditHead, head), action):
            self._checkpoint()
        return seq

    def _head(self) -> Head:
        if self.head is None:
            raise RuntimeError("BulkLog.begin() first")
        return self.head

    def _checkpoint(self) -> None:
        """Sign the head, store the checkpoint and record it, as ``audit._sign_head`` does."""
        head, conn = self._head(), self.conn
        assert conn is not None
        signed_at = utcnow()
        message = signing.checkpoint_message(self._origin, head.seq, head.entry_hash, head.signed_from)
        values = {
            "seq": head.seq,
            "entry_hash": head.entry_hash,
            "signed_at": signed_at,
            "key_fingerprint": self._key.fingerprint,
            "signed_from": head.signed_from,
            "signature": self._key.sign(message),
        }
        cp_id = conn.execute(insert(AuditCheckpoint).values(**values).returning(AuditCheckpoint.id)).scalar_one()
        head.checkpoints, head.checkpoint_seq, head.checkpoint_at = head.checkpoints + 1, head.seq, signed_at
        cp = AuditCheckpoint(id=cp_id, **values)
        # Published to the witnesses once the batch commits (services.witnesses), as the write path does.
        witnesses.queue(db.session(), witnesses.line(cp, self._origin))
        self.record(
            Actor.system("checkpoint"),
            anchor.CHECKPOINT_ACTION,
            "audit_checkpoint",
            cp_id,
            None,
            {"seq": head.seq, "entry_hash": head.entry_hash, "key_fingerprint": self._key.fingerprint},
        )

    def flush(self) -> None:
        """Write the batch's entries, their subjects and the head (the caller then commits)."""
        head, conn = self._head(), self.conn
        assert conn is not None
        if self.entries:
            conn.execute(insert(AuditEntry), self.entries)
        if self.subjects:
            conn.execute(insert(AuditSubject), self.subjects)
        conn.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(
                seq=head.seq,
                entry_hash=head.entry_hash,
                checkpoints=head.checkpoints,
                checkpoint_seq=head.checkpoint_seq,
                checkpoint_at=head.checkpoint_at,
            )
        )
        self.known = head.seq
        self.entries, self.subjects = [], []

    def rolled_back(self) -> None:
        self.entries, self.subjects = [], []
        self.head = None


class Serials:
    """Gap-free yearly counters (``services.numbers``) taken in blocks under the batch's lock."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, int], int] = {}
        self.touched: set[tuple[str, int]] = set()

    def begin(self, conn: Connection, names: Iterable[tuple[str, int]]) -> None:
        insert_ = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        self.values, self.touched = {}, set()
        for name, year in sorted(set(names)):
            conn.execute(insert_(SerialCounter).values(name=name, year=year, value=0).on_conflict_do_nothing())
            self.values[(name, year)] = conn.execute(
                select(SerialCounter.value)
                .where(SerialCounter.name == name, SerialCounter.year == year)
                .with_for_update()
            ).scalar_one()

    def next(self, name: str, year: int) -> int:
        self.values[(name, year)] += 1
        self.touched.add((name, year))
        return self.values[(name, year)]

    def flush(self, conn: Connection) -> None:
        for name, year in sorted(self.touched):
            conn.execute(
                update(SerialCounter)
                .where(SerialCounter.name == name, SerialCounter.year == year)
                .values(value=self.values[(name, year)])
            )
        self.touched = set()
