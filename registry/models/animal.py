from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import Model
from registry.models.base import UTCDateTime, utcnow
from registry.models.facility import Facility
from registry.models.party import Party
from registry.models.species import Species

SEXES = ("M", "F", "U")
IDENTIFIER_KINDS = ("microchip", "closed_ring", "split_ring", "tag", "tattoo", "photo", "other")
#: What people type between the characters of a mark and a search leaves out ("410 000-000.000/777").
_SEPARATORS = str.maketrans("", "", " \t-./_:")


def identifier_key(value: str | None) -> str | None:
    """A mark's value as searched: upper case, without spaces or separators (see Identifier.value_key)."""
    return value.translate(_SEPARATORS).upper() if value is not None else None


def _value_key(context) -> str | None:
    return identifier_key(context.get_current_parameters().get("value"))


class Animal(Model):
    """One live specimen, followed from declaration to disposal under a permanent registry number."""

    __tablename__ = "animal"
    __table_args__ = (
        # The animal search matches a registry number by its beginning (LIKE 'KR-A-2026%'); the unique
        # index's ordinary operator class cannot serve a LIKE under a non-C collation, pattern_ops can.
        Index("ix_animal_registry_no_prefix", "registry_no", postgresql_ops={"registry_no": "varchar_pattern_ops"}),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    #: Permanent across owners, e.g. KR-A-2026-000042.
    registry_no: Mapped[str] = mapped_column(String(32), unique=True)
    species_id: Mapped[int] = mapped_column(ForeignKey("species.id"), index=True)
    state: Mapped[str] = mapped_column(String(32), index=True)
    sex: Mapped[str] = mapped_column(String(1), default="U")
    name: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date | None]
    birth_date_estimated: Mapped[bool] = mapped_column(default=False)
    source_code: Mapped[str] = mapped_column(String(1))
    origin_country: Mapped[str | None] = mapped_column(String(2))
    #: Ownership and custody are separate: a zoo may hold an animal another party owns.
    owner_party_id: Mapped[int | None] = mapped_column(ForeignKey("party.id"), index=True)
    holder_party_id: Mapped[int | None] = mapped_column(ForeignKey("party.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    #: Indexed: the animal page lists an animal's offspring by them.
    sire_id: Mapped[int | None] = mapped_column(ForeignKey("animal.id"), index=True)
    dam_id: Mapped[int | None] = mapped_column(ForeignKey("animal.id"), index=True)
    #: The permit line the animal was declared on, for imports.
    permit_line_id: Mapped[int | None] = mapped_column(ForeignKey("permit_line.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    species: Mapped[Species] = relationship()
    owner: Mapped[Party | None] = relationship(foreign_keys=[owner_party_id])
    holder: Mapped[Party | None] = relationship(foreign_keys=[holder_party_id])
    facility: Mapped[Facility | None] = relationship()
    sire: Mapped["Animal | None"] = relationship(foreign_keys=[sire_id], remote_side=[id])
    dam: Mapped["Animal | None"] = relationship(foreign_keys=[dam_id], remote_side=[id])
    permit_line = relationship("PermitLine")
    identifiers: Mapped[list["Identifier"]] = relationship(back_populates="animal", order_by="Identifier.id")
    events: Mapped[list["AnimalEvent"]] = relationship(back_populates="animal", order_by="AnimalEvent.id")

    __mapper_args__ = {"version_id_col": version}

    def as_audit(self) -> dict:
        return {
            c: getattr(self, c)
            for c in (
                "registry_no",
                "species_id",
                "state",
                "sex",
                "name",
                "birth_date",
                "birth_date_estimated",
                "source_code",
                "origin_country",
                "owner_party_id",
                "holder_party_id",
                "facility_id",
                "sire_id",
                "dam_id",
                "permit_line_id",
            )
        }


class Identifier(Model):
    """A mark on an animal. Retired marks stay, so the history of identifiers is kept."""

    __tablename__ = "identifier"
    __table_args__ = (
        # An active microchip number is unique across the registry; retired ones may recur.
        Index(
            "uq_identifier_active_microchip",
            "value",
            unique=True,
            sqlite_where=text("kind = 'microchip' AND active"),
            postgresql_where=text("kind = 'microchip' AND active"),
        ),
        # The animal search matches a mark exactly or by its beginning (LIKE 'ABC%'): pattern_ops lets
        # PostgreSQL use the index for that whatever the database's collation.
        Index("ix_identifier_value_key", "value_key", postgresql_ops={"value_key": "varchar_pattern_ops"}),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    animal_id: Mapped[int] = mapped_column(ForeignKey("animal.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(150), index=True)
    #: ``identifier_key(value)``, written with the row (the value never changes): what searches match.
    #: Nullable: a row written by plain SQL without it is still a mark; searches also match ``value``.
    value_key: Mapped[str | None] = mapped_column(String(150), default=_value_key)
    active: Mapped[bool] = mapped_column(default=True)
    applied_on: Mapped[date | None]
    retired_on: Mapped[date | None]
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    animal: Mapped[Animal] = relationship(back_populates="identifiers")

    def as_audit(self) -> dict:
        return {
            c: getattr(self, c) for c in ("animal_id", "kind", "value", "active", "applied_on", "retired_on", "note")
        }


class AnimalEvent(Model):
    """A lifecycle event as it happened to the animal: its timeline."""

    __tablename__ = "animal_event"
    __table_args__ = (
        # The dashboard counts events of a kind by month, and the late-death rule reads the deaths
        # recorded lately: both start from the few events of one kind, not from every animal.
        Index("ix_animal_event_event_occurred_on", "event", "occurred_on"),
        Index("ix_animal_event_event_recorded_at", "event", "recorded_at"),
        # The follow-up rules (carcass disposal, registration after entry, missing animals) read when
        # the animals now in a state entered it: an index-only scan of that state's events.
        Index("ix_animal_event_to_state", "to_state", "animal_id", "occurred_on"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    animal_id: Mapped[int] = mapped_column(ForeignKey("animal.id"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    #: When it happened in the world, as reported; recorded_at is when the registry learnt it.
    occurred_on: Mapped[date]
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_name: Mapped[str] = mapped_column(String(200))
    permit_id: Mapped[int | None] = mapped_column(ForeignKey("permit.id"))
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    animal: Mapped[Animal] = relationship(back_populates="events")


class Keeping(Model):
    """A period during which a party owned, or held, an animal."""

    __tablename__ = "keeping"
    id: Mapped[int] = mapped_column(primary_key=True)
    animal_id: Mapped[int] = mapped_column(ForeignKey("animal.id"), index=True)
    #: "owner" or "holder".
    relation: Mapped[str] = mapped_column(String(8))
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    since: Mapped[date]
    until: Mapped[date | None]
    event_id: Mapped[int] = mapped_column(ForeignKey("animal_event.id"))

    party: Mapped[Party] = relationship()
    facility: Mapped[Facility | None] = relationship()
