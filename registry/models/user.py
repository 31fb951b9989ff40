from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import Model
from registry.models.base import UTCDateTime, utcnow
from registry.models.party import Party


class User(UserMixin, Model):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    #: One of registry.permissions.Role.
    role: Mapped[str] = mapped_column(String(32))
    #: The party a keeper acts for; their scope of animals, facilities and permits.
    party_id: Mapped[int | None] = mapped_column(ForeignKey("party.id"))
    #: An officer's regional office (registry.offices): the office that issues what they issue.
    office_code: Mapped[str | None] = mapped_column(String(32))
    is_enabled: Mapped[bool] = mapped_column(default=True)
    #: Bumped to revoke every session of the user (signed cookies cannot be revoked otherwise).
    session_epoch: Mapped[int] = mapped_column(default=0)
    #: Set when an administrator chose the password: the user must choose their own before anything else.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The authenticator's shared secret, encrypted (registry.second_factor); None until enrolled.
    totp_secret: Mapped[str | None] = mapped_column(String(200))
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The last 30-second step a code was accepted for: a code is good once, however quickly replayed.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)

    party: Mapped[Party | None] = relationship()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses sessions of inactive users
        return self.is_enabled

    def get_id(self) -> str:
        return f"{self.id}.{self.session_epoch}"

    def as_audit(self) -> dict:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "email": self.email,
            "role": self.role,
            "party_id": self.party_id,
            "office_code": self.office_code,
            "is_enabled": self.is_enabled,
            "must_change_password": self.must_change_password,
        }


class UserSession(Model):
    """One signed-in browser: what lets the registry end a session the cookie alone would keep alive."""

    __tablename__ = "user_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    #: SHA-256 of the random key the session cookie carries (the key is never stored).
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the second factor was checked in this session; None if the login did not ask for one.
    second_factor_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    client_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: One of registry.services.sessions.EndReason.
    ended_reason: Mapped[str | None] = mapped_column(String(32))

    user: Mapped[User] = relationship()


class RecoveryCode(Model):
    """A single-use code that stands in for the authenticator; only its SHA-256 is stored."""

    __tablename__ = "recovery_code"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
