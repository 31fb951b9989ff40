"""What each facility use case takes: an application or a registration, and each action on one.

Every action on an existing facility is its own command (``Approve``, ``Inspect`` ...), named by
its ``EVENT`` in the facility lifecycle; ``ACTION_SCHEMAS`` maps the events to the schemas that
load them (the API takes each as the body of its action's endpoint). Schemas are named after the
area (``FacilityApproveSchema``) because the API document names its bodies after them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

import marshmallow as ma

from registry.commands import Choice, CommandSchema, Day, Id, Localised, String, load
from registry.i18n import _
from registry.models import INSPECTION_RESULTS

#: The most animals of one species a facility is registered for.
MAX_CAPACITY = 100_000
MAX_ALLOWANCES = 500


class Capacity(Id):
    """How many animals of a species a facility may keep: a whole number, 1 or more."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={"maximum": MAX_CAPACITY}, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        number = super()._deserialize(value, attr, data, **kwargs)
        if number is not None and number > MAX_CAPACITY:
            raise ma.ValidationError(self._invalid())
        return number

    def _invalid(self) -> str:
        return _("a whole number from 1 to %(limit)s", limit=MAX_CAPACITY)


@dataclass(frozen=True)
class Allowance:
    """A species the facility is built for, and how many animals of it."""

    species_id: int
    capacity: int


class AllowanceSchema(CommandSchema):
    command = Allowance
    species_id = Id(required=True)
    capacity = Capacity(required=True)


class _Rows(Localised, ma.fields.List):
    def _invalid(self) -> str:
        return _("a list")


def _some_species(rows: list) -> None:
    # Worded when checked, not at import, so that the reader gets it in their language.
    if not 1 <= len(rows) <= MAX_ALLOWANCES:
        raise ma.ValidationError(_("at least one species with its capacity"))


def _allowances(**kwargs: Any) -> ma.fields.List:
    metadata = {"minItems": 1, "maxItems": MAX_ALLOWANCES, **kwargs.pop("metadata", {})}
    return _Rows(ma.fields.Nested(AllowanceSchema), required=True, validate=_some_species, metadata=metadata, **kwargs)


class _WithAllowances(CommandSchema):
    """A schema whose ``allowances`` come from a form's rows (a blank row is left out) or a body."""

    @ma.pre_load
    def _blank_rows(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("allowances"), list):
            rows = [
                row
                for row in data["allowances"]
                if not (
                    isinstance(row, dict) and not row.get("species_id") and not str(row.get("capacity") or "").strip()
                )
            ]
            data = {**data, "allowances": rows}
        return data

    @ma.validates_schema
    def _each_species_once(self, data: dict, **kwargs: Any) -> None:
        species = [a.species_id for a in data.get("allowances") or ()]
        if len(species) != len(set(species)):
            raise ma.ValidationError(_("each species once"), "allowances")


# ---------------------------------------------------------------- new facilities


@dataclass(frozen=True, kw_only=True)
class Application:
    """A keeper's application to register a facility (an officer may apply on a keeper's behalf)."""

    EVENT: ClassVar[str] = "apply"
    name: str
    address: str
    allowances: tuple[Allowance, ...]
    #: The keeper's party; keepers always apply for their own, whatever they send.
    holder_party_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class Registration(Application):
    """A facility that is already registered, recorded with its number by an officer."""

    EVENT: ClassVar[str] = "register"
    registration_no: str


class FacilityApplicationSchema(_WithAllowances):
    command: ClassVar[type] = Application
    name = String(limit=200, required=True)
    address = String(required=True)
    holder_party_id = Id(
        load_default=None, metadata={"description": "officers: the keeper's party (keepers apply for their own)"}
    )
    allowances = _allowances()


class FacilityRegistrationSchema(FacilityApplicationSchema):
    command = Registration
    registration_no = String(limit=64, required=True)


