"""Animal use cases: every lifecycle event goes through ``fire`` (or a creating function) here.

The order is always the same: load in scope (404) -> capability (403) ->
(state, event) legal (409) -> guards (409) -> change -> timeline event ->
audit entry -> commit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from sqlalchemy import func, select

from registry import clock
from registry.i18n import _
from registry.machines import ANIMAL, AnimalState
from registry.models import Animal, AnimalEvent, Facility, Identifier, Keeping, Permit, PermitLine
from registry.models.animal import IDENTIFIER_KINDS, SEXES
from registry.permissions import Actor, can_see_animal, require
from registry.services import audit
from registry.services.context import lock, write_transaction
from registry.services.errors import Conflict, NotFound, ValidationFailed, allowed
from registry.services.facilities import occupancy
from registry.services.numbers import registry_number

MICROCHIP = re.compile(r"^\d{15}$")
DISPOSAL_METHODS = ("incineration", "burial", "rendering", "donation", "other")
SOURCE_CODES = ("W", "R", "D", "C", "F", "U", "I", "O", "X")
BIRTH_SOURCES = ("C", "F")


# ---------------------------------------------------------------- input checking


def _text(data: dict, name: str, errors: dict, required: bool = True, limit: int = 2000) -> str | None:
    value = data.get(name)
    value = value.strip() if isinstance(value, str) else value
    if value in (None, ""):
        if required:
            errors[name] = _("required")
        return None
    if not isinstance(value, str) or len(value) > limit:
        errors[name] = _("text of at most %(limit)s characters", limit=limit)
        return None
    return value


def _id(data: dict, name: str, errors: dict, required: bool = True) -> int | None:
    value = data.get(name)
    if value in (None, ""):
        if required:
            errors[name] = _("required")
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        errors[name] = _("must be a number")
        return None


def _day(data: dict, name: str, errors: dict, today: date, required: bool = True) -> date | None:
    value = data.get(name)
    if value in (None, ""):
        if required:
            errors[name] = _("required")
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            errors[name] = _("a date as YYYY-MM-DD")
            return None
    if not isinstance(value, date):
        errors[name] = _("a date as YYYY-MM-DD")
        return None
    if value > today:
        errors[name] = _("cannot be in the future")
    return value


def _flag(data: dict, name: str) -> bool:
    value = data.get(name)
    return value in (True, "1", "true", "on", "yes", 1)


def check_identifier(kind: str, value: str) -> str | None:
    """The reason an identifier is malformed, or None."""
    if kind not in IDENTIFIER_KINDS:
        return _("kind must be one of %(kinds)s", kinds=", ".join(IDENTIFIER_KINDS))
    value = (value or "").strip()
    if kind == "microchip" and not MICROCHIP.match(value):
        return _("an ISO 11784 microchip number is exactly 15 digits")
    if not 1 <= len(value) <= 150:
        return _("1 to 150 characters")
    return None


def _identifier_list(data: dict, errors: dict) -> list[tuple[str, str]]:
    result = []
    for i, item in enumerate(data.get("identifiers") or []):
        kind, value = (item.get("kind") or "").strip(), (item.get("value") or "").strip()
        if not kind and not value:
            continue
        problem = check_identifier(kind, value)
        if problem:
            errors[f"identifiers.{i}"] = problem
        else:
            result.append((kind, value))
    return result


# ---------------------------------------------------------------- the shared machinery


@dataclass
class Context:
    """What the machine's guards look at (see registry.machines.animal)."""

    actor: Actor
    animal: Animal | None
    data: dict
    today: date
    species_id: int | None = None
    facility: Facility | None = None
    occupancy: int = 0
    parents: dict = field(default_factory=dict)
    permit: Permit | None = None
    #: Animals of the species already exported on ctx.permit.
    permit_used: int = 0
    disease_suspected: bool = False
    #: The state the animal was seized from.
    seized_from: str | None = None
    #: The event comes from a transfer both keepers agreed to.
    handshake: bool = False
    #: A ministry officer approved giving the carcass to a museum or research institute.
    donation_approved: bool = False


