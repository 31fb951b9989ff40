"""The audit log's hash chain: canonical form, hashing and verification.

Pure functions over plain dicts, with no database and no Flask, so the same
code checks the live table (``registry audit verify``) and an exported file on
an auditor's own machine.

entry_hash = SHA-256(canonical JSON of the entry's fields, including prev_hash),
where the canonical JSON has sorted keys, no spaces, UTF-8, and the timestamp
as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``. Each entry names its predecessor's hash, so
changing, removing, inserting or reordering any entry breaks the chain from
that point on.

``subjects`` lists every subject (animal, permit, transfer...) an entry concerns, each with the seq of
that subject's previous entry (``prev``), so one subject's entries form a chain of their own and an
export of its history can be proven complete. Entries written before subjects existed have none: the
key is left out of the canonical JSON when it is None, so their hashes are unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64

#: The fields covered by the hash, in the order they are exported.
FIELDS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_name",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "request_id",
    "client_addr",
    "subjects",
    "prev_hash",
)
#: Fields left out of the canonical form when None: entries older than the field keep their hash.
OPTIONAL = frozenset({"subjects"})
_REQUIRED = tuple(name for name in FIELDS if name not in OPTIONAL)
#: One encoder with the canonical options: ``json.dumps`` with options builds a new one per call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def format_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(entry: dict) -> bytes:
    """The hashed bytes: the fields as JSON with sorted keys, no spaces, UTF-8, the time as text.

    Defined by ``canonical_reference`` and equal to it byte for byte (tests/test_audit_canonical.py),
    without its per-call costs (a new encoder per ``json.dumps`` with options, the extra dict merges):
    the chain is rechecked whole, a million entries and more.
    """
    body = {name: entry[name] for name in _REQUIRED}
    for name in OPTIONAL:
        value = entry.get(name)
        if value is not None:
            body[name] = value
    when = body["occurred_at"]
    if isinstance(when, datetime):
        body["occurred_at"] = format_time(when)
    return _ENCODER.encode(body).encode("utf-8")


def canonical_reference(entry: dict) -> bytes:
    """The canonical form as defined: ``json.dumps`` of the fields, keys sorted, no spaces, UTF-8.

    ``canonical`` gives exactly these bytes, faster; this is the definition it is checked against, and
    what an auditor's own tool reimplements in a few lines.
    """
    body = {name: entry[name] for name in FIELDS if name not in OPTIONAL}
    body |= {name: entry[name] for name in OPTIONAL if entry.get(name) is not None}
    if isinstance(body["occurred_at"], datetime):
        body["occurred_at"] = format_time(body["occurred_at"])
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def compute_hash(entry: dict) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    #: Sequence number of the first entry found wrong (None when ok, or when the tail is missing).
    bad_seq: int | None = None
    problem: str | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.checked} entries verified"
        where = f"entry {self.bad_seq}" if self.bad_seq is not None else "chain"
        return f"audit chain BROKEN at {where}: {self.problem} ({self.checked} entries checked before it)"


def verify(entries: Iterable[dict], head: tuple[int, str] | None = None) -> Verdict:
    """Check entries given in storage order (by seq) against each other and the recorded head.

    *head* is (seq, entry_hash) of the last entry as recorded elsewhere; it is
    what catches an entry removed from the end, which the chain alone cannot.
    """
    expected_seq, prev = 1, GENESIS_HASH
    checked = 0
    for entry in entries:
        seq = entry["seq"]
        if seq != expected_seq:
            kind = "missing or reordered" if seq > expected_seq else "duplicated or reordered"
            return Verdict(False, checked, seq, f"expected seq {expected_seq}, found {seq}: entries {kind}")
        if entry["prev_hash"] != prev:
            return Verdict(
                False,
                checked,
                seq,
                "prev_hash does not match the previous entry's hash "
                "(an entry before it was removed, inserted or reordered)",
            )
        actual = compute_hash(entry)
        if actual != entry["entry_hash"]:
            return Verdict(False, checked, seq, "content does not match its hash (entry was changed)")
        prev, expected_seq = actual, expected_seq + 1
        checked += 1
    if head is not None:
        head_seq, head_hash = head
        if head_seq != checked or head_hash != prev:
            return Verdict(
                False,
                checked,
                None,
                f"the recorded chain head is entry {head_seq} but the log ends at entry {checked}"
                " (entries removed from the end, or the head was altered)",
            )
    return Verdict(True, checked)
