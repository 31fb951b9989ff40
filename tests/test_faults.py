"""Faults: concurrent writers that used to deadlock, a lost or busy database, retries with an
Idempotency-Key after a crash. Every answer is a clear refusal (409, 503 with Retry-After), never a 500,
and says "nothing was saved" only when that is true."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.exc import OperationalError

from registry import create_app, totp
from registry.extensions import db
from registry.models import Animal, AuditEntry, IdempotentRequest, Party, Transfer
from registry.models.base import utcnow
from registry.permissions import Actor
from registry.services import audit, errors, reference, tokens, users
from registry.services.context import write_transaction
from registry.services.errors import DomainError
from tests import conftest, uses
from tests.conftest import PASSWORD, TOTP_SECRET, make_database

PROBLEM = "application/problem+json"


def _app(backend, tmp_path, url=None, **settings):
    """An app on its own migrated database (committed for real), with *settings* on top."""
    from flask_migrate import upgrade

    made, cleanup = make_database(backend, tmp_path)
    config = type("FaultConfig", (conftest._config(made),), settings)
    app = create_app(config)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    if url is not None:  # the same database, reached another way (through a proxy)
        config.SQLALCHEMY_DATABASE_URI = url(made)
        app = create_app(config)
    return app, made, cleanup


def _officer_token(app) -> str:
    """A ministry officer with a second factor and an API token; returns the bearer secret."""
    with app.app_context():
        op = Actor.system("setup")
        officer = users.create_user(op, "officer", PASSWORD, "ministry_officer")
        with write_transaction():
            officer = db.session.merge(officer)
            officer.totp_secret = totp.seal(TOTP_SECRET, app.config["SECRET_KEY"])
            officer.totp_enrolled_at = utcnow()
        secret = tokens.create_token(op, officer.id, "faults")[1]
        db.session.remove()
    return secret


def _party(client, secret, name: str, key: str | None = None, **headers):
    more = {"Authorization": f"Bearer {secret}", **headers}
    if key is not None:
        more["Idempotency-Key"] = key
    return client.post("/api/v1/parties", json={"kind": "organisation", "name": name}, headers=more)


def _parties(app, name: str) -> int:
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(Party).where(Party.name == name))
        finally:
            db.session.remove()


# ------------------------------------------------------------------ lock order (PostgreSQL)


def _keepers_and_a_bird(app):
    """Two keepers, a facility each, and a bird of the first offered to the second's facility."""
    with app.app_context():
        op = Actor.system("setup")
        with write_transaction():
            parrot = conftest.species("Psittacus erithacus", "I")
        zoo = reference.create_party(op, "organisation", "City Zoo").id
        breeder = reference.create_party(op, "person", "Kim Breeder").id
        zoo_site = uses.register_facility(op, "F-ZOO", "Bird house", zoo, "Seoul", {parrot: 5}).id
        breeder_site = uses.register_facility(op, "F-BRD", "Aviary", breeder, "Suwon", {parrot: 5}).id
        keepers = {
            name: Actor.for_user(users.create_user(op, name, PASSWORD, "keeper", party_id=party))
            for name, party in (("zoo", zoo), ("breeder", breeder))
        }
        born = (date.today() - timedelta(days=30)).isoformat()
        bird = uses.register_birth(op, {"species_id": parrot, "facility_id": zoo_site, "birth_date": born}).id
        offer = uses.offer(keepers["zoo"], {"animal_ids": [bird], "facility_id": breeder_site}).id
        db.session.remove()
    return keepers, bird, breeder_site, offer


def _waiting_on_locks(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )


def _until(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _race(app, url, hold: str, params: dict, first, second) -> dict:
    """Run *first*, then *second*, each in its own thread and session, both queued behind a row a
    third connection holds (*hold*, a SELECT ... FOR UPDATE), so that they meet in the worst order;
    then let them go. Returns each one's result, refusal (a DomainError) or ("unhandled", exc)."""
    watcher = create_engine(conftest.database_url(url))
    blocker = watcher.connect()
    blocker.begin()
    blocker.execute(text(hold), params)
    outcomes: dict[str, object] = {}

    def run(name, work):
        with app.app_context():
            try:
                outcomes[name] = work()
            except DomainError as exc:  # a refusal is an answer
                outcomes[name] = exc
            except Exception as exc:  # anything else would be a 500
                outcomes[name] = ("unhandled", exc)
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=run, args=("first", first)),
        threading.Thread(target=run, args=("second", second)),
    ]
    try:
        threads[0].start()
        _until(lambda: _waiting_on_locks(watcher) >= 1)
        threads[1].start()
        _until(lambda: _waiting_on_locks(watcher) >= 2)
    finally:
        blocker.rollback()
        blocker.close()
        for t in threads:
            t.join(60)
        watcher.dispose()
    assert not any(isinstance(o, tuple) for o in outcomes.values()), outcomes
    return outcomes


