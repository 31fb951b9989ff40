from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import Model
from registry.models.base import UTCDateTime, utcnow
from registry.models.permit import Permit, PermitLine


class Endorsement(Model):
    """A customs officer's record of one consignment crossing the border on a permit (boxes 14-15)."""

    __tablename__ = "endorsement"
    id: Mapped[int] = mapped_column(primary_key=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("permit.id"), index=True)
    #: "entry" for imports, "exit" for exports and re-exports.
    direction: Mapped[str] = mapped_column(String(8))
    port: Mapped[str] = mapped_column(String(200))
    endorsed_on: Mapped[date]
    #: Air waybill or bill of lading number (box 15).
    transport_doc: Mapped[str] = mapped_column(String(100))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    officer_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    permit: Mapped[Permit] = relationship()
    lines: Mapped[list["EndorsedLine"]] = relationship(back_populates="endorsement", order_by="EndorsedLine.id")

    def as_audit(self) -> dict:
        # Logged inside its permit's entry, so the ids are what name this row and its lines there.
        return {
            "id": self.id,
            "permit_id": self.permit_id,
            "direction": self.direction,
            "port": self.port,
            "endorsed_on": self.endorsed_on,
            "transport_doc": self.transport_doc,
            "lines": [
                {"id": x.id, "line_no": x.line.line_no, "quantity": x.quantity, "outcome": x.outcome}
                for x in self.lines
            ],
        }


class EndorsedLine(Model):
    """The actual quantity of one permit line that crossed, or was refused or seized.

    Kept apart from the permitted quantity: annual reports count what crossed, not what was allowed.
    """

    __tablename__ = "endorsed_line"
    id: Mapped[int] = mapped_column(primary_key=True)
    endorsement_id: Mapped[int] = mapped_column(ForeignKey("endorsement.id"), index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("permit_line.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    outcome: Mapped[str] = mapped_column(String(8))

    endorsement: Mapped[Endorsement] = relationship(back_populates="lines")
    line: Mapped[PermitLine] = relationship()
