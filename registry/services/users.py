"""Accounts: creation, authentication, roles and passwords."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import func, select

from registry import offices, passwords, throttle
from registry import password_hash as hashing
from registry.extensions import db
from registry.i18n import _
from registry.models import AuditEntry, Party, User
from registry.models.base import utcnow
from registry.permissions import Actor, Role, needs_party, require
from registry.services import audit, sessions, tokens
from registry.services.context import write_transaction
from registry.services.errors import Conflict, NotFound, ValidationFailed

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


def _password_refusal(password: str, username: str, display_name: str | None, email: str | None) -> str | None:
    return passwords.refusal(password, (username, display_name, email))


def create_user(
    actor: Actor,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    party_id: int | None = None,
    email: str | None = None,
    must_change_password: bool = False,
    office_code: str | None = None,
) -> User:
    """Create an account. A keeper must be linked to the party they act for; an officer who
    issues permits works in a regional office (*office_code*, registry.offices), box 6.

    *must_change_password* when the person creating it chose the password for someone else.
    """
    require(actor, "user.manage")
    username = (username or "").strip().lower()
    errors = {}
    if not USERNAME.match(username):
        errors["username"] = _("2-64 characters: lower-case letters, digits, '.', '_' or '-'")
    if role not in Role.__members__.values():
        errors["role"] = _("one of %(values)s", values=", ".join(r.value for r in Role))
    if needs_party(role) and party_id is None:
        errors["party_id"] = _("a keeper must be linked to their party")
    office_problem = offices.refusal(office_code)
    if office_problem:
        errors["office_code"] = office_problem
    refusal = _password_refusal(password, username, display_name, email)
    if refusal:
        errors["password"] = refusal
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
            password_hash=hashing.hash_password(password),
            role=role,
            party_id=party_id,
            must_change_password=must_change_password,
            office_code=office_code or None,
        )
        session.add(user)
        session.flush()
        audit.record(actor, "user.create", "user", user.id, None, user.as_audit())
    return user


def authenticate(
    username: str, password: str, request_id: str | None = None, client_addr: str | None = None
) -> User | None:
    """Check a password; every attempt, good, bad or refused by the throttle, is audited.

    :raises throttle.LoginRefused: too many failed attempts for the account or the address
        (``Throttled``), or the counters cannot be reached (``CountersUnavailable``); the password
        is not even looked at.
    """
    username = (username or "").strip().lower()
    user = db.session.scalar(select(User).where(User.username == username))
    anon = Actor(
        user.id if user else None,
        username if user else _unknown_name(username),
        user.role if user else "anonymous",
        request_id=request_id or "",
        client_addr=client_addr,
    )
    check_throttle(anon, user, username, client_addr)
    ok = hashing.verify(user.password_hash if user else hashing.dummy_hash(), password or "")
    if user is None or not ok or not user.is_enabled:
        reason = "unknown user" if user is None else ("disabled" if ok else "wrong password")
        audit.record_alone(anon, "auth.login_failed", "user", user.id if user else None, {"reason": reason})
        count_failure(anon, user, username, client_addr)
        return None
    if user.totp_enrolled_at is None:
        # With a second factor the attempt succeeds only when the code does: a password alone must
        # not wipe the failed codes counted against the account.
        throttle.for_app().succeeded(username)
    actor = Actor.for_user(user, request_id, client_addr)
    with write_transaction() as session:
        user = session.get(User, user.id)
        rehash = hashing.needs_rehash(user.password_hash)
        if rehash:  # an earlier scheme or cost: the password is at hand, so store today's hash
            user.password_hash = hashing.hash_password(password)
        detail = {"rehashed": True} if rehash else None
        if user.totp_enrolled_at is None:
            record_login(actor, user, detail)
        else:  # not logged in yet: the code step records the login (second_factor.check)
            audit.record(actor, "auth.password_ok", "user", user.id, None, detail)
    return user


def _unknown_name(typed: str) -> str:
    """What the audit log keeps of a name no account has: a password typed into the name field must
    not stay in a log nobody can edit. A digest still shows the same name tried again and again."""
    if not typed:
        return "(blank)"
    return "(unknown " + hashlib.sha256(typed.encode("utf-8")).hexdigest()[:12] + ")"


def record_login(actor: Actor, user: User, detail: dict | None = None) -> None:
    """The account is signed in: both factors, where it has two, were right. Joins the caller's
    transaction."""
    with write_transaction():
        user.last_login_at = utcnow()
        audit.record(actor, "auth.login", "user", user.id, None, detail)


def check_throttle(anon: Actor, user: User | None, username: str, client_addr: str | None) -> None:
    refusal = throttle.for_app().refusal(username, client_addr)
    if refusal is not None:
        audit.record_alone(
            anon,
            "auth.throttled",
            "user",
            user.id if user else None,
            {"bucket": refusal.bucket, "retry_after": refusal.retry_after, "locked": refusal.locked},
        )
        raise throttle.Throttled(throttle.wait_text(refusal.retry_after), refusal.retry_after)


def count_failure(anon: Actor, user: User | None, username: str, client_addr: str | None) -> None:
    for lock in throttle.for_app().failed(username, client_addr):
        on_account = lock.bucket == throttle.ACCOUNT
        audit.record_alone(
            anon,
            "auth.locked",
            "user" if on_account else "address",
            (user.id if user else None) if on_account else lock.key,
            {"bucket": lock.bucket, "failures": lock.failures, "seconds": lock.retry_after},
        )


def unlock(actor: Actor, username: str) -> None:
    """Forget the failed attempts counted against an account (its delays and lock end at once).

    The address a lock came from keeps its own count.
    """
    require(actor, "user.manage")
    username = (username or "").strip().lower()
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(_("no such user"))
    throttle.for_app().succeeded(username)
    audit.record_alone(actor, "auth.unlock", "user", user.id)


@dataclass(frozen=True)
class LoginNotice:
    """What happened to the account since the user's previous login."""

    failed_attempts: int
    locked: bool


