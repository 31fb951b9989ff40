from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import Model, db
from registry.models.base import UTCDateTime, utcnow

ATTACHMENT_KINDS = ("vet_certificate", "photo", "facility_plan", "disposal_receipt", "other")


class Attachment(Model):
    """A file (PDF, JPEG, PNG) attached to an animal or a facility; the bytes live in the upload
    store under their SHA-256, outside the web root, and are served only to who may see the record."""

    __tablename__ = "attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    object_type: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[int] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(24))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int]
    filename: Mapped[str] = mapped_column(String(200))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (db.Index("ix_attachment_object", "object_type", "object_id"),)

    def as_audit(self) -> dict:
        return {
            c: getattr(self, c)
            for c in ("object_type", "object_id", "kind", "sha256", "media_type", "size", "filename")
        }
