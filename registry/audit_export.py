"""Verifiable audit exports: JSON Lines that an auditor checks offline, without the database.

Line 1 is a header (the query, who exported, the registry's public key). Each entry line carries
the entry's fields, its hash, and the registry's Ed25519 signature of (seq, hash). The last line is
a signed manifest: how many entries, which sequence numbers (as ranges), a digest of their hashes,
and the chain head at export time. So the verifier can name a changed entry (its hash is wrong), an
inserted one (no valid signature, or a number outside the manifest), a removed one (a number in the
manifest that is missing), a reordered one, and an export cut short (no manifest).

An export of one animal's history also proves it complete. Its manifest states, for each subject it
follows (the animal, its identifiers), the subject's latest entry at export time; each entry names its
subjects with the seq of the subject's previous entry (``prev``). Following those links from the latest
entry back to ``prev: null`` must visit exactly the entries in the file, so an entry the export left
out is named even when the manifest agrees with the file (a registry whose index lost it). Entries
written before subjects existed carry no links: the chain stops at the first one, and the verdict says
the history is complete from that entry on, not before. The manifest also gives each subject's name as
the registry knew it at export time (signed with the manifest; exports older than names give only ids).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from registry import audit_chain, signing

FORMAT = "wildlife-registry-audit-export/1"


#: What ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` writes, with one
#: encoder for the whole export instead of a new one per line.
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _manifest_message(header: dict, manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return _dumps(
        {"header": {k: header[k] for k in ("format", "origin", "query", "key_fingerprint")}, "manifest": body}
    ).encode()


def export_lines(
    entries: Iterable[dict],
    *,
    signer: signing.Signer,
    origin: str,
    query: dict,
    exported_by: str,
    exported_at: str,
    head: tuple[int, str],
    subjects: list[dict] | None = None,
) -> Iterator[str]:
    """Stream the export, one line at a time: memory stays flat whatever the number of entries.

    *subjects*, for an export of one subject's whole history, are ``{"type", "id", "latest"}`` for
    each subject it follows, with its ``name`` (an animal's registry number...) when it has one: the
    manifest states them, signed, and the verdict names each subject by it.
    """
    header = {
        "type": "header",
        "format": FORMAT,
        "origin": origin,
        "query": query,
        "exported_by": exported_by,
        "exported_at": exported_at,
        "public_key": signer.public_pem,
        "key_fingerprint": signer.fingerprint,
    }
    yield _dumps(header) + "\n"
    ranges: list[list[int]] = []
    digest = hashlib.sha256()
    count = 0
    sign, message = signer.sign, signing.entry_message
    for entry in entries:
        seq, entry_hash = entry["seq"], entry["entry_hash"]
        line = dict(entry, type="entry", sig=sign(message(origin, seq, entry_hash)))
        if not isinstance(line["occurred_at"], str):
            line["occurred_at"] = audit_chain.format_time(line["occurred_at"])
        yield _dumps(line) + "\n"
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
        digest.update(entry_hash.encode())
        count += 1
    manifest = {
        "type": "manifest",
        "count": count,
        "ranges": ranges,
        "digest": digest.hexdigest(),
        "head": {"seq": head[0], "entry_hash": head[1]},
    }
    if subjects is not None:
        manifest["subjects"] = subjects
    manifest["signature"] = signer.sign(_manifest_message(header, manifest))
    yield _dumps(manifest) + "\n"


@dataclass
class ExportVerdict:
    entries: int = 0
    fingerprint: str | None = None
    problems: list[str] = field(default_factory=list)
    #: What following the subjects' links proved (an export of one animal's history), else None.
    history: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            intact = f"export intact: {self.entries} entries verified, signed by key {self.fingerprint}"
            return intact if self.history is None else f"{intact}\n{self.history}"
        return "export BROKEN:\n" + "\n".join(f"  - {p}" for p in self.problems)


def _merged(ranges: Iterable) -> list[list[int]]:
    """Ranges of sequence numbers ([first, last], both included) sorted and joined where they touch."""
    out: list[list[int]] = []
    for start, end in sorted((int(start), int(end)) for start, end in ranges):
        if out and start <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out


def _minus(ranges: list[list[int]], taken: list[list[int]]) -> Iterator[int]:
    """The numbers in *ranges* that are not in *taken* (both merged), in order: no set of every number."""
    i = 0
    for start, end in ranges:
        at = start
        while i < len(taken) and taken[i][1] < at:
            i += 1
        j = i
        while at <= end:
            if j < len(taken) and taken[j][0] <= at:
                at = max(at, taken[j][1] + 1)
                j += 1
                continue
            stop = end if j >= len(taken) else min(end, taken[j][0] - 1)
            yield from range(at, stop + 1)
            at = stop + 1


class _Rewind:
    """Reading the lines a second time, when they can be: a list, or a file that can seek."""

    def __init__(self, lines: Iterable[str]):
        stream: Any = lines  # a file, when it has seekable()
        self.lines, self.start = stream, None
        if not isinstance(lines, Sequence) and getattr(stream, "seekable", lambda: False)():
            self.start = stream.tell()

    @property
    def possible(self) -> bool:
        return isinstance(self.lines, Sequence) or self.start is not None

    def __call__(self) -> Iterable[str]:
        if self.start is not None:
            self.lines.seek(self.start)
        return self.lines


def verify_export(
    lines: Iterable[str], trusted_fingerprint: str | None = None, *, every_signature: bool = False
) -> ExportVerdict:
    """Check an export file offline. *trusted_fingerprint* pins the registry's published key.

    One pass in constant memory: the numbers seen are kept as ranges, and the subject links only for an
    export of one animal's history. When the signed manifest accounts for the file (every entry's hash
    right; the numbers, the count and the digest of the hashes those it signed), its signature proves
    every entry, so the entries' own signatures are not checked one by one (they were nine-tenths of
    the time). When it does not, the file is read again checking every entry's signature, to name the
    entries the registry did not sign: the verdict is then the one *every_signature* gives. A one-time
    stream (neither a list nor a seekable file) is checked with every signature in its one pass.
    """
    rewind = _Rewind(lines)
    if every_signature or not rewind.possible:
        return _scan(lines, trusted_fingerprint, signatures=True)
    verdict = _scan(rewind(), trusted_fingerprint, signatures=False)
    if verdict.ok:
        return verdict
    return _scan(rewind(), trusted_fingerprint, signatures=True)


def _scan(lines: Iterable[str], trusted_fingerprint: str | None, *, signatures: bool) -> ExportVerdict:
    verdict = ExportVerdict()
    header = manifest = key = None
    seen: list[list[int]] = []  # the entries' numbers as ranges, in file order
    digest = hashlib.sha256()
    last_seq = None
    #: Each entry's subjects (None for an entry older than subjects) and object, by seq: the links to
    #: follow. Kept only for an export of one animal's history, the one kind whose manifest names subjects.
    links: dict[int, tuple[list | None, tuple]] | None = None
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            verdict.problems.append(f"line {number} is not complete JSON (the file was cut or damaged)")
            continue
        kind = line.get("type") if isinstance(line, dict) else None
        if header is None:
            if kind != "header" or line.get("format") != FORMAT:
                verdict.problems.append("the file does not start with an audit export header")
                return verdict
            header = line
            try:
                key = signing.public_key(header["public_key"])
                verdict.fingerprint = signing.fingerprint(header["public_key"])
            except (KeyError, ValueError):
                verdict.problems.append("the header's public key is unreadable")
                return verdict
            if trusted_fingerprint and verdict.fingerprint != trusted_fingerprint:
                verdict.problems.append(
                    f"signed with key {verdict.fingerprint}, not the registry's published key {trusted_fingerprint}"
                )
            query = header.get("query")
            if isinstance(query, dict) and set(query) == {"animal"}:
                links = {}
            continue
        assert key is not None  # read together with the header, or the export was rejected above
        if manifest is not None:
            verdict.problems.append(f"line {number}: content after the signed manifest (appended)")
            continue
        if kind == "manifest":
            manifest = line
            continue
        if kind != "entry":
            verdict.problems.append(f"line {number}: not an entry")
            continue
        seq = line.get("seq")
        if type(seq) is not int:
            verdict.problems.append(f"line {number}: an entry without a sequence number")
            continue
        try:
            actual = audit_chain.compute_hash(line)
        except (KeyError, TypeError, ValueError):
            verdict.problems.append(f"entry {seq} (line {number}): fields are missing")
            continue
        if actual != line.get("entry_hash"):
            verdict.problems.append(f"entry {seq}: content changed (it no longer matches its hash)")
        elif signatures and not signing.valid(
            key, signing.entry_message(header["origin"], seq, line["entry_hash"]), line.get("sig", "")
        ):
            verdict.problems.append(f"entry {seq}: not signed by the registry (inserted or altered)")
        if last_seq is not None and seq <= last_seq:
            verdict.problems.append(f"entry {seq}: out of order (it follows entry {last_seq})")
        last_seq = seq
        if seen and seen[-1][1] == seq - 1:
            seen[-1][1] = seq
        else:
            seen.append([seq, seq])
        if links is not None:
            links[seq] = (line.get("subjects"), (line.get("object_type"), line.get("object_id")))
        digest.update(str(line.get("entry_hash")).encode())
        verdict.entries += 1
    if header is None:
        verdict.problems.append("the file is empty")
        return verdict
    assert key is not None  # read together with the header
    if manifest is None:
        where = f"after entry {last_seq}" if last_seq is not None else "before any entry"
        verdict.problems.append(f"the export was cut short {where}: the signed manifest is missing")
        return verdict
    if not signing.valid(key, _manifest_message(header, manifest), manifest.get("signature", "")):
        verdict.problems.append("the manifest's signature is invalid: the list of entries was altered")
        return verdict
    expected, present = _merged(manifest["ranges"]), _merged(seen)
    for seq in _minus(expected, present):
        verdict.problems.append(f"entry {seq}: removed (the signed manifest lists it)")
    for seq in _minus(present, expected):
        verdict.problems.append(f"entry {seq}: inserted (not in the signed manifest)")
    if not verdict.problems and (manifest["count"] != verdict.entries or manifest["digest"] != digest.hexdigest()):
        verdict.problems.append("the entries differ from those that were signed")
    if manifest.get("subjects"):
        if links is None:  # the registry states subjects only for one animal's history
            verdict.problems.append("the manifest names subjects but the export is not one animal's history")
        else:
            _check_history(manifest["subjects"], links, verdict)
    return verdict


def _prev(links: list, kind: str, ident: str):
    """The ``prev`` the entry's subject *links* give for the subject, or ``...`` when they do not name it."""
    for link in links:
        if isinstance(link, dict) and (link.get("type"), link.get("id")) == (kind, ident):
            return link.get("prev")
    return ...


