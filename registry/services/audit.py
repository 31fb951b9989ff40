"""Writing and verifying the audit log."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, NamedTuple

from sqlalchemy import String, and_, cast, event, exists, func, insert, or_, select
from sqlalchemy.orm import Session

from registry import audit_chain, signing
from registry.extensions import db
from registry.models import (
    Animal,
    AuditCheckpoint,
    AuditEntry,
    AuditHead,
    AuditSubject,
    Endorsement,
    Facility,
    Party,
    Permit,
    Transfer,
    User,
)
from registry.models.base import utcnow
from registry.permissions import Actor
from registry.services import anchor, witnesses
from registry.services.context import in_write_transaction, lock, write_transaction

_SECRET_KEYS = {"password", "password_hash", "security_token", "token"}

#: A subject an entry concerns: its type (an object_type: "animal", "permit"...) and id.
Subject = tuple[str, Any]


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


#: The entries a write transaction recorded, appended to the chain only when it commits.
_QUEUE = "registry_audit_queue"


class _Queued(NamedTuple):
    entry: AuditEntry  # every field but its place in the chain, filled by append_queued
    subjects: list[tuple[str, str]]  # what it concerns (its own object too), sorted


def record(
    actor: Actor,
    action: str,
    object_type: str,
    object_id,
    before: dict | None = None,
    after: dict | None = None,
    subjects: Iterable[Subject] = (),
) -> AuditEntry:
    """Queue one entry, inside the caller's write transaction, for the chain: it is appended when the
    transaction commits (``append_queued``) and vanishes with it when it rolls back.

    *subjects* are what the entry concerns besides its own object (the animals of a transfer...).
    The entry returned gets its place (seq, hashes, subject links, signature, time) at the commit;
    until then those are None. What it says is fixed now: later changes to the objects do not reach it.
    """
    if not in_write_transaction():
        raise RuntimeError("audit entries are written only inside a write transaction")
    queued = _entry(actor, action, object_type, object_id, before, after, subjects)
    db.session.info.setdefault(_QUEUE, []).append(queued)
    return queued.entry


def _entry(actor: Actor, action: str, object_type: str, object_id, before, after, subjects) -> _Queued:
    before, after = diff(before, after)
    entry = AuditEntry(
        actor_id=actor.user_id,
        actor_name=actor.username,
        actor_role=actor.role,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        before=before,
        after=after,
        request_id=actor.request_id,
        client_addr=actor.client_addr,
    )
    # Subjects without an id are left out.
    named = sorted({(kind, str(i)) for kind, i in [(object_type, object_id), *subjects] if i is not None})
    return _Queued(entry, named)


def append_queued(session) -> None:
    """Append the entries the transaction queued to the chain: the write path's one point of order.

    Called by ``write_transaction`` just before it commits. The head's row lock is taken here, so it
    is held only from this step to the commit, whatever the use case did before: a long endorsement
    no longer holds up every other writer while it works. Under the lock, in one step: each entry
    gets the next seq, the head's hash as its prev_hash, each subject's previous entry as its
    ``prev``, its hash and signature; the entries and their index rows are inserted in bulk, the head
    moves, and a checkpoint is signed when one is due. On SQLite the transaction's BEGIN IMMEDIATE
    already serialises writers; the step is the same.
    """
    queue = session.info.pop(_QUEUE, None)
    if not queue:
        return
    # The use case's own rows first, outside the lock: their errors come before it, and the
    # statements that follow under it only insert audit rows, so they wait for no other writer.
    session.flush()
    head = session.execute(
        lock(select(AuditHead).where(AuditHead.id == 1)).execution_options(populate_existing=True)
    ).scalar_one()
    latest = _latest_entries(session, {subject for q in queue for subject in q.subjects})
    # Read after the lock: the previous append committed before it, so time never runs back along seq.
    now = utcnow()
    entries: list[dict] = []
    index: list[dict] = []
    todo = deque(queue)
    while todo:
        entry, named = todo.popleft()
        missing = {s for s in named if s not in latest}
        if missing:  # only a checkpoint's entry, queued below, names a subject not looked up yet
            latest |= _latest_entries(session, missing)
        entry.seq, entry.occurred_at, entry.prev_hash = head.seq + 1, now, head.entry_hash
        indexed = link_subjects(entry, named, latest)
        fields = {name: getattr(entry, name) for name in audit_chain.FIELDS}
        entry.entry_hash = audit_chain.compute_hash(fields)
        # The anchor outside the database: every entry signed.
        entry.signature = anchor.sign_entry(entry.seq, entry.entry_hash)
        entries.append(fields | {"entry_hash": entry.entry_hash, "signature": entry.signature})
        index.extend({"subject_type": kind, "subject_id": i, "seq": entry.seq} for kind, i in indexed)
        latest.update(dict.fromkeys(indexed, entry.seq))
        head.seq, head.entry_hash = entry.seq, entry.entry_hash
        if anchor.checkpoint_due(head, entry.action):
            # Every so often a signed checkpoint of the head for the witnesses, recorded next.
            todo.appendleft(_checkpoint_entry(_sign_head(session, head)))
    session.execute(insert(AuditEntry), entries)
    if index:
        session.execute(insert(AuditSubject), index)
    session.flush()  # the head


def link_subjects(entry: AuditEntry, named: list[tuple[str, str]], latest: dict) -> list[tuple[str, str]]:
    """Name in *entry* each subject it concerns with that subject's previous entry from *latest* (None
    for its first); returns the subjects to index under its seq in audit_subject."""
    entry.subjects = [{"type": kind, "id": i, "prev": latest[(kind, i)]} for kind, i in named]
    return named


def _latest_entries(session, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], int | None]:
    """Each subject's latest entry in the chain (None when it has none yet): read under the head's
    lock, so no other entry can come between the read and the append."""
    latest: dict[tuple[str, str], int | None] = dict.fromkeys(wanted)
    by_type: dict[str, list[str]] = {}
    for kind, i in sorted(wanted):
        by_type.setdefault(kind, []).append(i)
    if by_type:
        rows = session.execute(
            select(AuditSubject.subject_type, AuditSubject.subject_id, func.max(AuditSubject.seq))
            .where(
                or_(
                    *(
                        and_(AuditSubject.subject_type == kind, AuditSubject.subject_id.in_(ids))
                        for kind, ids in by_type.items()
                    )
                )
            )
            .group_by(AuditSubject.subject_type, AuditSubject.subject_id)
        )
        latest.update({(kind, i): last for kind, i, last in rows})
    return latest


@event.listens_for(Session, "after_transaction_end")
def _forget_queue(session: Session, transaction) -> None:
    """Entries queued by a transaction that ended without appending them (rolled back) vanish with it:
    the chain never has a gap for them."""
    if transaction.parent is None:
        session.info.pop(_QUEUE, None)


def record_alone(actor: Actor, action: str, object_type: str, object_id=None, after: dict | None = None) -> None:
    """An entry that is the whole use case: a login, a logout, a denied access."""
    with write_transaction():
        record(actor, action, object_type, object_id, None, after)


def entry_dict(e: AuditEntry) -> dict:
    return {name: getattr(e, name) for name in audit_chain.FIELDS} | {"entry_hash": e.entry_hash}


#: The columns the chain is checked on, in the order entry_rows gives them.
_CHAIN_NAMES = (*audit_chain.FIELDS, "entry_hash")
#: Rows fetched from the database at a time (a server-side cursor on PostgreSQL).
CHUNK = 5_000


def entry_rows(statement, names: tuple[str, ...] = _CHAIN_NAMES, session=None) -> Iterator[dict]:
    """The entries *statement* selects (over ``audit_entry``), as plain dicts of *names*, streamed
    on *session* (default: the application's own; exports pass the replica's reader).

    Core rows, no ORM objects: nothing is kept in the session, and memory stays flat however long
    the log (``yield_per`` fetches CHUNK rows at a time, through a server-side cursor on PostgreSQL).
    """
    table = AuditEntry.__table__
    statement = statement.with_only_columns(*(table.c[name] for name in names)).execution_options(yield_per=CHUNK)
    # On the session's connection (its transaction), past the ORM layer.
    result = (session or db.session).connection().execute(statement)
    try:
        for row in result:
            yield dict(zip(names, row, strict=True))
    finally:  # a verdict found early leaves the rest unread: free the cursor now
        result.close()


def verify_database(public_pem: str | None = None) -> audit_chain.Verdict:
    """Recompute the whole chain from the table, streaming so memory stays flat, then check it against
    the signed checkpoints (with *public_pem*, else the configured key's public half: never without a key)
    and against the domain rows it should describe.

    Raises signing.KeyMissing when there is no key to check the checkpoints' signatures with.
    """
    session = db.session
    public = signing.public_key(public_pem if public_pem is not None else anchor.signer().public_pem)
    head = session.execute(select(AuditHead.seq, AuditHead.entry_hash).where(AuditHead.id == 1)).one()
    # Entries past the head read above were committed after it: the next run checks them.
    rows = entry_rows(select(AuditEntry.seq).where(AuditEntry.seq <= head.seq).order_by(AuditEntry.seq))
    verdict = audit_chain.verify(rows, head=(head.seq, head.entry_hash))
    if verdict.ok:
        broken = check_checkpoints(public)
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
        unlogged = unaudited_rows()
        if unlogged is not None:
            return audit_chain.Verdict(False, verdict.checked, None, unlogged)
        unsigned = anchor.check_entry_signatures(public, head.seq)
        if unsigned is not None:
            return audit_chain.Verdict(False, verdict.checked, unsigned.bad_seq, unsigned.problem)
    return verdict


class _Audited(NamedTuple):
    """A kind of row the application creates only through a use case that writes an entry naming it."""

    model: Any  # a mapped class with an id
    object_type: str  # the entry's object_type
    names: tuple[str, str]  # singular, plural
    label: str  # how the first missing row is named in the report
    shown: Any  # its column
    named_id: Any  # the id the entry names
    action: str | None = None  # a LIKE pattern, when the entry is the parent's


_AUDITED_ROWS = (
    _Audited(Animal, "animal", ("animal", "animals"), "registry number", Animal.registry_no, Animal.id),
    _Audited(Permit, "permit", ("permit", "permits"), "id", Permit.id, Permit.id),
    _Audited(Transfer, "transfer", ("transfer", "transfers"), "code", Transfer.code, Transfer.id),
    _Audited(Facility, "facility", ("facility", "facilities"), "id", Facility.id, Facility.id),
    _Audited(Party, "party", ("party", "parties"), "id", Party.id, Party.id),
    _Audited(User, "user", ("user", "users"), "user name", User.username, User.id),
    # An endorsement is logged as its permit's "permit.endorse" (or "permit.endorse_final") entry.
    _Audited(
        Endorsement,
        "permit",
        ("endorsement", "endorsements"),
        "id",
        Endorsement.id,
        Endorsement.permit_id,
        "permit.endorse%",
    ),
    _Audited(
        AuditCheckpoint,
        "audit_checkpoint",
        ("checkpoint", "checkpoints"),
        "id",
        AuditCheckpoint.id,
        AuditCheckpoint.id,
    ),
)


def unaudited_rows() -> str | None:
    """Domain rows that no audit entry names: a log emptied, cut short or rewritten without them.

    One anti-join per table, counted in the database; only the first row of each kind is read.
    """
    session = db.session
    found, total = [], 0
    for kind in _AUDITED_ROWS:
        logged = exists().where(
            AuditEntry.object_type == kind.object_type, AuditEntry.object_id == cast(kind.named_id, String)
        )
        if kind.action is not None:
            logged = logged.where(AuditEntry.action.like(kind.action))
        count = session.scalar(select(func.count()).select_from(kind.model).where(~logged))
        if count:
            first = session.scalar(select(kind.shown).where(~logged).order_by(kind.model.id).limit(1))
            found.append(f"{count} {kind.names[count != 1]} (first: {kind.label} {first})")
            total += count
    if not found:
        return None
    verb = "has" if total == 1 else "have"
    return f"{', '.join(found)} {verb} no audit entry (the log was emptied, cut short or rewritten without them)"


def checkpoint(actor: Actor) -> AuditCheckpoint:
    """Sign the chain's current head and keep the signature: rewriting history before it shows.

    The head stays locked from here to the commit (a short transaction), so the entry recording the
    checkpoint is the next one appended.
    """
    anchor.signer()  # refuse before the transaction when there is no key
    with write_transaction() as session:
        session.flush()
        head = session.execute(
            lock(select(AuditHead).where(AuditHead.id == 1)).execution_options(populate_existing=True)
        ).scalar_one()
        cp = _sign_head(session, head)
        session.info.setdefault(_QUEUE, []).append(_checkpoint_entry(cp, actor))
        return cp


def _sign_head(session, head: AuditHead) -> AuditCheckpoint:
    """Sign *head* (locked by the caller), count it on the head and queue it for the witnesses. The
    caller appends its entry (``_checkpoint_entry``), so every checkpoint row has one (unaudited_rows)."""
    from flask import current_app

    key, origin = anchor.signer(), current_app.config["AUDIT_ORIGIN"]
    cp = AuditCheckpoint(
        seq=head.seq,
        entry_hash=head.entry_hash,
        signed_at=utcnow(),
        key_fingerprint=key.fingerprint,
        signed_from=head.signed_from,
        signature=key.sign(signing.checkpoint_message(origin, head.seq, head.entry_hash, head.signed_from)),
    )
    session.add(cp)
    head.checkpoints, head.checkpoint_seq, head.checkpoint_at = head.checkpoints + 1, cp.seq, cp.signed_at
    session.flush()
    witnesses.queue(session, witnesses.line(cp, origin))
    return cp


def _checkpoint_entry(cp: AuditCheckpoint, actor: Actor | None = None) -> _Queued:
    return _entry(
        actor or Actor.system("checkpoint"),  # signed by the write path on its own
        anchor.CHECKPOINT_ACTION,
        "audit_checkpoint",
        cp.id,
        None,
        {"seq": cp.seq, "entry_hash": cp.entry_hash, "key_fingerprint": cp.key_fingerprint},
        (),
    )


def check_checkpoints(public: signing.Ed25519PublicKey) -> audit_chain.Verdict | None:
    """Every stored checkpoint must still match the log and carry the registry's signature (checked
    with *public*), and none may be missing: the head counts them, and the log records each one."""
    from flask import current_app

    session = db.session
    origin = current_app.config["AUDIT_ORIGIN"]
    signed_from = session.execute(select(AuditHead.signed_from).where(AuditHead.id == 1)).scalar_one()
    for cp in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)):
        message = signing.checkpoint_message(origin, cp.seq, cp.entry_hash, cp.signed_from)
        if not signing.valid(public, message, cp.signature):
            return audit_chain.Verdict(False, 0, cp.seq, f"checkpoint {cp.id} does not carry the registry's signature")
        if cp.signed_from is not None and cp.signed_from != signed_from:
            return audit_chain.Verdict(False, 0, cp.seq, anchor.boundary_moved(cp.signed_from, signed_from))
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
    # Each checkpoint is written with an "audit.checkpoint" entry naming it: that entry's row must be there.
    orphan = session.execute(
        select(AuditEntry.seq, AuditEntry.object_id)
        .where(
            AuditEntry.action == "audit.checkpoint",
            ~exists().where(cast(AuditCheckpoint.id, String) == AuditEntry.object_id),
        )
        .order_by(AuditEntry.seq)
        .limit(1)
    ).first()
    if orphan is not None:
        return audit_chain.Verdict(
            False, 0, orphan.seq, f"checkpoint {orphan.object_id} is missing: entry {orphan.seq} records its signing"
        )
    head = session.execute(select(AuditHead.checkpoints, AuditHead.checkpoint_seq).where(AuditHead.id == 1)).one()
    stored, last = session.execute(select(func.count(), func.coalesce(func.max(AuditCheckpoint.seq), 0))).one()
    if stored < head.checkpoints or last < head.checkpoint_seq:
        return audit_chain.Verdict(
            False,
            0,
            None,
            f"{head.checkpoints - stored} checkpoint{'' if head.checkpoints - stored == 1 else 's'} missing: "
            f"the chain head records {head.checkpoints} signed (the last at entry {head.checkpoint_seq}), "
            f"{stored} are stored (the last at entry {last})",
        )
    return None
