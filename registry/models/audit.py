from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import Model, db
from registry.models.base import UTCDateTime

GENESIS_HASH = "0" * 64
_Json = JSON().with_variant(JSONB(), "postgresql")


class AuditEntry(Model):
    """One entry of the hash-chained, append-only audit log (triggers forbid UPDATE and DELETE)."""

    __tablename__ = "audit_entry"
    #: Gap-free position in the chain, assigned under the chain-head lock.
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(index=True)
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(_Json)
    after: Mapped[dict | None] = mapped_column(_Json)
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    #: Every subject the entry concerns, each with the seq of its previous entry:
    #: ``[{"type": "animal", "id": "12", "prev": 340}, ...]``. None on entries older than subjects.
    subjects: Mapped[list | None] = mapped_column(_Json)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The registry key's Ed25519 signature of ``signing.entry_message`` for this entry; outside the hash,
    #: so the chain's canonical form is unchanged. None only on entries from before signing began.
    signature: Mapped[str | None] = mapped_column(String(120))

    __table_args__ = (db.Index("ix_audit_entry_object", "object_type", "object_id"),)


class AuditSubject(Model):
    """Which entries concern a subject: an index over the entries' subjects, written by ``record()``.

    Not hashed, so not trusted: an export of a subject's history is proven complete by the entries'
    own ``prev`` links, whatever this table says.
    """

    __tablename__ = "audit_subject"
    subject_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


class AuditHead(Model):
    """The chain's head, one row: the lock appends serialise on, and an anchor for the last entry."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int]
    entry_hash: Mapped[str] = mapped_column(String(64))
    #: How many checkpoints were signed, and the entry the last one covers: written with each
    #: checkpoint, so deleting checkpoints shows (unless the counter is rewritten too).
    checkpoints: Mapped[int] = mapped_column(default=0, server_default="0")
    checkpoint_seq: Mapped[int] = mapped_column(default=0, server_default="0")
    #: When the last checkpoint was signed: the write path signs another once it is old enough.
    checkpoint_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The first entry that must carry a signature: the entries before it predate per-entry signing.
    signed_from: Mapped[int] = mapped_column(default=1, server_default="1")


class AuditCheckpoint(Model):
    """A signed statement of the chain head at a moment: history before it cannot be rewritten unseen."""

    __tablename__ = "audit_checkpoint"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int]
    entry_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The head's signing boundary when it was signed (signed with it); None before entries were signed.
    signed_from: Mapped[int | None]
    key_fingerprint: Mapped[str] = mapped_column(String(80))
    signature: Mapped[str] = mapped_column(String(120))