def _resume(links: dict[int, tuple[list | None, tuple]], kind: str, ident: str, below: int) -> int | None:
    """After a missing entry, the file's latest entry before it that concerns the subject: the check goes
    on from there, so one missing entry is named once and the rest of the history is still checked."""
    for seq in sorted((s for s in links if s < below), reverse=True):
        subjects, obj = links[seq]
        if (subjects is None and obj == (kind, ident)) or (
            subjects is not None and _prev(subjects, kind, ident) is not ...
        ):
            return seq
    return None


def _check_history(subjects: list, links: dict[int, tuple[list | None, tuple]], verdict: ExportVerdict) -> None:
    """Follow each subject's links from its latest entry (as the signed manifest states it) back to its
    first: they must visit exactly the entries in the file. A chain that reaches an entry older than
    subject links stops there: the history is proven from that entry on, not before."""
    reached: set[int] = set()
    floor = None  # the entry from which on the history is proven, when a chain stopped at an older one
    names = []
    for subject in subjects:
        kind, ident, seq = subject.get("type"), subject.get("id"), subject.get("latest")
        name = subject.get("name")  # exports older than names carry only the id
        label = f"{kind} {name} (id {ident})" if isinstance(name, str) and name else f"{kind} {ident}"
        names.append(label)
        came_from = f"the signed manifest names it as the latest entry concerning {label}"
        while seq is not None:
            if seq not in links:
                verdict.problems.append(f"entry {seq} concerning {label} is missing: {came_from}")
                seq, came_from = _resume(links, kind, ident, seq), "no entry in the file links to it"
                continue
            reached.add(seq)
            own = links[seq][0]
            if own is None:  # older than subject links: nothing to follow from here
                floor = seq if floor is None else max(floor, seq)
                break
            prev = _prev(own, kind, ident)
            if prev is ... or (prev is not None and (not isinstance(prev, int) or prev >= seq)):
                verdict.problems.append(f"entry {seq} does not link back within {label}'s history")
                break
            came_from = f"entry {seq} links to it"
            seq = prev
    earlier = []
    for seq in sorted(set(links) - reached):
        if links[seq][0] is None and floor is not None and seq < floor:
            earlier.append(seq)  # older than subject links, before the proven part: cannot be proven
        else:
            verdict.problems.append(f"entry {seq}: no link of {', '.join(names)} leads to it (not in its history)")
    if verdict.problems:
        return
    latest = max((s.get("latest") or 0 for s in subjects), default=0)
    if floor is None:
        verdict.history = f"complete history of {', '.join(names)}: {len(links)} entries, latest entry {latest}"
    else:
        verdict.history = (
            f"history of {', '.join(names)} complete from entry {floor} on ({len(links) - len(earlier)} entries, "
            f"latest entry {latest}); the {len(earlier)} earlier entries predate subject links and cannot be "
            "proven complete"
        )