def _check_capability(actor: Actor, event: str) -> None:
    t = ANIMAL.transitions.get(event)
    if t is None:
        raise ValidationFailed(
            _("unknown event '%(event)s'", event=event),
            {"event": _("one of %(values)s", values=", ".join(ANIMAL.events))},
        )
    require(actor, t.capability)


def _guarded(state: str | None, event: str, ctx: Context):
    return allowed(ANIMAL, state, event, ctx)


def _load_for_update(
    session, actor: Actor, animal_id: int, expected_version: int | None, scoped: bool = True
) -> Animal:
    animal = session.execute(lock(select(Animal).where(Animal.id == animal_id))).scalar_one_or_none()
    if animal is None or (scoped and not can_see_animal(actor, animal)):
        raise NotFound(_("no such animal"))
    if expected_version is not None and animal.version != expected_version:
        raise Conflict(_("the animal was changed by someone else since you opened it; reload and try again"))
    return animal


def _facility(session, facility_id: int | None, errors: dict, name: str = "facility_id") -> Facility | None:
    if facility_id is None:
        return None
    # Locked: its occupancy is counted next, and two writers must not both take the last place.
    facility = session.execute(lock(select(Facility).where(Facility.id == facility_id))).scalar_one_or_none()
    if facility is None:
        errors[name] = _("no such facility")
    return facility


def _permit(session, permit_id: int) -> Permit | None:
    """The permit, locked: its quantities are counted and it must not be cancelled meanwhile."""
    return session.execute(lock(select(Permit).where(Permit.id == permit_id))).scalar_one_or_none()


def _with_facility(ctx: Context, session, facility: Facility | None) -> None:
    ctx.facility = facility
    if facility is not None and ctx.species_id is not None:
        ctx.occupancy = occupancy(
            session, facility.id, ctx.species_id, excluding=ctx.animal.id if ctx.animal is not None else None
        )


def _keep(
    session,
    animal: Animal,
    relation: str,
    party_id: int | None,
    facility_id: int | None,
    since: date,
    event: AnimalEvent,
) -> None:
    """Close the open owner/holder period if it changes, and open the new one."""
    current = session.scalar(
        select(Keeping).where(Keeping.animal_id == animal.id, Keeping.relation == relation, Keeping.until.is_(None))
    )
    if current is not None:
        if current.party_id == party_id and (relation == "owner" or current.facility_id == facility_id):
            return
        current.until = since
    if party_id is not None:
        session.add(
            Keeping(
                animal_id=animal.id,
                relation=relation,
                party_id=party_id,
                facility_id=facility_id if relation == "holder" else None,
                since=since,
                event_id=event.id,
            )
        )


def _place(
    session, animal: Animal, event: AnimalEvent, owner_id: int | None, facility: Facility | None, when: date
) -> None:
    if owner_id is not None:
        animal.owner_party_id = owner_id
    if facility is not None:
        animal.facility_id = facility.id
        animal.holder_party_id = facility.holder_party_id
    session.flush()
    _keep(session, animal, "owner", animal.owner_party_id, None, when, event)
    _keep(session, animal, "holder", animal.holder_party_id, animal.facility_id, when, event)


def _timeline(
    session,
    actor: Actor,
    animal: Animal,
    event: str,
    from_state: str | None,
    when: date,
    details: dict,
    permit_id: int | None = None,
) -> AnimalEvent:
    row = AnimalEvent(
        animal_id=animal.id,
        event=event,
        from_state=from_state,
        to_state=animal.state,
        occurred_on=when,
        recorded_at=clock.now(),
        actor_id=actor.user_id,
        actor_name=actor.username,
        permit_id=permit_id,
        details=audit.jsonable(details),
    )
    session.add(row)
    session.flush()
    return row


# ---------------------------------------------------------------- events on an existing animal


@dataclass(frozen=True)
class EventSpec:
    """How to read one event's input and what it does beyond the state change."""

    parse: Callable[[dict, dict, date], dict]
    prepare: Callable[[object, Context, dict, dict], None] = lambda session, ctx, values, errors: None
    effect: Callable[[object, Context, AnimalEvent, dict], None] = lambda session, ctx, row, values: None


def _parse_reason(data, errors, today):
    return {"reason": _text(data, "reason", errors)}


