"""What each permit use case takes: an application (drafted, edited, copied) and a workflow action.

The application's shape (codes, countries, quantities, at least one line) is checked here; the
rules that need the database (parties and species that exist, the species' appendices for the
CITES document rules, who may apply for whom) stay in ``registry.services.applications``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import marshmallow as ma

from registry import codes
from registry.commands import Choice, CommandSchema, Day, Flag, Id, String
from registry.i18n import _
from registry.machines import PERMIT
from registry.models import DOCUMENT_TYPES

#: The workflow actions a person takes on a permit (drafting and endorsement are use cases of their own).
ACTIONS: tuple[str, ...] = tuple(e for e in PERMIT.events if e not in ("create", "endorse", "endorse_final"))
#: Whole units the quantity column holds before its 3 decimals.
QUANTITY_DIGITS = 9
#: Units in which live animals are counted one by one: a quantity in them is a whole number.
COUNTED = (None, "NAR")


class Code(Choice):
    """A CITES code (purpose, source, term, unit), typed in either case."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().upper()
        return super()._deserialize(value, attr, data, **kwargs)


class Country(String):
    """An ISO 3166-1 alpha-2 country code, typed in either case."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {"minLength": 2, "maxLength": 2, **kwargs.get("metadata", {})}
        super().__init__(limit=2, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if value is None and not self.required:
            return None
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is None:
            return None
        text = text.upper()
        if codes.country_name(text) is None:
            raise ma.ValidationError(self._invalid())
        return text

    def _invalid(self) -> str:
        return _("an ISO 3166-1 alpha-2 country code")


class Quantity(ma.fields.String):
    """A positive decimal with at most 3 decimals; a string (as forms and the API send it) or a number."""

    def __init__(self, **kwargs: Any) -> None:
        pattern = rf"^(?!0+(\.0+)?$)[0-9]{{1,{QUANTITY_DIGITS}}}(\.[0-9]{{1,3}})?$"
        kwargs["metadata"] = {"pattern": pattern, "description": "a positive decimal with at most 3 decimals"}
        super().__init__(**kwargs)

    def make_error(self, key: str, **kwargs: Any) -> ma.ValidationError:
        if key in ("required", "null"):
            return ma.ValidationError(_("required"))
        return ma.ValidationError(self._invalid())

    def _invalid(self) -> str:
        return _("a positive number with at most 3 decimals")

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else f"{value:f}"

    # Documented as a string (the exact decimal a client sends), loaded as a Decimal.
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Decimal:  # type: ignore[override]
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
            raise ma.ValidationError(self._invalid())
        try:
            quantity = Decimal(str(value).strip())
        except InvalidOperation:
            raise ma.ValidationError(self._invalid()) from None
        if (
            not quantity.is_finite()
            or quantity <= 0
            # Before quantize: past 28 digits it raises instead of answering.
            or quantity >= 10**QUANTITY_DIGITS
            or quantity != quantity.quantize(Decimal("0.001"))
        ):
            raise ma.ValidationError(self._invalid())
        return quantity


def whole_number_problem(term_code: str, unit_code: str | None, quantity: Decimal) -> str | None:
    """The reason a quantity of live animals is not a count, or None."""
    if term_code == "LIV" and unit_code in COUNTED and quantity != quantity.to_integral_value():
        return _("live animals are counted in whole numbers")
    return None


class Lines(ma.fields.List):
    """A list of line items: at least one, at most *limit* (a form's unused rows are left out first)."""

    def __init__(self, schema: type[ma.Schema], *, limit: int, **kwargs: Any) -> None:
        self.limit = limit
        kwargs["metadata"] = {"minItems": 1, "maxItems": limit, **kwargs.get("metadata", {})}
        super().__init__(ma.fields.Nested(schema), validate=self._count, **kwargs)

    def make_error(self, key: str, **kwargs: Any) -> ma.ValidationError:
        if key in ("required", "null"):
            return ma.ValidationError(_("required"))
        return ma.ValidationError(_("a list of line items"))

    def _count(self, items: list) -> None:
        if not items:
            raise ma.ValidationError(_("at least one line item"))
        if len(items) > self.limit:
            raise ma.ValidationError(_("at most %(count)s line items", count=self.limit))


# ---------------------------------------------------------------- the application


@dataclass(frozen=True, kw_only=True)
class ApplicationLine:
    species_id: int
    quantity: Decimal
    term_code: str = "LIV"
    unit_code: str | None = None
    description: str | None = None
    #: The line's own source, purpose and country of origin; None: the application's.
    source_code: str | None = None
    purpose_code: str | None = None
    origin_country: str | None = None
    #: Box 12b: the registered operation's number (source D) or the date of acquisition (source O).
    operation_no: str | None = None
    acquired_on: date | None = None


@dataclass(frozen=True, kw_only=True)
class Application:
    """A draft's content. ``applicant_party_id`` left out: a keeper's own party."""

    doc_type: str
    import_country: str
    export_country: str
    purpose_code: str
    source_code: str
    lines: tuple[ApplicationLine, ...]
    applicant_party_id: int | None = None
    importer_party_id: int | None = None
    exporter_party_id: int | None = None
    origin_country: str | None = None
    #: The other side's document: on an import, the exporting country's; on an export or a
    #: re-export, the importing country's import permit (Appendix I).
    foreign_permit_no: str | None = None
    foreign_permit_date: date | None = None
    #: Box 12 of a re-export: the country of origin's export permit (the country is origin_country).
    origin_permit_no: str | None = None
    origin_permit_date: date | None = None
    #: Box 12a: the country of last re-export, its certificate and date.
    reexport_country: str | None = None
    reexport_permit_no: str | None = None
    reexport_permit_date: date | None = None
    #: The permit's version the user read (editing only); a stale one is refused.
    version: int | None = None


class ApplicationLineSchema(CommandSchema):
    command = ApplicationLine
    species_id = Id(required=True)
    term_code = Code(codes.TERMS, load_default="LIV")
    quantity = Quantity(required=True)
    unit_code = Code([k for k in codes.UNITS if k], load_default=None, allow_none=True)
    description = String(limit=500, load_default=None, allow_none=True)
    source_code = Code(
        codes.SOURCES, load_default=None, allow_none=True, metadata={"description": "default: the application's"}
    )
    purpose_code = Code(
        codes.PURPOSES, load_default=None, allow_none=True, metadata={"description": "default: the application's"}
    )
    origin_country = Country(load_default=None, allow_none=True, metadata={"description": "default: the application's"})
    operation_no = String(
        limit=70, load_default=None, allow_none=True, metadata={"description": "box 12b: registered operation number"}
    )
    acquired_on = Day(
        past=True, load_default=None, allow_none=True, metadata={"description": "box 12b: date of acquisition"}
    )

    @ma.validates_schema
    def _counted(self, data: dict, **kwargs: Any) -> None:
        if "quantity" in data:
            problem = whole_number_problem(data.get("term_code") or "LIV", data.get("unit_code"), data["quantity"])
            if problem:
                raise ma.ValidationError(problem, "quantity")

    @ma.post_load
    def _build(self, data: dict, **kwargs: Any) -> Any:
        return ApplicationLine(**{**data, "term_code": data.get("term_code") or "LIV"})


def _blank(row: Any) -> bool:
    """An unused row of the form: neither species nor quantity."""
    return isinstance(row, dict) and not row.get("species_id") and not row.get("quantity")


class ApplicationSchema(CommandSchema):
    command = Application
    doc_type = Choice(DOCUMENT_TYPES, required=True)
    applicant_party_id = Id(
        load_default=None, allow_none=True, metadata={"description": "officers: the applicant; keepers: left out"}
    )
    importer_party_id = Id(load_default=None, allow_none=True)
    exporter_party_id = Id(load_default=None, allow_none=True)
    import_country = Country(required=True)
    export_country = Country(required=True)
    origin_country = Country(load_default=None, allow_none=True)
    purpose_code = Code(codes.PURPOSES, required=True)
    source_code = Code(codes.SOURCES, required=True)
    foreign_permit_no = String(
        limit=70,
        load_default=None,
        allow_none=True,
        metadata={"description": "import: the exporting country's document; export: the importing country's permit"},
    )
    foreign_permit_date = Day(past=True, load_default=None, allow_none=True)
    origin_permit_no = String(limit=70, load_default=None, allow_none=True, metadata={"description": "box 12"})
    origin_permit_date = Day(past=True, load_default=None, allow_none=True, metadata={"description": "box 12"})
    reexport_country = Country(load_default=None, allow_none=True, metadata={"description": "box 12a"})
    reexport_permit_no = String(limit=70, load_default=None, allow_none=True, metadata={"description": "box 12a"})
    reexport_permit_date = Day(past=True, load_default=None, allow_none=True, metadata={"description": "box 12a"})
    lines = Lines(ApplicationLineSchema, limit=200, required=True)
    version = Id(
        load_default=None, allow_none=True, metadata={"description": "the version you read; a stale one is 409"}
    )

    @ma.pre_load
    def _blank_lines(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("lines"), list):
            data = {**data, "lines": [row for row in data["lines"] if not _blank(row)]}
        return data

    @ma.post_load
    def _build(self, data: dict, **kwargs: Any) -> Any:
        numbers = {name: data.get(name) for name in ("foreign_permit_no", "origin_permit_no", "reexport_permit_no")}
        upper = {name: number and number.upper() for name, number in numbers.items()}
        return Application(**{**data, "lines": tuple(data["lines"]), **upper})


# ---------------------------------------------------------------- the workflow


@dataclass(frozen=True, kw_only=True)
class PermitAction:
    """What a workflow action takes besides its name: a reason (required to refuse, request changes
    or cancel), box 5's special conditions (at issue), and the version the user read."""

    reason: str | None = None
    special_conditions: str | None = None
    #: At issue: why the permit is issued although its foreign document is already used elsewhere.
    override_reason: str | None = None
    version: int | None = None


class PermitActionSchema(CommandSchema):
    command = PermitAction
    reason = String(load_default=None, allow_none=True)
    special_conditions = String(load_default=None, allow_none=True, metadata={"description": "box 5, at issue"})
    override_reason = String(
        load_default=None,
        allow_none=True,
        metadata={"description": "at issue: why the foreign document may be used again (the ledger keeps it)"},
    )
    version = Id(
        load_default=None, allow_none=True, metadata={"description": "the version you read; a stale one is 409"}
    )


class ReasonedPermitActionSchema(PermitActionSchema):
    """An action the applicant must be told the reason for (refusal, changes, cancellation)."""

    reason = String(required=True, metadata={"description": "why: the applicant reads it"})


#: The actions that need a reason; said here, at the edge, so the API documents it per action.
REASONED = frozenset({"request_changes", "refuse", "cancel"})


def action_schema(event: str) -> type[PermitActionSchema]:
    return ReasonedPermitActionSchema if event in REASONED else PermitActionSchema


@dataclass(frozen=True)
class Copy:
    """A new draft from a permit; with ``replace``, the replacement of a cancelled one (box 5 says so)."""

    replace: bool = False


class CopySchema(CommandSchema):
    command = Copy
    replace = Flag(metadata={"description": "make the replacement of this cancelled permit"})
