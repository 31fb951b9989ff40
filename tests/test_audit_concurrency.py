"""Writers that do not queue behind one lock: the audit chain is ordered only at commit.

``record()`` queues an entry; ``write_transaction`` appends the queue just before it commits, under
the ``audit_head`` row lock. These tests run real transactions on their own committed databases
(``fresh_app``), in threads, and check the chain afterwards: one chain, no gap in seq, every
subject's ``prev`` link right, and ``verify`` passes.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from registry.extensions import db
from registry.models import AuditEntry, AuditSubject
from registry.permissions import Actor
from registry.services import audit
from registry.services.context import write_transaction
from tests import uses
from tests.conftest import PG_URL
from tests.test_concurrency import _application, _issue

#: Generous: a thread that has not got there by then is blocked, not slow.
WAIT = 30

# Threads racing on their own committed databases, not the rolled-back test session.
pytestmark = pytest.mark.slow

#: Transactions that overlap: SQLite lets one writer in at a time (BEGIN IMMEDIATE), so only PostgreSQL.
postgresql_only = pytest.mark.skipif(not PG_URL, reason="needs REGISTRY_TEST_DATABASE_URL (PostgreSQL)")


def _animals(app, count: int) -> list[int]:
    """*count* declared animals on one issued import permit; returns their ids."""
    with app.app_context():
        op = Actor.system("setup")
        _, _, permit_id = _application(op, count)
        permit = _issue(op, permit_id)
        ids = [uses.declare(op, permit.lines[0].id, {}).id for _ in range(count)]
        db.session.remove()
    return ids


def _mark(actor: Actor, animal_id: int, value: str) -> None:
    """A small write on one animal: a tag attached, one entry naming the animal."""
    uses.add_identifier(actor, animal_id, "tag", value)


def _thread(app, work, errors: list) -> threading.Thread:
    def run():
        with app.app_context():
            try:
                work()
            except BaseException as exc:  # collected and asserted on by the test
                errors.append(exc)
            finally:
                db.session.remove()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _assert_one_verifying_chain(app) -> list[AuditEntry]:
    """No gap in seq, each subject's prev the entry before it naming that subject, the index agreeing
    with the entries, and the whole chain verifying."""
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
        last: dict[tuple[str, str], int] = {}
        named = set()
        for e in entries:
            for s in e.subjects:
                key = (s["type"], s["id"])
                assert s["prev"] == last.get(key), f"entry {e.seq}: {key} links to {s['prev']}, not {last.get(key)}"
                last[key] = e.seq
                named.add((*key, e.seq))
        indexed = set(db.session.execute(select(AuditSubject.subject_type, AuditSubject.subject_id, AuditSubject.seq)))
        assert indexed == named
        verdict = audit.verify_database()
        assert verdict.ok, str(verdict)
        db.session.remove()
    return entries


@postgresql_only
@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_transaction_paused_before_commit_does_not_hold_up_another_animal(fresh_app):
    first, second = _animals(fresh_app, 2)
    recorded, release, done = threading.Event(), threading.Event(), threading.Event()
    errors: list = []
    pending: list[AuditEntry] = []

    def long_one():
        actor = Actor.system("long")
        with write_transaction():
            _mark(actor, first, "T1-A")
            pending.append(audit.record(actor, "animal.note", "animal", first, None, {"note": "still working"}))
            recorded.set()
            # Paused with its entries recorded and the transaction open, as a long use case is.
            assert release.wait(2 * WAIT), "never released"

    def small_one():
        assert recorded.wait(WAIT), "the first transaction never recorded its entries"
        _mark(Actor.system("small"), second, "T2-B")
        done.set()

    t1 = _thread(fresh_app, long_one, errors)
    t2 = _thread(fresh_app, small_one, errors)
    try:
        finished = done.wait(WAIT)
        still_open = t1.is_alive() and not release.is_set()
    finally:
        release.set()
        t1.join(2 * WAIT)
        t2.join(2 * WAIT)
    assert errors == []
    assert finished and still_open, "the unrelated write waited for the open transaction's commit"
    # Ordered at commit: the write that committed first holds the earlier place, whoever recorded first.
    entries = _assert_one_verifying_chain(fresh_app)
    (small,) = [e.seq for e in entries if e.after.get("value") == "T2-B"]
    assert pending[0].seq is not None and small < pending[0].seq == entries[-1].seq


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"] if PG_URL else ["sqlite"])
def test_many_writers_on_different_animals_leave_one_verifying_chain(fresh_app):
    fresh_app.config["AUDIT_CHECKPOINT_EVERY"] = 9  # checkpoints signed inside the appends, too
    writers, each = 4, 25
    animals = _animals(fresh_app, writers)
    start = threading.Barrier(writers)
    errors: list = []

    def writer(i: int):
        def work():
            start.wait(WAIT)
            for n in range(each):
                _mark(Actor.system(f"writer-{i}"), animals[i], f"W{i}-{n}")

        return work

    threads = [_thread(fresh_app, writer(i), errors) for i in range(writers)]
    for t in threads:
        t.join(4 * WAIT)
    assert errors == [] and not any(t.is_alive() for t in threads)
    entries = _assert_one_verifying_chain(fresh_app)
    for i, animal in enumerate(animals):
        marks = [e for e in entries if e.action == "animal.identifier_add" and e.after["animal_id"] == animal]
        assert [e.after["value"] for e in marks] == [f"W{i}-{n}" for n in range(each)]
    assert sum(e.action == "audit.checkpoint" for e in entries) >= writers * each // 9


@postgresql_only
@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_long_transaction_interleaved_with_small_writes_leaves_a_verifying_chain(fresh_app):
    """Like a large endorsement: many entries, one naming every animal, recorded while small writes on
    those same animals commit in between. Its links are made at its commit, to their entries."""
    fresh_app.config["AUDIT_CHECKPOINT_EVERY"] = 25
    animals = _animals(fresh_app, 6)
    big, others = animals[0], animals[1:]
    halfway, resume = threading.Event(), threading.Event()
    errors: list = []

    def long_one():
        actor = Actor.system("endorser")
        with write_transaction():
            for n in range(40):
                _mark(actor, big, f"L-{n}")
            halfway.set()
            assert resume.wait(2 * WAIT), "the small writes never finished"
            audit.record(actor, "animal.note", "animal", big, subjects=[("animal", a) for a in others])
            for n in range(40, 80):
                _mark(actor, big, f"L-{n}")

    def small_ones():
        assert halfway.wait(WAIT), "the long transaction never got halfway"
        for n in range(5):
            for a in others:
                _mark(Actor.system("keeper"), a, f"S-{a}-{n}")
        resume.set()

    t1 = _thread(fresh_app, long_one, errors)
    t2 = _thread(fresh_app, small_ones, errors)
    t2.join(4 * WAIT)
    resume.set()  # in case the small writes were held up: the test then fails below, not hangs
    t1.join(4 * WAIT)
    assert errors == []
    entries = _assert_one_verifying_chain(fresh_app)
    long_entries = [e.seq for e in entries if e.actor_name == "system:endorser"]
    small_entries = [e.seq for e in entries if e.actor_name == "system:keeper"]
    assert len(long_entries) == 81 and len(small_entries) == 25
    # The small writes committed while the long one was open: all before it, which is one run of
    # entries (with the checkpoints signed inside its append).
    assert max(small_entries) < min(long_entries)
    inside = [e for e in entries if long_entries[0] <= e.seq <= long_entries[-1]]
    assert all(e.actor_name == "system:endorser" or e.action == "audit.checkpoint" for e in inside)
    (note,) = [e for e in entries if e.action == "animal.note"]
    # Each animal's link goes to its last small write, committed after the note was recorded.
    assert {s["id"]: s["prev"] for s in note.subjects if s["id"] != str(big)} == {
        str(a): max(e.seq for e in entries if e.after and e.after.get("value") == f"S-{a}-4") for a in others
    }
