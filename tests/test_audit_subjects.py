"""Complete histories: every entry names the subjects it concerns, linked to each one's previous entry,
so an export of one animal holds its transfers, endorsements and chicks, and is proven complete offline."""

import hashlib
import json

import pytest
from sqlalchemy import delete, select

from registry import audit_chain, audit_export
from registry.cli import export as export_cli
from registry.cli import verify_audit
from registry.models import Animal, AuditEntry, AuditHead, AuditSubject, Facility
from registry.services import anchor, audit, exports
from tests import uses
from tests.border import entry_body, exit_body
from tests.helpers import export_permit, issued_permit


@pytest.fixture
def life(world, session):
    """A parrot entered at import, whose chick is lent to the breeder and then exported by the zoo."""
    permit = issued_permit(world)
    uses.endorse(world.actor("customs"), permit.id, entry_body(1, {"sex": "F"}))
    dam = session.scalars(select(Animal).where(Animal.state == "entered")).one()
    uses.fire(world.operator, dam.id, "register", {"facility_id": world.zoo_site})
    chick = uses.register_birth(
        world.actor("zoo"),
        {"species_id": world.parrot, "facility_id": world.zoo_site, "dam_id": dam.id, "birth_date": "2026-01-02"},
    )
    ring = uses.add_identifier(world.actor("zoo"), chick.id, "closed_ring", "R-77")
    offer = uses.offer(
        world.actor("zoo"), {"animal_ids": [chick.id], "facility_id": world.breeder_site, "ownership": False}
    )
    uses.transfer_event(world.actor("breeder"), "accept", offer.id)
    uses.transfer_event(world.actor("officer"), "acknowledge", offer.id)
    leaving = export_permit(world)
    uses.endorse(world.actor("customs"), leaving.id, exit_body(chick.id))
    return {"dam": dam, "chick": session.get(Animal, chick.id), "ring": ring, "transfer": offer, "permit": leaving}


def _export(world, animal: Animal) -> list[str]:
    chunks, _, _ = exports.export(world.actor("auditor"), {"animal": animal.registry_no}, "jsonl")
    return "".join(chunks).splitlines(keepends=True)


def _entries(lines: list[str]) -> list[dict]:
    return [e for e in map(json.loads, lines) if e["type"] == "entry"]


def _seq(session, action: str, object_type: str, object_id) -> int:
    return session.scalar(
        select(AuditEntry.seq).where(
            AuditEntry.action == action, AuditEntry.object_type == object_type, AuditEntry.object_id == str(object_id)
        )
    )


def test_entries_name_their_subjects_linked_to_the_previous_entry(world, session, life):
    chick, transfer = life["chick"], life["transfer"]
    accept = session.get(AuditEntry, _seq(session, "transfer.accept", "transfer", transfer.id))
    moved = session.get(AuditEntry, _seq(session, "animal.transfer", "animal", chick.id))
    kinds = {(s["type"], s["id"]) for s in accept.subjects}
    assert {("transfer", str(transfer.id)), ("animal", str(chick.id)), ("facility", str(world.breeder_site))} <= kinds
    assert accept.subjects == sorted(accept.subjects, key=lambda s: (s["type"], s["id"]))
    # The animal's own transfer event came first in the same transaction and named the transfer too:
    # the transfer's entry links to it for both, and it links back to the offer.
    assert {"type": "animal", "id": str(chick.id), "prev": moved.seq} in accept.subjects
    assert {"type": "transfer", "id": str(transfer.id), "prev": moved.seq} in accept.subjects
    start = _seq(session, "transfer.start", "transfer", transfer.id)
    assert {"type": "transfer", "id": str(transfer.id), "prev": start} in moved.subjects
    birth = session.get(AuditEntry, _seq(session, "animal.birth", "animal", chick.id))
    assert {("animal", str(chick.id)), ("animal", str(life["dam"].id))} <= {
        (s["type"], s["id"]) for s in birth.subjects
    }
    assert audit.verify_database().ok


