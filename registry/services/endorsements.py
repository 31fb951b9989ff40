"""Customs endorsement: a consignment crosses the border on a permit.

One transaction records the actual quantities per line, moves the permit to partly or fully used,
and moves the animals: an entry declares and enters the live animals (or refuses or seizes them),
an exit exports the animals named. Whether the permit may be used at all (its state, its validity
on the day, entry or exit) is the permit lifecycle's to say; here are the rules that need its
lines: line numbers, quantities left, and the animals of each line.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from registry import clock
from registry.commands import animals as commands
from registry.commands import arrivals as arrival
from registry.commands.endorsements import Direction, Endorse, EndorseLine, Outcome
from registry.commands.permits import whole_number_problem
from registry.i18n import _
from registry.machines import PERMIT, AnimalState
from registry.machines.animal import export_refusal
from registry.models import Animal, EndorsedLine, Endorsement, Facility, Permit, PermitLine
from registry.permissions import Actor, require
from registry.services import animals, arrivals, audit, foreign_documents, identifiers, numbers
from registry.services.context import changed, lock_ids, write_transaction
from registry.services.errors import Conflict, ValidationFailed, refusals_as_conflict
from registry.services.permits import Context, locked

#: Term of the lines whose animals are followed one by one.
LIVE = "LIV"


def cleared(session, permit: Permit) -> dict[int, Decimal]:
    """What has crossed so far on each line of *permit*, by line id (one query)."""
    crossed = dict(
        session.execute(
            select(EndorsedLine.line_id, func.sum(EndorsedLine.quantity))
            .join(PermitLine, PermitLine.id == EndorsedLine.line_id)
            .where(PermitLine.permit_id == permit.id, EndorsedLine.outcome == Outcome.CLEARED.value)
            .group_by(EndorsedLine.line_id)
        ).all()
    )
    return {line.id: Decimal(crossed.get(line.id) or 0) for line in permit.lines}


@dataclass
class _Row:
    """One line of the endorsement, matched with the permit's line."""

    given: EndorseLine
    line: PermitLine
    #: Entry, live animals: each animal that crosses, as (the declared animal, or None for a new
    #: one; the description customs typed for it, whose marks it gets, or None).
    plan: list[tuple[Animal | None, arrival.Declaration | None]] = field(default_factory=list)


def endorse(actor: Actor, permit_id: int, command: Endorse) -> Endorsement:
    """Record what crossed (or was refused or seized) on *permit_id*, line by line.

    :raises Forbidden: the actor does not endorse permits.
    :raises NotFound: the permit is not visible to the actor.
    :raises Conflict: the permit lifecycle refuses (state, validity on the day, direction), or a
        line would cross beyond its quantity.
    :raises ValidationFailed: a line or an animal the command names is not on the permit.
    """
    require(actor, "permit.endorse")
    when = command.endorsed_on or clock.today()
    with write_transaction() as session:
        permit = locked(session, actor, permit_id)
        used = cleared(session, permit)
        # The lifecycle first: whether this permit may be used at all, on that day, that way, is
        # what customs needs to hear before anything about its lines.
        with refusals_as_conflict():
            t = PERMIT.transition(permit.state, _event(permit, command, used))
            PERMIT.check_guards(t, permit.state, Context(actor, permit, command, when))
        rows = _rows(session, permit, command, used)
        _lock_what_moves(session, rows, command)
        before = permit.as_audit()
        _record_foreign_document(session, permit, command, rows)
        # The ledger of foreign documents: one used up by another permit's clearances is refused.
        ledger = foreign_documents.check_border(session, actor, permit, command.override_reason)
        endorsement = Endorsement(
            permit_id=permit.id,
            direction=command.direction.value,
            port=command.port,
            transport_doc=command.transport_doc,
            endorsed_on=when,
            officer_id=actor.user_id,
            officer_name=actor.username,
        )
        session.add(endorsement)
        session.flush()
        moved: list[int] = []  # the animals that entered, left, or were refused or seized
        for row in rows:
            session.add(
                EndorsedLine(
                    endorsement_id=endorsement.id,
                    line_id=row.line.id,
                    quantity=row.given.quantity,
                    outcome=row.given.outcome.value,
                )
            )
            session.flush()
            if row.line.term_code == LIVE:
                moved += _move_animals(session, actor, permit, row, command, when)
        permit.state = t.target
        changed(permit)
        session.flush()
        crossed = sum((row.given.quantity for row in rows if row.given.outcome == Outcome.CLEARED), Decimal(0))
        foreign_documents.record_cleared(session, permit, crossed)
        audit.record(
            actor,
            "permit.endorse",
            "permit",
            permit.id,
            before,
            permit.as_audit()
            | {"endorsement": endorsement.as_audit()}
            | ({"foreign_document": ledger} if ledger and ledger["override_reason"] else {}),
            # The endorsement is in the history of every animal that crossed (or was stopped).
            subjects=[("animal", animal_id) for animal_id in moved],
        )
    return endorsement


