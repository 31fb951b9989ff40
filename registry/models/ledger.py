from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import Model
from registry.models.base import UTCDateTime, utcnow


class ForeignDocumentUse(Model):
    """The ledger of foreign documents: one row per import application or permit that cites an
    exporting country's permit (box 12), keyed by (country, number), with the quantities it uses.

    Two rows under one key are a second use of the same foreign document: flagged on the
    application, refused at issue and at the border unless a ministry officer overrides it (the
    reason is kept here and in the audit entry)."""

    __tablename__ = "foreign_document_use"
    __table_args__ = (Index("ix_foreign_document_use_key", "country", "document_no"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The exporting or re-exporting country that issued the document.
    country: Mapped[str] = mapped_column(String(2))
    #: Normalised: upper case, spaces trimmed.
    document_no: Mapped[str] = mapped_column(String(70))
    permit_id: Mapped[int] = mapped_column(ForeignKey("permit.id"), unique=True)
    #: What the application asks for (the sum of its lines).
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    #: What has cleared at the border on this permit.
    cleared: Mapped[Decimal] = mapped_column(Numeric(14, 3), default=Decimal(0))
    #: The warning the application carries when the document was already cited elsewhere.
    warning: Mapped[str | None] = mapped_column(Text)
    override_reason: Mapped[str | None] = mapped_column(Text)
    overridden_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def as_audit(self) -> dict:
        return {
            c: getattr(self, c)
            for c in ("country", "document_no", "permit_id", "quantity", "cleared", "warning", "override_reason")
        }
