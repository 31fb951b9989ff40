"""What each transfer use case takes: the owner's offer, and each answer to it.

An answer on a transfer is its own command (``Accept``, ``Decline`` ...), named by its ``EVENT``
in the transfer lifecycle; ``ANSWER_SCHEMAS`` maps the events to the schemas that load them. The
transferee may also answer by the handshake code the owner gave them (``Handshake``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

import marshmallow as ma

from registry.commands import Choice, CommandSchema, Day, Flag, Id, Localised, String, load
from registry.i18n import _

MAX_ANIMALS = 500
CODE_LIMIT = 12


class _Ids(Localised, ma.fields.List):
    def _invalid(self) -> str:
        return _("a list")


def _one_or_more(ids: list) -> None:
    # Worded when checked, not at import, so that the reader gets it in their language.
    if not 1 <= len(ids) <= MAX_ANIMALS:
        raise ma.ValidationError(_("at least one animal"))


class _YesUnlessSaid(Flag):
    """A yes/no that is yes when left out (a form's unticked box still says no)."""

    def __init__(self, **kwargs: Any) -> None:
        ma.fields.Boolean.__init__(self, load_default=True, **kwargs)


@dataclass(frozen=True, kw_only=True)
class Offer:
    """The owner offers animals to the keeper holding a registered facility."""

    EVENT: ClassVar[str] = "start"
    animal_ids: tuple[int, ...]
    facility_id: int
    #: False: custody only, the owner stays.
    ownership: bool = True
    #: Default today.
    planned_on: date | None = None
    note: str | None = None


class TransferOfferSchema(CommandSchema):
    command = Offer
    animal_ids = _Ids(Id(), required=True, validate=_one_or_more, metadata={"minItems": 1, "maxItems": MAX_ANIMALS})
    facility_id = Id(required=True, metadata={"description": "the transferee's registered facility"})
    ownership = _YesUnlessSaid(metadata={"description": "false: custody only, the owner stays"})
    planned_on = Day(load_default=None, metadata={"description": "default today"})
    note = String(load_default=None)

    @ma.post_load
    def _build(self, data: dict, **kwargs: Any) -> Any:
        # The same animal named twice is offered once.
        return Offer(**{**data, "animal_ids": tuple(sorted(set(data["animal_ids"])))})


# ---------------------------------------------------------------- answers


@dataclass(frozen=True, kw_only=True)
class Answer:
    """What every answer carries: a note for the other party and the version the user saw."""

    EVENT: ClassVar[str]
    note: str | None = None
    version: int | None = None


@dataclass(frozen=True, kw_only=True)
class Accept(Answer):
    EVENT = "accept"


@dataclass(frozen=True, kw_only=True)
class Decline(Answer):
    EVENT = "decline"


@dataclass(frozen=True, kw_only=True)
class Cancel(Answer):
    EVENT = "cancel"


@dataclass(frozen=True, kw_only=True)
class Acknowledge(Answer):
    EVENT = "acknowledge"


class TransferAnswerSchema(CommandSchema):
    command: ClassVar[type[Answer]]
    note = String(load_default=None)
    version = Id(load_default=None, metadata={"description": "the transfer's version you read; a stale one is 409"})


class TransferAcceptSchema(TransferAnswerSchema):
    command = Accept


class TransferDeclineSchema(TransferAnswerSchema):
    command = Decline


class TransferCancelSchema(TransferAnswerSchema):
    command = Cancel


class TransferAcknowledgeSchema(TransferAnswerSchema):
    command = Acknowledge


ANSWER_SCHEMAS: dict[str, type[TransferAnswerSchema]] = {
    schema.command.EVENT: schema
    for schema in (TransferAcceptSchema, TransferDeclineSchema, TransferCancelSchema, TransferAcknowledgeSchema)
}


def answer_command(event: str, data: dict) -> Answer:
    """Load one answer's input (a form's, a test's) into its command.

    :raises ValidationFailed: unknown answer, or its fields are malformed.
    """
    schema = ANSWER_SCHEMAS.get(event)
    if schema is None:
        from registry.services.errors import ValidationFailed

        raise ValidationFailed(
            _("unknown action '%(action)s'", action=event), {"action": _("accept, decline, cancel or acknowledge")}
        )
    return load(schema, data, _("the action has errors"))


@dataclass(frozen=True, kw_only=True)
class Handshake:
    """The transferee's answer given with the code the owner passed on, instead of the transfer's
    id: the offer need not be in their list yet."""

    code: str
    answer: Accept | Decline


class HandshakeSchema(CommandSchema):
    command = Handshake
    code = String(limit=CODE_LIMIT, required=True)
    event = Choice((Accept.EVENT, Decline.EVENT), load_default=Accept.EVENT)
    note = String(load_default=None)

    @ma.post_load
    def _build(self, data: dict, **kwargs: Any) -> Any:
        # Codes are shown in capitals; people type them as they like.
        answer = (Accept if data["event"] == Accept.EVENT else Decline)(note=data["note"])
        return Handshake(code=data["code"].upper(), answer=answer)