def test_an_animals_export_holds_every_entry_concerning_it_and_is_proven_complete(world, session, life):
    chick, dam = life["chick"], life["dam"]
    lines = _export(world, chick)
    entries = _entries(lines)
    actions = [e["action"] for e in entries]
    for action in ("animal.birth", "animal.identifier_add", "transfer.start", "transfer.accept", "animal.export"):
        assert action in actions
    assert "transfer.acknowledge" in actions and "permit.endorse" in actions
    manifest = json.loads(lines[-1])
    latest = max(s["latest"] for s in manifest["subjects"])
    assert manifest["subjects"] == [
        {"type": "animal", "id": str(chick.id), "latest": latest, "name": chick.registry_no},
        {
            "type": "identifier",
            "id": str(life["ring"].id),
            "latest": _seq(session, "animal.identifier_add", "identifier", life["ring"].id),
            "name": "closed_ring R-77",
        },
    ]
    verdict = audit_export.verify_export(lines)
    assert verdict.ok, verdict.problems
    assert verdict.history == (
        f"complete history of animal {chick.registry_no} (id {chick.id}), identifier closed_ring R-77 "
        f"(id {life['ring'].id}): {len(entries)} entries, latest entry {latest}"
    )
    assert verdict.history in str(verdict)
    # The mother's history holds the customs endorsement she entered with, and her chick's birth.
    parent = _entries(_export(world, dam))
    assert [e["action"] for e in parent if e["object_type"] == "permit"] == ["permit.endorse"]
    assert any(e["action"] == "animal.birth" and e["object_id"] == str(chick.id) for e in parent)
    assert audit_export.verify_export(_export(world, dam)).history.startswith(
        f"complete history of animal {dam.registry_no} (id {dam.id}):"
    )


def test_an_entry_left_out_is_named_through_the_links(world, session, life):
    chick, transfer = life["chick"], life["transfer"]
    accept = _seq(session, "transfer.accept", "transfer", transfer.id)
    nxt = _seq(session, "transfer.acknowledge", "transfer", transfer.id)
    # The index is not hashed: a registry whose index lost a row exports without the entry, and its
    # signed manifest agrees with the file. Only the entries' own links can tell.
    session.execute(
        delete(AuditSubject).where(
            AuditSubject.subject_type == "animal", AuditSubject.subject_id == str(chick.id), AuditSubject.seq == accept
        )
    )
    session.commit()
    lines = _export(world, chick)
    assert accept not in {e["seq"] for e in _entries(lines)}
    verdict = audit_export.verify_export(lines)
    assert verdict.problems == [
        f"entry {accept} concerning animal {chick.registry_no} (id {chick.id}) is missing: entry {nxt} links to it"
    ]
    assert "export BROKEN" in str(verdict) and "complete history" not in str(verdict)


def test_a_line_removed_from_the_file_is_named_by_the_manifest_and_the_links(world, session, life):
    chick = life["chick"]
    lines = _export(world, chick)
    birth = _seq(session, "animal.birth", "animal", chick.id)
    cut = [line for line in lines if json.loads(line).get("seq") != birth]
    problems = audit_export.verify_export(cut).problems
    assert f"entry {birth}: removed (the signed manifest lists it)" in problems
    missing = f"entry {birth} concerning animal {chick.registry_no} (id {chick.id}) is missing: entry "
    assert any(p.startswith(missing) for p in problems)


def test_exports_older_than_subject_names_still_verify(app, world, session, life):
    """An export written before manifests named their subjects: ids only, and the verdict says ids."""
    chick = life["chick"]
    filters = {"animal": chick.registry_no}
    head = session.execute(select(AuditHead.seq, AuditHead.entry_hash).where(AuditHead.id == 1)).one()
    subjects = [{k: v for k, v in s.items() if k != "name"} for s in exports._latest(filters, head.seq)]
    lines = list(
        audit_export.export_lines(
            exports._entries(filters, head.seq),
            signer=anchor.signer(),
            origin=app.config["AUDIT_ORIGIN"],
            query=filters,
            exported_by="auditor",
            exported_at="20261201T000000Z",
            head=(head.seq, head.entry_hash),
            subjects=subjects,
        )
    )
    verdict = audit_export.verify_export(lines)
    assert verdict.ok, verdict.problems
    assert verdict.history.startswith(f"complete history of animal {chick.id}, identifier {life['ring'].id}:")


def test_other_queries_claim_no_completeness(world, session, life):
    chunks, _, _ = exports.export(
        world.actor("auditor"), {"animal": life["chick"].registry_no, "action": "transfer."}, "jsonl"
    )
    lines = "".join(chunks).splitlines()
    assert "subjects" not in json.loads(lines[-1])
    verdict = audit_export.verify_export(lines)
    assert verdict.ok and verdict.history is None and len(_entries(lines)) == 3


