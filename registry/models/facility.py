from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import Model
from registry.machines.facility import FacilityState
from registry.models.base import UTCDateTime, utcnow
from registry.models.party import Party
from registry.models.species import Species


class Facility(Model):
    """A keeping facility (사육시설) registered for given species and capacities."""

    __tablename__ = "facility"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: Assigned when the application is approved (or given when an existing registration is recorded).
    registration_no: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    holder_party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    address: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), default=FacilityState.PENDING)
    #: The reviewer's latest note: changes requested, refusal reason.
    decision_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    holder: Mapped[Party] = relationship()
    allowances: Mapped[list["FacilitySpecies"]] = relationship(
        back_populates="facility", cascade="all, delete-orphan", order_by="FacilitySpecies.species_id"
    )
    inspections: Mapped[list["Inspection"]] = relationship(back_populates="facility", order_by="Inspection.id")

    __mapper_args__ = {"version_id_col": version}

    def allowance_for(self, species_id: int) -> "FacilitySpecies | None":
        return next((a for a in self.allowances if a.species_id == species_id), None)

    def as_audit(self) -> dict:
        return {
            "registration_no": self.registration_no,
            "name": self.name,
            "holder_party_id": self.holder_party_id,
            "address": self.address,
            "status": self.status,
            "decision_note": self.decision_note,
            "allowances": {str(a.species_id): a.capacity for a in self.allowances},
        }


class FacilitySpecies(Model):
    """How many animals of one species a facility is registered to keep."""

    __tablename__ = "facility_species"
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), primary_key=True)
    species_id: Mapped[int] = mapped_column(ForeignKey("species.id"), primary_key=True)
    capacity: Mapped[int]

    facility: Mapped[Facility] = relationship(back_populates="allowances")
    species: Mapped[Species] = relationship()


INSPECTION_RESULTS = ("passed", "improvement_ordered", "failed")


class Inspection(Model):
    """An officer's inspection of a facility, its result and when the next one is due."""

    __tablename__ = "inspection"
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    inspected_on: Mapped[date]
    result: Mapped[str] = mapped_column(String(24))
    findings: Mapped[str | None] = mapped_column(Text)
    next_due: Mapped[date | None]
    officer_name: Mapped[str] = mapped_column(String(200))

    facility: Mapped[Facility] = relationship(back_populates="inspections")
