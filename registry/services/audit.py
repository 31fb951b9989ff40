"""Writing and verifying the audit log."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum

from sqlalchemy import func, select

from registry import audit_chain, signing
from registry.extensions import db
from registry.models import AuditCheckpoint, AuditEntry, AuditHead
from registry.models.base import utcnow
from registry.permissions import Actor
from registry.services.context import in_write_transaction, lock, write_transaction

_SECRET_KEYS = {"password", "password_hash", "security_token", "token"}


def jsonable(value):
    """Plain JSON types only, so the hash is the same whichever database stored the row."""
    if isinstance(value, dict):
        return {str(k): ("***" if k in _SECRET_KEYS and v is not None else jsonable(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return audit_chain.format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):
        raise TypeError("floats are not allowed in audit data; use Decimal or str")
    return value


def diff(before: dict | None, after: dict | None) -> tuple[dict | None, dict | None]:
    """Keep only the fields that changed, so an entry says what happened and no more."""
    if before is None or after is None:
        return jsonable(before), jsonable(after)
    b, a = jsonable(before), jsonable(after)
    keys = [k for k in sorted(set(b) | set(a)) if b.get(k) != a.get(k)]
    return {k: b.get(k) for k in keys}, {k: a.get(k) for k in keys}


def record(
    actor: Actor, action: str, object_type: str, object_id, before: dict | None = None, after: dict | None = None
) -> AuditEntry:
    """Append one entry to the chain, inside the caller's write transaction."""
    if not in_write_transaction():
        raise RuntimeError("audit entries are written only inside a write transaction")
    session = db.session
    head = session.execute(lock(select(AuditHead).where(AuditHead.id == 1))).scalar_one()
    before, after = diff(before, after)
    fields = {
        "seq": head.seq + 1,
        "occurred_at": utcnow(),
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
    }
    entry = AuditEntry(**fields, entry_hash=audit_chain.compute_hash(fields))
    session.add(entry)
    head.seq, head.entry_hash = entry.seq, entry.entry_hash
    session.flush()
    return entry


def record_alone(actor: Actor, action: str, object_type: str, object_id=None, after: dict | None = None) -> None:
    """An entry that is the whole use case: a login, a logout, a denied access."""
    with write_transaction():
        record(actor, action, object_type, object_id, None, after)


def entry_dict(e: AuditEntry) -> dict:
    return {name: getattr(e, name) for name in audit_chain.FIELDS} | {"entry_hash": e.entry_hash}


def verify_database(batch: int = 2000) -> audit_chain.Verdict:
    """Recompute the whole chain from the table, streaming so memory stays flat."""
    session = db.session
    head = session.execute(select(AuditHead.seq, AuditHead.entry_hash).where(AuditHead.id == 1)).one()

    def rows():
        last = 0
        while True:
            # Entries past the head read above were committed after it: the next run checks them.
            chunk = session.scalars(
                select(AuditEntry)
                .where(AuditEntry.seq > last, AuditEntry.seq <= head.seq)
                .order_by(AuditEntry.seq)
                .limit(batch)
            ).all()
            if not chunk:
                return
            for e in chunk:
                yield entry_dict(e)
                session.expunge(e)
            last = chunk[-1].seq

    verdict = audit_chain.verify(rows(), head=(head.seq, head.entry_hash))
    if verdict.ok:
        broken = check_checkpoints()
        if broken is not None:
            return audit_chain.Verdict(False, verdict.checked, broken.bad_seq, broken.problem)
        # Every append moves the head in its own transaction, so rows beyond the head were added
        # behind its back. The head is read after the maximum: a commit in between only raises it.
        newest = session.scalar(select(func.max(AuditEntry.seq)))
        current = session.execute(select(AuditHead.seq).where(AuditHead.id == 1)).scalar_one()
        if newest is not None and newest > current:
            return audit_chain.Verdict(
                False, verdict.checked, current + 1, "entries exist beyond the recorded chain head"
            )
    return verdict


def signer() -> signing.Signer:
    """The registry's signing key (raises signing.KeyMissing with the command to create it)."""
    from flask import current_app

    return signing.Signer(current_app.config["AUDIT_SIGNING_KEY"])


def checkpoint(actor: Actor) -> AuditCheckpoint:
    """Sign the chain's current head and keep the signature: rewriting history before it shows."""
    from flask import current_app

    key = signer()
    with write_transaction() as session:
        head = session.execute(lock(select(AuditHead).where(AuditHead.id == 1))).scalar_one()
        message = signing.checkpoint_message(current_app.config["AUDIT_ORIGIN"], head.seq, head.entry_hash)
        cp = AuditCheckpoint(
            seq=head.seq,
            entry_hash=head.entry_hash,
            signed_at=utcnow(),
            key_fingerprint=key.fingerprint,
            signature=key.sign(message),
        )
        session.add(cp)
        session.flush()
        record(
            actor,
            "audit.checkpoint",
            "audit_checkpoint",
            cp.id,
            None,
            {"seq": cp.seq, "entry_hash": cp.entry_hash, "key_fingerprint": cp.key_fingerprint},
        )
    return cp


def check_checkpoints() -> audit_chain.Verdict | None:
    """Every stored checkpoint must still match the log, and its signature the registry's key."""
    from flask import current_app

    session = db.session
    try:
        public = signing.public_key(signer().public_pem)
    except signing.KeyMissing:
        public = None
    origin = current_app.config["AUDIT_ORIGIN"]
    for cp in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)):
        if public is not None and not signing.valid(
            public, signing.checkpoint_message(origin, cp.seq, cp.entry_hash), cp.signature
        ):
            return audit_chain.Verdict(False, 0, cp.seq, f"checkpoint {cp.id} does not carry the registry's signature")
        if cp.seq == 0:
            continue
        logged = session.scalar(select(AuditEntry.entry_hash).where(AuditEntry.seq == cp.seq))
        if logged != cp.entry_hash:
            return audit_chain.Verdict(
                False,
                0,
                cp.seq,
                f"the log no longer matches checkpoint {cp.id} signed at "
                f"{cp.signed_at:%Y-%m-%d %H:%M} UTC: history up to entry {cp.seq} was rewritten",
            )
    return None