def _parse_facility(data, errors, today, required=True):
    return {"facility_id": _id(data, "facility_id", errors, required), "note": _text(data, "note", errors, False)}


def _prepare_target_facility(session, ctx, values, errors):
    facility_id = values.get("facility_id")
    if facility_id is None and ctx.animal.facility_id is not None:
        facility_id = ctx.animal.facility_id
    _with_facility(ctx, session, _facility(session, facility_id, errors))


def _effect_move(session, ctx, row, values):
    _place(session, ctx.animal, row, values.get("owner_party_id"), ctx.facility, row.occurred_on)


def _prepare_permit_of_declaration(session, ctx, values, errors):
    line = session.get(PermitLine, ctx.animal.permit_line_id) if ctx.animal.permit_line_id else None
    ctx.permit = _permit(session, line.permit_id) if line else None


def _parse_transfer(data, errors, today):
    return {
        "owner_party_id": _id(data, "owner_party_id", errors, False),
        "facility_id": _id(data, "facility_id", errors, False),
        "note": _text(data, "note", errors, False),
    }


def _prepare_transfer(session, ctx, values, errors):
    from registry.models import Party

    if values["owner_party_id"] is not None and session.get(Party, values["owner_party_id"]) is None:
        errors["owner_party_id"] = _("no such party")
    _prepare_target_facility(session, ctx, values, errors)


def _parse_death(data, errors, today):
    return {
        "cause": _text(data, "cause", errors),
        "disease_suspected": _flag(data, "disease_suspected"),
        "note": _text(data, "note", errors, False),
    }


def _parse_disposal(data, errors, today):
    method = _text(data, "method", errors)
    if method is not None and method not in DISPOSAL_METHODS:
        errors["method"] = _("one of %(values)s", values=", ".join(DISPOSAL_METHODS))
    values = {
        "method": method,
        "handler": _text(data, "handler", errors),
        "licence_no": _text(data, "licence_no", errors, required=method in ("incineration", "rendering")),
        "place": _text(data, "place", errors),
        "witness": _text(data, "witness", errors),
        "note": _text(data, "note", errors, False),
    }
    return values


def _prepare_disposal(session, ctx, values, errors):
    death = session.scalar(
        select(AnimalEvent)
        .where(AnimalEvent.animal_id == ctx.animal.id, AnimalEvent.to_state == AnimalState.DEAD)
        .order_by(AnimalEvent.id.desc())
        .limit(1)
    )
    ctx.disease_suspected = bool(death and death.details.get("disease_suspected"))
    ctx.donation_approved = (
        session.scalar(
            select(AnimalEvent.id)
            .where(AnimalEvent.animal_id == ctx.animal.id, AnimalEvent.event == "approve_donation")
            .limit(1)
        )
        is not None
    )


def _parse_export(data, errors, today):
    return {"permit_id": _id(data, "permit_id", errors), "port": _text(data, "port", errors, False)}


def _prepare_export(session, ctx, values, errors):
    if values["permit_id"] is not None:
        ctx.permit = _permit(session, values["permit_id"])
        if ctx.permit is None:
            errors["permit_id"] = _("no such permit")
            return
        ctx.permit_used = session.scalar(
            select(func.count(AnimalEvent.id))
            .join(Animal)
            .where(
                AnimalEvent.permit_id == ctx.permit.id,
                AnimalEvent.event == "export",
                Animal.species_id == ctx.animal.species_id,
            )
        )


def _effect_exported(session, ctx, row, values):
    row.permit_id = ctx.permit.id
    _effect_clear_holder(session, ctx, row, values)


def _parse_seize(data, errors, today):
    return {"facility_id": _id(data, "facility_id", errors), "reason": _text(data, "reason", errors)}


def _effect_seize(session, ctx, row, values):
    row.details = {**row.details, "previous_facility_id": ctx.animal.facility_id}
    _place(session, ctx.animal, row, None, ctx.facility, row.occurred_on)