def _record_foreign_document(session, permit: Permit, command: Endorse, rows: list[_Row]) -> None:
    """At entry, an import permit that does not quote the exporting country's document (an
    Appendix I import permit, granted first: Art. III.3) clears goods only once customs records
    that document's number and date, seen with the consignment: on the permit and in the ledger."""
    if permit.doc_type != "import" or command.direction != Direction.ENTRY:
        return
    if permit.foreign_permit_no is not None:
        given = foreign_documents.normalise(command.foreign_permit_no)
        if given is not None and given != foreign_documents.normalise(permit.foreign_permit_no):
            raise ValidationFailed(
                _("the permit quotes the exporting country's permit %(number)s", number=permit.foreign_permit_no),
                {
                    "foreign_permit_no": _(
                        "not the document the permit quotes (%(number)s)", number=permit.foreign_permit_no
                    )
                },
            )
        return
    if not any(row.given.outcome == Outcome.CLEARED for row in rows):
        return  # nothing enters: refused or seized goods need no export permit on record
    errors = {}
    if not command.foreign_permit_no:
        errors["foreign_permit_no"] = _("enter the exporting country's export permit that came with the consignment")
    if command.foreign_permit_date is None:
        errors["foreign_permit_date"] = _("enter the date of the exporting country's export permit")
    if errors:
        raise ValidationFailed(
            _("the import permit does not quote the exporting country's permit: record it to clear the goods"),
            errors,
        )
    number, day = command.foreign_permit_no, command.foreign_permit_date
    assert number is not None and day is not None  # refused above when missing
    foreign_documents.learn_after_issue(session, permit, number, day, clock.today())


def _lock_what_moves(session, rows: list[_Row], command: Endorse) -> None:
    """Every animal the endorsement moves, the facility seized animals go to and the registry
    numbers of new animals, locked after the permit and before the first animal's audit entry, in
    the one lock order (context.LOCK_ORDER): moving them one by one would take them after it."""
    ids = [i for row in rows if row.given.outcome == Outcome.CLEARED for i in row.given.animal_ids]
    ids += [animal.id for row in rows for animal, _d in row.plan if animal is not None]
    lock_ids(session, Animal, ids)
    if command.seizure_facility_id is not None and any(row.given.outcome == Outcome.SEIZED for row in rows):
        lock_ids(session, Facility, [command.seizure_facility_id])
    if any(animal is None for row in rows for animal, _d in row.plan):
        numbers.reserve("animal", clock.today().year)


def _event(permit: Permit, command: Endorse, used: dict[int, Decimal]) -> str:
    """``endorse_final`` when this consignment clears what is left of every line, else ``endorse``."""
    crossing: dict[int, Decimal] = defaultdict(Decimal)
    for given in command.lines:
        if given.outcome == Outcome.CLEARED:
            crossing[given.line_no] += given.quantity
    complete = all(used[line.id] + crossing[line.line_no] >= line.quantity for line in permit.lines)
    return "endorse_final" if complete else "endorse"


