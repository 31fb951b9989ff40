"""The second factor: enrolling an authenticator app, checking its codes and the recovery codes at
login, and an administrator's reset for a user who lost the phone."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import delete, func, select

from registry import throttle, totp
from registry.extensions import db
from registry.i18n import _
from registry.models import RecoveryCode, User
from registry.models.base import utcnow
from registry.permissions import Actor, require
from registry.services import audit, sessions, tokens, users
from registry.services.context import lock, write_transaction
from registry.services.errors import Conflict, Forbidden, NotFound, ValidationFailed


def _secret_key() -> str:
    return current_app.config["SECRET_KEY"]


def _load(session, user_id: int | None) -> User:
    user = session.execute(lock(select(User).where(User.id == user_id))).scalar_one_or_none()
    if user is None:
        raise NotFound(_("no such user"))
    return user


def _fresh_codes(session, user: User) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = totp.new_recovery_codes()
    session.add_all(RecoveryCode(user_id=user.id, code_hash=totp.recovery_digest(c)) for c in codes)
    return codes


def enrol(actor: Actor, secret: str, code: str, keep_session: str | None) -> list[str]:
    """Bind the authenticator holding *secret* to the actor's account, once *code* proves it does;
    returns the recovery codes, shown once. Every other session of the account ends."""
    step = totp.matching_step(secret, code or "", None)
    if step is None:
        raise ValidationFailed(
            _("the code does not match"),
            {"code": _("the 6-digit code the app shows now; check that the phone's clock is right")},
        )
    with write_transaction() as session:
        user = _load(session, actor.user_id)
        if user.totp_enrolled_at is not None:
            raise Conflict(_("an authenticator is already set up for this account"))
        user.totp_secret = totp.seal(secret, _secret_key())
        user.totp_enrolled_at = utcnow()
        user.totp_last_step = step
        codes = _fresh_codes(session, user)
        audit.record(actor, "user.second_factor_enrol", "user", user.id, None, {"recovery_codes": len(codes)})
        sessions.end_all(actor, user.id, sessions.EndReason.SECOND_FACTOR, keep=keep_session)
    return codes


def check(actor: Actor, code: str) -> bool:
    """Whether *code* is the account's current authenticator code or an unused recovery code; each is
    good once. Every answer is audited, and wrong codes count against the account like wrong
    passwords (the same delays and lock).

    :raises throttle.LoginRefused: too many failed attempts on the account or from the address.
    """
    user = _unthrottled(actor)
    if _matches(actor, code):
        throttle.for_app().succeeded(user.username)
        users.record_login(actor, user)
        return True
    _failed(actor, user)
    return False


def _unthrottled(actor: Actor) -> User:
    """The actor's account, unless the login throttle refuses it another attempt now."""
    user = db.session.get(User, actor.user_id)
    if user is None:
        raise NotFound(_("no such user"))
    users.check_throttle(actor, user, user.username, actor.client_addr)
    return user


def _take_step(user: User, code: str) -> bool:
    """Whether *code* is the account's authenticator code for a step not used yet; if so, that step
    is used up (the caller holds the row lock)."""
    secret = totp.unseal(user.totp_secret, _secret_key()) if user.totp_secret else None
    step = totp.matching_step(secret, code or "", user.totp_last_step) if secret else None
    if step is None:
        return False
    user.totp_last_step = step
    return True


def _failed(actor: Actor, user: User) -> None:
    audit.record_alone(actor, "auth.second_factor_failed", "user", user.id)
    users.count_failure(actor, user, user.username, actor.client_addr)


def _matches(actor: Actor, code: str) -> bool:
    with write_transaction() as session:
        user = _load(session, actor.user_id)
        if _take_step(user, code):
            audit.record(actor, "auth.second_factor", "user", user.id, None, {"method": "authenticator"})
            return True
        spare = session.scalar(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == totp.recovery_digest(code or ""),
                RecoveryCode.used_at.is_(None),
            )
        )
        if spare is not None:
            spare.used_at = utcnow()
            session.flush()
            left = recovery_codes_left(user.id)
            audit.record(actor, "auth.second_factor", "user", user.id, None, {"method": "recovery_code", "left": left})
            return True
    return False


def new_recovery_codes(actor: Actor, code: str) -> list[str]:
    """Replace the actor's recovery codes, after a current authenticator code proves the phone.
    A wrong code is throttled and audited like one at login (a stolen session must not guess)."""
    user = _unthrottled(actor)
    codes: list[str] = []
    with write_transaction() as session:
        user = _load(session, actor.user_id)
        if _take_step(user, code):
            codes = _fresh_codes(session, user)
            audit.record(actor, "user.recovery_codes", "user", user.id, None, {"recovery_codes": len(codes)})
    if not codes:
        _failed(actor, user)
        raise ValidationFailed(_("the code does not match"), {"code": _("the 6-digit code the app shows now")})
    return codes


def reset(actor: Actor, user_id: int) -> None:
    """Forget a user's authenticator and recovery codes (an administrator's act, never one's own):
    the user enrols again at the next login, and every session of theirs ends now."""
    require(actor, "user.manage")
    if actor.user_id == user_id:
        raise Forbidden(_("another administrator resets your second factor"))
    with write_transaction() as session:
        user = _load(session, user_id)
        if user.totp_enrolled_at is None:
            raise Conflict(_("this account has no second factor to reset"))
        user.totp_secret = user.totp_enrolled_at = user.totp_last_step = None
        session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        audit.record(actor, "user.second_factor_reset", "user", user.id, {"second_factor": "enrolled"}, None)
        sessions.end_all(actor, user.id, sessions.EndReason.SECOND_FACTOR)
        tokens.revoke_all(actor, user.id)  # made behind the lost phone's codes: they go with it


def recovery_codes_left(user_id: int) -> int:
    return (
        db.session.scalar(select(func.count()).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)))
        or 0
    )
