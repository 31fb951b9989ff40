"""API tokens: created for a user, shown once, stored hashed, expiring, revocable."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from datetime import timedelta

from sqlalchemy import select

from registry.extensions import db
from registry.i18n import _
from registry.models import ApiToken, User
from registry.models.base import utcnow
from registry.permissions import CAPABILITIES, Actor, has_capability, require
from registry.services import audit
from registry.services.context import write_transaction
from registry.services.errors import Conflict, NotFound, ValidationFailed

PREFIX = "wr_"
MAX_DAYS = 366
DEFAULT_DAYS = 90


def digest(secret: str) -> str:
    """What is stored of a token's secret (a token is looked up by it, never by the secret)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def name_and_days_errors(name: str, days: int) -> tuple[str, dict[str, str]]:
    """A new token's name, trimmed, and what is wrong with it or with its days of validity."""
    errors = {}
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        errors["name"] = _("1 to 100 characters")
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        errors["days"] = _("a whole number of days from 1 to %(max)s", max=MAX_DAYS)
    return name, errors


def mint(prefix: str, days: int) -> tuple[str, dict]:
    """A new secret starting with *prefix*, and the columns a token row keeps of it."""
    secret = prefix + secrets.token_urlsafe(32)
    return secret, {"token_hash": digest(secret), "prefix": secret[:10], "expires_at": utcnow() + timedelta(days=days)}


def live(model, prefix: str, secret: str):
    """The unexpired, unrevoked row of *model* (a token table) whose secret is *secret*, or None."""
    if not secret.startswith(prefix):
        return None
    token = db.session.scalar(select(model).where(model.token_hash == digest(secret)))
    if token is None or token.revoked_at is not None or token.expires_at <= utcnow():
        return None
    return token


def create_token(
    actor: Actor, user_id: int, name: str, days: int = DEFAULT_DAYS, scope: Iterable[str] | None = None
) -> tuple[ApiToken, str]:
    """A new token for *user_id* (one's own, or anyone's with user.manage); returns it and its secret.

    *scope* limits the token to those capabilities (within the user's role, which still applies);
    None lets it use everything the role allows.
    """
    if actor.user_id != user_id:
        require(actor, "user.manage")
    name, errors = name_and_days_errors(name, days)
    wanted = sorted(set(scope)) if scope is not None else None
    unknown = [c for c in wanted or () if c not in CAPABILITIES]
    if unknown or wanted == []:
        errors["scope"] = _("capabilities of the registry, at least one (unknown: %(names)s)", names=", ".join(unknown))
    if errors:
        raise ValidationFailed(_("the token cannot be created"), errors)
    secret, kept = mint(PREFIX, days)
    with write_transaction() as session:
        user = session.get(User, user_id)
        if user is None or not user.is_enabled:
            raise NotFound(_("no such user"))
        token = ApiToken(
            user_id=user.id,
            name=name,
            **kept,
            scope=" ".join(wanted) if wanted is not None else None,
        )
        session.add(token)
        session.flush()
        audit.record(actor, "token.create", "api_token", token.id, None, token.as_audit())
    return token, secret


def revoke_token(actor: Actor, token_id: int) -> ApiToken:
    with write_transaction() as session:
        token = session.get(ApiToken, token_id)
        if token is None or (token.user_id != actor.user_id and not has_capability(actor, "user.manage")):
            raise NotFound(_("no such token"))
        if token.revoked_at is not None:
            raise Conflict(_("the token is already revoked"))
        before = token.as_audit()
        token.revoked_at = utcnow()
        session.flush()
        audit.record(actor, "token.revoke", "api_token", token.id, before, token.as_audit())
    return token


def revoke_all(actor: Actor, user_id: int) -> int:
    """Revoke every live token of *user_id*; joins the caller's transaction. Returns how many."""
    if actor.user_id != user_id:
        require(actor, "user.manage")
    with write_transaction() as session:
        live = session.scalars(select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))).all()
        for token in live:
            before = token.as_audit()
            token.revoked_at = utcnow()
            audit.record(actor, "token.revoke", "api_token", token.id, before, token.as_audit())
    return len(live)


def valid_token(secret: str) -> ApiToken | None:
    """The valid, unexpired, unrevoked token of an enabled user *secret* is; None otherwise."""
    token = live(ApiToken, PREFIX, secret)
    return token if token is not None and token.user.is_enabled else None


def tokens_of(user_id: int) -> Sequence[ApiToken]:
    return db.session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())).all()
