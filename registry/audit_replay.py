"""Replaying the audit log: what one object's entries say its row holds now.

Pure functions over the entries' ``before``/``after`` dicts (already in their JSON form), with no
database, so they can be tested alone; ``registry.services.reconcile`` feeds them the log and
compares what they return with the tables.

An entry keeps only the keys that changed (``services.audit.diff``), and a creation entry has no
``before`` and a full ``after``: folding the ``after`` dicts in order gives the last state the log
knows. Entries may carry keys the row's snapshot does not have (``event`` on an animal's event,
``offered`` on a transfer offer...): they are folded too, and the comparison ignores them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple


class Entry(NamedTuple):
    """The part of an audit entry replaying needs."""

    seq: int
    action: str
    before: dict | None
    after: dict | None

    @classmethod
    def read(cls, seq: int, action: str, before, after) -> Entry:
        """From the stored columns. The application writes objects (or nothing); anything else was
        written behind its back (the chain check names the entry) and replays as an empty change."""
        return cls(seq, action, _object(before), _object(after))


def _object(value) -> dict | None:
    return value if value is None or isinstance(value, dict) else {}


def states(entries: Iterable[Entry]) -> Iterator[tuple[Entry, dict]]:
    """Each entry with the object's state once it is applied."""
    state: dict = {}
    for entry in entries:
        if entry.before is None:
            state = {}  # a creation entry: everything is in its after
        state = state | (entry.after or {})
        yield entry, state


def fold(entries: Iterable[Entry]) -> dict:
    """The object's state after the last of *entries* (empty when there are none)."""
    last: dict = {}
    for _entry, last in states(entries):  # noqa: B007 - the last one is the answer
        continue
    return last


def mismatches(table: dict, log: dict, skip: Iterable[str] = ()) -> Iterator[tuple[str, Any, Any]]:
    """(key, table value, log value) for each key of the row's snapshot *table* that the log also has
    and that differs. Keys the log never recorded are not guessed at."""
    skipped = set(skip)
    for key, value in table.items():
        if key in log and key not in skipped and log[key] != value:
            yield key, value, log[key]


def said(key: str, table: Any, log: Any) -> str:
    """How one differing value is reported."""
    return f"{key} is {_shown(table)} in the table, the log says {_shown(log)}"


def _shown(value: Any) -> str:
    return "empty" if value is None else str(value)


@dataclass
class Period:
    """An owner or holder period (a ``keeping`` row) as the log implies it."""

    relation: str
    party_id: int
    facility_id: int | None
    #: None only when the entry gives no date for the event (birth entries give the birth date).
    since: str | None
    until: str | None
    #: The timeline row of the event that opened it (None when the log's event has no row).
    event_id: int | None

    def as_row(self) -> dict:
        return {"party_id": self.party_id, "facility_id": self.facility_id, "since": self.since, "until": self.until}


class Keepers:
    """Who owns and holds an animal over time, replayed as ``services.keeping.place``/``release`` do.

    Only events that place or release the animal touch its periods: a declared or entered animal
    has its owner on the row but no owner period until it is placed.
    """

    def __init__(self) -> None:
        self.periods: list[Period] = []
        self._open: dict[str, Period | None] = {"owner": None, "holder": None}

    def keep(self, state: dict, since: str | None, event_id: int | None) -> None:
        """The animal was placed or released on *since*: its periods follow the row's owner, holder
        and facility in *state* (release leaves the owner as it is and clears the holder)."""
        self._keep("owner", state.get("owner_party_id"), None, since, event_id)
        self._keep("holder", state.get("holder_party_id"), state.get("facility_id"), since, event_id)

    def _keep(self, relation: str, party_id: int | None, facility_id: int | None, since: str | None, event_id) -> None:
        current = self._open[relation]
        if current is not None:
            if current.party_id == party_id and (relation == "owner" or current.facility_id == facility_id):
                return
            current.until = since
            self._open[relation] = None
        if party_id is not None:
            period = Period(relation, party_id, facility_id if relation == "holder" else None, since, None, event_id)
            self.periods.append(period)
            self._open[relation] = period


# ---------------------------------------------------------------- marks recorded only by their animal


def listed_marks(entries: Iterable[Entry]) -> tuple[Entry | None, list[tuple[str, str]]]:
    """The animal's creation entry and the marks it lists (``identifiers``: [kind, value] pairs).

    Until marks had entries of their own, this list was the only record of the marks an animal was
    declared or born with; newer creation entries still carry it.
    """
    for entry in entries:
        if entry.before is None and entry.after is not None:
            return entry, [(kind, value) for kind, value in entry.after.get("identifiers") or []]
    return None, []


def listed_mark_state(entries: Iterable[Entry], kind: str, value: str, freeing: Iterable[str], active: bool) -> dict:
    """What an animal's *entries* say of a mark its creation entry lists and that has no entry of its own.

    Events in *freeing* retire the animal's active marks. Their entries name the marks they freed
    (``released_identifiers``, "kind value") since the event details carried them; entries older than
    that do not say, and older still the events freed nothing: for those the row's *active* is
    taken as the answer, and only the date of a retirement is checked.
    """
    events = set(freeing)
    state: dict = {"kind": kind, "value": value, "active": True, "retired_on": None}
    for entry in entries:
        if not state["active"] or entry.action.split(".", 1)[1] not in events:
            continue
        after = entry.after or {}
        named = (after.get("event") or {}).get("released_identifiers")
        if named is None and active:
            continue
        if named is None or f"{kind} {value}" in named:
            state["active"] = False
            state["retired_on"] = after.get("occurred_on")
            if state["retired_on"] is None:
                del state["retired_on"]  # not guessed at
    return state


# ---------------------------------------------------------------- the subject index


def indexed(seq: int, object_type: str, object_id: str | None, subjects: list | None) -> set[tuple[str, str]]:
    """The (subject type, subject id) rows ``audit_subject`` must hold for entry *seq*: the subjects it
    names, or, for an entry older than subjects, its object (as the migration that added the index
    filled it in)."""
    if subjects is None:
        return set() if object_id is None else {(object_type, object_id)}
    # Only what the application writes counts (anything else fails the entry's hash check anyway).
    named = subjects if isinstance(subjects, list) else []
    return {(str(s.get("type")), str(s.get("id"))) for s in named if isinstance(s, dict)}
