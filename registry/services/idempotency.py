"""Idempotency-Key: the first answer to a POST, replayed to its retries.

The key, the change it guards and the stored answer are one transaction (the API's ``idempotent``
decorator opens it and the service joins): after a crash or an outage there is either all three or
none, so a retry gets the stored answer or runs afresh, never "still being processed". A key is
kept ``IDEMPOTENCY_KEY_HOURS``; after that a retry runs afresh, and ``purge`` deletes it.

A key is its owner's: a user's (the API) or an exchange partner's (a partner is no user), each kept
in a table of its own (``OWNED``) and served by the same functions.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from registry.i18n import _
from registry.models import IdempotentRequest, PartnerIdempotentRequest
from registry.models.base import utcnow
from registry.permissions import Actor
from registry.services.context import write_transaction
from registry.services.errors import Conflict, ValidationFailed

Answer = IdempotentRequest | PartnerIdempotentRequest

#: Where each kind of owner's keys are kept.
OWNED: tuple[type[Answer], ...] = (IdempotentRequest, PartnerIdempotentRequest)


def _owned(owner: Actor, key: str) -> tuple[type[Answer], dict]:
    """The table that keeps *owner*'s keys, and the primary key of *key* in it."""
    if owner.partner_id is not None:
        return PartnerIdempotentRequest, {"partner_id": owner.partner_id, "key": key}
    if owner.user_id is not None:
        return IdempotentRequest, {"user_id": owner.user_id, "key": key}
    raise ValueError("an Idempotency-Key belongs to a user or a partner")  # the console sends none


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 of what the key stands for: the same key sent with another request is refused."""
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


def _cutoff(now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(hours=current_app.config["IDEMPOTENCY_KEY_HOURS"])


def claim(session, owner: Actor, key: str, digest: str) -> Answer | None:
    """Inside the request's write transaction: the answer stored for *key* (to replay), or None once
    the key is taken for this request, which then runs.

    A concurrent twin with the same key waits on the key's unique index (PostgreSQL) or for the
    write lock (SQLite) until the first commits, then replays its answer; if the first failed, its
    key went with it and the twin runs.
    """
    model, ident = _owned(owner, key)
    seen = session.get(model, ident, populate_existing=True)
    if seen is not None and seen.created_at < _cutoff():
        session.delete(seen)  # expired: the key is free again
        session.flush()
        seen = None
    if seen is None:
        try:
            with session.begin_nested():
                session.add(model(**ident, fingerprint=digest))
            return None
        except IntegrityError:
            seen = session.get(model, ident, populate_existing=True)
            if seen is None:  # pragma: no cover - the twin's key was purged in between
                raise Conflict(_("a request with this Idempotency-Key was being processed; try again")) from None
    if seen.fingerprint != digest:
        used = _("already used for a different request")
        raise ValidationFailed(_("Idempotency-Key reused"), {"Idempotency-Key": used})
    if seen.status is None:
        # Only an earlier release left keys without an answer (its change and answer were separate
        # transactions): the outcome is unknown until the key expires.
        raise Conflict(
            _("an earlier request with this Idempotency-Key ended without an answer: check, or use a new key")
        )
    return seen


def answer(session, owner: Actor, key: str, status: int, body: str) -> None:
    """Store the answer to replay, in the transaction of the change it answers."""
    model, ident = _owned(owner, key)
    row = session.get(model, ident)
    row.status, row.body = status, body
    session.flush()


def purge(now: datetime | None = None) -> int:
    """Delete the keys older than ``IDEMPOTENCY_KEY_HOURS``, users' and partners'; returns how many.
    Housekeeping of the replay cache (no record changes, so no audit entry)."""
    cutoff, deleted = _cutoff(now), 0
    with write_transaction() as session:
        for model in OWNED:
            deleted += session.execute(delete(model).where(model.created_at < cutoff)).rowcount or 0
    return deleted
