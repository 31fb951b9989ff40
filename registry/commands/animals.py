"""What each event on an existing animal takes (new animals: ``registry.commands.arrivals``).

Every event on an existing animal is its own command (``Death``, ``Dispose`` ...), named by its
``EVENT``; ``EVENTS`` maps the lifecycle's event names to them, and ``EVENT_SCHEMAS`` to the
schemas that load them (the API documents each as one branch of a ``oneOf`` on ``event``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, ClassVar

import marshmallow as ma

from registry.commands import Choice as ChoiceField
from registry.commands import CommandSchema, Day, Flag, Id, String, load
from registry.i18n import _


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
    #: The permit line the animal left on, when customs endorsed the exit: the annual report takes
    #: the exported specimen's source and origin from the animals of each line.
    line_no: int | None = None


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