def _as_before_subjects(entry, named, latest):
    """What entries looked like before subjects existed: none hashed, the migration indexed the object."""
    entry.subjects = None
    return [(entry.object_type, entry.object_id)]


def test_entries_older_than_subjects_keep_their_hash_and_are_proven_only_from_then_on(
    world, session, monkeypatch, life
):
    with monkeypatch.context() as patch:
        patch.setattr(audit, "link_subjects", _as_before_subjects)
        animal = uses.declare(world.operator, issued_permit(world).lines[0].id, {"sex": "F"})
        uses.fire(world.operator, animal.id, "enter", {"port": "ICN"})
    old = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == "animal", AuditEntry.object_id == str(animal.id))
        .order_by(AuditEntry.seq)
    ).all()
    assert [e.subjects for e in old] == [None, None]
    # The hash of an entry without subjects is the one computed before the field existed.
    for e in old:
        body = {name: getattr(e, name) for name in audit_chain.FIELDS if name != "subjects"}
        body["occurred_at"] = audit_chain.format_time(body["occurred_at"])
        before = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert e.entry_hash == hashlib.sha256(before).hexdigest() == audit_chain.compute_hash(audit.entry_dict(e))
    uses.fire(world.operator, animal.id, "register", {"facility_id": world.zoo_site})
    uses.fire(world.operator, animal.id, "death", {"cause": "age"})
    assert audit.verify_database().ok
    lines = _export(world, animal)
    verdict = audit_export.verify_export(lines)
    assert verdict.ok, verdict.problems
    assert verdict.history.startswith(
        f"history of animal {animal.registry_no} (id {animal.id}) complete from entry {old[1].seq} on (3 entries"
    )
    assert verdict.history.endswith("the 1 earlier entries predate subject links and cannot be proven complete")


def test_audit_page_search_for_an_animal_finds_its_transfer_and_endorsement(client, login, world, life):
    login(world.users["auditor"])
    page = client.get("/audit/", query_string={"animal": "R-77"}).get_data(as_text=True)
    for action in ("transfer.start", "transfer.accept", "transfer.acknowledge", "permit.endorse", "animal.export"):
        assert action in page


def test_cli_exports_one_animal_and_verifies_it_offline(app, world, life, tmp_path):
    out = tmp_path / "chick.jsonl"
    runner = app.test_cli_runner()
    written = runner.invoke(export_cli, ["--animal", life["chick"].registry_no, "--out", str(out)])
    assert written.exit_code == 0, written.output
    checked = runner.invoke(verify_audit, ["--file", str(out)])
    chick = life["chick"]
    assert (
        checked.exit_code == 0 and f"complete history of animal {chick.registry_no} (id {chick.id})" in checked.output
    )


# ---------------------------------------------------------------- auditors read the subjects


def test_api_entries_carry_their_subjects(client, world, life, api_tokens, session):
    chick, transfer = life["chick"], life["transfer"]
    headers = {"Authorization": f"Bearer {api_tokens['auditor']}"}
    items = client.get("/api/v1/audit", query_string={"animal": chick.registry_no}, headers=headers).json["items"]
    start = next(e for e in items if e["action"] == "transfer.start")
    ringed = _seq(session, "animal.identifier_add", "identifier", life["ring"].id)  # the chick's entry before
    assert {"type": "animal", "id": str(chick.id), "prev": ringed} in start["subjects"]
    assert {"type": "transfer", "id": str(transfer.id), "prev": None} in start["subjects"]
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    subjects = schemas["AuditEntry"]["properties"]["subjects"]
    assert subjects["type"] == ["array", "null"] and subjects["items"] == {"$ref": "#/components/schemas/AuditSubject"}
    assert subjects["description"]
    assert set(schemas["AuditSubject"]["properties"]) == {"type", "id", "prev"}


def test_audit_page_names_each_entrys_subjects(client, login, world, life, session):
    chick = life["chick"]
    login(world.users["auditor"])
    page = client.get("/audit/", query_string={"animal": chick.registry_no}).get_data(as_text=True)
    row = next(r for r in page.split("<tr>") if "transfer.start" in r)
    also = row.split('<td class="small subjects">', 1)[1].split("</td>", 1)[0]
    facility = session.get(Facility, world.breeder_site)
    assert f'<a href="/animals/{chick.id}">animal {chick.registry_no}</a>' in also
    assert f"facility {facility.registration_no}" in also
    assert "transfer" not in also  # the entry's own object has its column