def login_notice(user_id: int) -> LoginNotice | None:
    """Failed and refused attempts on the account since the login before the one just recorded
    (call it after ``authenticate``); None when there were none."""
    key = (AuditEntry.object_type == "user") & (AuditEntry.object_id == str(user_id))
    previous = db.session.scalar(
        select(AuditEntry.seq).where(key, AuditEntry.action == "auth.login").order_by(AuditEntry.seq.desc()).offset(1)
    )
    since = key & (AuditEntry.seq > (previous or 0))
    counts = dict(
        db.session.execute(
            select(AuditEntry.action, func.count())
            .where(
                since,
                AuditEntry.action.in_(
                    ("auth.login_failed", "auth.second_factor_failed", "auth.throttled", "auth.locked")
                ),
            )
            .group_by(AuditEntry.action)
        ).all()
    )
    failed = sum(counts.get(a, 0) for a in ("auth.login_failed", "auth.second_factor_failed", "auth.throttled"))
    if not failed:
        return None
    return LoginNotice(failed, bool(counts.get("auth.locked")))


def set_password(actor: Actor, user_id: int, password: str) -> None:
    """An administrator sets someone's password: the user must choose their own at the next login,
    and every session and API token of theirs ends (whoever asked for the reset may hold them)."""
    require(actor, "user.manage")
    with write_transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(_("no such user"))
        refusal = _password_refusal(password, user.username, user.display_name, user.email)
        if refusal:
            raise ValidationFailed(_("the password cannot be used"), {"password": refusal})
        user.password_hash = hashing.hash_password(password)
        user.must_change_password = True
        user.session_epoch += 1
        revoked = tokens.revoke_all(actor, user.id)
        audit.record(
            actor,
            "user.set_password",
            "user",
            user.id,
            {"password": "old"},
            {"password": "new", "must_change_password": True, "tokens_revoked": revoked},
        )
        sessions.end_all(actor, user.id, sessions.EndReason.PASSWORD)


def prove_password(actor: Actor, password: str, field: str = "password", refused: str | None = None) -> User:
    """The actor's account, once *password* proves it is still its user at the keyboard (before a
    credential is made or changed: ASVS 7.5.1). Throttled and audited like a login.

    :raises ValidationFailed: on *field*, with *refused* as the message, when the password is wrong.
    """
    if actor.user_id is None:
        raise NotFound(_("no such user"))
    user = db.session.get(User, actor.user_id)
    if user is None:
        raise NotFound(_("no such user"))
    check_throttle(actor, user, user.username, actor.client_addr)
    if not hashing.verify(user.password_hash, password or ""):
        audit.record_alone(actor, "auth.login_failed", "user", user.id, {"reason": "wrong current password"})
        count_failure(actor, user, user.username, actor.client_addr)
        raise ValidationFailed(refused or _("not done"), {field: _("this is not your current password")})
    return user


def change_password(actor: Actor, current: str, new: str, keep_session: str | None = None) -> User:
    """Users change their own password, proving the current one (throttled like a login). Every
    other session of theirs ends (all but *keep_session*, the key of the one asking); their API
    tokens stay (they asked for this themselves).

    Returns the user, whose new session epoch the caller's own session must take on.
    """
    user = prove_password(actor, current, "current", _("the password was not changed"))
    refusal = _password_refusal(new, user.username, user.display_name, user.email)
    if refusal is None and hashing.verify(user.password_hash, new):
        refusal = _("the new password must differ from the current one")
    if refusal:
        raise ValidationFailed(_("the password was not changed"), {"new": refusal})
    throttle.for_app().succeeded(user.username)
    with write_transaction() as session:
        user = session.get(User, actor.user_id)
        user.password_hash = hashing.hash_password(new)
        was_forced = user.must_change_password
        user.must_change_password = False
        user.session_epoch += 1
        audit.record(
            actor,
            "user.change_password",
            "user",
            user.id,
            {"password": "old", "must_change_password": was_forced},
            {"password": "new", "must_change_password": False},
        )
        sessions.end_all(actor, user.id, sessions.EndReason.PASSWORD, keep=keep_session)
    return user


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
        if not enabled:  # enabling again must not bring old credentials back
            sessions.end_all(actor, user.id, sessions.EndReason.DISABLED)
            tokens.revoke_all(actor, user.id)


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
