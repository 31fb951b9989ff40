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
    #: Entry: the animals that arrived without having been declared before.
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
        metadata={"description": "entry: the animals that arrived, when not declared before"},
    )
    animal_ids = ma.fields.List(
        Id(),
        load_default=tuple,
        validate=ma.validate.Length(max=1000),
        metadata={"description": "exit: the animals that left"},
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
    lines = Lines(EndorseLineSchema, limit=200, required=True)

    @ma.post_load
    def _build(self, data: dict, **kwargs: Any) -> Any:
        return Endorse(**{**data, "direction": Direction(data["direction"]), "lines": tuple(data["lines"])})
