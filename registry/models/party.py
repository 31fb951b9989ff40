from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import Model
from registry.models.base import UTCDateTime, utcnow

PARTY_KINDS = ("person", "organisation")


class Party(Model):
    """A person or organisation: importer, exporter, owner or holder of animals."""

    __tablename__ = "party"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    #: Business or resident registration number, when known; unique when given.
    registration_no: Mapped[str | None] = mapped_column(String(64), unique=True)
    country: Mapped[str] = mapped_column(String(2), default="KR")
    address: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def as_audit(self) -> dict:
        return {
            c: getattr(self, c) for c in ("kind", "name", "registration_no", "country", "address", "email", "phone")
        }
