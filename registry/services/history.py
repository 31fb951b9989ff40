"""Event history: one search for the audit page, the API, the CLI and every export format."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, or_, select

from registry.extensions import db
from registry.i18n import N_, _
from registry.models import Animal, AuditEntry, AuditSubject, Facility, Identifier, Permit, PermitLine, Transfer
from registry.models.animal import identifier_key
from registry.services.errors import ValidationFailed

#: The filters a search understands, and what each matches (marked for translation: the search form shows them).
FILTERS = {
    "animal": N_("registry number or any identifier (microchip, ring...) of an animal"),
    "permit": N_("permit number, e.g. KR/2026/000123"),
    "species": N_("species id: its animals and permits"),
    "keeper": N_("party id: the animals it owns or holds, its facilities and applications"),
    "actor": N_("user name of whoever acted"),
    "action": N_("an action (permit.issue) or a family (permit.)"),
    "since": N_("first day, YYYY-MM-DD (UTC)"),
    "until": N_("last day, YYYY-MM-DD (UTC)"),
}


def parse(args) -> dict:
    """Keep the filters that are set, checked; unknown names are ignored, bad values refused."""
    found: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in FILTERS:
        value = (args.get(name) or "").strip() if hasattr(args, "get") else ""
        if not value:
            continue
        if len(value) > 150:
            errors[name] = _("at most %(count)s characters", count=150)
        elif name in ("species", "keeper"):
            if not (value.isascii() and value.isdigit()) or not 0 < int(value) < 2**31:
                errors[name] = _("an id")
            else:
                found[name] = int(value)
        elif name in ("since", "until"):
            try:
                found[name] = date.fromisoformat(value)
            except ValueError:
                errors[name] = _("a date as YYYY-MM-DD")
        else:
            found[name] = value
    if errors:
        raise ValidationFailed(_("the search has errors"), errors)
    return found


def _objects(kind: str, ids_query):
    return and_(AuditEntry.object_type == kind, AuditEntry.object_id.in_(ids_query))


def animal_subjects(value: str):
    """The audit subjects an ``animal`` filter follows, as a condition on AuditSubject: the animals
    it names (by registry number, or any identifier's value) and every identifier they carried.

    The animals and their marks are looked up first (a handful of rows, by index) and the condition
    names them as values: a condition holding subqueries made PostgreSQL scan the whole subject
    index, and walk the whole log, instead of reading this animal's few entries by
    (subject_type, subject_id, seq)."""
    named = db.session.scalars(
        select(Animal.id)
        .where(Animal.registry_no == value.upper())
        .union(
            select(Identifier.animal_id).where(
                or_(Identifier.value == value, Identifier.value_key == identifier_key(value))
            )
        )
    ).all()
    marks = db.session.scalars(select(Identifier.id).where(Identifier.animal_id.in_(named))).all() if named else []
    return or_(
        and_(AuditSubject.subject_type == "animal", AuditSubject.subject_id.in_(sorted(str(i) for i in named))),
        and_(AuditSubject.subject_type == "identifier", AuditSubject.subject_id.in_(sorted(str(i) for i in marks))),
    )


def query(filters: dict):
    """The entries matching *filters* (all of them), as a select without order."""
    q = select(AuditEntry)
    as_text = lambda column: cast(column, String)  # noqa: E731  (object ids are stored as text)
    if "animal" in filters:
        # Every entry that concerns the animal, whatever its object: a transfer, an endorsement, a chick's birth.
        q = q.where(AuditEntry.seq.in_(select(AuditSubject.seq).where(animal_subjects(filters["animal"]))))
    if "permit" in filters:
        permits = select(as_text(Permit.id)).where(Permit.number == filters["permit"].upper())
        q = q.where(_objects("permit", permits))
    if "species" in filters:
        sp = filters["species"]
        q = q.where(
            or_(
                _objects("animal", select(as_text(Animal.id)).where(Animal.species_id == sp)),
                _objects("permit", select(as_text(PermitLine.permit_id)).where(PermitLine.species_id == sp)),
                and_(AuditEntry.object_type == "species", AuditEntry.object_id == str(sp)),
            )
        )
    if "keeper" in filters:
        party = filters["keeper"]
        q = q.where(
            or_(
                _objects(
                    "animal",
                    select(as_text(Animal.id)).where(
                        or_(Animal.owner_party_id == party, Animal.holder_party_id == party)
                    ),
                ),
                _objects("facility", select(as_text(Facility.id)).where(Facility.holder_party_id == party)),
                _objects("permit", select(as_text(Permit.id)).where(Permit.applicant_party_id == party)),
            )
        )
    if "actor" in filters:
        q = q.where(AuditEntry.actor_name == filters["actor"].lower())
    if "action" in filters:
        action = filters["action"]
        q = q.where(AuditEntry.action.startswith(action) if action.endswith(".") else AuditEntry.action == action)
    if "since" in filters:
        q = q.where(AuditEntry.occurred_at >= datetime.combine(filters["since"], time.min, UTC))
    # The last day there is bounds nothing (and has no day after it).
    if "until" in filters and filters["until"] < date.max:
        q = q.where(AuditEntry.occurred_at < datetime.combine(filters["until"] + timedelta(days=1), time.min, UTC))
    return q


def link(entry: AuditEntry) -> tuple[str, dict] | None:
    """The page of the object an entry is about (endpoint and arguments), when it has one."""
    return subject_link(entry.object_type, entry.object_id)


def subject_link(kind: str, subject_id: str | None) -> tuple[str, dict] | None:
    """The page of a subject (endpoint and arguments), when it has one."""
    if subject_id is None or not (subject_id.isascii() and subject_id.isdigit()):
        return None
    pages = {"animal": ("animals.show", "animal_id"), "permit": ("permits.show", "permit_id")}
    if kind in pages:
        endpoint, arg = pages[kind]
        return endpoint, {arg: int(subject_id)}
    return None


#: How a subject is named to people, by type: the columns read (one query per type), then the name.
_NAMES: dict[str, tuple[Any, tuple, Any]] = {
    "animal": (Animal, (Animal.registry_no,), lambda r: r.registry_no),
    "identifier": (Identifier, (Identifier.kind, Identifier.value), lambda r: f"{r.kind} {r.value}"),
    "permit": (Permit, (Permit.number,), lambda r: r.number),
    "transfer": (Transfer, (Transfer.code,), lambda r: r.code),
    "facility": (Facility, (Facility.registration_no,), lambda r: r.registration_no),
}


def subject_names(subjects: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The human name of each (type, id) subject that has one now: an animal's registry number, an
    identifier's kind and value, a permit's number, a transfer's code, a facility's registration
    number. One query per type; subjects without a row or a name (a draft permit) are left out."""
    wanted: dict[str, set[int]] = {}
    for kind, subject_id in subjects:
        if kind in _NAMES and str(subject_id).isascii() and str(subject_id).isdigit():
            wanted.setdefault(kind, set()).add(int(subject_id))
    found = {}
    for kind, ids in wanted.items():
        model, columns, name = _NAMES[kind]
        for row in db.session.execute(select(model.id, *columns).where(model.id.in_(ids))):
            if name(row) is not None:
                found[(kind, str(row.id))] = name(row)
    return found
