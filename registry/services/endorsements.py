"""Customs endorsement: a consignment crosses the border on a permit.

One transaction records the actual quantities per line, moves the permit to partly or fully used,
and moves the animals: an entry declares and enters the live animals (or refuses or seizes them),
an exit exports the animals named. A permit is never used beyond its quantities, after its
validity, or once cancelled.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select

from registry import clock
from registry.commands import animals as commands
from registry.commands import load
from registry.i18n import _
from registry.machines import PERMIT, AnimalState
from registry.models import OUTCOMES, Animal, EndorsedLine, Endorsement, Permit, PermitLine
from registry.permissions import Actor, require
from registry.services import animals, arrivals, audit, permits
from registry.services.context import write_transaction
from registry.services.errors import Conflict, ValidationFailed


def cleared(session, line_id: int) -> Decimal:
    """What has crossed on a line so far."""
    return session.scalar(
        select(func.coalesce(func.sum(EndorsedLine.quantity), 0)).where(
            EndorsedLine.line_id == line_id, EndorsedLine.outcome == "cleared"
        )
    ) or Decimal(0)


def _quantity(raw, name: str, errors: dict) -> Decimal | None:
    try:
        q = Decimal(str(raw))
        if not q.is_finite() or q <= 0 or q != q.quantize(Decimal("0.001")):
            raise InvalidOperation
        return q
    except (InvalidOperation, ValueError):
        errors[name] = _("a positive number with at most 3 decimals")
        return None


def endorse(actor: Actor, permit_id: int, data: dict) -> Endorsement:
    """Record what crossed (or was refused or seized) on *permit_id*, line by line.

    data: direction ("entry"|"exit"), port, transport_doc, endorsed_on (date, default today),
    seizure_facility_id (when anything is seized), and lines: [{line_no, quantity, outcome,
    animals: [{sex, identifiers}] for an entry, animal_ids: [...] for an exit}].
    """
    require(actor, "permit.endorse")
    errors: dict[str, str] = {}
    direction = data.get("direction")
    if direction not in ("entry", "exit"):
        errors["direction"] = _("entry or exit")
    for name, limit in (("port", 200), ("transport_doc", 100)):
        value = (data.get(name) or "").strip()
        if not value or len(value) > limit:
            errors[name] = _("required, at most %(limit)s characters", limit=limit)
    when = data.get("endorsed_on") or clock.today()
    if isinstance(when, str):
        try:
            when = date.fromisoformat(when)
        except ValueError:
            errors["endorsed_on"] = _("a date as YYYY-MM-DD")
    if isinstance(when, date) and when > clock.today():
        errors["endorsed_on"] = _("cannot be in the future")
    raw_lines = data.get("lines") or []
    if not raw_lines:
        errors["lines"] = _("at least one line")
    if errors:
        raise ValidationFailed(_("the endorsement has errors"), errors)

    with write_transaction() as session:
        permit = permits.load(session, actor, permit_id)
        if permit.state not in ("issued", "partly_used"):
            raise Conflict(
                _(
                    "permit %(permit)s is %(state)s: it cannot be used",
                    permit=permit.display_number,
                    state=PERMIT.label(permit.state),
                )
            )
        expected = "entry" if permit.direction == "import" else "exit"
        if direction != expected:
            if expected == "entry":
                raise Conflict(
                    _(
                        "permit %(permit)s is an import document: it is endorsed at entry, not at exit",
                        permit=permit.display_number,
                    )
                )
            raise Conflict(
                _(
                    "permit %(permit)s is an export document: it is endorsed at exit, not at entry",
                    permit=permit.display_number,
                )
            )
        if permit.valid_until is not None and when > permit.valid_until:
            raise Conflict(
                _(
                    "permit %(permit)s expired on %(day)s",
                    permit=permit.display_number,
                    day=permit.valid_until.isoformat(),
                )
            )
        by_no = {line.line_no: line for line in permit.lines}
        endorsement = Endorsement(
            permit_id=permit.id,
            direction=direction,
            port=data["port"].strip(),
            transport_doc=data["transport_doc"].strip(),
            endorsed_on=when,
            officer_id=actor.user_id,
            officer_name=actor.username,
        )
        session.add(endorsement)
        session.flush()
        for i, raw in enumerate(raw_lines):
            line = by_no.get(raw.get("line_no"))
            if line is None:
                errors[f"lines.{i}.line_no"] = _("no such line on this permit")
                continue
            quantity = _quantity(raw.get("quantity"), f"lines.{i}.quantity", errors)
            outcome = raw.get("outcome") or "cleared"
            if outcome not in OUTCOMES:
                errors[f"lines.{i}.outcome"] = _("one of %(values)s", values=", ".join(OUTCOMES))
            if quantity is None or f"lines.{i}.outcome" in errors:
                continue
            if line.term_code == "LIV" and line.unit_code in (None, "NAR") and quantity != quantity.to_integral_value():
                errors[f"lines.{i}.quantity"] = _("live animals are counted in whole numbers")
                continue
            if outcome == "cleared":
                used = cleared(session, line.id)
                if used + quantity > line.quantity:
                    raise Conflict(
                        _(
                            "line %(line)s allows %(allowed)s; %(used)s already crossed, %(more)s more would exceed it",
                            line=line.line_no,
                            allowed=f"{line.quantity.normalize():f}",
                            used=f"{used.normalize():f}",
                            more=f"{quantity.normalize():f}",
                        )
                    )
            session.add(
                EndorsedLine(endorsement_id=endorsement.id, line_id=line.id, quantity=quantity, outcome=outcome)
            )
            session.flush()
            if line.term_code == "LIV":
                _move_animals(session, actor, permit, line, int(quantity), outcome, raw, data, when, i, errors)
        if errors:
            raise ValidationFailed(_("the endorsement has errors"), errors)
        complete = all(cleared(session, line.id) >= line.quantity for line in permit.lines)
        before = permit.as_audit()
        permits.move(session, actor, permit, "endorse_final" if complete else "endorse", {}, when)
        session.flush()
        audit.record(
            actor,
            "permit.endorse",
            "permit",
            permit.id,
            before,
            permit.as_audit() | {"endorsement": endorsement.as_audit()},
        )
    return endorsement


def receipt(endorsement: Endorsement) -> bytes:
    """The printable receipt of one endorsement."""
    from flask import current_app

    from registry import pdf

    return pdf.render_receipt(endorsement, current_app.config["AUTHORITY"], current_app.config["PUBLIC_BASE_URL"])


def _move_animals(
    session,
    actor: Actor,
    permit: Permit,
    line: PermitLine,
    count: int,
    outcome: str,
    raw: dict,
    data: dict,
    when: date,
    i: int,
    errors: dict,
) -> None:
    if permit.direction == "export":
        if outcome != "cleared":
            return  # animals stopped at exit stay where they are; the keeper's record is unchanged
        ids = raw.get("animal_ids") or []
        if len(ids) != count:
            errors[f"lines.{i}.animal_ids"] = _("name the %(count)s animal(s) that left, by id", count=count)
            return
        for animal_id in ids:
            animal = session.get(Animal, animal_id)
            if animal is None or animal.species_id != line.species_id:
                errors[f"lines.{i}.animal_ids"] = _("animal %(animal)s is not of this line's species", animal=animal_id)
                return
            animals.record_animal_event(
                actor, animal_id, commands.Export(permit_id=permit.id, occurred_on=when, port=data["port"])
            )
        return
    waiting = session.scalars(
        select(Animal).where(Animal.permit_line_id == line.id, Animal.state == AnimalState.DECLARED).order_by(Animal.id)
    ).all()
    described = list(raw.get("animals") or [])
    chosen = list(waiting[:count])
    for k in range(count - len(chosen)):
        spec = described[k] if k < len(described) else {}
        chosen.append(
            arrivals.declare(
                actor,
                line.id,
                load(
                    commands.DeclarationSchema,
                    {"sex": spec.get("sex") or "U", "identifiers": spec.get("identifiers") or []},
                ),
            )
        )
    for animal in chosen:
        if outcome == "cleared":
            animals.record_animal_event(actor, animal.id, commands.Enter(port=data["port"], occurred_on=when))
        elif outcome == "refused":
            reason = raw.get("reason") or "refused at the border"
            animals.record_animal_event(actor, animal.id, commands.RefuseEntry(reason=reason, occurred_on=when))
        else:
            seizure = {
                "facility_id": data.get("seizure_facility_id"),
                "reason": raw.get("reason") or "seized at the border",
                "occurred_on": when,
            }
            animals.record_animal_event(actor, animal.id, commands.event_command("seize", seizure))
