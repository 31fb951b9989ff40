"""What each animal use case takes: a lifecycle event, a birth, a declaration, an identifier.

Every event on an existing animal is its own command (``Death``, ``Dispose`` ...), named by its
``EVENT``; ``EVENTS`` maps the lifecycle's event names to them, and ``EVENT_SCHEMAS`` to the
schemas that load them (the API documents each as one branch of a ``oneOf`` on ``event``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, ClassVar

import marshmallow as ma

from registry.commands import Choice as ChoiceField
from registry.commands import CommandSchema, Day, Flag, Id, String, load
from registry.i18n import _
from registry.models.animal import IDENTIFIER_KINDS, SEXES

MICROCHIP = re.compile(r"^\d{15}$")


class DisposalMethod(StrEnum):
    INCINERATION = "incineration"
    BURIAL = "burial"
    RENDERING = "rendering"
    DONATION = "donation"
    OTHER = "other"


#: Methods a licensed contractor carries out: the licence number is part of the record.
LICENSED_METHODS = frozenset({DisposalMethod.INCINERATION, DisposalMethod.RENDERING})
#: A suspected disease allows only these.
SAFE_METHODS = frozenset({DisposalMethod.INCINERATION, DisposalMethod.BURIAL})
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


def _marks(**kwargs: Any) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.Nested(MarkSchema), load_default=tuple, validate=ma.validate.Length(max=10), **kwargs
    )


def _without_blank_marks(data: Any) -> Any:
    if isinstance(data, dict) and isinstance(data.get("identifiers"), list):
        marks = [
            m for m in data["identifiers"] if not (isinstance(m, dict) and not m.get("kind") and not m.get("value"))
        ]
        data = {**data, "identifiers": marks}
    return data


# ---------------------------------------------------------------- events on an existing animal


@dataclass(frozen=True, kw_only=True)
class AnimalEvent:
    """What every event carries: when it happened (default today) and the version the user saw."""

    EVENT: ClassVar[str]
    occurred_on: date | None = None
    version: int | None = None


@dataclass(frozen=True, kw_only=True)
class Enter(AnimalEvent):
    EVENT = "enter"
    port: str
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class RefuseEntry(AnimalEvent):
    EVENT = "refuse_entry"
    reason: str


@dataclass(frozen=True, kw_only=True)
class Void(AnimalEvent):
    EVENT = "void"
    reason: str


@dataclass(frozen=True, kw_only=True)
class Register(AnimalEvent):
    EVENT = "register"
    facility_id: int
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class Transfer(AnimalEvent):
    """An officer's direct change of owner and/or facility (keepers use the two-party handshake)."""

    EVENT = "transfer"
    owner_party_id: int | None = None
    facility_id: int | None = None
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class Death(AnimalEvent):
    EVENT = "death"
    cause: str
    disease_suspected: bool = False
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class Dispose(AnimalEvent):
    EVENT = "dispose"
    method: DisposalMethod
    handler: str
    place: str
    witness: str
    licence_no: str | None = None
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class Export(AnimalEvent):
    EVENT = "export"
    permit_id: int
    port: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReportMissing(AnimalEvent):
    EVENT = "report_missing"
    circumstances: str


@dataclass(frozen=True, kw_only=True)
class Recover(AnimalEvent):
    EVENT = "recover"
    facility_id: int | None = None
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class DeclareDead(AnimalEvent):
    EVENT = "declare_dead"
    reason: str


@dataclass(frozen=True, kw_only=True)
class Seize(AnimalEvent):
    EVENT = "seize"
    facility_id: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class Return(AnimalEvent):
    EVENT = "return"
    facility_id: int | None = None
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class Forfeit(AnimalEvent):
    EVENT = "forfeit"
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class ApproveDonation(AnimalEvent):
    EVENT = "approve_donation"
    recipient: str
    note: str | None = None


class EventSchema(CommandSchema):
    """Fields every event takes. ``event`` names the branch; it is checked, then dropped."""

    command: ClassVar[type[AnimalEvent]]

    event = ma.fields.String(required=True, load_only=True)
    occurred_on = Day(past=True, load_default=None, metadata={"description": "when it happened; default today"})
    version = Id(load_default=None, metadata={"description": "the animal's version you read; a stale one is 409"})

    @ma.validates_schema
    def _right_branch(self, data: dict, **kwargs: Any) -> None:
        if data.get("event") != self.command.EVENT:
            raise ma.ValidationError(_("one of %(values)s", values=self.command.EVENT), "event")

    @ma.post_load
    def _build(self, data: dict, **kwargs: Any) -> Any:
        data.pop("event", None)
        return self.command(**data)


def _note() -> String:
    return String(load_default=None)


class EnterEventSchema(EventSchema):
    command = Enter
    port = String(required=True, metadata={"description": "port of entry"})
    note = _note()


class RefuseEntryEventSchema(EventSchema):
    command = RefuseEntry
    reason = String(required=True)


class VoidEventSchema(EventSchema):
    command = Void
    reason = String(required=True)


class RegisterEventSchema(EventSchema):
    command = Register
    facility_id = Id(required=True)
    note = _note()


