"""Verification and exports at volume (issue #13): rows streamed without ORM objects, the offline
verifier in constant memory and proving intact files by the manifest's signature, exports unchanged."""

import csv
import io
import json
import tracemalloc
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, insert, select, update

from registry import audit_chain, audit_export, signing
from registry.cli import verify_audit
from registry.csv_cells import cell
from registry.extensions import db
from registry.models import AuditEntry, AuditHead
from registry.models.base import utcnow
from registry.services import anchor, audit, exports, history

#: Values an entry can carry that a serialiser could get wrong: Korean, None, nesting, formula-like text.
AWKWARD = [
    None,
    {"state": "in_captivity", "name": "호랑이", "details": {"marks": ["칩", None, 3], "ok": True}},
    {"cause": '=HYPERLINK("x")', "note": 'quote " and \\ and\nnewline', "n": 12345678901234567890},
    {"list": [], "empty": {}, "deep": {"a": {"b": {"c": ["가", {"d": None}]}}}},
]


def _append(session, count: int) -> None:
    """*count* valid, signed entries straight into the table (what record() writes, without the services)."""
    head = session.get(AuditHead, 1)
    seq, prev, now = head.seq, head.entry_hash, utcnow()
    rows = []
    for i in range(count):
        seq += 1
        row = {
            "seq": seq,
            "occurred_at": now + timedelta(microseconds=i),
            "actor_id": None if i % 3 else 7,
            "actor_name": ["관리자", "@keeper", "system:bulk"][i % 3],
            "actor_role": "keeper",
            "action": "test.bulk",
            "object_type": "animal",
            "object_id": None if i % 5 == 4 else str(i % 7),
            "before": AWKWARD[i % 4],
            "after": AWKWARD[(i + 1) % 4],
            "request_id": "-1+1" if i % 2 else None,
            "client_addr": "10.0.0.1",
            "subjects": None if i % 4 == 0 else [{"type": "animal", "id": str(i % 7), "prev": None}],
            "prev_hash": prev,
        }
        row["entry_hash"] = prev = audit_chain.compute_hash(row)
        row["signature"] = anchor.sign_entry(seq, prev)
        rows.append(row)
    session.execute(insert(AuditEntry), rows)
    session.execute(update(AuditHead).values(seq=seq, entry_hash=prev))
    session.commit()


@pytest.fixture
def bulk(world, session):
    _append(session, 60)
    return session


def test_database_verify_loads_no_orm_entries(bulk):
    """Rows come as plain tuples: no AuditEntry object is built, so none piles up in the session."""
    loaded = []
    listener = lambda target, context: loaded.append(target.seq)  # noqa: E731
    event.listen(AuditEntry, "load", listener)
    try:
        verdict = audit.verify_database()
    finally:
        event.remove(AuditEntry, "load", listener)
    assert verdict.ok and verdict.checked >= 60
    assert loaded == []


# --- Exports: the same bytes as the implementation before #13 (kept here as the reference) ---------


def _reference_entries(filters: dict, up_to: int):
    columns = [AuditEntry.__table__.c[name] for name in (*audit_chain.FIELDS, "entry_hash")]
    base = history.query(filters).where(AuditEntry.seq <= up_to).with_only_columns(*columns)
    last = 0
    while True:
        batch = db.session.execute(base.where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(7)).all()
        if not batch:
            return
        for record in batch:
            row = dict(record._mapping)
            row["occurred_at"] = audit_chain.format_time(row["occurred_at"])
            yield row
        last = batch[-1].seq


def _reference_csv(rows) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*audit_chain.FIELDS, "entry_hash"])
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, (dict, list)) else cell(v)
                for k, v in row.items()
            }
        )
    return out.getvalue()


