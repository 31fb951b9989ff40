"""Concurrent writers on a real database: no forked audit chain, no lost update."""

import threading
import uuid

import pytest
from sqlalchemy import func, select

from registry.extensions import db
from registry.models import AuditEntry, Permit
from registry.permissions import Actor
from registry.services import audit, reference, users
from registry.services.errors import Conflict
from tests import uses

# Threads racing on their own committed databases, not the rolled-back test session.
pytestmark = pytest.mark.slow

THREADS = 6
PER_THREAD = 8


def _run_threads(app, work):
    barrier = threading.Barrier(THREADS)
    outcomes, errors = [], []

    def runner(i):
        with app.app_context():
            barrier.wait()
            try:
                outcomes.append(work(i))
            except Exception as exc:  # collected and asserted on below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes, errors


def _application(op: Actor, quantity: int) -> tuple[int, int, int]:
    """A species, an applicant and a submitted import application; returns their ids."""
    from registry.models import Species
    from registry.services.context import write_transaction

    applicant = reference.create_party(op, "organisation", "Applicant").id
    exporter = reference.create_party(op, "organisation", "Exporter", country="ZA").id
    with write_transaction() as s:
        species = Species(
            scientific_name=f"Ara sp. {uuid.uuid4().hex[:6]}",
            taxon_class="Aves",
            taxon_order="Psittaciformes",
            family="Psittacidae",
            appendix="II",
        )
        s.add(species)
    p = uses.create_application(
        op,
        {
            "doc_type": "import",
            "applicant_party_id": applicant,
            "exporter_party_id": exporter,
            "import_country": "KR",
            "export_country": "ZA",
            "purpose_code": "Z",
            "source_code": "C",
            "foreign_permit_no": "ZA-1",
            "foreign_permit_date": "2026-10-01",
            "lines": [{"species_id": species.id, "quantity": str(quantity)}],
        },
    )
    uses.permit_event(op, p.id, "submit")
    return species.id, applicant, p.id


def _issue(op: Actor, permit_id: int):
    """Approve and issue *permit_id*: issued by an officer of a regional office (box 6)."""
    issuer = Actor.for_user(
        users.create_user(op, "issuer", "long enough pw", "ministry_officer", office_code="han-river")
    )
    uses.permit_event(op, permit_id, "approve")
    return uses.permit_event(issuer, permit_id, "issue")


def test_concurrent_appends_keep_one_chain(fresh_app):
    def work(i):
        actor = Actor.system(f"writer-{i}")
        for n in range(PER_THREAD):
            reference.create_party(actor, "person", f"Person {i}-{n}")
        return i

    done, errors = _run_threads(fresh_app, work)
    assert errors == [] and len(done) == THREADS
    with fresh_app.app_context():
        seqs = db.session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
        assert seqs == list(range(1, THREADS * PER_THREAD + 1))
        assert db.session.scalar(select(func.count(func.distinct(AuditEntry.prev_hash)))) == len(seqs)
        assert audit.verify_database().ok


def test_two_officers_deciding_at_once_one_wins(fresh_app):
    with fresh_app.app_context():
        op = Actor.system("setup")
        officers = [
            Actor.for_user(users.create_user(op, f"officer{i}", "long enough pw", "ministry_officer"))
            for i in range(THREADS)
        ]
        permit_ids = [_application(op, 1)[2] for _ in range(3)]
        db.session.remove()

    for permit_id in permit_ids:

        def work(i, permit_id=permit_id):
            try:
                uses.permit_event(
                    officers[i], permit_id, "approve" if i % 2 else "request_changes", {"reason": f"officer {i}"}
                )
                return "won"
            except Conflict as exc:
                return f"conflict: {exc.message}"

        outcomes, errors = _run_threads(fresh_app, work)
        assert errors == []
        assert outcomes.count("won") == 1, outcomes
        assert all(o.startswith("conflict") for o in outcomes if o != "won")
        with fresh_app.app_context():
            permit = db.session.get(Permit, permit_id)
            assert permit.state in ("approved", "changes_requested") and permit.version == 3
            decisions = db.session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(
                    AuditEntry.object_type == "permit",
                    AuditEntry.object_id == str(permit_id),
                    AuditEntry.action.in_(("permit.approve", "permit.request_changes")),
                )
            )
            assert decisions == 1
            assert audit.verify_database().ok
            db.session.remove()


def test_parallel_placements_never_exceed_capacity(fresh_app):
    from registry.models import Animal

    with fresh_app.app_context():
        op = Actor.system("setup")
        species, zoo, permit_id = _application(op, THREADS)
        site = uses.register_facility(op, "F-SMALL", "Small aviary", zoo, "x", {species: 2}).id
        p = _issue(op, permit_id)
        entered = []
        for _ in range(THREADS):
            a = uses.declare(op, p.lines[0].id, {})
            entered.append(uses.fire(op, a.id, "enter", {"port": "ICN"}).id)
        db.session.remove()

    def work(i):
        try:
            uses.fire(Actor.system(f"keeper-{i}"), entered[i], "register", {"facility_id": site})
            return "placed"
        except Conflict as exc:
            return exc.message

    outcomes, errors = _run_threads(fresh_app, work)
    assert errors == []
    assert outcomes.count("placed") == 2, outcomes
    assert all("at capacity" in o for o in outcomes if o != "placed")
    with fresh_app.app_context():
        assert db.session.query(Animal).filter_by(facility_id=site).count() == 2
        assert audit.verify_database().ok
        db.session.remove()


def test_verify_while_writing_reports_no_false_break(fresh_app):
    stop = threading.Event()

    def writer():
        with fresh_app.app_context():
            n = 0
            while not stop.is_set() and n < 200:
                reference.create_party(Actor.system("writer"), "person", f"P{n}")
                n += 1
            db.session.remove()

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        with fresh_app.app_context():
            verdicts = []
            for _ in range(10):
                verdicts.append(audit.verify_database())
                db.session.remove()
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert all(v.ok for v in verdicts), [str(v) for v in verdicts if not v.ok]