@pytest.mark.slow
def test_accepting_and_offering_at_once_never_deadlock(backend, tmp_path):
    """Accepting a transfer locked the transfer, its animal, then the receiving facility; offering
    locked the facility, then the animal: run together, PostgreSQL killed one with a deadlock (a 500).
    A third connection holds the animal so that both queue behind it in the worst order."""
    if backend != "postgresql":
        pytest.skip("row locks and deadlocks are PostgreSQL's (SQLite serialises writers)")
    app, url, cleanup = _app(backend, tmp_path)
    try:
        keepers, bird, breeder_site, offer = _keepers_and_a_bird(app)
        outcomes = _race(
            app,
            url,
            "SELECT id FROM animal WHERE id = :id FOR UPDATE",
            {"id": bird},
            lambda: uses.transfer_event(keepers["breeder"], "accept", offer).state,
            lambda: uses.offer(keepers["zoo"], {"animal_ids": [bird], "facility_id": breeder_site}),
        )
        assert outcomes["first"] == "accepted", outcomes
        # Refused for what it is (the animal is no longer the zoo's), not as a deadlock's victim (503).
        assert isinstance(outcomes["second"], DomainError) and outcomes["second"].status in (404, 409, 422)
        with app.app_context():
            animal = db.session.get(Animal, bird)
            assert animal.facility_id == breeder_site
            assert db.session.scalar(select(func.count()).select_from(Transfer)) == 1
            assert audit.verify_database().ok
            db.session.remove()
    finally:
        with app.app_context():
            db.engine.dispose()
        cleanup()


@pytest.mark.slow
def test_an_event_and_an_answer_on_its_offer_at_once_never_deadlock(backend, tmp_path):
    """A death locked the animal, wrote its audit entry (the audit head), then cancelled the pending
    offer (its transfer); declining the offer locked the transfer, then the audit head: a deadlock.
    The event now locks the offers it may cancel before its audit entry."""
    if backend != "postgresql":
        pytest.skip("row locks and deadlocks are PostgreSQL's (SQLite serialises writers)")
    app, url, cleanup = _app(backend, tmp_path)
    try:
        keepers, bird, _site, offer = _keepers_and_a_bird(app)
        outcomes = _race(
            app,
            url,
            "SELECT id FROM audit_head FOR UPDATE",
            {},
            lambda: uses.fire(keepers["zoo"], bird, "death", {"cause": "old age"}).state,
            lambda: uses.transfer_event(keepers["breeder"], "decline", offer).state,
        )
        assert outcomes["first"] == "dead", outcomes
        # The offer was cancelled with the death: declining it is refused for that, not as a deadlock's victim.
        assert isinstance(outcomes["second"], DomainError) and outcomes["second"].status == 409, outcomes
        with app.app_context():
            assert db.session.get(Transfer, offer).state == "cancelled"
            assert audit.verify_database().ok
            db.session.remove()
    finally:
        with app.app_context():
            db.engine.dispose()
        cleanup()


def test_a_deadlock_that_happens_anyway_is_a_503_not_a_500(session, monkeypatch):
    """The backstop: a deadlock or serialization failure PostgreSQL reports is answered 503 with
    Retry-After, nothing saved (whatever the backend under test, the error is made here)."""

    class Deadlock(Exception):
        sqlstate = "40P01"

    before = session.scalar(select(func.count()).select_from(Party))
    with pytest.raises(errors.DomainError) as caught, write_transaction() as s:
        s.add(Party(kind="person", name="Lost to a deadlock"))
        s.flush()
        raise OperationalError("UPDATE ...", {}, Deadlock("deadlock detected"))
    assert caught.value.status == 503 and caught.value.retry_after > 0
    assert "nothing was saved" in caught.value.message
    assert session.scalar(select(func.count()).select_from(Party)) == before


# ------------------------------------------------------------------ idempotency


