"""What a partner authority sends to the exchange (EPIX's operations, cites-standards.md §6.2).

The field names are EPIX's (``CertificateNumber``, ``TokenId``, ``IsoCountryCode``,
``ConfirmedQuantities.CitesPosition[].ID`` and ``InspectedUnitQuantity``), so that an adapter
written for EPIX maps onto them one for one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import marshmallow as ma

from registry.commands import CommandSchema, Day, String
from registry.commands.permits import Lines, Quantity
from registry.i18n import _

#: A line is named by its number (1, 2...) or by its letter on the paper (A, B...: line 1 is A).
_LINE_ID = re.compile(r"^(?:[0-9]{1,3}|[A-Za-z])$")


def line_no(position_id: str) -> int:
    """The line number a position's ID names: "A" and "1" are line 1."""
    return ord(position_id.upper()) - ord("A") + 1 if position_id.isalpha() else int(position_id)


class LineId(ma.fields.String):
    """A position's ID: the line's letter or number, as a string or a number."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {"description": "the line's letter on the document (A, B...) or its number (1, 2...)"}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:  # type: ignore[override]
        text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
        if not _LINE_ID.match(text) or line_no(text) < 1:
            raise ma.ValidationError(_("a line's letter (A, B...) or number (1, 2...)"))
        return line_no(text)


@dataclass(frozen=True, kw_only=True)
class Position:
    line_no: int
    quantity: Decimal


@dataclass(frozen=True, kw_only=True)
class ConfirmQuantities:
    """Customs reports what it inspected and cleared, line by line, on one of our final documents."""

    number: str
    token: str
    country: str
    positions: tuple[Position, ...]
    #: Where it was inspected (box 14's port) and the transport document (box 15), when customs says.
    port: str | None = None
    transport_doc: str | None = None
    #: An Appendix I import issued before the exporting country's permit: that permit, as customs
    #: reads it at entry (the same as an officer's entry endorsement asks).
    export_permit_no: str | None = None
    export_permit_date: date | None = None


class PositionSchema(CommandSchema):
    command = Position
    line_no = LineId(required=True, data_key="ID")
    quantity = Quantity(required=True, data_key="InspectedUnitQuantity")


class ConfirmedQuantitiesSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    positions = Lines(PositionSchema, limit=200, required=True, data_key="CitesPosition")


class ConfirmQuantitiesSchema(CommandSchema):
    command = ConfirmQuantities
    number = String(limit=35, required=True, data_key="CertificateNumber")
    token = String(limit=64, required=True, data_key="TokenId")
    country = String(limit=2, required=True, data_key="IsoCountryCode")
    confirmed = ma.fields.Nested(ConfirmedQuantitiesSchema, required=True, data_key="ConfirmedQuantities")
    port = String(limit=200, load_default=None, allow_none=True, data_key="Port")
    transport_doc = String(limit=100, load_default=None, allow_none=True, data_key="TransportDocument")
    export_permit_no = String(
        limit=70,
        load_default=None,
        allow_none=True,
        data_key="ExportPermitNumber",
        metadata={"description": "entry: the exporting country's permit, when the import permit does not quote it"},
    )
    export_permit_date = Day(
        past=True, load_default=None, allow_none=True, data_key="ExportPermitDate", metadata={"description": "its date"}
    )

    @ma.validates_schema
    def _each_line_once(self, data: dict, **kwargs: Any) -> None:
        numbers = [p.line_no for p in (data.get("confirmed") or {}).get("positions", ())]
        twice = sorted({n for n in numbers if numbers.count(n) > 1})
        if twice:
            raise ma.ValidationError(
                _("line %(line)s is given more than once", line=", ".join(map(str, twice))), "ConfirmedQuantities"
            )

    @ma.post_load
    def _build(self, data: dict, **kwargs: Any) -> Any:
        confirmed = data.pop("confirmed")
        number = data.get("export_permit_no")
        return ConfirmQuantities(
            **{**data, "export_permit_no": number and number.upper()}, positions=tuple(confirmed["positions"])
        )
