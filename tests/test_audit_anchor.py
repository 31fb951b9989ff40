"""The anchor outside the database: per-entry signatures, checkpoints signed by the write path,
witnesses that keep them, and `verify --against` an auditor's copy. Each tamper here is what a
database superuser can do with the append-only triggers disabled."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text, update

from registry import audit_chain, signing
from registry.cli import publish, verify_audit
from registry.models import AuditCheckpoint, AuditEntry, AuditHead
from registry.models.base import utcnow
from registry.services import anchor, audit, witnesses
from registry.services.context import write_transaction
from tests.test_audit import _bypass_triggers
from tests.test_audit_verify import _bypass_checkpoint_triggers, _rechain


def _head(session):
    session.expire_all()
    return session.get(AuditHead, 1)


def _logins(world, n: int, who: str = "auditor") -> None:
    """*n* entries that describe no domain row, so cutting them leaves every row accounted for."""
    for _ in range(n):
        audit.record_alone(world.actor(who), "auth.login", "user", world.users[who].id)


def _lines(path) -> list[dict]:
    return [json.loads(row) for row in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def witness(app, monkeypatch, tmp_path):
    path = tmp_path / "witness.jsonl"
    monkeypatch.setitem(app.config, "AUDIT_WITNESSES", [str(path)])
    return path


@pytest.fixture
def every(app, monkeypatch):
    """Checkpoints every *n* entries, and never by age unless a test moves time."""

    def _every(n: int) -> None:
        monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_EVERY", n)
        monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_SECONDS", 10**9)

    return _every


def _against(app, path):
    return app.test_cli_runner().invoke(verify_audit, ["--against", str(path)])


# ---------------------------------------------------------------- 1. per-entry signatures


def test_every_entry_carries_the_registry_signature(app, session, world):
    public = signing.public_key(anchor.signer().public_pem)
    entries = session.scalars(select(AuditEntry)).all()
    assert entries
    for e in entries:
        message = signing.entry_message(app.config["AUDIT_ORIGIN"], e.seq, e.entry_hash)
        assert signing.valid(public, message, e.signature), e.seq
    assert audit.verify_database().ok


def _forge(session, world, signature=None) -> int:
    """Append an entry with a correct hash and move the head to it, as a superuser can."""
    head = _head(session)
    fields = audit.entry_dict(session.get(AuditEntry, head.seq)) | {
        "seq": head.seq + 1,
        "occurred_at": utcnow(),
        "action": "user.grant_role",
        "after": {"role": "admin"},
        "prev_hash": head.entry_hash,
    }
    del fields["entry_hash"]
    forged = AuditEntry(**fields, entry_hash=audit_chain.compute_hash(fields), signature=signature)
    session.add(forged)
    session.flush()
    session.execute(update(AuditHead).values(seq=forged.seq, entry_hash=forged.entry_hash))
    session.expire_all()
    return forged.seq


def test_entry_appended_behind_the_apps_back_is_named(app, session, world):
    seq = _forge(session, world)
    verdict = audit.verify_database()
    assert not verdict.ok and verdict.bad_seq == seq
    assert f"entry {seq} is not signed by the registry: appended behind its back" in verdict.problem
    result = app.test_cli_runner().invoke(verify_audit)
    assert result.exit_code == 1 and f"entry {seq} is not signed" in result.output


def test_entry_with_a_borrowed_signature_is_named(session, world):
    borrowed = session.scalar(select(AuditEntry.signature).where(AuditEntry.seq == 1))
    seq = _forge(session, world, signature=borrowed)
    verdict = audit.verify_database()
    assert not verdict.ok and verdict.bad_seq == seq and "not signed by the registry" in verdict.problem


def test_entries_from_before_signing_began_may_be_unsigned(session, world):
    """The migration records the head: entries up to it predate signing; moving it later shows."""
    head = _head(session)
    _bypass_triggers(session)
    _raw = session.execute
    _raw(text("UPDATE audit_entry SET signature = NULL WHERE seq <= 3"))
    _raw(update(AuditHead).values(signed_from=4))
    assert audit.verify_database().ok
    _raw(update(AuditHead).values(signed_from=head.seq))
    session.expire_all()
    verdict = audit.verify_database()
    assert not verdict.ok and verdict.bad_seq == 4 and "the boundary was moved" in verdict.problem


def test_signatures_are_checked_only_past_the_last_checkpoint(session, world):
    """Entries up to a checkpoint are held by its signature and the chain: their own are not reread."""
    cp = audit.checkpoint(world.actor("auditor"))
    _bypass_triggers(session)  # after the checkpoint: a write transaction ends what the test left open
    session.execute(text(f"UPDATE audit_entry SET signature = NULL WHERE seq < {cp.seq}"))
    session.expire_all()
    assert audit.verify_database().ok
    session.execute(text(f"UPDATE audit_entry SET signature = NULL WHERE seq = {cp.seq + 1}"))
    session.expire_all()
    verdict = audit.verify_database()
    assert not verdict.ok and verdict.bad_seq == cp.seq + 1


# ---------------------------------------------------------------- 2. checkpoints from the write path


def test_a_checkpoint_is_signed_every_n_entries(session, world, every):
    every(5)
    start = audit.checkpoint(world.actor("auditor")).seq
    _logins(world, 12)
    head = _head(session)
    made = session.scalars(
        select(AuditCheckpoint).where(AuditCheckpoint.seq > start).order_by(AuditCheckpoint.seq)
    ).all()
    # Each checkpoint's own entry (the one after it) counts towards the next.
    assert [cp.seq for cp in made] == [start + 5, start + 10, start + 15]
    assert head.seq == start + 16 and head.checkpoint_seq == start + 15
    recorded = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.seq > start + 1, AuditEntry.action == "audit.checkpoint")
        .order_by(AuditEntry.seq)
    )
    assert [(e.seq, e.actor_name, e.object_id) for e in recorded] == [
        (cp.seq + 1, "system:checkpoint", str(cp.id)) for cp in made
    ]
    assert audit.verify_database().ok


def test_a_checkpoint_is_signed_when_the_last_is_old(session, world, every, monkeypatch, app):
    every(1000)
    audit.checkpoint(world.actor("auditor"))
    monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_SECONDS", 60)
    count = session.scalar(select(func.count()).select_from(AuditCheckpoint))
    _logins(world, 1)
    assert session.scalar(select(func.count()).select_from(AuditCheckpoint)) == count
    later = utcnow() + timedelta(seconds=61)
    monkeypatch.setattr(anchor, "utcnow", lambda: later)
    _logins(world, 1)
    assert session.scalar(select(func.count()).select_from(AuditCheckpoint)) == count + 1
    assert audit.verify_database().ok


# ---------------------------------------------------------------- 3. witnesses


def test_the_witness_gets_each_checkpoint_after_commit_and_none_rolled_back(app, session, world, witness, every):
    every(4)
    start = audit.checkpoint(world.actor("auditor")).seq
    _logins(world, 9)
    kept = _lines(witness)
    stored = session.scalars(select(AuditCheckpoint).where(AuditCheckpoint.seq >= start)).all()
    assert [row["seq"] for row in kept] == [cp.seq for cp in stored] == [start, start + 4, start + 8, start + 12]
    public = signing.public_key(anchor.signer().public_pem)
    for row in kept:
        assert row["origin"] == app.config["AUDIT_ORIGIN"] and row["key_fingerprint"] == anchor.signer().fingerprint
        message = signing.checkpoint_message(row["origin"], row["seq"], row["entry_hash"], row["signed_from"])
        assert signing.valid(public, message, row["signature"])
    with pytest.raises(RuntimeError), write_transaction():
        audit.checkpoint(world.actor("auditor"))
        raise RuntimeError("the use case failed")
    _logins(world, 1)  # a later commit does not publish what was rolled back
    assert _lines(witness) == kept


def test_a_failing_witness_does_not_fail_the_write_and_publish_catches_up(
    app, session, world, tmp_path, caplog, monkeypatch
):
    # Alembic's fileConfig, run by the app fixture, disables the loggers imported before it.
    monkeypatch.setattr(witnesses.log, "disabled", False)
    good, late = tmp_path / "good.jsonl", tmp_path / "not-mounted-yet" / "late.jsonl"
    app.config["AUDIT_WITNESSES"], saved = [str(late), str(good)], app.config["AUDIT_WITNESSES"]
    try:
        first = audit.checkpoint(world.actor("auditor"))
        second = audit.checkpoint(world.actor("auditor"))
        assert "not updated" in caplog.text
        assert [row["seq"] for row in _lines(good)] == [first.seq, second.seq] and not late.exists()
        runner = app.test_cli_runner()
        failing = runner.invoke(publish)
        assert failing.exit_code == 1 and f"{late}: not updated" in failing.output
        late.parent.mkdir()
        caught = runner.invoke(publish)
        assert caught.exit_code == 0, caught.output
        assert f"{good}: 0 checkpoints appended" in caught.output
        everything = session.scalar(select(func.count()).select_from(AuditCheckpoint))
        assert f"{late}: {everything} checkpoints appended" in caught.output
        assert _lines(late)[-2:] == _lines(good)
        again = runner.invoke(publish)
        assert again.exit_code == 0 and f"{late}: 0 checkpoints appended" in again.output
    finally:
        app.config["AUDIT_WITNESSES"] = saved


def test_the_checkpoint_download_is_for_auditors(client, login, world, session, api_tokens):
    cp = audit.checkpoint(world.actor("auditor"))
    assert login(world.users["zoo"]).get("/audit/checkpoints.jsonl").status_code == 403
    page = login(world.users["auditor"]).get("/audit/checkpoints.jsonl")
    assert page.status_code == 200 and page.mimetype == "application/jsonl"
    rows = [json.loads(row) for row in page.get_data(as_text=True).splitlines()]
    assert rows[-1]["seq"] == cp.seq and rows[-1]["signature"] == cp.signature
    keeper = client.get("/api/v1/audit/checkpoints", headers={"Authorization": f"Bearer {api_tokens['zoo']}"})
    assert keeper.status_code == 403
    auditor = client.get("/api/v1/audit/checkpoints", headers={"Authorization": f"Bearer {api_tokens['auditor']}"})
    assert auditor.status_code == 200 and auditor.get_data(as_text=True) == page.get_data(as_text=True)


# ---------------------------------------------------------------- 4. verify --against an auditor's copy


def _download(path, app) -> None:
    path.write_bytes(b"".join(witnesses.encode(row) for row in witnesses.all_lines(app.config["AUDIT_ORIGIN"])))


def test_the_live_log_extends_the_auditors_checkpoints(app, session, world, tmp_path, every):
    every(3)
    _logins(world, 7)
    kept = tmp_path / "kept.jsonl"
    _download(kept, app)
    _logins(world, 2)
    result = _against(app, kept)
    assert result.exit_code == 0, result.output
    count = len(kept.read_text().splitlines())
    assert f"{count} checkpoints checked: the live log extends every one" in result.output


def test_a_recomputed_chain_fails_against_an_earlier_checkpoint_file(app, session, world, tmp_path):
    cp = audit.checkpoint(world.actor("auditor"))
    kept = tmp_path / "kept.jsonl"
    _download(kept, app)
    # The thorough rewrite: one entry changed, every hash recomputed (signatures gone), checkpoints and
    # the entries that record them deleted, head counters and signing boundary rewritten.
    _bypass_triggers(session)
    _bypass_checkpoint_triggers(session)
    session.execute(delete(AuditCheckpoint))
    session.execute(text("UPDATE audit_entry SET actor_name = 'someone else' WHERE seq = 2"))
    _rechain(session, lambda row: row["action"] != "audit.checkpoint")
    head = _head(session)
    session.execute(update(AuditHead).values(checkpoints=0, checkpoint_seq=0, signed_from=head.seq + 1))
    session.expire_all()
    assert audit.verify_database().ok  # self-consistent: only an outside copy shows it
    result = _against(app, kept)
    assert result.exit_code == 1
    assert f"checkpoint at entry {cp.seq} signed" in result.output
    assert "history up to it was rewritten" in result.output or "cut back" in result.output


def test_a_log_cut_back_fails_against_a_later_published_checkpoint(app, session, world, witness, every):
    every(4)
    audit.checkpoint(world.actor("auditor"))
    _logins(world, 10)
    published = [row["seq"] for row in _lines(witness)][-2:]
    kept_to = published[0] + 1  # the first checkpoint and the entry recording it stay
    _bypass_triggers(session)
    _bypass_checkpoint_triggers(session)
    session.execute(delete(AuditEntry).where(AuditEntry.seq > kept_to))
    session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > published[0]))
    remaining = session.scalar(select(func.count()).select_from(AuditCheckpoint))
    last = session.get(AuditEntry, kept_to)
    session.execute(
        update(AuditHead).values(
            seq=kept_to, entry_hash=last.entry_hash, checkpoints=remaining, checkpoint_seq=published[0]
        )
    )
    session.expire_all()
    assert audit.verify_database().ok  # the entries left are all signed and chained
    result = _against(app, witness)
    assert result.exit_code == 1
    assert f"checkpoint at entry {published[1]} signed" in result.output and "no entry" in result.output
    assert f"the live log's head is entry {kept_to}, before the newest checkpoint (entry {published[1]})" in (
        result.output
    )


def test_a_truncated_log_fails_against_any_checkpoint(app, session, world, witness):
    seq = audit.checkpoint(world.actor("auditor")).seq
    _bypass_triggers(session)
    _bypass_checkpoint_triggers(session)
    session.execute(delete(AuditCheckpoint))
    session.execute(delete(AuditEntry))
    session.execute(
        update(AuditHead).values(seq=0, entry_hash=audit_chain.GENESIS_HASH, checkpoints=0, checkpoint_seq=0)
    )
    session.expire_all()
    result = _against(app, witness)
    assert result.exit_code == 1
    assert f"checkpoint at entry {seq} signed" in result.output and "no entry" in result.output
    assert "the live log's head is entry 0" in result.output


def test_against_checks_each_checkpoints_signature(app, session, world, tmp_path):
    audit.checkpoint(world.actor("auditor"))
    kept = tmp_path / "kept.jsonl"
    _download(kept, app)
    rows = [json.loads(row) for row in kept.read_text().splitlines()]
    rows[-1]["entry_hash"] = "f" * 64  # a checkpoint the registry never signed
    kept.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = _against(app, kept)
    assert result.exit_code == 1 and "not signed by the registry's key" in result.output


def test_against_an_empty_file_proves_nothing(app, session, world, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = _against(app, empty)
    assert result.exit_code == 1 and "no checkpoint in" in result.output


# ---------------------------------------------------------------- 5. entries from before signing


@pytest.mark.slow
def test_the_migration_excuses_only_the_entries_already_written(fresh_app):
    from flask_migrate import downgrade, upgrade

    from registry.extensions import db

    with fresh_app.app_context():
        downgrade(revision="9b8e4c2d1f07")
        with db.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE audit_head SET seq = 41")
            conn.exec_driver_sql(
                "INSERT INTO audit_checkpoint (seq, entry_hash, signed_at, key_fingerprint, signature) "
                "VALUES (40, 'h', '2026-11-20 08:00:00', 'SHA256:x', 's')"
            )
        upgrade()
        with db.engine.connect() as conn:
            signed_from, checkpoint_at = conn.exec_driver_sql("SELECT signed_from, checkpoint_at FROM audit_head").one()
        assert signed_from == 42 and str(checkpoint_at).startswith("2026-11-20 08:00:00")


# ---------------------------------------------------------------- review findings


def _strip_and_excuse(session, world) -> int:
    """Append an unsigned entry, strip the signatures past the last checkpoint, and move the signing
    boundary past the end: the one UPDATE that would excuse them all."""
    seq = _forge(session, world)
    _bypass_triggers(session)
    last = _head(session).checkpoint_seq
    session.execute(text("UPDATE audit_entry SET signature = NULL WHERE seq > :last"), {"last": last})
    session.execute(update(AuditHead).values(signed_from=seq + 1))
    session.expire_all()
    return seq


def test_moving_the_signing_boundary_shows_in_the_checkpoints(app, session, world, witness, every):
    every(5)
    _logins(world, 12)
    _strip_and_excuse(session, world)
    verdict = audit.verify_database()
    assert not verdict.ok and "the boundary was moved" in verdict.problem
    # Deleting the checkpoints too leaves the witness's copy, which signed the boundary.
    _bypass_checkpoint_triggers(session)
    session.execute(delete(AuditCheckpoint))
    session.execute(update(AuditHead).values(checkpoints=0, checkpoint_seq=0))
    result = _against(app, witness)
    assert result.exit_code == 1 and "the boundary was moved to excuse unsigned entries" in result.output


def test_a_checkpoint_published_late_is_still_written(tmp_path):
    """Two servers commit checkpoints 100 and 125 and publish them in the other order."""
    path = str(tmp_path / "witness.jsonl")
    assert witnesses.append(path, [{"seq": 125, "entry_hash": "b"}]) == 1
    assert witnesses.append(path, [{"seq": 100, "entry_hash": "a"}]) == 1
    assert witnesses.append(path, [{"seq": 100, "entry_hash": "a"}, {"seq": 125, "entry_hash": "b"}]) == 0
    assert sorted(row["seq"] for row in _lines(tmp_path / "witness.jsonl")) == [100, 125]


@pytest.mark.parametrize("damage", [b"\xff\xfe not text\n", b'{"seq": 1e400, "origin": "x"}\n', b"[1, 2]\n"])
def test_a_damaged_checkpoint_file_is_named_line_by_line(app, world, tmp_path, damage):
    path = tmp_path / "kept.jsonl"
    path.write_bytes(damage)
    result = _against(app, path)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "line 1 is not a checkpoint" in result.output


def test_a_missing_signing_key_is_a_clear_refusal(app, client, login, world, monkeypatch, tmp_path):
    from registry.services import tokens

    secret = tokens.create_token(world.operator, world.users["officer"].id, "tests")[1]
    monkeypatch.setitem(app.config, "AUDIT_SIGNING_KEY", str(tmp_path / "gone.pem"))
    login(world.users["officer"])
    page = client.post(f"/facilities/{world.breeder_site}/inspect", data={"result": "passed"})
    assert page.status_code == 503 and "nothing was saved" in page.get_data(as_text=True)
    answer = client.post(
        f"/api/v1/facilities/{world.breeder_site}/actions/inspect",
        json={"result": "passed"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert answer.status_code == 503 and answer.json["status"] == 503
