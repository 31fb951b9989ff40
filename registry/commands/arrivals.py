"""What brings an animal onto the register: a declaration on an import permit line, a birth in
captivity, and the marks (microchips, rings, tags) it carries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import marshmallow as ma

from registry.commands import Choice as ChoiceField
from registry.commands import CommandSchema, Day, Flag, Id, String
from registry.i18n import _
from registry.models.animal import IDENTIFIER_KINDS, SEXES

MICROCHIP = re.compile(r"^\d{15}$")
BIRTH_SOURCES = ("C", "F")


# ---------------------------------------------------------------- identifiers


@dataclass(frozen=True)
class NewIdentifier:
    kind: str
    value: str
    applied_on: date | None = None
    note: str | None = None


def identifier_problem(kind: str, value: str) -> str | None:
    """The reason a mark is malformed, or None."""
    if kind == "microchip" and not MICROCHIP.match(value):
        return _("an ISO 11784 microchip number is exactly 15 digits")
    return None


class NewIdentifierSchema(CommandSchema):
    command = NewIdentifier
    kind = ChoiceField(IDENTIFIER_KINDS, required=True)
    value = String(limit=150, required=True)
    applied_on = Day(past=True, load_default=None)
    note = String(limit=500, load_default=None)

    @ma.validates_schema
    def _well_formed(self, data: dict, **kwargs: Any) -> None:
        problem = identifier_problem(data["kind"], data["value"])
        if problem:
            raise ma.ValidationError(problem, "value")


class MarkSchema(NewIdentifierSchema):
    """A mark given with a new animal: a blank pair (an unused form row) is left out by the parent."""


class Marks(ma.fields.List):
    """The marks given with a new animal; a blank row of a form is left out."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(ma.fields.Nested(MarkSchema), load_default=(), validate=ma.validate.Length(max=10), **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list:
        if isinstance(value, list):
            value = [m for m in value if not (isinstance(m, dict) and not m.get("kind") and not m.get("value"))]
        return super()._deserialize(value, attr, data, **kwargs)


# ---------------------------------------------------------------- new animals


@dataclass(frozen=True, kw_only=True)
class Birth:
    """A birth or hatching in captivity, reported with the facility and the known parents."""

    species_id: int
    facility_id: int
    birth_date: date
    sire_id: int | None = None
    dam_id: int | None = None
    birth_date_estimated: bool = False
    sex: str = "U"
    source_code: str = "C"
    name: str | None = None
    identifiers: tuple[NewIdentifier, ...] = ()


class BirthSchema(CommandSchema):
    command = Birth
    species_id = Id(required=True)
    facility_id = Id(required=True)
    birth_date = Day(past=True, required=True)
    sire_id = Id(load_default=None)
    dam_id = Id(load_default=None)
    birth_date_estimated = Flag()
    sex = ChoiceField(SEXES, load_default="U")
    source_code = ChoiceField(BIRTH_SOURCES, load_default="C", metadata={"description": "C bred, F born in captivity"})
    name = String(limit=100, load_default=None)
    identifiers = Marks()


class BirthEventSchema(CommandSchema):
    """``birth`` posted on a parent: the offspring's species is the parent's, the other parent is
    ``mate_id``, and the facility defaults to the parent's. It loads into the fields of ``Birth``
    that the parent does not give; the API completes them."""

    command = Birth
    event = ma.fields.String(required=True, load_only=True, metadata={"enum": ["birth"]})
    version = Id(load_default=None, metadata={"description": "ignored: a birth creates a new animal"})
    mate_id = Id(load_default=None, metadata={"description": "the other parent, when known"})
    facility_id = Id(load_default=None, metadata={"description": "where it was born; default the parent's"})
    birth_date = Day(past=True, required=True)
    birth_date_estimated = Flag()
    sex = ChoiceField(SEXES, load_default="U")
    source_code = ChoiceField(BIRTH_SOURCES, load_default="C")
    name = String(limit=100, load_default=None)
    identifiers = Marks()

    @ma.validates_schema
    def _right_branch(self, data: dict, **kwargs: Any) -> None:
        if data.get("event") != "birth":
            raise ma.ValidationError(_("one of %(values)s", values="birth"), "event")

    @ma.post_load
    def _build(self, data: dict, **kwargs: Any) -> Any:
        data.pop("event", None)
        return {**data, "identifiers": tuple(data["identifiers"])}  # completed from the parent by the view


@dataclass(frozen=True, kw_only=True)
class Declaration:
    """One live animal declared on a permit line before it crosses the border."""

    sex: str = "U"
    birth_date: date | None = None
    birth_date_estimated: bool = False
    identifiers: tuple[NewIdentifier, ...] = ()


class DeclarationSchema(CommandSchema):
    command = Declaration
    sex = ChoiceField(SEXES, load_default="U")
    birth_date = Day(past=True, load_default=None)
    birth_date_estimated = Flag()
    identifiers = Marks()
