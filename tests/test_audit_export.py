"""Auditors: history search, exports (streamed, recorded), offline verification, signed checkpoints."""

import io
import json
import re
import tracemalloc
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import insert, select, text, update

from registry import audit_chain, audit_export, signing
from registry.cli import verify_audit
from registry.models import Animal, AuditEntry, AuditHead, Identifier, Permit
from registry.models.base import utcnow
from registry.services import audit, exports, history
from tests import uses
from tests.helpers import animal_in
from tests.test_audit import _bypass_triggers


def _seqs(filters) -> set[int]:
    from registry.extensions import db

    found = history.query(filters).subquery()
    return set(db.session.scalars(select(found.c.seq)))


def _direct(session, sql: str, **params) -> set[int]:
    return set(session.execute(text(sql), params).scalars())


@pytest.fixture
def story(world, session):
    """Some history: two animals (one chipped), a permit, a death."""
    chipped = animal_in(world, "in_captivity", chip="410000000000888")
    other = animal_in(world, "in_captivity")
    uses.fire(world.actor("zoo"), other.id, "death", {"cause": "age"})
    return {"chipped": chipped, "other": other, "permit": session.query(Permit).first()}


def test_search_answers_what_a_direct_query_answers(world, session, story):
    chipped, permit = story["chipped"], story["permit"]
    mark = session.query(Identifier).filter_by(animal_id=chipped.id).one()
    assert (
        _seqs({"animal": "410000000000888"})
        == _seqs({"animal": chipped.registry_no.lower()})
        == _direct(
            session,
            "SELECT seq FROM audit_entry WHERE (object_type = 'animal' AND object_id = :a) "
            "OR (object_type = 'identifier' AND object_id = :i)",
            a=str(chipped.id),
            i=str(mark.id),
        )
    )
    assert _seqs({"permit": permit.number}) == _direct(
        session, "SELECT seq FROM audit_entry WHERE object_type = 'permit' AND object_id = :p", p=str(permit.id)
    )
    assert _seqs({"actor": "zoo"}) == _direct(session, "SELECT seq FROM audit_entry WHERE actor_name = 'zoo'")
    assert _seqs({"action": "animal."}) == _direct(session, "SELECT seq FROM audit_entry WHERE action LIKE 'animal.%'")
    assert _seqs({"action": "animal.death", "actor": "zoo"}) == _direct(
        session, "SELECT seq FROM audit_entry WHERE action = 'animal.death' AND actor_name = 'zoo'"
    )
    keeper = _seqs({"keeper": world.zoo})
    ids = [str(a) for a in session.scalars(select(Animal.id).where(Animal.owner_party_id == world.zoo))]
    assert {
        e.seq
        for e in session.query(AuditEntry).filter(AuditEntry.object_type == "animal", AuditEntry.object_id.in_(ids))
    } <= keeper
    today = date.today()
    assert _seqs({"since": today, "until": today}) == _direct(session, "SELECT seq FROM audit_entry")
    assert _seqs({"until": today - timedelta(days=1)}) == set()


def test_search_page_and_links(client, login, world, story):
    login(world.users["auditor"])
    page = client.get("/audit/", query_string={"animal": "410000000000888"}).get_data(as_text=True)
    assert f'/animals/{story["chipped"].id}"' in page and "animal.declare" in page
    assert client.get("/audit/", query_string={"since": "yesterday"}).status_code == 200


def test_exports_are_recorded_and_complete(client, login, world, session, story):
    login(world.users["auditor"])
    before = session.query(AuditEntry).count()
    jsonl = client.post("/audit/export.jsonl", data={"actor": "zoo"}).get_data(as_text=True).splitlines()
    recorded = session.query(AuditEntry).filter_by(action="audit.export").one()
    assert recorded.actor_name == "auditor" and recorded.after == {"format": "jsonl", "query": {"actor": "zoo"}}
    verdict = audit_export.verify_export(jsonl)
    assert verdict.ok and verdict.entries == len(_seqs({"actor": "zoo"}))
    csv_rows = client.post("/audit/export.csv").get_data(as_text=True).strip().splitlines()
    assert len(csv_rows) - 1 == before + 2  # every entry, including both exports' own records
    report = client.post("/audit/export.pdf", data={"action": "animal."})
    text_ = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(report.data)).pages)
    assert "Audit report" in text_ and "감사 보고서" in text_ and "action=animal." in text_
    assert f"Entries · 건수: {len(_seqs({'action': 'animal.'}))}" in text_ and "animal.death" in text_


