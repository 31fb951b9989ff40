"""Signed-in sessions, kept on the server so that they can be ended: by logging out, by the user
from another browser, by a password, role or second-factor change, or after idling too long.

The session cookie carries a random key; the table keeps only its SHA-256. A copied cookie is worth
nothing once its row is ended, which a signed cookie alone could not promise.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta
from enum import StrEnum

from flask import current_app
from sqlalchemy import select, update

from registry.extensions import db
from registry.i18n import _
from registry.models import User, UserSession
from registry.models.base import utcnow
from registry.permissions import Actor, Role, has_capability, require
from registry.services import audit
from registry.services.context import write_transaction
from registry.services.errors import NotFound

#: A session's last-seen time is written at most this often: a write per request would be waste.
TOUCH_EVERY = timedelta(seconds=60)


class EndReason(StrEnum):
    LOGOUT = "logout"
    ENDED = "ended"  # by the user, from the sessions list
    IDLE = "idle"
    EXPIRED = "expired"  # past the absolute lifetime
    PASSWORD = "password"
    ROLE = "role"
    DISABLED = "disabled"
    SECOND_FACTOR = "second_factor"
    ADMINISTRATOR = "administrator"  # ended by an administrator or the console


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def idle_limit(role: str) -> timedelta:
    minutes = current_app.config["SESSION_IDLE_MINUTES"]
    if role == Role.KEEPER:
        minutes = current_app.config["SESSION_IDLE_MINUTES_KEEPER"]
    return timedelta(minutes=minutes)


def lifetime() -> timedelta:
    return timedelta(hours=current_app.config["SESSION_MAX_HOURS"])


def start(user: User, *, second_factor: bool, client_addr: str | None, user_agent: str | None) -> str:
    """A new session for *user*; returns the key its cookie carries."""
    row, key = new_session(user, second_factor=second_factor, client_addr=client_addr, user_agent=user_agent)
    with write_transaction() as session:
        session.add(row)
    return key


def new_session(
    user: User, *, second_factor: bool, client_addr: str | None, user_agent: str | None
) -> tuple[UserSession, str]:
    """The row of a new session, not yet added, and the key its cookie carries."""
    key = secrets.token_urlsafe(32)
    now = utcnow()
    row = UserSession(
        user_id=user.id,
        key_hash=_digest(key),
        created_at=now,
        last_seen_at=now,
        second_factor_at=now if second_factor else None,
        client_addr=(client_addr or "")[:64] or None,
        user_agent=(user_agent or "")[:200] or None,
    )
    return row, key


def find(key: str | None) -> UserSession | None:
    if not key or not isinstance(key, str):
        return None
    return db.session.scalar(select(UserSession).where(UserSession.key_hash == _digest(key)))


def why_over(row: UserSession, role: str) -> EndReason | None:
    """Why an open session may no longer be used, or None while it may."""
    now = utcnow()
    if now - row.created_at > lifetime():
        return EndReason.EXPIRED
    if now - row.last_seen_at > idle_limit(role):
        return EndReason.IDLE
    return None


def resume(key: str | None, user: User) -> UserSession | None:
    """The open session *key* names for *user*, touched; None (and ended, if it ran out) otherwise."""
    row = find(key)
    if row is None or row.user_id != user.id or row.ended_at is not None:
        return None
    over = why_over(row, user.role)
    if over is not None:
        _end_rows(Actor.for_user(user), [row.id], over)
        return None
    if utcnow() - row.last_seen_at >= TOUCH_EVERY:
        with write_transaction() as session:
            session.execute(update(UserSession).where(UserSession.id == row.id).values(last_seen_at=utcnow()))
    return row


def mark_second_factor(key: str | None) -> None:
    row = find(key)
    if row is not None:
        with write_transaction():
            row.second_factor_at = utcnow()


def open_sessions(user_id: int) -> Sequence[UserSession]:
    return db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .order_by(UserSession.last_seen_at.desc())
    ).all()


def end(actor: Actor, session_id: int, reason: EndReason = EndReason.ENDED) -> None:
    """End one session: one's own, or anyone's for an administrator."""
    row = db.session.get(UserSession, session_id)
    theirs = row is not None and (row.user_id == actor.user_id or has_capability(actor, "user.manage"))
    if row is None or row.ended_at is not None or not theirs:
        raise NotFound(_("no such session"))
    _end_rows(actor, [row.id], reason)


def end_all(actor: Actor, user_id: int | None, reason: EndReason, keep: str | None = None) -> int:
    """End every open session of *user_id* (of everyone when None) but the one *keep* names; one's
    own, or anyone's for an administrator. Joins the caller's transaction."""
    if user_id is None or user_id != actor.user_id:
        require(actor, "user.manage")
    kept = find(keep)
    query = select(UserSession).where(UserSession.ended_at.is_(None))
    if user_id is not None:
        query = query.where(UserSession.user_id == user_id)
    ids = [s.id for s in db.session.scalars(query) if kept is None or s.id != kept.id]
    _end_rows(actor, ids, reason)
    return len(ids)


def _end_rows(actor: Actor, ids: list[int], reason: EndReason) -> None:
    if not ids:
        return
    with write_transaction() as session:
        for row in session.scalars(select(UserSession).where(UserSession.id.in_(ids), UserSession.ended_at.is_(None))):
            row.ended_at = utcnow()
            row.ended_reason = reason
            action = "auth.logout" if reason == EndReason.LOGOUT else "auth.session_end"
            audit.record(actor, action, "user", row.user_id, None, {"session": row.id, "reason": reason})
