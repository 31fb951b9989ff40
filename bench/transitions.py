"""A lifecycle event through the services (with its audit entry) against the same writes in SQL.

Each writer is its own process with its own animal, flipping it between "in captivity" and
"missing" (report_missing, recover): the same transition on every backend and every run. The
limit does what the service writes, by hand on the driver's connection: lock and update the animal,
append its timeline row, then (as late as the service does) lock the chain head, link the entry's
subjects, hash and sign it, insert it and move the head.
"""

from __future__ import annotations

import multiprocessing
import queue
import sqlite3
import time
from datetime import UTC, date, datetime

from bench.measure import Sample
from bench.target import Target

_ANIMAL_COLUMNS = (
    "registry_no", "species_id", "state", "sex", "name", "birth_date", "birth_date_estimated", "source_code",
    "origin_country", "owner_party_id", "holder_party_id", "facility_id", "sire_id", "dam_id", "permit_line_id",
)  # fmt: skip


def pick_animals(target: Target, count: int) -> list[int]:
    """*count* animals in captivity, each in a facility, for the writers to flip."""
    from sqlalchemy import create_engine, text

    engine = create_engine(target.url)
    with engine.connect() as conn:
        ids = conn.execute(
            text(
                "SELECT id FROM animal WHERE state = 'in_captivity' AND facility_id IS NOT NULL "
                "ORDER BY id DESC LIMIT :n"
            ),
            {"n": count},
        ).scalars()
        found = list(ids)
    engine.dispose()
    if len(found) < count:
        raise RuntimeError(f"the data set has {len(found)} animals in captivity, {count} needed")
    return found


def _service_writer(config, animal_id, seconds, barrier, out):
    from registry import create_app
    from registry.commands.animals import Recover, ReportMissing
    from registry.extensions import db
    from registry.models import User
    from registry.permissions import Actor
    from registry.services import animals
    from registry.services.errors import Unavailable

    app = create_app(config, check_start=False)
    with app.app_context():
        officer = db.session.query(User).filter_by(username="officer").one()
        actor = Actor.for_user(officer)
        db.session.remove()
        missing, busy = False, 0
        latencies: list[float] = []
        barrier.wait()
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            command = Recover() if missing else ReportMissing(circumstances="benchmark")
            try:
                animals.record_animal_event(actor, animal_id, command)
            except Unavailable:  # SQLite: the write lock not had within the busy timeout (a 503)
                busy += 1
                continue
            finally:
                db.session.remove()  # each request starts with a fresh session
            latencies.append(time.perf_counter() - t0)
            missing = not missing
        out.put((latencies, time.perf_counter() - start, busy))


