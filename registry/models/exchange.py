from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import Model
from registry.models.base import UTCDateTime, utcnow
from registry.models.token import IdempotentAnswer


class ExchangePartner(Model):
    """A partner authority that exchanges documents with the registry (EPIX's organisations).

    As in EPIX, a country has at most one organisation per role: its CITES Management Authority and
    its customs (our own customs single window is the partner of our own country).
    """

    __tablename__ = "exchange_partner"
    __table_args__ = (UniqueConstraint("country", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    #: ISO 3166-1 alpha-2.
    country: Mapped[str] = mapped_column(String(2))
    name: Mapped[str] = mapped_column(String(200))
    #: registry.permissions.PartnerRole: what the partner may do.
    role: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(default=True)
    #: SHA-1 of its TLS client certificate (nginx's ``$ssl_client_fingerprint``: 40 hex digits),
    #: the second way a partner authenticates, as in EPIX; read only behind a trusted proxy.
    cert_fingerprint: Mapped[str | None] = mapped_column(String(40), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def as_audit(self) -> dict:
        return {
            "country": self.country,
            "name": self.name,
            "role": self.role,
            "enabled": self.enabled,
            "cert_fingerprint": self.cert_fingerprint,
        }


class ExchangeToken(Model):
    """A bearer token of one partner, valid only on the exchange endpoints; stored as its SHA-256,
    shown once, expiring and revocable, like an API token (registry.models.token.ApiToken)."""

    __tablename__ = "exchange_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("exchange_partner.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: SHA-256 of the secret: the secret is random, so a slow hash would add nothing.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The first characters of the token, so an operator can tell a partner's tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    partner: Mapped[ExchangePartner] = relationship()

    def as_audit(self) -> dict:
        return {
            "partner_id": self.partner_id,
            "name": self.name,
            "prefix": self.prefix,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        }


class PartnerIdempotentRequest(IdempotentAnswer, Model):
    """The first answer to a partner's POST sent with an Idempotency-Key (a partner is no user, so
    its keys have a table of their own; registry.services.idempotency serves both)."""

    __tablename__ = "partner_idempotent_request"
    partner_id: Mapped[int] = mapped_column(ForeignKey("exchange_partner.id"), primary_key=True)
