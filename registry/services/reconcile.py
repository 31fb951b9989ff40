"""Reconciling the tables with the audit log: every row the log describes, as the log says it is.

``registry audit verify`` proves the log was not rewritten; this proves the tables were not either
(an UPDATE, DELETE or INSERT behind the application's back). Per kind of object, the entries are
read ordered by (object_id, seq), a batch of objects at a time; each object's entries are folded
(``registry.audit_replay``) and its rows fetched with one IN query per table; rows that no entry
names are found by an anti-join. Memory stays flat whatever the size of the log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import String, cast, exists, select
from sqlalchemy.orm import selectinload

from registry.audit_replay import (
    Entry,
    Keepers,
    Period,
    fold,
    indexed,
    listed_mark_state,
    listed_marks,
    mismatches,
    said,
    states,
)
from registry.extensions import db
from registry.models import (
    Animal,
    AnimalEvent,
    AuditEntry,
    AuditSubject,
    Endorsement,
    Facility,
    Identifier,
    Keeping,
    Permit,
    Transfer,
)
from registry.services.animals import FREEING, REKEEPING
from registry.services.audit import jsonable

M = TypeVar("M")

#: Objects per batch: their entries and rows are in memory together.
BATCH = 200
#: The actions that are about an object's own row, by object type: an attachment's entry names the
#: animal or permit it is attached to, but says nothing of its row.
OWN_ACTIONS = {
    "animal": "animal.%",
    "identifier": "animal.identifier_%",
    "permit": "permit.%",
    "transfer": "transfer.%",
    "facility": "facility.%",
}


@dataclass(frozen=True)
class Difference:
    """One row (or one logged object) on which the tables and the log disagree."""

    #: The row in the registry's terms, e.g. "animal KR-A-2026-000012".
    row: str
    problem: str

    def __str__(self) -> str:
        return f"{self.row}: {self.problem}"


def reconcile(batch: int = BATCH) -> Iterator[Difference]:
    """Every difference between the domain tables and the state the audit log implies."""
    yield from _animals(batch)
    yield from _identifiers(batch)
    yield from _permits(batch)
    yield from _transfers(batch)
    yield from _facilities(batch)
    yield from _unlogged(batch)
    yield from _index(batch * 10)  # an entry is small next to an object with its rows


# ---------------------------------------------------------------- reading the log


def _histories(object_type: str, batch: int) -> Iterator[list[tuple[int, list[Entry]]]]:
    """Batches of (object id, its entries in order) for *object_type*, its own actions only."""
    session = db.session
    own = (AuditEntry.object_type == object_type, AuditEntry.action.like(OWN_ACTIONS[object_type]))
    last = None
    while True:
        q = select(AuditEntry.object_id).where(*own, AuditEntry.object_id.is_not(None)).distinct()
        if last is not None:
            q = q.where(AuditEntry.object_id > last)
        ids = [i for i in session.scalars(q.order_by(AuditEntry.object_id).limit(batch)) if i is not None]
        if not ids:
            return
        grouped: dict[str, list[Entry]] = defaultdict(list)
        for seq, object_id, action, before, after in session.execute(
            select(AuditEntry.seq, AuditEntry.object_id, AuditEntry.action, AuditEntry.before, AuditEntry.after)
            .where(*own, AuditEntry.object_id.in_(ids))
            .order_by(AuditEntry.object_id, AuditEntry.seq)
        ):
            grouped[object_id].append(Entry.read(seq, action, before, after))
        # An object_id that is not a number names no row of these tables: it is left to verify.
        yield [(int(i), grouped[i]) for i in ids if i.isdigit()]
        last = ids[-1]


def _own_entries(object_type: str, ids: list[int]) -> dict[int, list[Entry]]:
    """The entries of their own of the *object_type* objects with *ids*, by object, in order."""
    found: dict[int, list[Entry]] = defaultdict(list)
    if not ids:
        return found
    for seq, object_id, action, before, after in db.session.execute(
        select(AuditEntry.seq, AuditEntry.object_id, AuditEntry.action, AuditEntry.before, AuditEntry.after)
        .where(
            AuditEntry.object_type == object_type,
            AuditEntry.action.like(OWN_ACTIONS[object_type]),
            AuditEntry.object_id.in_([str(i) for i in ids]),
        )
        .order_by(AuditEntry.seq)
    ):
        found[int(object_id)].append(Entry.read(seq, action, before, after))
    return found


def _rows(model: type[M], ids: Iterable[int], *options: Any) -> dict[int, M]:
    """The rows of *model* with *ids*, fresh from the database (not as the session last saw them)."""
    table: Any = model  # every audited class has an integer id, which the type checker cannot see
    q = select(table).where(table.id.in_(list(ids))).options(*options).execution_options(populate_existing=True)
    return {row.id: row for row in db.session.scalars(q)}


def _children(model: type[M], parent: Any, ids: Iterable[int]) -> dict[int, list[M]]:
    """The rows of *model* whose *parent* column is in *ids*, by parent, in id order."""
    table: Any = model
    q = select(table).where(parent.in_(list(ids))).order_by(table.id).execution_options(populate_existing=True)
    found: dict[int, list[M]] = defaultdict(list)
    for row in db.session.scalars(q):
        found[getattr(row, parent.key)].append(row)
    return found


def _fields(name: str, table: dict, log: dict, skip: Iterable[str] = ()) -> Iterator[Difference]:
    for key, ours, theirs in mismatches(jsonable(table), log, skip):
        yield Difference(name, said(key, ours, theirs))


def _gone(name: str, entries: list[Entry]) -> Difference:
    return Difference(name, f"the log records it (last in entry {entries[-1].seq}) but the table has no row")


UNRECORDED = "no audit entry records it"


# ---------------------------------------------------------------- animals, their timeline and keepers


def _animals(batch: int) -> Iterator[Difference]:
    for group in _histories("animal", batch):
        ids = [i for i, _e in group]
        animals = _rows(Animal, ids)
        events = _children(AnimalEvent, AnimalEvent.animal_id, ids)
        periods = _children(Keeping, Keeping.animal_id, ids)
        marks = _children(Identifier, Identifier.animal_id, ids)
        own = _own_entries("identifier", [row.id for rows in marks.values() for row in rows])
        for animal_id, entries in group:
            animal = animals.get(animal_id)
            log = fold(entries)
            name = f"animal {animal.registry_no if animal else log.get('registry_no', f'#{animal_id}')}"
            if animal is None:
                yield _gone(name, entries)
                continue
            yield from _fields(name, animal.as_audit(), log)
            paired = yield from _timeline(animal.registry_no, entries, events[animal_id])
            yield from _keeping(animal.registry_no, entries, paired, periods[animal_id])
            yield from _listed(animal.registry_no, entries, marks[animal_id], own)


def _timeline(
    registry_no: str, entries: list[Entry], rows: list[AnimalEvent]
) -> Generator[Difference, None, dict[int, int | None]]:
    """Each ``animal.<event>`` entry against its timeline row: the one it names (``event_id``), else,
    for entries written before they named it, the next unclaimed row in order.

    Yields the differences; returns the row id of each entry's event (None when it has none).
    """
    left = {row.id: row for row in rows}
    paired: dict[int, AnimalEvent | None] = {}
    for entry in entries:
        named = (entry.after or {}).get("event_id")
        if named is not None:
            paired[entry.seq] = left.pop(named, None)
    for entry in entries:
        if entry.seq not in paired:
            paired[entry.seq] = left.pop(next(iter(left)), None) if left else None
    before: dict = {}
    for entry, state in states(entries):
        row, event = paired[entry.seq], entry.action.split(".", 1)[1]
        after = entry.after or {}
        if row is None:
            yield Difference(f"{event} of {registry_no} (entry {entry.seq})", "no timeline row (animal_event) has it")
        else:
            # Entries written before they carried the event's date and details are checked for the rest.
            logged = {"event": event, "from_state": before.get("state"), "to_state": state.get("state")}
            if "occurred_on" in after:
                logged["occurred_on"] = after["occurred_on"]
            if "event" in after:
                logged["details"] = after["event"]
            table = {
                "event": row.event,
                "from_state": row.from_state,
                "to_state": row.to_state,
                "occurred_on": row.occurred_on,
                "details": row.details,
            }
            yield from _fields(f"animal_event {row.id} ({row.event} of {registry_no})", table, logged)
        before = state
    for row in left.values():
        yield Difference(f"animal_event {row.id} ({row.event} of {registry_no})", UNRECORDED)
    return {seq: (row.id if row is not None else None) for seq, row in paired.items()}


def _keeping(registry_no: str, entries: list[Entry], events: dict, rows: list[Keeping]) -> Iterator[Difference]:
    """The owner and holder periods the animal's events imply, against its ``keeping`` rows (matched by
    relation and the event that opened them)."""
    keepers = Keepers()
    for entry, state in states(entries):
        event = entry.action.split(".", 1)[1]
        if event in REKEEPING:
            since = (entry.after or {}).get("occurred_on") or state.get("birth_date")
            keepers.keep(state, since, events.get(entry.seq))
    # Lists, not one row per key: a period inserted twice must leave its copy unmatched.
    table: dict[tuple[str, int | None], list[Keeping]] = {}
    for row in rows:
        table.setdefault((row.relation, row.event_id), []).append(row)
    for period in keepers.periods:
        matching = table.get((period.relation, period.event_id))
        if not matching:
            yield Difference(_period(period, registry_no), "the log implies it, but the table has no row")
            continue
        row = matching.pop(0)
        name = f"keeping {row.id} ({row.relation} period of {registry_no} since {row.since})"
        ours = {"party_id": row.party_id, "facility_id": row.facility_id, "since": row.since, "until": row.until}
        yield from _fields(name, ours, period.as_row())
    for row in (row for left in table.values() for row in left):
        yield Difference(f"keeping {row.id} ({row.relation} period of {registry_no} since {row.since})", UNRECORDED)


def _period(period: Period, registry_no: str) -> str:
    return f"{period.relation} period of {registry_no} since {period.since} (party {period.party_id})"


def _listed(
    registry_no: str, entries: list[Entry], rows: list[Identifier], own: dict[int, list[Entry]]
) -> Iterator[Difference]:
    """The animal's marks with no creation entry of their own (given with the animal before marks had
    entries) against the marks its creation entry lists: paired by kind and value, then the rest in
    order (they were attached in the list's order). A mark with no entry at all is replayed from the
    animal's entries; one retired by hand since has its own entries, checked with the other marks."""
    creation, listed = listed_marks(entries)
    unpaired = []
    for row in rows:
        created = next((e.after or {} for e in own.get(row.id, []) if e.before is None), None)
        if created is None:
            unpaired.append(row)
            continue
        mark = (str(created.get("kind")), str(created.get("value")))
        if mark in listed:  # newer creation entries list the marks that have their own entries too
            listed.remove(mark)
    pairs = []
    for row in list(unpaired):
        if (row.kind, row.value) in listed:
            listed.remove((row.kind, row.value))
            unpaired.remove(row)
            pairs.append((row, (row.kind, row.value)))
    while unpaired and listed:
        pairs.append((unpaired.pop(0), listed.pop(0)))
    for row, (kind, value) in pairs:
        logged = {"kind": kind, "value": value}
        if not own.get(row.id):
            logged = listed_mark_state(entries, kind, value, FREEING, row.active)
        yield from _fields(_mark(row, registry_no), row.as_audit(), logged)
    for kind, value in listed:
        assert creation is not None  # only a creation entry lists marks
        yield Difference(
            f"{kind} {value} of {registry_no}", f"the log records it (entry {creation.seq}) but the table has no row"
        )
    for row in unpaired:
        yield Difference(
            _mark(row, registry_no), UNRECORDED if not own.get(row.id) else "no audit entry records it attached"
        )


def _mark(row: Identifier, registry_no: str) -> str:
    return f"identifier {row.id} ({row.kind} {row.value} of {registry_no})"


# ---------------------------------------------------------------- identifiers, permits, transfers, facilities


def _identifiers(batch: int) -> Iterator[Difference]:
    for group in _histories("identifier", batch):
        rows = _rows(Identifier, [i for i, _e in group], selectinload(Identifier.animal))
        for identifier_id, entries in group:
            row = rows.get(identifier_id)
            log = fold(entries)
            name = f"identifier {identifier_id} ({log.get('kind')} {log.get('value')})"
            if row is None:
                yield _gone(name, entries)
                continue
            yield from _fields(_mark(row, row.animal.registry_no), row.as_audit(), log)


def _permits(batch: int) -> Iterator[Difference]:
    for group in _histories("permit", batch):
        ids = [i for i, _e in group]
        permits = _rows(Permit, ids, selectinload(Permit.lines))
        endorsements = _children(Endorsement, Endorsement.permit_id, ids)
        for permit_id, entries in group:
            permit = permits.get(permit_id)
            log = fold(entries)
            if permit is None:
                yield _gone(f"permit {log.get('number') or f'#{permit_id}'}", entries)
                continue
            name = f"permit {permit.number or f'#{permit.id}'}"
            yield from _fields(name, permit.as_audit(), log, skip=("lines",))
            if "lines" in log:
                yield from _lines(name, permit, log["lines"])
            logged = [e.after["endorsement"] for e in entries if e.after and "endorsement" in e.after]
            yield from _endorsements(name, logged, endorsements[permit_id])


def _lines(name: str, permit: Permit, logged: list[dict]) -> Iterator[Difference]:
    """A permit's lines, matched by line number (unique on a permit)."""
    table = {line.line_no: line for line in permit.lines}
    for line in logged:
        row = table.pop(line["line_no"], None)
        if row is None:
            yield Difference(f"line {line['line_no']} of {name}", "the log records it, but the table has no row")
        else:
            yield from _fields(f"permit_line {row.id} (line {row.line_no} of {name})", row.as_audit(), line)
    for row in table.values():
        yield Difference(f"permit_line {row.id} (line {row.line_no} of {name})", UNRECORDED)


def _endorsements(name: str, logged: list[dict], rows: list[Endorsement]) -> Iterator[Difference]:
    """The permit's endorsements as its ``permit.endorse`` entries recorded them: by id, else (entries
    written before they named it) the next unclaimed endorsement in order."""
    left = {row.id: row for row in rows}
    claimed = [left.pop(e["id"], None) if e.get("id") is not None else None for e in logged]
    for i, e in enumerate(logged):
        if e.get("id") is None and left:
            claimed[i] = left.pop(next(iter(left)))
    for e, row in zip(logged, claimed, strict=True):
        if row is None:
            which = f"endorsement {e['id']}" if e.get("id") is not None else "an endorsement"
            yield Difference(f"{which} of {name}", "the log records it, but the table has no row")
            continue
        label = f"endorsement {row.id} of {name}"
        yield from _fields(label, row.as_audit(), e, skip=("lines",))
        yield from _endorsed_lines(row, e.get("lines", []))
    for row in left.values():
        yield Difference(f"endorsement {row.id} of {name}", UNRECORDED)


def _endorsed_lines(endorsement: Endorsement, logged: list[dict]) -> Iterator[Difference]:
    table = {line.id: line for line in endorsement.lines}
    order = list(table)
    for i, line in enumerate(logged):
        key = line.get("id", order[i] if i < len(order) else None)
        row = table.pop(key, None) if key is not None else None
        if row is None:
            yield Difference(
                f"endorsed line {line.get('id', i + 1)} of endorsement {endorsement.id}",
                "the log records it, but the table has no row",
            )
            continue
        snapshot = {"line_no": row.line.line_no, "quantity": row.quantity, "outcome": row.outcome}
        yield from _fields(f"endorsed_line {row.id} of endorsement {endorsement.id}", snapshot, line)
    for row in table.values():
        yield Difference(f"endorsed_line {row.id} of endorsement {endorsement.id}", UNRECORDED)


def _transfers(batch: int) -> Iterator[Difference]:
    for group in _histories("transfer", batch):
        rows = _rows(Transfer, [i for i, _e in group], selectinload(Transfer.animals))
        for transfer_id, entries in group:
            row = rows.get(transfer_id)
            if row is None:
                yield _gone(f"transfer #{transfer_id}", entries)
                continue
            log = fold(entries)
            if "animals" in log:
                # In id order, as the table lists them: older offers logged them in the order the database
                # happened to return them.
                log["animals"] = sorted(log["animals"])
            yield from _fields(f"transfer {row.code}", row.as_audit(), log)


def _facilities(batch: int) -> Iterator[Difference]:
    for group in _histories("facility", batch):
        rows = _rows(Facility, [i for i, _e in group], selectinload(Facility.allowances))
        for facility_id, entries in group:
            row = rows.get(facility_id)
            log = fold(entries)
            if row is None:
                yield _gone(f"facility {log.get('registration_no') or f'#{facility_id}'}", entries)
                continue
            name = f"facility {row.registration_no or f'#{row.id}'}"
            table = jsonable(row.as_audit())
            yield from _fields(name, table, log, skip=("allowances",))
            if "allowances" in log:
                ours, theirs = table["allowances"], log["allowances"]
                for species in sorted(set(ours) | set(theirs), key=int):
                    if ours.get(species) != theirs.get(species):
                        yield Difference(
                            f"facility_species (species {species} in {name})",
                            said("capacity", ours.get(species), theirs.get(species)),
                        )


# ---------------------------------------------------------------- rows no entry names


def _unlogged(batch: int) -> Iterator[Difference]:
    """Rows of the audited tables that no entry of their own kind names (an INSERT behind the
    application's back); rows inside a logged object (lines, periods...) are checked with it, and so
    are the marks of a logged animal (``_listed``: older ones are recorded only by its entry)."""
    kinds = (
        (Animal, "animal", lambda a: f"animal {a.registry_no}", None),
        (Identifier, "identifier", lambda i: f"identifier {i.id} ({i.kind} {i.value})", _logged(Identifier.animal_id)),
        (Permit, "permit", lambda p: f"permit {p.number or f'#{p.id}'}", None),
        (Transfer, "transfer", lambda t: f"transfer {t.code}", None),
        (Facility, "facility", lambda f: f"facility {f.registration_no or f'#{f.id}'}", None),
    )
    session = db.session
    model: Any
    for model, object_type, named, checked_elsewhere in kinds:
        unlogged = ~_logged(model.id, object_type)
        if checked_elsewhere is not None:
            unlogged = unlogged & ~checked_elsewhere
        last = 0
        while True:
            chunk = session.scalars(
                select(model).where(unlogged, model.id > last).order_by(model.id).limit(batch)
            ).all()
            if not chunk:
                break
            for row in chunk:
                yield Difference(named(row), UNRECORDED)
            last = chunk[-1].id


def _logged(column: Any, object_type: str = "animal") -> Any:
    """Whether an entry of *object_type*'s own actions names the id in *column*."""
    return exists().where(
        AuditEntry.object_type == object_type,
        AuditEntry.action.like(OWN_ACTIONS[object_type]),
        AuditEntry.object_id == cast(column, String),
    )


# ---------------------------------------------------------------- the subject index


def _index(batch: int) -> Iterator[Difference]:
    """``audit_subject`` against the subjects the entries name, a batch of entries at a time: a row
    missing leaves the entry out of its subjects' exports, a row too many puts a stranger's entry in."""
    session = db.session
    last: int | None = None
    while True:
        q = select(AuditEntry.seq, AuditEntry.object_type, AuditEntry.object_id, AuditEntry.subjects)
        if last is not None:
            q = q.where(AuditEntry.seq > last)
        chunk = session.execute(q.order_by(AuditEntry.seq).limit(batch)).all()
        rows = select(AuditSubject.subject_type, AuditSubject.subject_id, AuditSubject.seq)
        if last is not None:
            rows = rows.where(AuditSubject.seq > last)
        if chunk:
            rows = rows.where(AuditSubject.seq <= chunk[-1].seq)  # the last batch takes every row beyond
        table = {(kind, i, seq) for kind, i, seq in session.execute(rows)}
        for e in chunk:
            for kind, i in sorted(indexed(e.seq, e.object_type, e.object_id, e.subjects)):
                if (kind, i, e.seq) in table:
                    table.remove((kind, i, e.seq))
                else:
                    yield Difference(_indexed(kind, i, e.seq), f"entry {e.seq} names {kind} {i} but the index lacks it")
        entries = {e.seq for e in chunk}
        for kind, i, seq in sorted(table, key=lambda r: (r[2], r[0], r[1])):
            problem = f"entry {seq} does not name {kind} {i}" if seq in entries else f"there is no entry {seq}"
            yield Difference(_indexed(kind, i, seq), f"the index has it, but {problem}")
        if not chunk:
            return
        last = chunk[-1].seq


def _indexed(kind: str, subject_id: str, seq: int) -> str:
    return f"audit_subject {kind} {subject_id} -> entry {seq}"
