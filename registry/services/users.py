"""Accounts: creation, authentication, roles and passwords."""

from __future__ import annotations

import re

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from registry.extensions import db
from registry.i18n import _
from registry.models import Party, User
from registry.models.base import utcnow
from registry.permissions import Actor, Role, needs_party, require
from registry.services import audit, sessions
from registry.services.context import write_transaction
from registry.services.errors import Conflict, NotFound, ValidationFailed

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 10
_dummy_hashes: dict[str, str] = {}


def _dummy_hash() -> str:
    """A hash of the configured cost to check against when the user does not exist, so the time a
    failed login takes does not reveal whether the username exists."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash("not-a-real-password", method=method)
    return _dummy_hashes[method]


def _hash(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(
            _("password too short"), {"password": _("at least %(count)s characters", count=MIN_PASSWORD)}
        )


def create_user(
    actor: Actor,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    party_id: int | None = None,
    email: str | None = None,
) -> User:
    """Create an account. A keeper must be linked to the party they act for."""
    require(actor, "user.manage")
    username = (username or "").strip().lower()
    errors = {}
    if not USERNAME.match(username):
        errors["username"] = _("2-64 characters: lower-case letters, digits, '.', '_' or '-'")
    if role not in Role.__members__.values():
        errors["role"] = _("one of %(values)s", values=", ".join(r.value for r in Role))
    if needs_party(role) and party_id is None:
        errors["party_id"] = _("a keeper must be linked to their party")
    if len(password or "") < MIN_PASSWORD:
        errors["password"] = _("at least %(count)s characters", count=MIN_PASSWORD)
    if errors:
        raise ValidationFailed(_("the account cannot be created"), errors)
    with write_transaction() as session:
        if party_id is not None and session.get(Party, party_id) is None:
            raise ValidationFailed(_("unknown party"), {"party_id": _("no party with id %(id)s", id=party_id)})
        if session.scalar(select(func.count()).select_from(User).where(User.username == username)):
            raise Conflict(_("username taken"), {"username": _("'%(username)s' is already taken", username=username)})
        user = User(
            username=username,
            display_name=display_name or username,
            email=email,
            password_hash=_hash(password),
            role=role,
            party_id=party_id,
        )
        session.add(user)
        session.flush()
        audit.record(actor, "user.create", "user", user.id, None, user.as_audit())
    return user


def authenticate(
    username: str, password: str, request_id: str | None = None, client_addr: str | None = None
) -> User | None:
    """Check a password; every attempt, good or bad, is audited."""
    username = (username or "").strip().lower()
    user = db.session.scalar(select(User).where(User.username == username))
    ok = check_password_hash(user.password_hash if user else _dummy_hash(), password or "")
    if user is None or not ok or not user.is_enabled:
        reason = "unknown user" if user is None else ("disabled" if ok else "wrong password")
        anon = Actor(
            user.id if user else None,
            username or "(blank)",
            user.role if user else "anonymous",
            request_id=request_id or "",
            client_addr=client_addr,
        )
        audit.record_alone(anon, "auth.login_failed", "user", user.id if user else None, {"reason": reason})
        return None
    actor = Actor.for_user(user, request_id, client_addr)
    with write_transaction() as session:
        user = session.get(User, user.id)
        user.last_login_at = utcnow()
        audit.record(actor, "auth.login", "user", user.id)
    return user


def set_password(actor: Actor, user_id: int, password: str) -> None:
    """Set a new password and end every session of that user."""
    if actor.user_id != user_id:
        require(actor, "user.manage")
    _check_password(password)
    with write_transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(_("no such user"))
        user.password_hash = _hash(password)
        user.session_epoch += 1
        audit.record(actor, "user.set_password", "user", user.id, {"password": "old"}, {"password": "new"})
        sessions.end_all(actor, user.id, sessions.EndReason.PASSWORD)


def set_enabled(actor: Actor, user_id: int, enabled: bool) -> None:
    require(actor, "user.manage")
    with write_transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(_("no such user"))
        before = user.as_audit()
        user.is_enabled = enabled
        user.session_epoch += 1
        audit.record(actor, "user.enable" if enabled else "user.disable", "user", user.id, before, user.as_audit())
        if not enabled:
            sessions.end_all(actor, user.id, sessions.EndReason.DISABLED)


def load_session_user(user_key: str) -> User | None:
    """Flask-Login's loader: the id must carry the user's current session epoch."""
    try:
        user_id, epoch = (int(part) for part in user_key.split("."))
    except ValueError:
        return None
    user = db.session.get(User, user_id)
    if user is None or user.session_epoch != epoch or not user.is_enabled:
        return None
    return user