def _rows(session, permit: Permit, command: Endorse, used: dict[int, Decimal]) -> list[_Row]:
    """Each line of *command* with the permit's line, once the lines exist, hold whole animals,
    have enough left, and name the animals that leave.

    :raises Conflict: a line would cross beyond its quantity.
    :raises ValidationFailed: the problems, by field (``lines.0.quantity``).
    """
    by_no = {line.line_no: line for line in permit.lines}
    left = dict(used)
    errors: dict[str, str] = {}
    conflicts: dict[str, str] = {}
    named: set[int] = set()  # the animals named so far, on any line
    claimed: set[int] = set()  # the declared animals planned so far: a line given twice moves others
    rows = []
    for i, given in enumerate(command.lines):
        line = by_no.get(given.line_no)
        if line is None:
            errors[f"lines.{i}.line_no"] = _("no such line on this permit")
            continue
        problem = whole_number_problem(line.term_code, line.unit_code, given.quantity)
        if problem:
            errors[f"lines.{i}.quantity"] = problem
            continue
        if given.outcome == Outcome.CLEARED:
            if left[line.id] + given.quantity > line.quantity:
                raise Conflict(
                    _(
                        "line %(line)s allows %(allowed)s; %(used)s already crossed, %(more)s more would exceed it",
                        line=line.line_no,
                        allowed=f"{line.quantity.normalize():f}",
                        used=f"{left[line.id].normalize():f}",
                        more=f"{given.quantity.normalize():f}",
                    )
                )
            left[line.id] += given.quantity
        row = _Row(given, line)
        if line.term_code == LIVE:
            _check_animals(session, permit, line, given, command, f"lines.{i}", errors, conflicts, named)
            if permit.direction != "export":
                row.plan = _entry_plan(session, line, given, f"lines.{i}", errors, conflicts, claimed)
        else:
            for name in ("animals", "animal_ids"):
                if getattr(given, name):
                    errors[f"lines.{i}.{name}"] = _("only live animals (term LIV) are followed individually")
        rows.append(row)
    if errors:
        raise ValidationFailed(_("the endorsement has errors"), errors)
    if conflicts:
        raise Conflict(next(iter(conflicts.values())), conflicts)
    return rows


def _check_animals(
    session,
    permit: Permit,
    line: PermitLine,
    given: EndorseLine,
    command: Endorse,
    prefix: str,
    errors: dict,
    conflicts: dict,
    named: set[int],
) -> None:
    """At exit, the animals that left are named, once each, of the line's species, in captivity and
    owned or held by the permit's applicant (else a conflict on the line's ``animal_ids``); seized
    animals need a place."""
    if permit.direction != "export":
        if given.outcome == Outcome.SEIZED and command.seizure_facility_id is None:
            errors["seizure_facility_id"] = _("required: seized animals go to a rescue facility")
        return
    if given.outcome != Outcome.CLEARED:
        return
    count = int(given.quantity)
    if len(given.animal_ids) != count:
        errors[f"{prefix}.animal_ids"] = _("name the %(count)s animal(s) that left, by id", count=count)
        return
    for animal_id in given.animal_ids:
        animal = session.get(Animal, animal_id)
        if animal is None or animal.species_id != line.species_id:
            errors[f"{prefix}.animal_ids"] = _("animal %(animal)s is not of this line's species", animal=animal_id)
            return
        if animal_id in named:
            errors[f"{prefix}.animal_ids"] = _("animal %(animal)s is named more than once", animal=animal.registry_no)
            return
        named.add(animal_id)
        refusal = export_refusal(animal, permit)
        if refusal and f"{prefix}.animal_ids" not in conflicts:
            conflicts[f"{prefix}.animal_ids"] = refusal


def _chips(declaration: arrival.Declaration) -> list[str]:
    return [m.value for m in declaration.identifiers if m.kind == "microchip"]