def test_a_crash_between_the_change_and_its_answer_saves_neither(api, world, session, monkeypatch):
    """The key, the change and the stored answer were three transactions: a crash after the change
    kept the change, and the retry was refused (the animal already dead, or "still being
    processed" forever). Now they are one: the crash saves nothing and the retry runs once."""
    from registry.views.api import common
    from tests.helpers import animal_in

    animal = animal_in(world, "in_captivity")
    key = {"Idempotency-Key": "death-after-crash"}
    body = {"event": "death", "cause": "old age"}
    real = common.make_response

    def crash(rv):
        real(rv)
        raise RuntimeError("the worker died before the answer was stored")

    monkeypatch.setattr(common, "make_response", crash)
    with pytest.raises(RuntimeError):
        api("zoo", "POST", f"/animals/{animal.id}/events", body, key)
    monkeypatch.setattr(common, "make_response", real)
    session.expire_all()
    assert session.get(Animal, animal.id).state == "in_captivity"
    assert session.get(IdempotentRequest, (world.users["zoo"].id, "death-after-crash")) is None

    retried = api("zoo", "POST", f"/animals/{animal.id}/events", body, key)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    again = api("zoo", "POST", f"/animals/{animal.id}/events", body, key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == retried.json
    assert len([e for e in session.get(Animal, animal.id).events if e.event == "death"]) == 1


def test_keys_expire_and_are_purged(app, api, world, session):
    first = api("officer", "POST", "/parties", {"kind": "person", "name": "Expiring"}, {"Idempotency-Key": "old"})
    assert first.status_code == 201
    officer = world.users["officer"].id
    day_ago = utcnow() - timedelta(hours=app.config["IDEMPOTENCY_KEY_HOURS"], minutes=1)
    session.execute(update(IdempotentRequest).values(created_at=day_ago))
    # A key left without an answer (by an earlier release) is not refused forever either.
    session.add(IdempotentRequest(user_id=officer, key="unanswered", fingerprint="x", created_at=day_ago))
    session.commit()

    fresh = api("officer", "POST", "/parties", {"kind": "person", "name": "Expiring"}, {"Idempotency-Key": "old"})
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    assert fresh.json["id"] != first.json["id"]
    other = api("officer", "POST", "/parties", {"kind": "person", "name": "Other"}, {"Idempotency-Key": "unanswered"})
    assert other.status_code == 201

    session.execute(update(IdempotentRequest).where(IdempotentRequest.key == "old").values(created_at=day_ago))
    session.commit()
    result = app.test_cli_runner().invoke(args=["idempotency", "purge"])
    assert result.exit_code == 0 and "deleted 1 " in result.output
    assert session.scalars(select(IdempotentRequest.key)).all() == ["unanswered"]


@pytest.mark.slow
def test_the_same_key_sent_twice_at_once_acts_once(backend, tmp_path):
    """Two identical requests at the same moment: one acts, the other waits for it and replays its
    answer (the second used to get a 409, or on PostgreSQL a duplicate key error)."""
    app, _url, cleanup = _app(backend, tmp_path)
    try:
        secret = _officer_token(app)
        barrier = threading.Barrier(4)
        answers = []

        def send():
            barrier.wait()
            answers.append(_party(app.test_client(), secret, "Twins", "twin-key"))

        threads = [threading.Thread(target=send) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(a.status_code for a in answers) == [201] * 4, [a.get_json() for a in answers]
        assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 3
        assert len({a.json["id"] for a in answers}) == 1
        assert _parties(app, "Twins") == 1
    finally:
        with app.app_context():
            db.engine.dispose()
        cleanup()


# ------------------------------------------------------------------ SQLite busy


def test_sqlite_busy_is_a_503_with_retry_after(backend, tmp_path):
    """A writer that waited the whole busy timeout got a 500 "database is locked"."""
    if backend != "sqlite":
        pytest.skip("SQLite's write lock")
    app, url, cleanup = _app(backend, tmp_path, SQLITE_BUSY_TIMEOUT_MS=100)
    secret = _officer_token(app)
    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        client = app.test_client()
        refused = _party(client, secret, "Blocked", "busy-key")
        assert refused.status_code == 503 and refused.mimetype == PROBLEM
        assert int(refused.headers["Retry-After"]) > 0
        assert "nothing was saved" in refused.json["detail"]
        assert client.get("/api/v1/parties", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    finally:
        holder.rollback()
        holder.close()
    assert _party(client, secret, "Blocked", "busy-key").status_code == 201
    assert _parties(app, "Blocked") == 1
    cleanup()


def test_the_busy_timeout_is_a_setting(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's busy timeout")
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == app.config["SQLITE_BUSY_TIMEOUT_MS"]


def test_a_lost_database_is_a_translated_503_page(login, world, monkeypatch):
    """The web's answer to an outage: a page in the reader's language, with Retry-After."""
    import psycopg

    from registry.services import dashboard

    client = login(world.users["officer"])

    def lost(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, psycopg.OperationalError("server closed the connection unexpectedly"))

    monkeypatch.setattr(dashboard, "figures", lost)
    page = client.get("/dashboard/", headers={"Accept-Language": "ko"})
    assert page.status_code == 503 and int(page.headers["Retry-After"]) > 0
    english = client.get("/dashboard/")
    assert english.status_code == 503 and b"cannot be reached just now, so nothing was saved" in english.data
    assert "데이터베이스에 연결할 수 없어" in page.get_data(as_text=True)


# ------------------------------------------------------------------ a lost PostgreSQL


class Proxy:
    """A TCP proxy on the loopback between the app and PostgreSQL: stop it and the database is
    gone (listener closed, every connection cut); start it and it is back on the same port.
    ``cut_at_commit`` forwards the next COMMIT, then cuts the connection before its answer."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = 0
        self.cut_at_commit = False
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            if self._listener is not None:
                self._close(self._listener)  # shutdown first: close alone leaves accept() listening
                self._listener = None
            for s in self._sockets:
                self._close(s)
            self._sockets.clear()

    @staticmethod
    def _close(s: socket.socket) -> None:
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        s.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _addr = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, server]
            committing = threading.Event()
            threading.Thread(target=self._pump, args=(client, server, committing, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, committing, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, committing: threading.Event, upstream: bool) -> None:
        try:
            while data := src.recv(65536):
                if not upstream and committing.is_set():
                    self._close(src)  # the server has answered the COMMIT: the app never hears it
                    self._close(dst)
                    return
                dst.sendall(data)
                if upstream and self.cut_at_commit and b"COMMIT" in data:
                    self.cut_at_commit = False
                    committing.set()
        except OSError:
            pass
        finally:
            self._close(dst)


@pytest.mark.slow
def test_a_lost_database_is_503_and_the_app_recovers_by_itself(backend, tmp_path):
    if backend != "postgresql":
        pytest.skip("a database over the network")
    from sqlalchemy.engine import make_url

    real = make_url(conftest.database_url(conftest.PG_URL))
    proxy = Proxy((real.host or "127.0.0.1", real.port or 5432))
    proxy.start()
    app, _url, cleanup = _app(
        backend, tmp_path, url=lambda made: str(make_url(made).set(host="127.0.0.1", port=proxy.port))
    )
    try:
        secret = _officer_token(app)
        client = app.test_client()
        auth = {"Authorization": f"Bearer {secret}"}
        assert client.get("/api/v1/parties", headers=auth).status_code == 200

        proxy.stop()
        read = client.get("/api/v1/parties", headers=auth)
        assert read.status_code == 503 and read.mimetype == PROBLEM and int(read.headers["Retry-After"]) > 0
        write = _party(client, secret, "During the outage", "outage-1")
        assert write.status_code == 503 and int(write.headers["Retry-After"]) > 0
        assert "nothing was saved" in write.json["detail"]

        proxy.start()  # the same port: the pool must find its way back without a restart
        assert client.get("/api/v1/parties", headers=auth).status_code == 200
        assert _party(client, secret, "During the outage", "outage-1").status_code == 201

        # Lost while committing: the change may be saved, so the answer does not say it was not;
        # the retry with the same key then tells which (here: saved, replayed, not done twice).
        proxy.cut_at_commit = True
        lost = _party(client, secret, "At commit", "commit-1")
        assert lost.status_code == 503 and int(lost.headers["Retry-After"]) > 0
        assert "nothing was saved" not in lost.json["detail"] and "may or may not" in lost.json["detail"]
        retried = _party(client, secret, "At commit", "commit-1")
        assert retried.status_code == 201 and retried.headers["Idempotent-Replayed"] == "true"
        assert _parties(app, "At commit") == 1
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(AuditEntry)) > 0
            assert audit.verify_database().ok
            db.session.remove()
    finally:
        proxy.stop()
        with app.app_context():
            db.engine.dispose()
        cleanup()


def test_a_busy_database_after_a_commit_does_not_claim_nothing_was_saved(app):
    """A request that committed a change and then met a busy database (a lock or statement timeout
    in a later step) must not be told "nothing was saved": a retry would record the change twice."""
    from registry.database import Fault
    from registry.services.context import unavailable

    with app.test_request_context():
        after_commit = str(unavailable(Fault.BUSY, commit_sent=True))
        before_commit = str(unavailable(Fault.BUSY, commit_sent=False))
    assert "nothing was saved" not in after_commit and "may or may not" in after_commit
    assert "nothing was saved" in before_commit