def _prepare_return(session, ctx, values, errors):
    seizure = session.scalar(
        select(AnimalEvent)
        .where(AnimalEvent.animal_id == ctx.animal.id, AnimalEvent.event == "seize")
        .order_by(AnimalEvent.id.desc())
        .limit(1)
    )
    ctx.seized_from = seizure.from_state if seizure else None
    if values.get("facility_id") is None:
        values["facility_id"] = seizure.details.get("previous_facility_id") if seizure else None
        if values["facility_id"] is None:
            errors["facility_id"] = _("the animal had no facility before seizure: name one")
            return
    _with_facility(ctx, session, _facility(session, values["facility_id"], errors))


def _effect_forfeit(session, ctx, row, values):
    # The State becomes the owner: the party holding the rescue facility the animal is in.
    _place(session, ctx.animal, row, ctx.animal.holder_party_id, None, row.occurred_on)


def _effect_clear_holder(session, ctx, row, values):
    """Nobody holds an exported animal or a disposed carcass; the owner stays on record."""
    ctx.animal.facility_id = None
    ctx.animal.holder_party_id = None
    _keep(session, ctx.animal, "holder", None, None, row.occurred_on, row)


def _effect_release_identifiers(session, ctx, row, values):
    """A void declaration frees its marks: the same chip may come back on a new application."""
    released = [ident for ident in ctx.animal.identifiers if ident.active]
    for ident in released:
        ident.active, ident.retired_on = False, row.occurred_on
    if released:
        row.details = {**row.details, "released_identifiers": [f"{i.kind} {i.value}" for i in released]}


EVENTS: dict[str, EventSpec] = {
    "enter": EventSpec(
        lambda d, e, t: {"port": _text(d, "port", e), "note": _text(d, "note", e, False)},
        _prepare_permit_of_declaration,
    ),
    "refuse_entry": EventSpec(_parse_reason, effect=_effect_release_identifiers),
    "void": EventSpec(_parse_reason, effect=_effect_release_identifiers),
    "register": EventSpec(_parse_facility, _prepare_target_facility, _effect_move),
    "transfer": EventSpec(_parse_transfer, _prepare_transfer, _effect_move),
    "death": EventSpec(_parse_death),
    "dispose": EventSpec(_parse_disposal, _prepare_disposal, _effect_clear_holder),
    "export": EventSpec(_parse_export, _prepare_export, _effect_exported),
    "report_missing": EventSpec(lambda d, e, t: {"circumstances": _text(d, "circumstances", e)}),
    "recover": EventSpec(
        lambda d, e, t: _parse_facility(d, e, t, required=False), _prepare_target_facility, _effect_move
    ),
    "declare_dead": EventSpec(_parse_reason),
    "seize": EventSpec(_parse_seize, _prepare_target_facility, _effect_seize),
    "return": EventSpec(lambda d, e, t: _parse_facility(d, e, t, required=False), _prepare_return, _effect_move),
    "forfeit": EventSpec(lambda d, e, t: {"note": _text(d, "note", e, False)}, effect=_effect_forfeit),
    "approve_donation": EventSpec(
        lambda d, e, t: {"recipient": _text(d, "recipient", e), "note": _text(d, "note", e, False)}
    ),
}
assert set(EVENTS) | {"declare", "birth"} == set(ANIMAL.events)


def today() -> date:
    return clock.today()