def _entry_plan(
    session, line: PermitLine, given: EndorseLine, prefix: str, errors: dict, conflicts: dict, claimed: set[int]
) -> list[tuple[Animal | None, arrival.Declaration | None]]:
    """Which animals cross on an entry line, so that every microchip customs typed goes on one.

    A described animal whose chip was declared is that declared animal (its other chips must be
    declared on it too). The others go on animals declared without a chip, then on new animals;
    but while an animal declared with a chip has not been read, a chip that matches nothing is a
    mismatch (409 showing both). A chip active on any other animal cannot be matched (422). Left
    over places are the waiting declared animals in the order declared, then new animals. Animals
    in *claimed* (planned by an earlier part of the same line) are not waiting; the plan's are added.
    """
    count = int(given.quantity)
    waiting = session.scalars(
        select(Animal).where(Animal.permit_line_id == line.id, Animal.state == AnimalState.DECLARED).order_by(Animal.id)
    ).all()
    waiting = [a for a in waiting if a.id not in claimed]
    declared = {a.id: [i.value for i in a.identifiers if i.active and i.kind == "microchip"] for a in waiting}
    carrier = {chip: a for a in waiting for chip in declared[a.id]}
    where = f"{prefix}.animals"
    plan: list[tuple[Animal | None, arrival.Declaration | None]] = []
    unread: list[arrival.Declaration] = []
    for described in given.animals:
        scanned = _chips(described)
        hits = {carrier[c].id: carrier[c] for c in scanned if c in carrier}
        if len(hits) > 1:
            errors[where] = _(
                "microchips %(chips)s were declared on different animals: one animal cannot carry them",
                chips=", ".join(scanned),
            )
            return []
        if hits:
            animal = next(iter(hits.values()))
            if any(a is animal for a, _d in plan):
                errors[where] = _("animal %(animal)s is described more than once", animal=animal.registry_no)
                return []
            if set(scanned) - set(declared[animal.id]):
                conflicts[where] = _mismatch(declared[animal.id], scanned)
                return []
            plan.append((animal, described))
            continue
        taken = sorted(identifiers.active_microchips(session, scanned))
        if taken:
            errors[where] = _("microchip %(value)s is already active on another animal", value=", ".join(taken))
            return []
        unread.append(described)
    left = [a for a in waiting if not any(a is b for b, _d in plan)]
    unmatched = [c for d in unread for c in _chips(d)]
    still_declared = [c for a in left for c in declared[a.id]]
    if unmatched and still_declared:
        conflicts[where] = _mismatch(still_declared, unmatched)
        return []
    # Chips read on animals declared without one go on those, in the order declared; then new animals.
    unmarked = [a for a in left if not declared[a.id]]
    for described in [d for d in unread if d.identifiers]:
        plan.append((unmarked.pop(0) if unmarked else None, described))
    rest = [a for a in left if not any(a is b for b, _d in plan)]
    for described in [d for d in unread if not d.identifiers]:
        plan.append((rest.pop(0) if rest else None, described))
    while len(plan) < count:
        plan.append((rest.pop(0), None) if rest else (None, None))
    claimed.update(a.id for a, _d in plan if a is not None)
    return plan


def _mismatch(declared: list[str], scanned: list[str]) -> str:
    return _(
        "the microchips read at the border (%(scanned)s) do not match those declared (%(declared)s)",
        scanned=", ".join(scanned),
        declared=", ".join(declared),
    )


def _move_animals(session, actor: Actor, permit: Permit, row: _Row, command: Endorse, when: date) -> list[int]:
    """Move the line's animals across the border; returns their ids."""
    given, line = row.given, row.line
    if permit.direction == "export":
        if given.outcome != Outcome.CLEARED:
            return []  # animals stopped at exit stay where they are; the keeper's record is unchanged
        for animal_id in given.animal_ids:
            animals.record_animal_event(
                actor,
                animal_id,
                commands.Export(permit_id=permit.id, occurred_on=when, port=command.port, line_no=line.line_no),
            )
        return list(given.animal_ids)
    chosen = []
    for waiting, described in row.plan:
        if waiting is None:
            chosen.append(arrivals.declare(actor, line.id, described or arrival.Declaration()))
            continue
        has = {(i.kind, i.value) for i in waiting.identifiers if i.active}
        for mark in described.identifiers if described else ():
            if (mark.kind, mark.value) not in has:  # read at the border on an animal declared without it
                ident = identifiers.attach(session, waiting, mark, when)
                identifiers.record_attached(actor, ident, ("permit", permit.id))
        chosen.append(waiting)
    for animal in chosen:
        event: commands.AnimalEvent
        if given.outcome == Outcome.CLEARED:
            event = commands.Enter(port=command.port, occurred_on=when)
        elif given.outcome == Outcome.REFUSED:
            event = commands.RefuseEntry(reason=given.reason or "refused at the border", occurred_on=when)
        else:
            assert command.seizure_facility_id is not None  # _check_animals refused a seizure at entry without it
            event = commands.Seize(
                facility_id=command.seizure_facility_id, reason=given.reason or "seized at the border", occurred_on=when
            )
        animals.record_animal_event(actor, animal.id, event)
    return [animal.id for animal in chosen]