@pytest.fixture
def exported(app, world, story, session):
    chunks, _, _ = exports.export(world.actor("auditor"), {}, "jsonl")
    return "".join(chunks).splitlines(keepends=True)


def _entry_lines(lines):
    return [i for i, line in enumerate(lines) if json.loads(line).get("type") == "entry"]


def _rewrite(line: str, **changes) -> str:
    obj = json.loads(line)
    obj.update(changes)
    return json.dumps(obj, ensure_ascii=False) + "\n"


def test_intact_export_verifies_and_pins_the_key(app, exported):
    assert audit_export.verify_export(exported).ok
    key = signing.Signer(app.config["AUDIT_SIGNING_KEY"])
    assert audit_export.verify_export(exported, key.fingerprint).ok
    other = audit_export.verify_export(exported, "SHA256:someone-else")
    assert not other.ok and "not the registry's published key" in other.problems[0]


def test_every_kind_of_tampering_is_named(exported):
    idx = _entry_lines(exported)
    third, fourth = json.loads(exported[idx[2]]), json.loads(exported[idx[3]])
    cases = {
        "changed": (
            exported[: idx[2]] + [_rewrite(exported[idx[2]], actor_name="mallory")] + exported[idx[2] + 1 :],
            f"entry {third['seq']}: content changed",
        ),
        "rehashed": (
            exported[: idx[2]]
            + [
                _rewrite(
                    exported[idx[2]],
                    actor_name="mallory",
                    entry_hash=audit_chain.compute_hash(dict(third, actor_name="mallory")),
                )
            ]
            + exported[idx[2] + 1 :],
            f"entry {third['seq']}: not signed by the registry",
        ),
        "removed": (exported[: idx[2]] + exported[idx[2] + 1 :], f"entry {third['seq']}: removed"),
        "reordered": (
            exported[: idx[2]] + [exported[idx[3]], exported[idx[2]]] + exported[idx[3] + 1 :],
            f"entry {third['seq']}: out of order (it follows entry {fourth['seq']})",
        ),
        "cut short": (exported[: idx[5]], f"cut short after entry {json.loads(exported[idx[4]])['seq']}"),
        "truncated line": (exported[:-1] + [exported[-1][:40]], "not complete JSON"),
        "appended": (exported + [exported[idx[1]]], "content after the signed manifest"),
    }
    forged = dict(json.loads(exported[idx[-1]]), seq=10_000, action="permit.issue")
    forged["entry_hash"] = audit_chain.compute_hash(forged)
    cases["inserted"] = (
        exported[:-1] + [json.dumps(forged) + "\n"] + exported[-1:],
        "entry 10000: not signed by the registry",
    )
    for name, (lines, expected) in cases.items():
        verdict = audit_export.verify_export(lines)
        assert not verdict.ok, name
        assert any(expected in p for p in verdict.problems), (name, verdict.problems)


def test_offline_cli_names_the_entry(app, exported, tmp_path):
    idx = _entry_lines(exported)
    seq = json.loads(exported[idx[1]])["seq"]
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text("".join(exported), encoding="utf-8")
    bad.write_text("".join(exported[: idx[1]] + exported[idx[1] + 1 :]), encoding="utf-8")
    runner = app.test_cli_runner()
    ok = runner.invoke(verify_audit, ["--file", str(good)])
    assert ok.exit_code == 0 and "export intact" in ok.output
    broken = runner.invoke(verify_audit, ["--file", str(bad)])
    assert broken.exit_code == 1 and f"entry {seq}: removed" in broken.output


