"""Transfers between keepers with a handshake: the owner offers, the transferee accepts, the authority
acknowledges. Accepting moves every animal through the animal lifecycle's ``transfer`` event in one
transaction, so the receiving facility's registration and capacity are checked for the whole batch.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry import clock
from registry.commands import animals as animal_commands
from registry.commands import transfers as commands
from registry.extensions import db
from registry.i18n import _
from registry.machines import ANIMAL, TRANSFER, AnimalState, FacilityState, TransferState
from registry.models import Animal, Facility, Transfer
from registry.models.base import utcnow
from registry.models.transfer import transfer_animal
from registry.permissions import (
    Actor,
    acts_for,
    can_see_animal,
    can_see_transfer,
    has_capability,
    party_bound,
    require,
)
from registry.services import animals, audit
from registry.services.context import load_locked, lock, lock_ids, write_transaction
from registry.services.errors import Conflict, NotFound, ValidationFailed, refusals_as_conflict


@dataclass
class Context:
    """What the transfer machine's guards look at (see registry.machines.transfer)."""

    actor: Actor
    transfer: Transfer
    #: The answer; None when only asking which answers are open.
    command: Any = None


def start(actor: Actor, command: commands.Offer) -> Transfer:
    """Offer animals to another keeper's registered facility; the transferee then accepts or declines."""
    require(actor, TRANSFER.transitions[command.EVENT].capability)
    refused = _("the transfer cannot be started")
    # A keeper is told one thing whatever is wrong with the facility named (none of that id, not
    # registered, not for the species): no facility oracle. Officers are told which.
    unfit = ValidationFailed(
        refused, {"facility_id": _("the receiving facility must be a registered facility for these species")}
    )
    hide = party_bound(actor)
    with write_transaction() as session:
        with refusals_as_conflict():
            step = TRANSFER.transition(None, command.EVENT)
        ids = command.animal_ids
        # Lock order (context.LOCK_ORDER): the animals, then the facility they go to.
        chosen = lock_ids(session, Animal, ids)
        facility = session.execute(lock(select(Facility).where(Facility.id == command.facility_id))).scalar()
        if facility is None or facility.status != FacilityState.REGISTERED:
            if hide:
                raise unfit
            raise ValidationFailed(refused, {"facility_id": _("the receiving facility must be a registered facility")})
        if len(chosen) != len(ids) or not all(can_see_animal(actor, a) for a in chosen):
            raise NotFound(_("no such animal"))
        owners = {a.owner_party_id for a in chosen}
        if len(owners) != 1:
            raise ValidationFailed(refused, {"animal_ids": _("animals of one owner only")})
        owner = owners.pop()
        if not acts_for(actor, owner):
            raise Conflict(_("only the owner can offer an animal"))
        for a in chosen:
            if not acts_for(actor, a.holder_party_id):
                # Custody moves only with the holder: an owner who lent the animal out cannot take it back
                # by offering it (to itself, or to anyone).
                raise Conflict(
                    _(
                        "%(animal)s is held by another keeper: it cannot be offered until it is back with its owner",
                        animal=a.registry_no,
                    )
                )
            if a.state != AnimalState.IN_CAPTIVITY:
                raise Conflict(
                    _(
                        "%(animal)s is '%(state)s': only animals in captivity move",
                        animal=a.registry_no,
                        state=ANIMAL.label(a.state),
                    )
                )
            if facility.allowance_for(a.species_id) is None:
                if hide:
                    raise unfit
                raise Conflict(
                    _(
                        "facility %(facility)s is not registered for the species of %(animal)s",
                        facility=facility.registration_no,
                        animal=a.registry_no,
                    )
                )
        busy = session.scalar(
            select(Animal.registry_no)
            .join(Transfer.animals)
            .where(Animal.id.in_(ids), Transfer.state == TransferState.PENDING)
            .limit(1)
        )
        if busy:
            raise Conflict(_("%(animal)s is already in a pending transfer", animal=busy))
        if facility.holder_party_id == owner and all(a.facility_id == facility.id for a in chosen):
            raise Conflict(_("the animals are already there"))
        t = Transfer(
            code=secrets.token_hex(4).upper(),
            state=step.target,
            transferor_party_id=owner,
            transferee_party_id=facility.holder_party_id,
            facility_id=facility.id,
            ownership=command.ownership,
            planned_on=command.planned_on or clock.today(),
            note=command.note,
            created_by_id=actor.user_id,
            animals=chosen,
        )
        session.add(t)
        session.flush()
        offered = []
        for a in chosen:  # what the offer saw: accepting re-checks it
            seen = {
                "offered_version": a.version,
                "offered_owner_party_id": a.owner_party_id,
                "offered_holder_party_id": a.holder_party_id,
                "offered_facility_id": a.facility_id,
            }
            session.execute(
                transfer_animal.update()
                .where(transfer_animal.c.transfer_id == t.id, transfer_animal.c.animal_id == a.id)
                .values(**seen)
            )
            offered.append({"animal_id": a.id, **seen})
        audit.record(
            actor,
            f"transfer.{command.EVENT}",
            "transfer",
            t.id,
            None,
            t.as_audit() | {"offered": offered},
            subjects=_subjects(t),
        )
    return t