class NewFacilitySchema(FacilityApplicationSchema):
    """The API's one body for a new facility: with a registration number it records an existing
    registration, without one it applies."""

    registration_no = String(
        limit=64,
        load_default=None,
        metadata={"description": "give it to record an existing registration (officers); leave it out to apply"},
    )

    @ma.post_load
    def _build(self, data: dict, **kwargs: Any) -> Any:
        data = {**data, "allowances": tuple(data["allowances"])}  # this build replaces CommandSchema's
        if data["registration_no"] is None:
            data.pop("registration_no")
            return Application(**data)
        return Registration(**data)


# ---------------------------------------------------------------- actions on an existing facility


@dataclass(frozen=True, kw_only=True)
class FacilityAction:
    """What every action carries: an optional note for the record and the version the user saw."""

    EVENT: ClassVar[str]
    reason: str | None = None
    version: int | None = None


@dataclass(frozen=True, kw_only=True)
class Resubmit(FacilityAction):
    EVENT = "resubmit"


@dataclass(frozen=True, kw_only=True)
class RequestChanges(FacilityAction):
    EVENT = "request_changes"
    reason: str


@dataclass(frozen=True, kw_only=True)
class Approve(FacilityAction):
    EVENT = "approve"


@dataclass(frozen=True, kw_only=True)
class Refuse(FacilityAction):
    EVENT = "refuse"
    reason: str


@dataclass(frozen=True, kw_only=True)
class ChangeCapacity(FacilityAction):
    EVENT = "change_capacity"
    allowances: tuple[Allowance, ...]


@dataclass(frozen=True, kw_only=True)
class Inspect(FacilityAction):
    EVENT = "inspect"
    result: str
    findings: str | None = None
    inspected_on: date | None = None
    next_due: date | None = None


@dataclass(frozen=True, kw_only=True)
class Close(FacilityAction):
    EVENT = "close"


def _reason(required: bool = False) -> String:
    if required:
        return String(required=True, metadata={"description": "why: the keeper reads it"})
    return String(load_default=None, metadata={"description": "a note for the record"})


class FacilityActionSchema(CommandSchema):
    command: ClassVar[type[FacilityAction]]
    version = Id(load_default=None, metadata={"description": "the facility's version you read; a stale one is 409"})
    reason = _reason()


class FacilityResubmitSchema(FacilityActionSchema):
    command = Resubmit


class FacilityRequestChangesSchema(FacilityActionSchema):
    command = RequestChanges
    reason = _reason(required=True)


class FacilityApproveSchema(FacilityActionSchema):
    command = Approve


class FacilityRefuseSchema(FacilityActionSchema):
    command = Refuse
    reason = _reason(required=True)


class FacilityChangeCapacitySchema(FacilityActionSchema, _WithAllowances):
    command = ChangeCapacity
    allowances = _allowances(metadata={"description": "the new species and capacities, replacing the old"})


class FacilityInspectSchema(FacilityActionSchema):
    command = Inspect
    result = Choice(INSPECTION_RESULTS, required=True)
    findings = String(limit=5000, load_default=None)
    inspected_on = Day(past=True, load_default=None, metadata={"description": "default today"})
    next_due = Day(load_default=None, metadata={"description": "when the next inspection is due"})


class FacilityCloseSchema(FacilityActionSchema):
    command = Close


_ACTIONS: tuple[type[FacilityActionSchema], ...] = (
    FacilityResubmitSchema, FacilityRequestChangesSchema, FacilityApproveSchema, FacilityRefuseSchema,
    FacilityChangeCapacitySchema, FacilityInspectSchema, FacilityCloseSchema,
)  # fmt: skip
ACTION_SCHEMAS: dict[str, type[FacilityActionSchema]] = {schema.command.EVENT: schema for schema in _ACTIONS}


def action_command(event: str, data: dict) -> FacilityAction:
    """Load one action's input (a form's, a test's) into its command.

    :raises ValidationFailed: unknown action, or the fields it names are malformed.
    """
    schema = ACTION_SCHEMAS.get(event)
    if schema is None:
        from registry.services.errors import ValidationFailed

        raise ValidationFailed(_("unknown action '%(action)s'", action=event), {"action": _("not a facility action")})
    return load(schema, data, _("the action has errors"))