def test_checkpoints_catch_a_rewritten_history(world, session, story):
    audit.checkpoint(world.actor("auditor"))
    assert audit.verify_database().ok
    # An operator rewrites entry 5 and recomputes every later hash and the head: the chain is consistent again...
    _bypass_triggers(session)
    rows = [audit.entry_dict(e) for e in session.query(AuditEntry).order_by(AuditEntry.seq)]
    prev = rows[3]["entry_hash"]
    for row in rows[4:]:
        row["prev_hash"] = prev
        if row["seq"] == 5:
            row["actor_name"] = "someone else"
        row["entry_hash"] = prev = audit_chain.compute_hash(row)
        session.execute(
            update(AuditEntry)
            .where(AuditEntry.seq == row["seq"])
            .values(actor_name=row["actor_name"], prev_hash=row["prev_hash"], entry_hash=row["entry_hash"])
        )
    session.execute(update(AuditHead).values(entry_hash=prev))
    session.expire_all()
    assert audit_chain.verify(audit.entry_dict(e) for e in session.query(AuditEntry).order_by(AuditEntry.seq)).ok
    # ...but not with the signed checkpoint, which it cannot re-sign.
    verdict = audit.verify_database()
    assert not verdict.ok and "was rewritten" in verdict.problem


def test_public_key_page(client, app):
    page = client.get("/audit/public-key")
    assert page.status_code == 200 and signing.Signer(app.config["AUDIT_SIGNING_KEY"]).fingerprint in page.get_data(
        as_text=True
    )
    pem = client.get("/audit/public-key", headers={"Accept": "application/x-pem-file"})
    assert pem.data.startswith(b"-----BEGIN PUBLIC KEY-----")


@pytest.mark.slow
def test_export_of_100000_entries_streams_with_bounded_memory(world, session):
    """Built straight into the table (a valid chain), then exported: memory must not grow with it."""
    head = session.get(AuditHead, 1)
    seq, prev = head.seq, head.entry_hash
    now = utcnow()
    batch = []
    for _ in range(100_000):
        seq += 1
        row = {
            "seq": seq,
            "occurred_at": now,
            "actor_id": None,
            "actor_name": "bulk",
            "actor_role": "system",
            "action": "test.bulk",
            "object_type": "test",
            "object_id": str(seq),
            "before": None,
            "after": {"n": seq},
            "request_id": None,
            "client_addr": None,
            "prev_hash": prev,
        }
        row["entry_hash"] = prev = audit_chain.compute_hash(row)
        batch.append(row)
        if len(batch) == 10_000:
            session.execute(insert(AuditEntry), batch)
            batch.clear()
    session.execute(update(AuditHead).values(seq=seq, entry_hash=prev))
    session.commit()
    tracemalloc.start()
    chunks, _, _ = exports.export(world.actor("auditor"), {"action": "test.bulk"}, "jsonl")
    first = next(chunks)
    assert first.startswith('{"exported_at"') or '"type":"header"' in first
    lines = 1
    for chunk in chunks:
        lines += chunk.count("\n")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert lines == 100_000 + 2
    assert peak < 64 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_an_export_is_a_post_with_the_forms_csrf_token(app, client, login, world, session, monkeypatch):
    """An export writes an audit entry: no other site may make an auditor's browser do it."""
    login(world.users["auditor"])
    before = session.query(AuditEntry).count()
    assert client.get("/audit/export.csv").status_code == 405
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    assert client.post("/audit/export.csv", data={"action": "animal."}).status_code == 400
    assert session.query(AuditEntry).count() == before
    page = client.get("/audit/", query_string={"action": "animal."}).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert 'formaction="/audit/export.csv"' in page and 'name="action" value="animal."' in page
    answer = client.post("/audit/export.csv", data={"csrf_token": token, "action": "animal."})
    assert (
        answer.status_code == 200
        and answer.mimetype == "text/csv"
        and "audit.export" not in answer.get_data(as_text=True)
    )
    assert session.query(AuditEntry).filter_by(action="audit.export").one().after["query"] == {"action": "animal."}
