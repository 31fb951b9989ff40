from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import Model, db
from registry.models.base import UTCDateTime, utcnow
from registry.models.user import User


class ApiToken(Model):
    """A bearer token for the JSON API; only its SHA-256 is stored, the secret is shown once."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: SHA-256 of the secret: the secret is random, so a slow hash would add nothing.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The first characters of the token, so a user can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The capabilities the token may use, space-separated, within the user's role; None: all of them.
    scope: Mapped[str | None] = mapped_column(db.Text)

    user: Mapped[User] = relationship()

    @property
    def capabilities(self) -> frozenset[str] | None:
        return frozenset(self.scope.split()) if self.scope is not None else None

    def as_audit(self) -> dict:
        return {
            "user_id": self.user_id,
            "name": self.name,
            "scope": self.scope,
            "prefix": self.prefix,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        }


class IdempotentAnswer:
    """The columns of a stored answer, whoever's key it is (a user's or a partner's)."""

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: SHA-256 of method, path and body: the same key with another request is an error.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None]
    body: Mapped[str | None] = mapped_column(db.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotentRequest(IdempotentAnswer, Model):
    """The first answer to a user's POST sent with an Idempotency-Key, replayed to its retries."""

    __tablename__ = "idempotent_request"
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