def _sql_writer(config, animal_id, seconds, barrier, out):
    from registry import audit_chain, create_app
    from registry.extensions import db
    from registry.models import User
    from registry.services import anchor
    from registry.services.audit import diff

    app = create_app(config, check_start=False)
    with app.app_context():
        officer = db.session.query(User).filter_by(username="officer").one()
        user_id, username, role = officer.id, officer.username, officer.role
        db.session.remove()
        raw = db.engine.raw_connection()
        sqlite = db.engine.dialect.name == "sqlite"

        def q(sql: str) -> str:
            return sql.replace("%s", "?") if sqlite else sql

        lock = "" if sqlite else " FOR UPDATE"
        if sqlite:
            from json import dumps as json_param
        else:
            from psycopg.types.json import Json as json_param  # type: ignore[assignment]
        missing, busy = False, 0
        latencies: list[float] = []
        barrier.wait()
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            cur = raw.cursor()
            if sqlite:
                try:
                    cur.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError:  # busy past the timeout, as the service's 503
                    busy += 1
                    continue
            cur.execute(
                q(f"SELECT {', '.join(_ANIMAL_COLUMNS)}, version FROM animal WHERE id = %s{lock}"), (animal_id,)
            )
            row = cur.fetchone()
            before = dict(zip(_ANIMAL_COLUMNS, row[:-1], strict=True))
            event, new_state = ("recover", "in_captivity") if missing else ("report_missing", "missing")
            details = {"note": None, "facility_id": None} if missing else {"circumstances": "benchmark"}
            now = datetime.now(UTC)
            stamp = now.replace(tzinfo=None).isoformat(sep=" ") if sqlite else now
            today = date.today().isoformat() if sqlite else date.today()
            cur.execute(q("UPDATE animal SET state = %s, version = version + 1 WHERE id = %s"), (new_state, animal_id))
            cur.execute(
                q(
                    "INSERT INTO animal_event (animal_id, event, from_state, to_state, occurred_on, recorded_at, "
                    "actor_id, actor_name, permit_id, details) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL, %s) "
                    "RETURNING id"
                ),
                (animal_id, event, before["state"], new_state, today, stamp, user_id, username, json_param(details)),
            )  # fmt: skip
            event_id = cur.fetchone()[0]
            after = before | {"state": new_state, "event": details, "occurred_on": date.today(), "event_id": event_id}
            b, a = diff(before, after)
            cur.execute(q(f"SELECT seq, entry_hash FROM audit_head WHERE id = 1{lock}"))
            head_seq, head_hash = cur.fetchone()
            seq = head_seq + 1
            subjects = sorted({("animal", str(animal_id)), ("facility", str(before["facility_id"]))})
            cur.execute(
                q(
                    "SELECT subject_type, subject_id, max(seq) FROM audit_subject WHERE "
                    "(subject_type = %s AND subject_id = %s) OR (subject_type = %s AND subject_id = %s) "
                    "GROUP BY subject_type, subject_id"
                ),
                (*subjects[0], *subjects[1]),
            )
            latest = {(t, i): s for t, i, s in cur.fetchall()}
            fields = {
                "seq": seq, "occurred_at": now, "actor_id": user_id, "actor_name": username, "actor_role": role,
                "action": f"animal.{event}", "object_type": "animal", "object_id": str(animal_id), "before": b,
                "after": a, "request_id": None, "client_addr": None, "prev_hash": head_hash,
                "subjects": [{"type": t, "id": i, "prev": latest.get((t, i))} for t, i in subjects],
            }  # fmt: skip
            entry_hash = audit_chain.compute_hash(fields)
            signature = anchor.sign_entry(seq, entry_hash)
            cur.execute(
                q(
                    "INSERT INTO audit_entry (seq, occurred_at, actor_id, actor_name, actor_role, action, object_type, "
                    "object_id, before, after, request_id, client_addr, subjects, prev_hash, entry_hash, signature) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                ),
                (seq, stamp, user_id, username, role, fields["action"], "animal", str(animal_id), json_param(b),
                 json_param(a), None, None, json_param(fields["subjects"]), head_hash, entry_hash, signature),
            )  # fmt: skip
            cur.executemany(
                q("INSERT INTO audit_subject (subject_type, subject_id, seq) VALUES (%s, %s, %s)"),
                [(t, i, seq) for t, i in subjects],
            )
            cur.execute(q("UPDATE audit_head SET seq = %s, entry_hash = %s WHERE id = 1"), (seq, entry_hash))
            cur.close()
            raw.commit()
            latencies.append(time.perf_counter() - t0)
            missing = not missing
        out.put((latencies, time.perf_counter() - start, busy))
        raw.close()


def run(target: Target, writers: int, seconds: float, by_hand: bool) -> Sample:
    """Ops/s of *writers* processes at once, each on its own animal."""
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(writers), ctx.Queue()
    worker = _sql_writer if by_hand else _service_writer
    procs = [
        ctx.Process(target=worker, args=(target.config(), animal_id, seconds, barrier, out))
        for animal_id in pick_animals(target, writers)
    ]
    for p in procs:
        p.start()
    results = []
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=1))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                for p in procs:
                    p.kill()
                raise RuntimeError("a benchmark writer failed (its traceback is above)") from None
    for p in procs:
        p.join()
        if p.exitcode:
            raise RuntimeError(f"a benchmark writer failed (exit {p.exitcode})")
    latencies = [x for lat, _, _ in results for x in lat]
    sample = Sample(len(latencies), max(elapsed for _, elapsed, _ in results), latencies)
    sample.refused = sum(busy for _, _, busy in results)
    return sample