def fire(
    actor: Actor,
    animal_id: int,
    event: str,
    data: dict | None = None,
    expected_version: int | None = None,
    handshake=None,
) -> Animal:
    """Record a lifecycle event on an existing animal.

    :raises NotFound: the animal is not visible to the actor.
    :raises Forbidden: the actor's role may not fire the event.
    :raises Conflict: the event is illegal in the animal's state, a guard refused it, or the animal changed.
    :raises ValidationFailed: the input is malformed (field-level reasons in ``.fields``).

    *handshake* is a transfer both keepers agreed to: it stands in for the capability and the scope
    of the keeper receiving the animals (the machine's guards still decide).
    """
    if handshake is None:
        _check_capability(actor, event)
    data = dict(data or {})
    now = today()
    with write_transaction() as session:
        if handshake is not None and (event != "transfer" or animal_id not in {a.id for a in handshake.animals}):
            raise NotFound(_("no such animal"))
        animal = _load_for_update(session, actor, animal_id, expected_version, scoped=handshake is None)
        reason = ANIMAL.rejection(animal.state, event)
        if reason:
            raise Conflict(reason)
        spec = EVENTS[event]
        errors: dict[str, str] = {}
        values = spec.parse(data, errors, now)
        when = _day(data, "occurred_on", errors, now, required=False) or now
        if animal.birth_date and when < animal.birth_date:
            errors["occurred_on"] = _("before the animal's birth date")
        ctx = Context(actor, animal, values, now, species_id=animal.species_id, handshake=handshake is not None)
        if not errors:
            spec.prepare(session, ctx, values, errors)
        if errors:
            raise ValidationFailed(_("the event cannot be recorded"), errors)
        t = _guarded(animal.state, event, ctx)
        before = animal.as_audit()
        from_state = animal.state
        animal.state = t.target
        row = _timeline(
            session, actor, animal, event, from_state, when, values, ctx.permit.id if ctx.permit is not None else None
        )
        spec.effect(session, ctx, row, values)
        session.flush()
        audit.record(
            actor,
            f"animal.{event}",
            "animal",
            animal.id,
            before,
            animal.as_audit() | {"event": row.details, "occurred_on": when},
        )
    return animal


# ---------------------------------------------------------------- creating animals


def _new_animal(session, actor: Actor, ids: list[tuple[str, str]], when: date, **fields) -> Animal:
    country = current_app.config["ISSUING_COUNTRY"]
    animal = Animal(registry_no=registry_number(country, when.year if when else today().year), **fields)
    session.add(animal)
    session.flush()
    for kind, value in ids:
        _attach_identifier(session, animal, kind, value, when)
    return animal


def _attach_identifier(
    session, animal: Animal, kind: str, value: str, applied_on: date | None, note: str | None = None
) -> Identifier:
    if kind == "microchip" and session.scalar(
        select(Identifier.animal_id).where(Identifier.kind == "microchip", Identifier.value == value, Identifier.active)
    ):
        raise Conflict(
            _("microchip already in use"),
            {"identifiers": _("microchip %(value)s is already active on another animal", value=value)},
        )
    ident = Identifier(animal_id=animal.id, kind=kind, value=value, applied_on=applied_on, note=note)
    session.add(ident)
    session.flush()
    return ident


def register_birth(actor: Actor, data: dict) -> Animal:
    """A birth or hatching in captivity: a new animal, linked to its parents."""
    _check_capability(actor, "birth")
    now = today()
    errors: dict[str, str] = {}
    species_id = _id(data, "species_id", errors)
    facility_id = _id(data, "facility_id", errors)
    sire_id, dam_id = _id(data, "sire_id", errors, False), _id(data, "dam_id", errors, False)
    born = _day(data, "birth_date", errors, now)
    sex = (data.get("sex") or "U").upper()
    if sex not in SEXES:
        errors["sex"] = _("M, F or U")
    source = (data.get("source_code") or "C").upper()
    if source not in BIRTH_SOURCES:
        errors["source_code"] = _("C (bred in captivity) or F (born in captivity)")
    ids = _identifier_list(data, errors)
    with write_transaction() as session:
        facility = _facility(session, facility_id, errors)
        parents = {}
        for word, pid in (("sire", sire_id), ("dam", dam_id)):
            if pid is not None:
                parent = session.get(Animal, pid)
                if parent is None or not can_see_animal(actor, parent):
                    errors[f"{word}_id"] = _("no such animal")
                else:
                    parents[word] = parent
        if errors:
            raise ValidationFailed(_("the birth cannot be recorded"), errors)
        ctx = Context(actor, None, {}, now, species_id=species_id, parents=parents)
        _with_facility(ctx, session, facility)
        t = _guarded(None, "birth", ctx)
        parent = parents.get("dam") or parents.get("sire")
        animal = _new_animal(
            session,
            actor,
            ids,
            born,
            species_id=species_id,
            state=t.target,
            sex=sex,
            name=data.get("name") or None,
            birth_date=born,
            birth_date_estimated=_flag(data, "birth_date_estimated"),
            source_code=source,
            origin_country=current_app.config["ISSUING_COUNTRY"],
            sire_id=sire_id,
            dam_id=dam_id,
            owner_party_id=parent.owner_party_id if parent else facility.holder_party_id,
        )
        row = _timeline(
            session,
            actor,
            animal,
            "birth",
            None,
            born,
            {"sire_id": sire_id, "dam_id": dam_id, "facility_id": facility.id},
        )
        _place(session, animal, row, None, facility, born)
        audit.record(
            actor,
            "animal.birth",
            "animal",
            animal.id,
            None,
            animal.as_audit() | {"identifiers": [list(i) for i in ids]},
        )
    return animal


