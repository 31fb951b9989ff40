"""Idempotency-Key: the first answer to a POST, replayed to its retries.

The key, the change it guards and the stored answer are one transaction (the API's ``idempotent``
decorator opens it and the service joins): after a crash or an outage there is either all three or
none, so a retry gets the stored answer or runs afresh, never "still being processed". A key is
kept ``IDEMPOTENCY_KEY_HOURS``; after that a retry runs afresh, and ``purge`` deletes it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from registry.i18n import _
from registry.models import IdempotentRequest
from registry.models.base import utcnow
from registry.services.context import write_transaction
from registry.services.errors import Conflict, ValidationFailed


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 of what the key stands for: the same key sent with another request is refused."""
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


def _cutoff(now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(hours=current_app.config["IDEMPOTENCY_KEY_HOURS"])


def claim(session, user_id: int, key: str, digest: str) -> IdempotentRequest | None:
    """Inside the request's write transaction: the answer stored for *key* (to replay), or None once
    the key is taken for this request, which then runs.

    A concurrent twin with the same key waits on the key's unique index (PostgreSQL) or for the
    write lock (SQLite) until the first commits, then replays its answer; if the first failed, its
    key went with it and the twin runs.
    """
    seen = session.get(IdempotentRequest, (user_id, key), populate_existing=True)
    if seen is not None and seen.created_at < _cutoff():
        session.delete(seen)  # expired: the key is free again
        session.flush()
        seen = None
    if seen is None:
        try:
            with session.begin_nested():
                session.add(IdempotentRequest(user_id=user_id, key=key, fingerprint=digest))
            return None
        except IntegrityError:
            seen = session.get(IdempotentRequest, (user_id, key), populate_existing=True)
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


def answer(session, user_id: int, key: str, status: int, body: str) -> None:
    """Store the answer to replay, in the transaction of the change it answers."""
    row = session.get(IdempotentRequest, (user_id, key))
    row.status, row.body = status, body
    session.flush()


def purge(now: datetime | None = None) -> int:
    """Delete the keys older than ``IDEMPOTENCY_KEY_HOURS``; returns how many. Housekeeping of the
    replay cache (no record changes, so no audit entry)."""
    with write_transaction() as session:
        result = session.execute(delete(IdempotentRequest).where(IdempotentRequest.created_at < _cutoff(now)))
    return result.rowcount or 0
