"""What ties the audit log to something outside the database (docs/audit.md, "The anchor").

- Every entry carries the registry key's signature, so an entry appended behind the application's
  back, even with a correct hash and the head moved, has none that verifies.
- The write path signs a checkpoint of the head every ``AUDIT_CHECKPOINT_EVERY`` entries or
  ``AUDIT_CHECKPOINT_SECONDS`` seconds, and the witnesses keep each one (services/witnesses.py).
- An auditor's copy of those checkpoints is compared with the live log (``verify --against``): a
  log rewritten and re-hashed, or cut back and re-grown, no longer extends them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

from flask import current_app
from sqlalchemy import func, select

from registry import audit_chain, signing
from registry.extensions import db
from registry.models import AuditCheckpoint, AuditEntry, AuditHead
from registry.models.base import utcnow

#: The action of the entry that records a checkpoint; it never triggers one itself.
CHECKPOINT_ACTION = "audit.checkpoint"


def signer() -> signing.Signer:
    """The registry's signing key, loaded once per process (raises signing.KeyMissing with the fix).

    In development (AUDIT_KEY_CREATE_IF_MISSING) a missing key is created on first use, and the log
    says where; production never creates one: its start refuses a missing key (registry.startup).
    """
    path = current_app.config["AUDIT_SIGNING_KEY"]
    try:
        return signing.signer_at(path)
    except signing.KeyMissing:
        if not current_app.config.get("AUDIT_KEY_CREATE_IF_MISSING") or Path(path).exists():
            raise  # an unreadable or invalid key is the developer's to look at, not to replace
    try:
        signing.generate(Path(path))
        current_app.logger.warning("created the audit signing key at %s (development: first use)", path)
    except FileExistsError:  # another worker made it a moment ago
        pass
    return signing.signer_at(path)


def sign_entry(seq: int, entry_hash: str) -> str:
    return signer().sign(signing.entry_message(current_app.config["AUDIT_ORIGIN"], seq, entry_hash))


def checkpoint_due(head: AuditHead, action: str) -> bool:
    """Whether the append that just moved *head* should be followed by a checkpoint of it."""
    if action == CHECKPOINT_ACTION:
        return False  # that entry records a checkpoint just signed: another would never end
    config = current_app.config
    if head.seq - head.checkpoint_seq >= config["AUDIT_CHECKPOINT_EVERY"]:
        return True
    # Before the first checkpoint there is no age to measure: the count alone decides.
    return head.checkpoint_at is not None and utcnow() - head.checkpoint_at >= timedelta(
        seconds=config["AUDIT_CHECKPOINT_SECONDS"]
    )


def check_entry_signatures(public: signing.Ed25519PublicKey, head_seq: int) -> audit_chain.Verdict | None:
    """The entries past the last checkpoint must each carry the registry's signature.

    Those up to it are already held by its signature and the chain. Before ``audit_head.signed_from``
    entries predate signing and may carry none; one there that does carry a valid signature shows the
    boundary was moved forward to excuse unsigned entries.
    """
    session = db.session
    origin = current_app.config["AUDIT_ORIGIN"]
    signed_from = session.execute(select(AuditHead.signed_from).where(AuditHead.id == 1)).scalar_one()
    pinned = session.scalar(select(func.coalesce(func.max(AuditCheckpoint.seq), 0)))
    rows = session.execute(
        select(AuditEntry.seq, AuditEntry.entry_hash, AuditEntry.signature)
        .where(AuditEntry.seq > pinned, AuditEntry.seq <= head_seq)
        .order_by(AuditEntry.seq)
    )
    for seq, entry_hash, signature in rows:
        if signature is None:
            if seq >= signed_from:
                return _broken(seq, f"entry {seq} is not signed by the registry: appended behind its back")
            continue
        if not signing.valid(public, signing.entry_message(origin, seq, entry_hash), signature):
            return _broken(seq, f"entry {seq} is not signed by the registry: appended or changed behind its back")
        if seq < signed_from:
            return _broken(
                seq,
                f"entry {seq} is signed but the head says signing began at entry {signed_from}: "
                "the boundary was moved to excuse unsigned entries",
            )
    return None


def boundary_moved(signed: int, live: int) -> str:
    return (
        f"the head says signing began at entry {live}, but a checkpoint signed it as entry {signed}: "
        "the boundary was moved to excuse unsigned entries"
    )


def _broken(seq: int, problem: str) -> audit_chain.Verdict:
    return audit_chain.Verdict(False, 0, seq, problem)


class Against(NamedTuple):
    checked: int
    #: One sentence per failing checkpoint, naming it and what it shows.
    problems: list[str]
    #: The first entry that must be signed, for the auditor to note: it never moves.
    signed_from: int


def verify_against(lines: Iterable[str], public: signing.Ed25519PublicKey) -> Against:
    """Compare an auditor's checkpoint file (JSON Lines, as the witnesses and the download keep it)
    with the live log: each must be signed by the registry and still be in the log, and the log must
    not end before the newest. The live chain itself is checked by verify_database."""
    session = db.session
    origin = current_app.config["AUDIT_ORIGIN"]
    head_seq, signed_from = session.execute(select(AuditHead.seq, AuditHead.signed_from).where(AuditHead.id == 1)).one()
    checked, problems, newest = 0, [], None
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        checked += 1
        try:
            cp = json.loads(raw)
            seq, entry_hash, signed_at = int(cp["seq"]), str(cp["entry_hash"]), cp.get("signed_at", "?")
            boundary = None if cp.get("signed_from") is None else int(cp["signed_from"])
            name = f"checkpoint at entry {seq} signed {signed_at} (line {number})"
            message = signing.checkpoint_message(str(cp["origin"]), seq, entry_hash, boundary)
            signature = str(cp["signature"])
        except (ValueError, KeyError, TypeError, OverflowError, AttributeError):
            problems.append(f"line {number} is not a checkpoint")
            continue
        if cp["origin"] != origin:
            problems.append(f"{name}: made for another registry ({cp['origin']}, not {origin})")
            continue
        if not signing.valid(public, message, signature):
            problems.append(f"{name}: not signed by the registry's key; the file proves nothing about this one")
            continue
        newest = seq if newest is None else max(newest, seq)
        if boundary is not None and boundary != signed_from:
            problems.append(f"{name}: {boundary_moved(boundary, signed_from)}")
        if seq == 0:
            continue
        logged = session.scalar(select(AuditEntry.entry_hash).where(AuditEntry.seq == seq))
        if logged is None:
            problems.append(f"{name}: the live log has no entry {seq}: it was cut back or emptied")
        elif logged != entry_hash:
            problems.append(f"{name}: the live log's entry {seq} has another hash: history up to it was rewritten")
    if newest is not None and head_seq < newest:
        problems.append(
            f"the live log's head is entry {head_seq}, before the newest checkpoint (entry {newest}): "
            "entries were cut from its end"
        )
    return Against(checked, problems, signed_from)