def declare(actor: Actor, permit_line_id: int, data: dict) -> Animal:
    """Declare one live animal on a permit line before it crosses the border."""
    _check_capability(actor, "declare")
    from registry.permissions import can_see_permit

    now = today()
    errors: dict[str, str] = {}
    sex = (data.get("sex") or "U").upper()
    if sex not in SEXES:
        errors["sex"] = _("M, F or U")
    born = _day(data, "birth_date", errors, now, required=False)
    ids = _identifier_list(data, errors)
    with write_transaction() as session:
        line = session.get(PermitLine, permit_line_id)
        if line is None or not can_see_permit(actor, line.permit):
            raise NotFound(_("no such permit line"))
        _permit(session, line.permit_id)
        if line.term_code != "LIV":
            errors["permit_line_id"] = _("only live animals (term LIV) are followed individually")
        declared = session.scalar(select(func.count(Animal.id)).where(Animal.permit_line_id == line.id))
        if declared >= line.quantity:
            errors["permit_line_id"] = _(
                "the line's quantity (%(quantity)s) is already fully declared", quantity=f"{line.quantity:f}"
            )
        if errors:
            raise ValidationFailed(_("the animal cannot be declared"), errors)
        permit = line.permit
        t = _guarded(None, "declare", Context(actor, None, {}, now, species_id=line.species_id, permit=permit))
        animal = _new_animal(
            session,
            actor,
            ids,
            now,
            species_id=line.species_id,
            state=t.target,
            sex=sex,
            birth_date=born,
            birth_date_estimated=_flag(data, "birth_date_estimated"),
            source_code=permit.source_code,
            origin_country=permit.origin_country or permit.export_country,
            permit_line_id=line.id,
            owner_party_id=permit.importer_party_id or permit.applicant_party_id,
        )
        _timeline(session, actor, animal, "declare", None, now, {"permit_line_id": line.id}, permit.id)
        audit.record(
            actor,
            "animal.declare",
            "animal",
            animal.id,
            None,
            animal.as_audit() | {"identifiers": [list(i) for i in ids]},
        )
    return animal


# ---------------------------------------------------------------- identifiers


def add_identifier(
    actor: Actor, animal_id: int, kind: str, value: str, applied_on: date | None = None, note: str | None = None
) -> Identifier:
    require(actor, "animal.identify")
    problem = check_identifier(kind, value)
    if problem:
        raise ValidationFailed(_("bad identifier"), {"value": problem})
    with write_transaction() as session:
        animal = _load_for_update(session, actor, animal_id, None)
        if animal.state in ANIMAL.terminal:
            raise Conflict(
                _(
                    "the animal is in the final state '%(state)s'; its record is closed",
                    state=ANIMAL.label(animal.state),
                )
            )
        ident = _attach_identifier(session, animal, kind, value.strip(), applied_on, note)
        audit.record(actor, "animal.identifier_add", "identifier", ident.id, None, ident.as_audit())
    return ident


def retire_identifier(
    actor: Actor, identifier_id: int, retired_on: date | None = None, note: str | None = None
) -> Identifier:
    """Mark an identifier as no longer on the animal (lost ring, failed chip); it stays in the history."""
    require(actor, "animal.identify")
    with write_transaction() as session:
        ident = session.get(Identifier, identifier_id)
        if ident is None or not can_see_animal(actor, ident.animal):
            raise NotFound(_("no such identifier"))
        if not ident.active:
            raise Conflict(_("the identifier is already retired"))
        before = ident.as_audit()
        ident.active, ident.retired_on, ident.note = False, retired_on or today(), note or ident.note
        session.flush()
        audit.record(actor, "animal.identifier_retire", "identifier", ident.id, before, ident.as_audit())
    return ident
