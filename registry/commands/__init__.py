"""The typed inputs of the use cases, checked once, at the edge.

Each area module declares, for each use case, a frozen dataclass (what the service receives,
already valid in shape) and a marshmallow schema whose ``post_load`` builds it. The schema is the
one input contract: the API takes it as its request body (and so documents it in OpenAPI), web
views pass their form's data through it, the CLI and the demo build the dataclasses directly.
Services keep only the rules that need the database or the domain: scope, ownership, capacity,
quantities left, four eyes, lifecycle legality.

Refusals are worded with ``registry.i18n._`` when the input is checked, so a form or an API
client reads them in its language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, ClassVar

import marshmallow as ma

from registry import clock
from registry.i18n import _
from registry.services.errors import ValidationFailed

#: Ids are 32-bit on PostgreSQL; larger numbers name nothing.
MAX_ID = 2**31 - 1
TEXT_LIMIT = 2000


class CommandSchema(ma.Schema):
    """A use case's input: unknown fields are refused; a successful load returns ``command``."""

    command: ClassVar[type]

    class Meta:
        unknown = ma.RAISE

    @ma.post_load
    def _build(self, data: dict, **kwargs: Any) -> Any:
        # Commands are immutable: a list of the input arrives as a tuple.
        return self.command(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def load(schema: type[ma.Schema] | ma.Schema, data: Mapping, message: str | None = None) -> Any:
    """*data* loaded by *schema*, or ValidationFailed naming each bad field (``lines.0.quantity``)."""
    instance = schema() if isinstance(schema, type) else schema
    try:
        return instance.load(data)
    except ma.ValidationError as exc:
        raise ValidationFailed(message or _("the input has errors"), flatten(exc.messages)) from None


def flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested messages as {"lines.0.quantity": "first reason"}."""
    if isinstance(messages, Mapping):
        found: dict[str, str] = {}
        for key, value in messages.items():
            name = "" if key == "_schema" else str(key)
            found |= flatten(value, f"{prefix}.{name}" if prefix and name else prefix or name)
        return found
    if isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": str(messages[0])}
    if isinstance(messages, list):
        found = {}
        for value in messages:
            found |= flatten(value, prefix)
        return found
    return {prefix or "_schema": str(messages)}


# ---------------------------------------------------------------- fields, with refusals in the reader's language


class Localised:
    """Field mixin: marshmallow's own refusals replaced by the registry's translated words."""

    required: bool  # the field's, from marshmallow

    def _invalid(self) -> str:
        """What a valid value looks like, in the reader's language (each field says its own)."""
        return _("the input has errors")

    def make_error(self, key: str, **kwargs: Any) -> ma.ValidationError:
        if key in ("required", "null"):
            return ma.ValidationError(_("required"))
        return ma.ValidationError(self._invalid())

    def _left_blank(self, value: Any) -> bool:
        """True for an empty form field or JSON null; refused when the field is required."""
        if value not in ("", None):
            return False
        if self.required:
            raise ma.ValidationError(_("required"))
        return True


class String(Localised, ma.fields.String):
    def __init__(self, *, limit: int = TEXT_LIMIT, **kwargs: Any) -> None:
        self.limit = limit
        kwargs["metadata"] = {"maxLength": limit, **kwargs.get("metadata", {})}
        super().__init__(validate=self._check, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        text = text.strip()
        if not text:
            if self.required:
                raise ma.ValidationError(_("required"))
            return None
        return text

    def _invalid(self) -> str:
        return _("text of at most %(limit)s characters", limit=self.limit)

    def _check(self, value: str | None) -> None:
        if value is not None and (len(value) > self.limit or "\x00" in value):
            raise ma.ValidationError(self._invalid())


class Id(Localised, ma.fields.Integer):
    """A row id: a positive 32-bit integer (a number in a string is accepted, as forms send)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {"minimum": 1, "maximum": MAX_ID, **kwargs.get("metadata", {})}
        super().__init__(strict=False, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if self._left_blank(value):
            return None
        if isinstance(value, bool):
            raise ma.ValidationError(self._invalid())
        number = super()._deserialize(value, attr, data, **kwargs)
        if not 1 <= number <= MAX_ID:
            raise ma.ValidationError(self._invalid())
        return number

    def _invalid(self) -> str:
        return _("must be a number")


class Day(Localised, ma.fields.Date):
    """A calendar date (YYYY-MM-DD); ``past=True`` refuses one after today."""

    def __init__(self, *, past: bool = False, **kwargs: Any) -> None:
        self.past = past
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if self._left_blank(value):
            return None
        day = value if isinstance(value, date) else super()._deserialize(value, attr, data, **kwargs)
        if self.past and day > clock.today():
            raise ma.ValidationError(_("cannot be in the future"))
        return day

    def _invalid(self) -> str:
        return _("a date as YYYY-MM-DD")


class Choice(Localised, ma.fields.String):
    """One of a fixed list of coded values (an enum's values, CITES codes)."""

    def __init__(self, values: Iterable[str], **kwargs: Any) -> None:
        self.values = tuple(str(v) for v in values)
        kwargs.setdefault("metadata", {})
        kwargs["metadata"] = {"enum": list(self.values), **kwargs["metadata"]}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if self._left_blank(value):
            return None
        text = super()._deserialize(value, attr, data, **kwargs)
        if text not in self.values:
            raise ma.ValidationError(self._invalid())
        return text

    def _invalid(self) -> str:
        return _("one of %(values)s", values=", ".join(self.values))


class Flag(Localised, ma.fields.Boolean):
    """A yes/no: a checkbox left out of a form is ``False``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(load_default=False, **kwargs)

    def _invalid(self) -> str:
        return _("yes or no")
