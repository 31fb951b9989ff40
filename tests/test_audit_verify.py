"""What `registry audit verify` catches beyond the chain itself: a log emptied or cut beside the domain
rows it should describe, a verification without the public key, and checkpoints deleted."""

import pytest
from sqlalchemy import select, text, update

from registry import audit_chain, signing
from registry.cli import verify_audit
from registry.models import Animal, AuditEntry, AuditHead
from registry.services import audit
from tests.helpers import animal_in
from tests.test_audit import _bypass_triggers


def _raw(session, sql: str):
    session.execute(text(sql))


def _bypass_checkpoint_triggers(session):
    if session.get_bind().dialect.name == "postgresql":
        _raw(session, "ALTER TABLE audit_checkpoint DISABLE TRIGGER USER")
    else:
        for name in ("audit_checkpoint_no_update", "audit_checkpoint_no_delete"):
            _raw(session, f"DROP TRIGGER {name}")


def _rechain(session, keep) -> None:
    """Rewrite the log as the entries *keep* accepts, renumbered and rehashed, and move the head to it."""
    rows = [audit.entry_dict(e) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    _raw(session, "DELETE FROM audit_entry")
    prev, seq = audit_chain.GENESIS_HASH, 0
    for row in rows:
        if not keep(row):
            continue
        seq += 1
        row = dict(row, seq=seq, prev_hash=prev)
        row["entry_hash"] = prev = audit_chain.compute_hash(row)
        session.add(AuditEntry(**row))
    session.flush()
    session.execute(update(AuditHead).values(seq=seq, entry_hash=prev))
    session.expire_all()


@pytest.fixture
def animals(world, session):
    first = animal_in(world, "in_captivity")
    animal_in(world, "dead")
    return first


# ---------------------------------------------------------------- 1. an emptied or shortened log


def test_emptied_log_beside_animals_is_broken(app, session, animals):
    _bypass_triggers(session)
    _bypass_checkpoint_triggers(session)
    _raw(session, "DELETE FROM audit_checkpoint")
    _raw(session, "DELETE FROM audit_entry")
    session.execute(update(AuditHead).values(seq=0, entry_hash=audit_chain.GENESIS_HASH))
    session.expire_all()
    verdict = audit.verify_database()
    assert not verdict.ok
    assert f"2 animals (first: registry number {animals.registry_no})" in verdict.problem
    assert "have no audit entry" in verdict.problem
    result = app.test_cli_runner().invoke(verify_audit)
    assert result.exit_code == 1 and "BROKEN" in result.output and "animals" in result.output


def test_shortened_log_names_the_rows_it_forgot(session, animals):
    """The history of one animal cut out, and the chain recomputed around the gap: the chain is sound."""
    _bypass_triggers(session)
    _rechain(session, lambda row: not (row["object_type"] == "animal" and row["object_id"] == str(animals.id)))
    assert audit_chain.verify(
        audit.entry_dict(e) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
    ).ok
    verdict = audit.verify_database()
    assert not verdict.ok and f"1 animal (first: registry number {animals.registry_no})" in verdict.problem


def test_head_moved_back_to_zero_beside_entries_is_broken(session, animals):
    session.execute(update(AuditHead).values(seq=0, entry_hash=audit_chain.GENESIS_HASH))
    session.expire_all()
    verdict = audit.verify_database()
    assert not verdict.ok and verdict.bad_seq == 1 and "beyond the recorded chain head" in verdict.problem


def test_intact_log_with_every_kind_of_row_verifies(session, animals):
    assert audit.verify_database().ok
    assert session.scalar(select(Animal.id).where(Animal.id == animals.id))


# ---------------------------------------------------------------- 2. no verification without the key


def _public_pem_file(app, tmp_path):
    path = tmp_path / "registry-public-key.pem"
    path.write_text(signing.Signer(app.config["AUDIT_SIGNING_KEY"]).public_pem)
    return path


def test_verify_refuses_without_a_public_key(app, session, world, monkeypatch, tmp_path):
    audit.checkpoint(world.actor("auditor"))
    public = _public_pem_file(app, tmp_path)
    monkeypatch.setitem(app.config, "AUDIT_SIGNING_KEY", str(tmp_path / "absent.pem"))
    runner = app.test_cli_runner()
    refused = runner.invoke(verify_audit)
    assert refused.exit_code == 2, refused.output
    assert "--key" in refused.output and "intact" not in refused.output
    with pytest.raises(signing.KeyMissing):
        audit.verify_database()
    given = runner.invoke(verify_audit, ["--key", str(public)])
    assert given.exit_code == 0 and "intact" in given.output


def test_verify_with_another_key_rejects_the_checkpoints(app, session, world, tmp_path):
    audit.checkpoint(world.actor("auditor"))
    other = tmp_path / "other.pem"
    signing.generate(tmp_path / "other-private.pem")
    other.write_text(signing.Signer(tmp_path / "other-private.pem").public_pem)
    result = app.test_cli_runner().invoke(verify_audit, ["--key", str(other)])
    assert result.exit_code == 1 and "does not carry the registry's signature" in result.output


def test_offline_verify_refuses_without_a_public_key(app, session, world, monkeypatch, tmp_path):
    from registry.services import exports, history

    chunks, _, _ = exports.export(world.actor("auditor"), history.parse({}), "jsonl")
    export = tmp_path / "export.jsonl"
    export.write_text("".join(chunks), encoding="utf-8")
    runner = app.test_cli_runner()
    # The configured key's public half is used when --key is not given...
    pinned = runner.invoke(verify_audit, ["--file", str(export)])
    assert pinned.exit_code == 0 and "export intact" in pinned.output
    # ...and with neither, the export's own key proves nothing: refused.
    public = _public_pem_file(app, tmp_path)
    monkeypatch.setitem(app.config, "AUDIT_SIGNING_KEY", str(tmp_path / "absent.pem"))
    refused = runner.invoke(verify_audit, ["--file", str(export)])
    assert refused.exit_code == 2 and "--key" in refused.output and "intact" not in refused.output
    given = runner.invoke(verify_audit, ["--file", str(export), "--key", str(public)])
    assert given.exit_code == 0 and "export intact" in given.output


# ---------------------------------------------------------------- 3. checkpoints deleted


def test_deleted_checkpoints_are_missed(app, session, world, animals):
    audit.checkpoint(world.actor("auditor"))
    audit.checkpoint(world.actor("auditor"))
    assert audit.verify_database().ok
    _bypass_checkpoint_triggers(session)
    _raw(session, "DELETE FROM audit_checkpoint")
    session.expire_all()
    verdict = audit.verify_database()
    assert not verdict.ok and "checkpoint" in verdict.problem and "missing" in verdict.problem


def test_deleted_checkpoints_and_their_entries_are_missed(session, world, animals):
    """The forger also cuts the checkpoints' own entries out of the chain and recomputes it."""
    audit.checkpoint(world.actor("auditor"))
    _bypass_triggers(session)
    _bypass_checkpoint_triggers(session)
    _raw(session, "DELETE FROM audit_checkpoint")
    _rechain(session, lambda row: row["action"] != "audit.checkpoint")
    assert audit_chain.verify(
        audit.entry_dict(e) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
    ).ok
    verdict = audit.verify_database()
    assert not verdict.ok and "1 checkpoint" in verdict.problem and "missing" in verdict.problem


def test_verify_page_refuses_without_the_key(app, client, login, world, monkeypatch, tmp_path):
    login(world.users["auditor"])
    monkeypatch.setitem(app.config, "AUDIT_SIGNING_KEY", str(tmp_path / "absent.pem"))
    page = client.post("/audit/verify", data={}).get_data(as_text=True)
    assert "Nothing was verified" in page and "intact" not in page


def test_the_api_says_nothing_was_verified_without_the_key(app, client, world, monkeypatch, tmp_path):
    from registry.services import tokens

    secret = tokens.create_token(world.operator, world.users["auditor"].id, "tests")[1]
    monkeypatch.setitem(app.config, "AUDIT_SIGNING_KEY", str(tmp_path / "absent.pem"))
    answer = client.get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 503 and answer.mimetype == "application/problem+json"
    assert answer.json["title"] == "Service Unavailable" and "Nothing was verified" in answer.json["detail"]