def _reference_lines(entries, signer, origin) -> list[str]:
    out = []
    for entry in entries:
        line = dict(
            entry, type="entry", sig=signer.sign(signing.entry_message(origin, entry["seq"], entry["entry_hash"]))
        )
        out.append(json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n")
    return out


def test_csv_export_is_unchanged(bulk, world):
    chunks, _, _ = exports.export(world.actor("auditor"), {}, "csv")
    # The export records itself (and perhaps a checkpoint) first, then reads up to the head.
    head = bulk.execute(select(AuditHead.seq)).scalar_one()
    text = "".join(chunks)
    assert text == _reference_csv(_reference_entries({}, head))
    assert "'@keeper" in text and "'-1+1" in text and "호랑이" in text and "=HYPERLINK" in text


def test_jsonl_export_is_unchanged(app, bulk, world):
    signer, origin = anchor.signer(), app.config["AUDIT_ORIGIN"]
    chunks, _, _ = exports.export(world.actor("auditor"), {"action": "test.bulk"}, "jsonl")
    lines = "".join(chunks).splitlines(keepends=True)
    head = bulk.execute(select(AuditHead.seq)).scalar_one()
    assert lines[1:-1] == _reference_lines(_reference_entries({"action": "test.bulk"}, head), signer, origin)
    assert len(lines) == 62 and audit_export.verify_export(lines).ok
    whole = list(
        audit_export.export_lines(
            iter(_reference_entries({}, head)),
            signer=signer,
            origin=origin,
            query={},
            exported_by="auditor",
            exported_at="20260101T000000Z",
            head=(head, "x"),
        )
    )
    header, manifest = json.loads(whole[0]), json.loads(whole[-1])
    # Header and manifest lines: the same encoding as before (sorted keys, no spaces, UTF-8).
    for obj, line in ((header, whole[0]), (manifest, whole[-1])):
        assert line == json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


# --- The offline verifier -----------------------------------------------------------------------


def _export_file(app, bulk, world, tmp_path, filters=None):
    chunks, _, _ = exports.export(world.actor("auditor"), filters or {"action": "test.bulk"}, "jsonl")
    path = tmp_path / "export.jsonl"
    path.write_text("".join(chunks), encoding="utf-8")
    return path


def _count_signature_checks(monkeypatch) -> list:
    checked = []
    original = signing.valid
    monkeypatch.setattr(signing, "valid", lambda *a: checked.append(1) or original(*a))
    return checked


def test_intact_file_is_proven_by_the_manifest_alone(app, bulk, world, tmp_path, monkeypatch):
    path = _export_file(app, bulk, world, tmp_path)
    checked = _count_signature_checks(monkeypatch)
    with path.open(encoding="utf-8") as lines:
        verdict = audit_export.verify_export(lines)
    assert verdict.ok and verdict.entries == 60
    assert len(checked) == 1  # the manifest's signature: it covers every entry's hash
    checked.clear()
    with path.open(encoding="utf-8") as lines:
        assert audit_export.verify_export(lines, every_signature=True).ok
    assert len(checked) == 61


def test_a_broken_file_is_read_again_to_name_the_unsigned_entry(app, bulk, world, tmp_path):
    path = _export_file(app, bulk, world, tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    third = json.loads(lines[3])
    forged = dict(third, actor_name="mallory")
    forged["entry_hash"] = audit_chain.compute_hash(forged)
    lines[3] = json.dumps(forged, ensure_ascii=False) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    expected = f"entry {third['seq']}: not signed by the registry"
    with path.open(encoding="utf-8") as from_file:
        assert any(expected in p for p in audit_export.verify_export(from_file).problems)
    # A stream read once: every signature in its one pass, the same verdict.
    assert any(expected in p for p in audit_export.verify_export(iter(lines)).problems)


def test_a_signature_alone_changed_is_named_only_when_every_signature_is_asked(app, bulk, world, tmp_path):
    """The entries are proven by the manifest; the line's own signature is then not needed (docs/audit.md)."""
    path = _export_file(app, bulk, world, tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    seq = json.loads(lines[2])["seq"]
    lines[2] = json.dumps(dict(json.loads(lines[2]), sig="AAAA"), ensure_ascii=False) + "\n"
    assert audit_export.verify_export(lines).ok
    strict = audit_export.verify_export(lines, every_signature=True)
    assert not strict.ok and f"entry {seq}: not signed by the registry" in strict.problems[0]


def _peak(path) -> int:
    tracemalloc.start()
    with path.open(encoding="utf-8") as lines:
        assert audit_export.verify_export(lines).ok
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_offline_verifier_memory_does_not_grow_with_the_file(app, world, session, tmp_path):
    (tmp_path / "small").mkdir()
    (tmp_path / "large").mkdir()
    _append(session, 300)
    small = _export_file(app, session, world, tmp_path / "small")
    _append(session, 3000)
    large = _export_file(app, session, world, tmp_path / "large")
    assert _peak(large) < _peak(small) + 64 * 1024


@given(
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 6)), max_size=8),
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 6)), max_size=8),
)
def test_range_difference_is_set_difference(a, b):
    ranges_a = [[start, start + length] for start, length in a]
    ranges_b = [[start, start + length] for start, length in b]
    numbers = lambda ranges: {n for start, end in ranges for n in range(start, end + 1)}  # noqa: E731
    got = list(audit_export._minus(audit_export._merged(ranges_a), audit_export._merged(ranges_b)))
    assert got == sorted(numbers(ranges_a) - numbers(ranges_b))


def test_cli_checks_every_signature_when_asked(app, bulk, world, tmp_path):
    path = _export_file(app, bulk, world, tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = json.dumps(dict(json.loads(lines[2]), sig="AAAA"), ensure_ascii=False) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    runner = app.test_cli_runner()
    assert runner.invoke(verify_audit, ["--file", str(path)]).exit_code == 0
    strict = runner.invoke(verify_audit, ["--file", str(path), "--every-signature"])
    assert strict.exit_code == 1 and "not signed by the registry" in strict.output
    assert runner.invoke(verify_audit, ["--every-signature"]).exit_code == 2
