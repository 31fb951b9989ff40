from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import Model, db
from registry.models.animal import Animal
from registry.models.base import UTCDateTime, utcnow
from registry.models.facility import Facility
from registry.models.party import Party

transfer_animal = Table(
    "transfer_animal",
    db.metadata,
    Column("transfer_id", ForeignKey("transfer.id"), primary_key=True),
    Column("animal_id", ForeignKey("animal.id"), primary_key=True),
    # What the offer saw of each animal: accepting re-checks it, and an event that changes it cancels
    # the offer. NULL on offers made before these were kept.
    Column("offered_version", Integer),
    Column("offered_owner_party_id", ForeignKey("party.id")),
    Column("offered_holder_party_id", ForeignKey("party.id")),
    Column("offered_facility_id", ForeignKey("facility.id")),
)


class Transfer(Model):
    """A transfer of ownership and/or custody of animals, agreed by both keepers (양도·양수 신고)."""

    __tablename__ = "transfer"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: Given by the transferor to the transferee, who can accept with it.
    code: Mapped[str] = mapped_column(String(12), unique=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    transferor_party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    transferee_party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    #: The transferee's facility that will hold the animals.
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    #: Ownership passes too; without it only custody moves.
    ownership: Mapped[bool] = mapped_column(default=True)
    planned_on: Mapped[date]
    note: Mapped[str | None] = mapped_column(Text)
    decision_note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)

    transferor: Mapped[Party] = relationship(foreign_keys=[transferor_party_id])
    transferee: Mapped[Party] = relationship(foreign_keys=[transferee_party_id])
    facility: Mapped[Facility] = relationship()
    animals: Mapped[list[Animal]] = relationship(secondary=transfer_animal, order_by=Animal.id)

    __mapper_args__ = {"version_id_col": version}

    def as_audit(self) -> dict:
        return {
            "state": self.state,
            "transferor_party_id": self.transferor_party_id,
            "transferee_party_id": self.transferee_party_id,
            "facility_id": self.facility_id,
            "ownership": self.ownership,
            "planned_on": self.planned_on,
            "note": self.note,
            "decision_note": self.decision_note,
            "animals": [a.id for a in self.animals],
        }