class TransferEventSchema(EventSchema):
    command = Transfer
    owner_party_id = Id(load_default=None, metadata={"description": "the new owner; left out: unchanged"})
    facility_id = Id(load_default=None, metadata={"description": "the new facility; left out: unchanged"})
    note = _note()


class DeathEventSchema(EventSchema):
    command = Death
    cause = String(required=True)
    disease_suspected = Flag()
    note = _note()


class DisposeEventSchema(EventSchema):
    command = Dispose
    method = ChoiceField(DisposalMethod, required=True)
    handler = String(required=True, metadata={"description": "contractor or recipient"})
    place = String(required=True)
    witness = String(required=True)
    licence_no = String(load_default=None, metadata={"description": "required for incineration and rendering"})
    note = _note()

    @ma.validates_schema
    def _licence(self, data: dict, **kwargs: Any) -> None:
        if data.get("method") in LICENSED_METHODS and not data.get("licence_no"):
            raise ma.ValidationError(_("required"), "licence_no")

    @ma.post_load
    def _build(self, data: dict, **kwargs: Any) -> Any:
        data.pop("event", None)
        return Dispose(**{**data, "method": DisposalMethod(data["method"])})


class ExportEventSchema(EventSchema):
    command = Export
    permit_id = Id(required=True, metadata={"description": "the export or re-export permit"})
    port = String(load_default=None, metadata={"description": "port of exit"})


class ReportMissingEventSchema(EventSchema):
    command = ReportMissing
    circumstances = String(required=True)


class RecoverEventSchema(EventSchema):
    command = Recover
    facility_id = Id(load_default=None, metadata={"description": "where it is kept now; left out: where it was"})
    note = _note()


class DeclareDeadEventSchema(EventSchema):
    command = DeclareDead
    reason = String(required=True)


class SeizeEventSchema(EventSchema):
    command = Seize
    facility_id = Id(required=True, metadata={"description": "the rescue facility that takes it"})
    reason = String(required=True)


class ReturnEventSchema(EventSchema):
    command = Return
    facility_id = Id(load_default=None, metadata={"description": "left out: the facility it was seized from"})
    note = _note()


class ForfeitEventSchema(EventSchema):
    command = Forfeit
    note = _note()


class ApproveDonationEventSchema(EventSchema):
    command = ApproveDonation
    recipient = String(required=True, metadata={"description": "the museum or research institute"})
    note = _note()


_BRANCHES: tuple[type[EventSchema], ...] = (
    EnterEventSchema, RefuseEntryEventSchema, VoidEventSchema, RegisterEventSchema, TransferEventSchema,
    DeathEventSchema, DisposeEventSchema, ExportEventSchema, ReportMissingEventSchema, RecoverEventSchema,
    DeclareDeadEventSchema, SeizeEventSchema, ReturnEventSchema, ForfeitEventSchema, ApproveDonationEventSchema,
)  # fmt: skip
EVENT_SCHEMAS: dict[str, type[EventSchema]] = {schema.command.EVENT: schema for schema in _BRANCHES}
EVENTS: dict[str, type[AnimalEvent]] = {event: schema.command for event, schema in EVENT_SCHEMAS.items()}
for _event, _schema in EVENT_SCHEMAS.items():
    # Each branch names its own event, so the API's oneOf can be told apart by `event`.
    _schema._declared_fields["event"] = ma.fields.String(required=True, load_only=True, metadata={"enum": [_event]})


def event_command(event: str, data: dict) -> AnimalEvent:
    """Load one event's input (a form's, a file's, a test's) into its command.

    :raises ValidationFailed: unknown event, or the fields it names are malformed.
    """
    schema = EVENT_SCHEMAS.get(event)
    if schema is None:
        from registry.services.errors import ValidationFailed

        raise ValidationFailed(
            _("unknown event '%(event)s'", event=event), {"event": _("one of %(values)s", values=", ".join(EVENTS))}
        )
    return load(schema, {**data, "event": event}, _("the event cannot be recorded"))


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
    identifiers = _marks()

    @ma.pre_load
    def _blank_marks(self, data: Any, **kwargs: Any) -> Any:
        return _without_blank_marks(data)

    @ma.post_load
    def _build(self, data: dict, **kwargs: Any) -> Any:
        return Birth(**{**data, "identifiers": tuple(data["identifiers"])})


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
    identifiers = _marks()

    @ma.validates_schema
    def _right_branch(self, data: dict, **kwargs: Any) -> None:
        if data.get("event") != "birth":
            raise ma.ValidationError(_("one of %(values)s", values="birth"), "event")

    @ma.pre_load
    def _blank_marks(self, data: Any, **kwargs: Any) -> Any:
        return _without_blank_marks(data)

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
    identifiers = _marks()

    @ma.pre_load
    def _blank_marks(self, data: Any, **kwargs: Any) -> Any:
        return _without_blank_marks(data)

    @ma.post_load
    def _build(self, data: dict, **kwargs: Any) -> Any:
        return Declaration(**{**data, "identifiers": tuple(data["identifiers"])})
