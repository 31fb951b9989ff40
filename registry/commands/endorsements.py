"""What customs records when a consignment crosses the border on a permit: the endorsement.

The shape is checked here (direction, port, dates, quantities, outcomes). Whether the permit may
be used (its state, validity and direction) is the permit lifecycle's to say; what needs the
permit's lines (line numbers, quantities left, animals of the line's species) stays in
``registry.services.endorsements``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

import marshmallow as ma

from registry.commands import Choice, CommandSchema, Day, Id, String
from registry.commands.arrivals import Declaration, DeclarationSchema
from registry.commands.permits import Lines, Quantity
from registry.i18n import _


class Direction(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"


class Outcome(StrEnum):
    CLEARED = "cleared"
    REFUSED = "refused"
    SEIZED = "seized"


@dataclass(frozen=True, kw_only=True)
class EndorseLine:
    """What happened to one permit line's consignment: the quantity and whether it crossed."""

    line_no: int
    quantity: Decimal
    outcome: Outcome = Outcome.CLEARED
    #: Why it was refused or seized (the animals' timeline keeps it).
    reason: str | None = None
    #: Entry: the animals customs describes, at most the quantity: each microchip read at the border
    #: (``identifiers``) picks the animal declared with it, else goes on an animal declared without
    #: one, else on a new animal; a chip that differs from those declared stops the line.
    animals: tuple[Declaration, ...] = ()
    #: Exit: the animals that left.
    animal_ids: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Endorse:
    direction: Direction
    port: str
    transport_doc: str
    lines: tuple[EndorseLine, ...]
    #: The day it crossed; default today.
    endorsed_on: date | None = None
    #: Where seized live animals go; required when live animals are seized at entry.
    seizure_facility_id: int | None = None
    #: Why goods may clear on a foreign document another permit has already used up at the border.
    override_reason: str | None = None
    #: Entry on an Appendix I import permit issued first (Art. III): the exporting country's export
    #: permit, which customs sees with the consignment and records here.
    foreign_permit_no: str | None = None
    foreign_permit_date: date | None = None


class EndorseLineSchema(CommandSchema):
    command = EndorseLine
    line_no = Id(required=True, metadata={"description": "the permit line's number"})
    quantity = Quantity(required=True)
    outcome = Choice(Outcome, load_default=Outcome.CLEARED.value)
    reason = String(load_default=None, allow_none=True, metadata={"description": "refused or seized: why"})
    animals = ma.fields.List(
        ma.fields.Nested(DeclarationSchema),
        load_default=tuple,
        validate=ma.validate.Length(max=1000),
        metadata={
            "description": "entry: the animals that arrived, at most the quantity, each with the microchips read"
            " at the border; a chip picks the animal declared with it, else an animal declared without one, else"
            " a new animal; chips that differ from the ones declared are refused (409)"
        },
    )
    animal_ids = ma.fields.List(
        Id(),
        load_default=tuple,
        validate=ma.validate.Length(max=1000),
        metadata={"description": "exit: the animals that left"},
    )

    @ma.validates_schema
    def _no_more_animals_than_crossed(self, data: dict, **kwargs: Any) -> None:
        described, quantity = data.get("animals") or (), data.get("quantity")
        if quantity is not None and len(described) > quantity:
            chips = [m.value for d in described[int(quantity) :] for m in d.identifiers]
            raise ma.ValidationError(
                _(
                    "%(count)s animals described for a quantity of %(quantity)s; left over: %(chips)s",
                    count=len(described),
                    quantity=f"{quantity.normalize():f}",
                    chips=", ".join(chips) or "-",
                ),
                "animals",
            )

    @ma.post_load
    def _build(self, data: dict, **kwargs: Any) -> Any:
        return EndorseLine(
            **{
                **data,
                "outcome": Outcome(data.get("outcome") or Outcome.CLEARED),
                "animals": tuple(data["animals"]),
                "animal_ids": tuple(data["animal_ids"]),
            }
        )


class EndorseSchema(CommandSchema):
    command = Endorse
    direction = Choice(Direction, required=True)
    port = String(limit=200, required=True)
    transport_doc = String(
        limit=100, required=True, metadata={"description": "air waybill or bill of lading number (box 15)"}
    )
    endorsed_on = Day(past=True, load_default=None, allow_none=True, metadata={"description": "default today"})
    seizure_facility_id = Id(load_default=None, allow_none=True, metadata={"description": "where seized animals go"})
    override_reason = String(
        load_default=None,
        allow_none=True,
        metadata={"description": "why goods may clear on a foreign document already used up (the ledger keeps it)"},
    )
    foreign_permit_no = String(
        limit=70,
        load_default=None,
        allow_none=True,
        metadata={"description": "entry: the exporting country's permit, when the import permit does not quote it"},
    )
    foreign_permit_date = Day(past=True, load_default=None, allow_none=True, metadata={"description": "its date"})
    lines = Lines(EndorseLineSchema, limit=200, required=True)

    @ma.validates_schema
    def _marks_fit_the_direction(self, data: dict, **kwargs: Any) -> None:
        """Described animals are read at entry, animal ids named at exit; a microchip is read once."""
        errors: dict[int, dict[str, list[str]]] = {}
        seen: set[str] = set()
        for i, line in enumerate(data.get("lines") or ()):
            if data.get("direction") == Direction.EXIT.value and line.animals:
                errors[i] = {"animals": [_("at exit, name the animals that leave by id (animal_ids)")]}
            elif data.get("direction") == Direction.ENTRY.value and line.animal_ids:
                errors[i] = {"animal_ids": [_("at entry, describe the animals that arrive (animals)")]}
            chips = [m.value for d in line.animals for m in d.identifiers if m.kind == "microchip"]
            twice = sorted({c for c in chips if c in seen or chips.count(c) > 1})
            seen.update(chips)
            if twice and i not in errors:
                errors[i] = {"animals": [_("microchip %(chip)s is typed more than once", chip=", ".join(twice))]}
        if errors:
            raise ma.ValidationError({"lines": errors})

    @ma.post_load
    def _build(self, data: dict, **kwargs: Any) -> Any:
        number = data.get("foreign_permit_no")
        return Endorse(
            **{
                **data,
                "direction": Direction(data["direction"]),
                "lines": tuple(data["lines"]),
                "foreign_permit_no": number and number.upper(),
            }
        )
