"""Events on an existing animal: every one goes through ``record_animal_event``.

The order is always the same: capability (403) -> load in scope, locked (404, 409 when stale) ->
(state, event) declared by the lifecycle (409) -> what the event needs from the database (422 for
unknown ids) -> guards (409) -> change -> timeline event -> audit entry -> commit.
New animals arrive through ``registry.services.arrivals``; marks through ``identifiers``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from registry import clock
from registry.commands import animals as commands
from registry.i18n import _
from registry.machines import ANIMAL, TRANSFER, AnimalState, TransferState
from registry.models import Animal, AnimalEvent, Party, PermitLine, Transfer
from registry.models.transfer import transfer_animal
from registry.permissions import Actor, has_capability, require
from registry.services import audit
from registry.services.context import changed, lock, write_transaction
from registry.services.errors import NotFound, ValidationFailed, refusals_as_conflict
from registry.services.keeping import (
    EventContext,
    load_for_update,
    locked_facility,
    locked_permit,
    place,
    release,
    timeline,
    with_facility,
)  # fmt: skip

#: prepare(session, ctx, details, errors): what the event needs from the database, into the
#: guards' context; *details* (what the timeline keeps) may be completed, *errors* filled.
Prepare = Callable[[object, EventContext, dict, dict], None]
#: effect(session, ctx, row, details): what the event changes beyond the state.
Effect = Callable[[object, EventContext, AnimalEvent, dict], None]


def _nothing(*args: object) -> None:
    return None


#: first(session, animal_id, command): lock what the one lock order (context.LOCK_ORDER) puts
#: before the animal: the permit an export or an entry is recorded on.
First = Callable[[object, int, commands.AnimalEvent], None]


@dataclass(frozen=True)
class EventSpec:
    prepare: Prepare = _nothing
    effect: Effect = _nothing
    first: First = _nothing


def _permit_named(session, animal_id: int, command) -> None:
    locked_permit(session, command.permit_id)


def _permit_declared_on(session, animal_id: int, command) -> None:
    """The permit of the line the animal was declared on (read unlocked: it never changes)."""
    permit_id = session.scalar(
        select(PermitLine.permit_id).join(Animal, Animal.permit_line_id == PermitLine.id).where(Animal.id == animal_id)
    )
    if permit_id is not None:
        locked_permit(session, permit_id)


def _target_facility(session, ctx: EventContext, details: dict, errors: dict) -> None:
    """The facility the event names, else the one the animal is in."""
    facility_id = details.get("facility_id") or ctx.animal.facility_id
    with_facility(ctx, session, locked_facility(session, facility_id, errors))


def _move(session, ctx: EventContext, row: AnimalEvent, details: dict) -> None:
    place(session, ctx.animal, row, details.get("owner_party_id"), ctx.facility, row.occurred_on)


def _permit_of_declaration(session, ctx: EventContext, details: dict, errors: dict) -> None:
    line = session.get(PermitLine, ctx.animal.permit_line_id) if ctx.animal.permit_line_id else None
    ctx.permit = locked_permit(session, line.permit_id) if line else None


def _new_keeper(session, ctx: EventContext, details: dict, errors: dict) -> None:
    if details["owner_party_id"] is not None and session.get(Party, details["owner_party_id"]) is None:
        errors["owner_party_id"] = _("no such party")
    _target_facility(session, ctx, details, errors)


def _death_on_record(session, ctx: EventContext, details: dict, errors: dict) -> None:
    death = session.scalar(
        select(AnimalEvent)
        .where(AnimalEvent.animal_id == ctx.animal.id, AnimalEvent.to_state == AnimalState.DEAD)
        .order_by(AnimalEvent.id.desc())
        .limit(1)
    )
    ctx.disease_suspected = bool(death and death.details.get("disease_suspected"))
    approval = select(AnimalEvent.id).where(
        AnimalEvent.animal_id == ctx.animal.id, AnimalEvent.event == commands.ApproveDonation.EVENT
    )
    ctx.donation_approved = session.scalar(approval.limit(1)) is not None


def _export_permit(session, ctx: EventContext, details: dict, errors: dict) -> None:
    ctx.permit = locked_permit(session, details["permit_id"])
    if ctx.permit is None:
        errors["permit_id"] = _("no such permit")
        return
    ctx.permit_used = session.scalar(
        select(func.count(AnimalEvent.id))
        .join(Animal)
        .where(
            AnimalEvent.permit_id == ctx.permit.id,
            AnimalEvent.event == commands.Export.EVENT,
            Animal.species_id == ctx.animal.species_id,
        )
    )


def _seized(session, ctx: EventContext, row: AnimalEvent, details: dict) -> None:
    row.details = {**row.details, "previous_facility_id": ctx.animal.facility_id}
    place(session, ctx.animal, row, None, ctx.facility, row.occurred_on)


def _facility_before_seizure(session, ctx: EventContext, details: dict, errors: dict) -> None:
    seizure = session.scalar(
        select(AnimalEvent)
        .where(AnimalEvent.animal_id == ctx.animal.id, AnimalEvent.event == commands.Seize.EVENT)
        .order_by(AnimalEvent.id.desc())
        .limit(1)
    )
    ctx.seized_from = seizure.from_state if seizure else None
    if details.get("facility_id") is None:
        details["facility_id"] = seizure.details.get("previous_facility_id") if seizure else None
        if details["facility_id"] is None:
            errors["facility_id"] = _("the animal had no facility before seizure: name one")
            return
    with_facility(ctx, session, locked_facility(session, details["facility_id"], errors))


def _forfeited(session, ctx: EventContext, row: AnimalEvent, details: dict) -> None:
    # The State becomes the owner: the party holding the rescue facility the animal is in.
    place(session, ctx.animal, row, ctx.animal.holder_party_id, None, row.occurred_on)


def _released(session, ctx: EventContext, row: AnimalEvent, details: dict) -> None:
    release(session, ctx.animal, row, row.occurred_on)


def _marks_freed(session, ctx: EventContext, row: AnimalEvent, details: dict) -> None:
    """A void declaration frees its marks: the same chip may come back on a new application."""
    freed = [ident for ident in ctx.animal.identifiers if ident.active]
    for ident in freed:
        before = ident.as_audit()
        ident.active, ident.retired_on = False, row.occurred_on
        session.flush()
        # Each mark is a row of its own: its entry says it was retired, as retiring it by hand does.
        audit.record(ctx.actor, "animal.identifier_retire", "identifier", ident.id, before, ident.as_audit())
    if freed:
        row.details = {**row.details, "released_identifiers": [f"{i.kind} {i.value}" for i in freed]}


C = commands
EVENTS: dict[type[commands.AnimalEvent], EventSpec] = {
    C.Enter: EventSpec(_permit_of_declaration, first=_permit_declared_on),
    C.RefuseEntry: EventSpec(effect=_marks_freed),
    C.Void: EventSpec(effect=_marks_freed),
    C.Register: EventSpec(_target_facility, _move),
    C.Transfer: EventSpec(_new_keeper, _move),
    C.Death: EventSpec(),
    C.Dispose: EventSpec(_death_on_record, _released),
    C.Export: EventSpec(_export_permit, _released, first=_permit_named),
    C.ReportMissing: EventSpec(),
    C.Recover: EventSpec(_target_facility, _move),
    C.DeclareDead: EventSpec(),
    C.Seize: EventSpec(_target_facility, _seized),
    C.Return: EventSpec(_facility_before_seizure, _move),
    C.Forfeit: EventSpec(effect=_forfeited),
    C.ApproveDonation: EventSpec(),
}
_CREATING = {"declare", "birth"}
if {c.EVENT for c in EVENTS} | _CREATING != set(ANIMAL.events):  # pragma: no cover - a declaration bug
    raise RuntimeError("every animal event needs its command and spec, and only those")
#: The events after which the animal's owner and holder periods follow its row (``place`` or
#: ``release``): reconciling the log with ``keeping`` replays these and only these.
REKEEPING = frozenset(
    {"birth"} | {c.EVENT for c, spec in EVENTS.items() if spec.effect in (_move, _seized, _forfeited, _released)}
)
#: The events that free the animal's active marks (``_marks_freed``): reconciling replays them for
#: marks whose only record is the animal's own entries.
FREEING = frozenset(c.EVENT for c, spec in EVENTS.items() if spec.effect is _marks_freed)


def record_animal_event(actor: Actor, animal_id: int, command: commands.AnimalEvent, handshake=None) -> Animal:
    """Record *command* (one lifecycle event) on an existing animal.

    :raises Forbidden: the actor's role may not record the event.
    :raises NotFound: the animal is not visible to the actor.
    :raises Conflict: the event is illegal in the animal's state, a guard refused it, or the
        animal changed since ``command.version``.
    :raises ValidationFailed: an id the command names does not exist, or the date is before birth.

    *handshake* is a transfer both keepers agreed to: it stands in for the capability and the scope
    of the keeper receiving the animals (the machine's guards still decide).
    """
    event = command.EVENT
    if handshake is None:
        require(actor, ANIMAL.transitions[event].capability)
    elif event != commands.Transfer.EVENT:
        raise NotFound(_("no such animal"))
    spec = EVENTS[type(command)]
    today = clock.today()
    with write_transaction() as session:
        if handshake is not None and animal_id not in {a.id for a in handshake.animals}:
            raise NotFound(_("no such animal"))
        spec.first(session, animal_id, command)
        animal = load_for_update(session, actor, animal_id, command.version, scoped=handshake is None)
        with refusals_as_conflict():
            t = ANIMAL.transition(animal.state, event)
        when = command.occurred_on or today
        errors: dict[str, str] = {}
        if animal.birth_date and when < animal.birth_date:
            errors["occurred_on"] = _("before the animal's birth date")
        details = {k: v for k, v in dataclasses.asdict(command).items() if k not in ("occurred_on", "version")}
        ctx = EventContext(actor, animal, command, today, species_id=animal.species_id, handshake=handshake is not None)
        if not errors:
            spec.prepare(session, ctx, details, errors)
        if errors:
            raise ValidationFailed(_("the event cannot be recorded"), errors)
        with refusals_as_conflict():
            ANIMAL.check_guards(t, animal.state, ctx)
        # The offers the event may make stale, locked before the audit head (context.LOCK_ORDER).
        offers = _pending_offers(session, animal.id)
        before = animal.as_audit()
        from_state, facility_before = animal.state, animal.facility_id
        animal.state = t.target
        changed(animal)
        row = timeline(
            session, actor, animal, event, from_state, when, details, ctx.permit.id if ctx.permit is not None else None
        )
        spec.effect(session, ctx, row, details)
        session.flush()
        audit.record(
            actor,
            f"animal.{event}",
            "animal",
            animal.id,
            before,
            animal.as_audit() | {"event": row.details, "occurred_on": when, "event_id": row.id},
            subjects=_subjects(session, ctx, from_state, facility_before, handshake),
        )
        cancel_stale_offers(session, actor, animal, event, offers, handshake)
    return animal


def _subjects(session, ctx: EventContext, from_state, facility_before, handshake) -> list[audit.Subject]:
    """What an event on an animal concerns besides the animal: the permit it is recorded on, the
    import line (and its permit) while the animal is declared on it, the facility it was in and the
    one it is in now, and the transfer it is part of."""
    animal = ctx.animal
    named: list[audit.Subject] = [("facility", facility_before), ("facility", animal.facility_id)]
    if ctx.permit is not None:
        named.append(("permit", ctx.permit.id))
    if from_state == AnimalState.DECLARED and animal.permit_line_id is not None:
        line = session.get(PermitLine, animal.permit_line_id)
        named += [("permit_line", line.id), ("permit", line.permit_id)]
    if handshake is not None:
        named.append(("transfer", handshake.id))
    return named


def _pending_offers(session, animal_id: int) -> list:
    """The pending transfers of the animal with their offered values, locked, oldest first."""
    return session.execute(
        lock(
            select(Transfer, transfer_animal)
            .join(transfer_animal, transfer_animal.c.transfer_id == Transfer.id)
            .where(transfer_animal.c.animal_id == animal_id, Transfer.state == TransferState.PENDING)
            .order_by(Transfer.id)
        )
    ).all()


def cancel_stale_offers(session, actor: Actor, animal: Animal, event: str, offers: list, handshake=None) -> None:
    """Cancel the pending transfer *offers* of *animal* (``_pending_offers``, locked before the event
    changed anything) that *event* made stale: the animal is no longer in captivity, no longer the
    transferor's, or no longer held where the offer saw it. Each cancellation is audited in the
    event's transaction, by the one who recorded the event (*handshake*, the transfer being
    accepted, is not one of them)."""
    for t, *_keys, version, owner_id, holder_id, facility_id in offers:
        if handshake is not None and t.id == handshake.id:
            continue
        kept = (animal.owner_party_id, animal.holder_party_id, animal.facility_id)
        if (
            animal.state == AnimalState.IN_CAPTIVITY
            and animal.owner_party_id == t.transferor_party_id
            and (version is None or kept == (owner_id, holder_id, facility_id))
        ):
            continue
        step = TRANSFER.transition(t.state, "cancel")
        before = t.as_audit()
        t.state = step.target
        # Stored, so not translated (like every record).
        t.decision_note = (
            f"cancelled automatically: {event} of {animal.registry_no} recorded by {actor.username}; "
            "the animal is no longer as it was offered"
        )
        session.flush()
        audit.record(
            actor,
            "transfer.cancel",
            "transfer",
            t.id,
            before,
            t.as_audit() | {"because": {"animal_id": animal.id, "event": event}},
            subjects=[("animal", a.id) for a in t.animals] + [("facility", t.facility_id)],
        )


def open_events(actor: Actor, animal: Animal):
    """The events *actor* could record on *animal* now: declared from its state, allowed to the role."""
    return [
        t for t in ANIMAL.available(animal.state) if t.event in C.EVENT_SCHEMAS and has_capability(actor, t.capability)
    ]
