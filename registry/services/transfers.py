"""Transfers between keepers with a handshake: the owner offers, the transferee accepts, the authority
acknowledges. Accepting moves every animal through the animal lifecycle's ``transfer`` event in one
transaction, so the receiving facility's registration and capacity are checked for the whole batch.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from registry import clock
from registry.commands import animals as commands
from registry.extensions import db
from registry.i18n import _
from registry.machines import ANIMAL, TRANSFER, AnimalState, TransferState
from registry.models import Animal, Facility, Transfer
from registry.models.base import utcnow
from registry.permissions import Actor, acts_for, can_see_animal, can_see_transfer, has_capability, require
from registry.services import animals, audit
from registry.services.context import lock, write_transaction
from registry.services.errors import Conflict, NotFound, ValidationFailed, allowed


@dataclass
class Context:
    actor: Actor
    transfer: Transfer


def start(actor: Actor, data: dict) -> Transfer:
    """Offer animals to another keeper's registered facility; the transferee then accepts or declines."""
    require(actor, "transfer.start")
    errors: dict[str, str] = {}
    ids = sorted({int(i) for i in data.get("animal_ids") or [] if str(i).isdigit()})
    if not ids:
        errors["animal_ids"] = _("at least one animal")
    planned = data.get("planned_on") or clock.today()
    if isinstance(planned, str):
        try:
            planned = date.fromisoformat(planned)
        except ValueError:
            errors["planned_on"] = _("a date as YYYY-MM-DD")
    note = (data.get("note") or "").strip() or None
    if errors:
        raise ValidationFailed(_("the transfer cannot be started"), errors)
    with write_transaction() as session:
        facility = session.execute(lock(select(Facility).where(Facility.id == data.get("facility_id")))).scalar()
        if facility is None or facility.status != "registered":
            raise ValidationFailed(
                _("the transfer cannot be started"),
                {"facility_id": _("the receiving facility must be a registered facility")},
            )
        chosen = session.scalars(lock(select(Animal).where(Animal.id.in_(ids)))).all()
        if len(chosen) != len(ids) or not all(can_see_animal(actor, a) for a in chosen):
            raise NotFound(_("no such animal"))
        owners = {a.owner_party_id for a in chosen}
        if len(owners) != 1:
            raise ValidationFailed(_("the transfer cannot be started"), {"animal_ids": _("animals of one owner only")})
        owner = owners.pop()
        if not acts_for(actor, owner):
            raise Conflict(_("only the owner can offer an animal"))
        for a in chosen:
            if a.state != AnimalState.IN_CAPTIVITY:
                raise Conflict(
                    _(
                        "%(animal)s is '%(state)s': only animals in captivity move",
                        animal=a.registry_no,
                        state=ANIMAL.label(a.state),
                    )
                )
            if facility.allowance_for(a.species_id) is None:
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
            state=TransferState.PENDING,
            transferor_party_id=owner,
            transferee_party_id=facility.holder_party_id,
            facility_id=facility.id,
            ownership=bool(data.get("ownership", True)),
            planned_on=planned,
            note=note,
            created_by_id=actor.user_id,
            animals=chosen,
        )
        session.add(t)
        session.flush()
        audit.record(actor, "transfer.start", "transfer", t.id, None, t.as_audit())
    return t


def _load(session, actor: Actor, transfer_id: int | None = None, code: str | None = None) -> Transfer:
    q = (
        select(Transfer).where(Transfer.id == transfer_id)
        if code is None
        else select(Transfer).where(Transfer.code == code.strip().upper())
    )
    t = session.execute(lock(q)).scalar_one_or_none()
    # A keeper holding the code may answer a transfer offered to them even before it is in their list.
    if t is None or not can_see_transfer(actor, t):
        raise NotFound(_("no such transfer"))
    return t


def act(
    actor: Actor,
    event: str,
    transfer_id: int | None = None,
    code: str | None = None,
    note: str | None = None,
    expected_version: int | None = None,
) -> Transfer:
    """accept, decline, cancel or acknowledge, as the transfer lifecycle allows."""
    t_def = TRANSFER.transitions.get(event)
    if t_def is None or t_def.creates:
        raise ValidationFailed(
            _("unknown action '%(action)s'", action=event), {"action": _("accept, decline, cancel or acknowledge")}
        )
    require(actor, t_def.capability)
    with write_transaction() as session:
        t = _load(session, actor, transfer_id, code)
        if expected_version is not None and t.version != expected_version:
            raise Conflict(_("the transfer was changed by someone else; reload and try again"))
        step = allowed(TRANSFER, t.state, event, Context(actor, t))
        before = t.as_audit()
        if event == "accept":
            for animal in t.animals:
                move = commands.Transfer(
                    owner_party_id=t.transferee_party_id if t.ownership else None,
                    facility_id=t.facility_id,
                    note=f"transfer {t.code}",
                    occurred_on=clock.today(),
                )
                animals.record_animal_event(actor, animal.id, move, handshake=t)
        t.state = step.target
        t.decision_note = (note or "").strip() or t.decision_note
        if event in ("accept", "decline"):
            t.answered_at = utcnow()
        if event == "acknowledge":
            t.acknowledged_at = utcnow()
        session.flush()
        audit.record(actor, f"transfer.{event}", "transfer", t.id, before, t.as_audit())
    return t


def available_actions(actor: Actor, t: Transfer) -> list:
    """The answers *actor* could give to *t* now (declared, allowed to the role, no guard against)."""
    return [
        s
        for s in TRANSFER.available(t.state)
        if has_capability(actor, s.capability) and TRANSFER.blocked(s, Context(actor, t)) is None
    ]


def pending_for(actor: Actor) -> list[Transfer]:
    """What waits for the actor: offers to answer (keepers) or transfers to acknowledge (officers)."""
    if has_capability(actor, "transfer.acknowledge"):
        q = select(Transfer).where(Transfer.state == TransferState.ACCEPTED)
    else:
        q = select(Transfer).where(
            Transfer.state == TransferState.PENDING, Transfer.transferee_party_id == actor.party_id
        )
    return db.session.scalars(q.order_by(Transfer.id)).all()