def record_transfer_event(actor: Actor, transfer_id: int, command: commands.Answer) -> Transfer:
    """Record *command* (accept, decline, cancel or acknowledge) on a transfer.

    :raises Forbidden: the actor's role may not give the answer.
    :raises NotFound: the transfer is not visible to the actor.
    :raises Conflict: the answer is illegal in the transfer's state, a guard refused it (not the
        transferee, not the transferor), the transfer changed since ``command.version``, or
        accepting would break a rule of the animal lifecycle (the facility's capacity...).
    """
    return _answer(actor, command, transfer_id=transfer_id)


def answer_by_code(actor: Actor, command: commands.Handshake) -> Transfer:
    """The transferee accepts or declines with the handshake code, as ``record_transfer_event``."""
    return _answer(actor, command.answer, code=command.code)


def _answer(actor: Actor, command: commands.Answer, transfer_id: int | None = None, code: str | None = None):
    event = command.EVENT
    require(actor, TRANSFER.transitions[event].capability)
    with write_transaction() as session:
        which = Transfer.id == transfer_id if code is None else Transfer.code == code
        if isinstance(command, commands.Accept):
            _lock_what_moves(session, which)
        t = load_locked(session, actor, TRANSFER, Transfer, can_see_transfer, which, command.version)
        with refusals_as_conflict():
            step = TRANSFER.allowed(t.state, event, Context(actor, t, command))
        before = t.as_audit()
        if isinstance(command, commands.Accept):
            _still_as_offered(session, t)
            # Each animal goes through its own lifecycle's transfer, so the receiving facility's
            # registration and capacity are checked for the whole batch, in this transaction.
            for animal in t.animals:
                move = animal_commands.Transfer(
                    owner_party_id=t.transferee_party_id if t.ownership else None,
                    facility_id=t.facility_id,
                    note=f"transfer {t.code}",
                    occurred_on=clock.today(),
                )
                animals.record_animal_event(actor, animal.id, move, handshake=t)
        t.state = step.target
        t.decision_note = command.note or t.decision_note
        if isinstance(command, (commands.Accept, commands.Decline)):
            t.answered_at = utcnow()
        if isinstance(command, commands.Acknowledge):
            t.acknowledged_at = utcnow()
        session.flush()
        audit.record(actor, f"transfer.{event}", "transfer", t.id, before, t.as_audit(), subjects=_subjects(t))
    return t


def _lock_what_moves(session, which) -> None:
    """Accepting moves the transfer's animals into its facility: lock them before the transfer, in
    the one lock order (context.LOCK_ORDER: animals, facility, transfer). The way there is read
    unlocked: a transfer's animals and facility never change once offered."""
    found = session.execute(select(Transfer.id, Transfer.facility_id).where(which)).first()
    if found is None:
        return  # load_locked answers 404
    lock_ids(
        session,
        Animal,
        session.scalars(select(transfer_animal.c.animal_id).where(transfer_animal.c.transfer_id == found.id)),
    )
    lock_ids(session, Facility, [found.facility_id])


def _subjects(t: Transfer) -> list[audit.Subject]:
    """What a transfer's entries concern besides it: every animal in it and the receiving facility."""
    return [("animal", a.id) for a in t.animals] + [("facility", t.facility_id)]


def _still_as_offered(session, t: Transfer) -> None:
    """Refuse (409, naming the animal) unless every animal is still in captivity, the transferor's,
    and unchanged since the offer (same version, owner, holder and facility)."""
    seen = {
        row.animal_id: row
        for row in session.execute(select(transfer_animal).where(transfer_animal.c.transfer_id == t.id))
    }
    now = session.scalars(
        lock(select(Animal).where(Animal.id.in_(seen)).order_by(Animal.id)).execution_options(populate_existing=True)
    ).all()
    for a in now:
        row = seen[a.id]
        as_offered = row.offered_version is None or (
            (a.version, a.owner_party_id, a.holder_party_id, a.facility_id)
            == (row.offered_version, row.offered_owner_party_id, row.offered_holder_party_id, row.offered_facility_id)
        )
        if a.state != AnimalState.IN_CAPTIVITY or a.owner_party_id != t.transferor_party_id or not as_offered:
            raise Conflict(
                _(
                    "%(animal)s changed since it was offered: the transfer cannot be accepted; "
                    "the transferor may offer it again",
                    animal=a.registry_no,
                )
            )


def open_events(actor: Actor, t: Transfer) -> list:
    """The answers *actor* could give to *t* now: declared from its state, allowed to the role, and
    no guard against them."""
    return [
        s
        for s in TRANSFER.available(t.state)
        if s.event in commands.ANSWER_SCHEMAS
        and has_capability(actor, s.capability)
        and TRANSFER.blocked(s, Context(actor, t)) is None
    ]


def pending_for(actor: Actor) -> list[Transfer]:
    """What waits for the actor: offers to answer (keepers) or transfers to acknowledge (officers)."""
    if has_capability(actor, "transfer.acknowledge"):
        q = select(Transfer).where(Transfer.state == TransferState.ACCEPTED)
    else:
        q = select(Transfer).where(
            Transfer.state == TransferState.PENDING, Transfer.transferee_party_id == actor.party_id
        )
    # The page lists each with its parties, facility and animals: loaded at once, not per row.
    shown = (Transfer.transferor, Transfer.transferee, Transfer.facility, Transfer.animals)
    return list(db.session.scalars(q.options(*(selectinload(r) for r in shown)).order_by(Transfer.id)))
