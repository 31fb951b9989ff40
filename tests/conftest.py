"""Fixtures in layers: app (per backend) -> db (per-test rollback) -> world (parties, users, facilities).

Every test runs on SQLite, and again on PostgreSQL when REGISTRY_TEST_DATABASE_URL
is set. Tests that need real commits across connections use ``fresh_app``.
"""

from __future__ import annotations

import itertools
import os
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from flask import current_app
from flask.globals import app_ctx
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.orm import scoped_session, sessionmaker

from config import TestingConfig, database_url
from registry import create_app, totp
from registry.extensions import db
from registry.models.base import utcnow
from registry.permissions import Actor, needs_second_factor
from registry.services import reference, sessions, users
from tests import uses

PG_URL = database_url(os.environ.get("REGISTRY_TEST_DATABASE_URL"))
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
PASSWORD = "correct horse battery"
#: The authenticator secret of every staff account in ``world`` (a test value, never a real one).
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _signing_key() -> str:
    """One Ed25519 key for the whole test run, outside the repository."""
    import tempfile
    from pathlib import Path

    from registry import signing

    path = Path(tempfile.gettempdir()) / f"registry-test-key-{os.getpid()}.pem"
    if not path.exists():
        signing.generate(path)
    return str(path)


def document_keys_paths() -> tuple[str, str]:
    """One development CA (document-signing key and chain) for the whole test run, outside the
    repository: RSA-3072 keys take a moment to make."""
    import tempfile
    from pathlib import Path

    from registry import document_keys

    folder = Path(tempfile.gettempdir()) / f"registry-test-ca-{os.getpid()}"
    key, chain = folder / "key.pem", folder / "chain.pem"
    if not chain.exists():
        document_keys.create_dev_ca(key, chain, organisation="Test Management Authority")
    return str(key), str(chain)


def _config(url: str):
    import tempfile

    key, chain = document_keys_paths()
    return type(
        "TestConfig",
        (TestingConfig,),
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "AUDIT_SIGNING_KEY": _signing_key(),
            "DOCUMENT_SIGNING_KEY": key,
            "DOCUMENT_SIGNING_CERT": chain,
            "UPLOAD_DIR": tempfile.mkdtemp(prefix="registry-uploads-"),
        },
    )


def _pg_database(name: str) -> str:
    """Create an empty PostgreSQL database next to the configured one; returns its URL."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def _drop_pg_database(name: str) -> None:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def make_database(backend: str, tmp_path) -> tuple[str, callable]:
    """A new empty database of *backend*; returns its URL and a clean-up function."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.sqlite'}", lambda: None
    name = f"registry_test_{uuid.uuid4().hex[:10]}"
    return _pg_database(name), lambda: _drop_pg_database(name)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(scope="session")
def app(backend, tmp_path_factory):
    url, cleanup = make_database(backend, tmp_path_factory.mktemp("db"))
    application = create_app(_config(url))
    with application.app_context():
        upgrade()
        db.engine.dispose()
    yield application
    with application.app_context():
        db.engine.dispose()
    cleanup()


@pytest.fixture
def fresh_app(backend, tmp_path):
    """An app on its own migrated database, for tests that must really commit."""
    url, cleanup = make_database(backend, tmp_path)
    application = create_app(_config(url))
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    cleanup()


@pytest.fixture
def session(app):
    """Each test in one outer transaction that is rolled back: services' commits become savepoints."""
    # Failed logins counted by one test must not throttle the next (the counters live in the app).
    app.extensions.pop("login_throttle", None)
    with app.app_context():
        conn = db.engine.connect()
        outer = conn.begin()
        original = db.session
        # One session per app context, as Flask-SQLAlchemy does, all joined to the outer transaction.
        db.session = scoped_session(
            sessionmaker(bind=conn, join_transaction_mode="create_savepoint"),
            scopefunc=lambda: id(app_ctx._get_current_object()),
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            conn.close()


@pytest.fixture
def operator() -> Actor:
    return Actor.system("tests")


@dataclass
class World:
    """A small registry: an authority, two keepers with facilities, and one user per role."""

    authority: int
    zoo: int
    breeder: int
    exporter: int
    zoo_site: int
    breeder_site: int
    rescue: int
    parrot: int
    python: int
    users: dict
    operator: Actor

    def actor(self, username: str) -> Actor:
        return Actor.for_user(self.users[username])


def species(name: str, appendix: str = "II", populations: tuple = (), **fields) -> int:
    """A species row, inside the caller's write transaction; *populations*: (countries, appendix)
    pairs of a split listing; *fields*: listed_on, listing_countries, distribution."""
    from registry.models import Species, SpeciesPopulation

    sp = Species(
        scientific_name=name,
        taxon_class="Aves",
        taxon_order="Psittaciformes",
        family="Psittacidae",
        appendix=appendix,
        name_en=name,
        national_category_code=None,
        populations=[SpeciesPopulation(countries=c, appendix=a) for c, a in populations],
        **fields,
    )
    db.session.add(sp)
    db.session.flush()
    return sp.id


@pytest.fixture
def world(session, operator) -> World:
    from registry.services.context import write_transaction

    with write_transaction():
        parrot = species("Psittacus erithacus", "I")
        python = species("Python regius", "II")
    party = lambda *a, **k: reference.create_party(operator, *a, **k).id  # noqa: E731
    authority = party("organisation", "Environmental Office")
    zoo = party("organisation", "City Zoo")
    breeder = party("person", "Kim Breeder")
    exporter = party("organisation", "Foreign Exporter", country="ZA")
    zoo_site = uses.register_facility(operator, "F-ZOO", "Zoo bird house", zoo, "Seoul", {parrot: 5, python: 2}).id
    breeder_site = uses.register_facility(operator, "F-BRD", "Aviary", breeder, "Suwon", {parrot: 2}).id
    rescue = uses.register_facility(
        operator, "F-RES", "Rescue centre", authority, "Seocheon", {parrot: 50, python: 50}
    ).id
    accounts = {}
    # Ministry officers work in a regional office, which issues their permits (box 6).
    for username, role, party_id, office in (
        ("admin", "admin", None, None),
        ("officer", "ministry_officer", None, "han-river"),
        ("officer2", "ministry_officer", None, "geum-river"),
        ("officer3", "ministry_officer", None, "han-river"),  # four eyes: drafter, approver, issuer differ
        ("customs", "customs_officer", None, None),
        ("zoo", "keeper", zoo, None),
        ("breeder", "keeper", breeder, None),
        ("auditor", "auditor", None, None),
    ):
        accounts[username] = users.create_user(
            operator, username, PASSWORD, role, party_id=party_id, office_code=office
        )
    with write_transaction():
        for user in accounts.values():
            if needs_second_factor(user.role):  # staff roles have enrolled, as they must
                user.totp_secret = totp.seal(TOTP_SECRET, current_app.config["SECRET_KEY"])
                user.totp_enrolled_at = utcnow()
    return World(authority, zoo, breeder, exporter, zoo_site, breeder_site, rescue, parrot, python, accounts, operator)


TODAY = date.today()
#: The date of the foreign documents applications cite: before any day a test sets the clock to.
FOREIGN_DATE = TODAY - timedelta(days=1000)


#: Each application cites a foreign permit of its own: the ledger refuses a second use of one.
_FOREIGN_NUMBERS = itertools.count(1)


def import_application(w: World, **overrides) -> dict:
    data = {
        "doc_type": "import",
        "importer_party_id": w.zoo,
        "exporter_party_id": w.exporter,
        "import_country": "KR",
        "export_country": "ZA",
        "purpose_code": "Z",
        "source_code": "C",
        "foreign_permit_no": f"ZA-{next(_FOREIGN_NUMBERS)}",
        "foreign_permit_date": FOREIGN_DATE.isoformat(),
        "lines": [{"species_id": w.parrot, "term_code": "LIV", "quantity": "3"}],
    }
    data.update(overrides)
    return data


class FreshContextClient(FlaskClient):
    """Each request in its own app context (own ``g`` and session), as in production."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app, session):
    app.test_client_class = FreshContextClient
    return app.test_client()


def open_session(user, second_factor: bool = True) -> str:
    """A signed-in session of *user*; returns its cookie's key.

    Committed by the test's own session, not through the service's write transaction, which would
    first roll back whatever earlier requests of the test wrote. Committing releases the test
    session's savepoint, and with it any savepoint a test opened after it: log in before opening one.
    """
    row, key = sessions.new_session(user, second_factor=second_factor, client_addr="127.0.0.1", user_agent="tests")
    db.session.add(row)
    db.session.commit()
    return key


@pytest.fixture
def login(client):
    """Log a user in by writing the session (the login form has its own test)."""

    def _login(user):
        key = open_session(user)
        with client.session_transaction() as s:
            s["_user_id"] = user.get_id()
            s["_fresh"] = True
            s["sid"] = key
        return client

    return _login


@pytest.fixture
def api(client, world):
    """call(username, method, path, json=None, headers=None) with that user's bearer token."""
    from registry.services import tokens

    secrets = {name: tokens.create_token(world.operator, user.id, "tests")[1] for name, user in world.users.items()}

    def call(username, method, path, json=None, headers=None):
        all_headers = {"Authorization": f"Bearer {secrets[username]}"} if username else {}
        all_headers.update(headers or {})
        return client.open(f"/api/v1{path}", method=method, json=json, headers=all_headers)

    call.secrets = secrets  # type: ignore[attr-defined]
    return call


@pytest.fixture
def api_tokens(world) -> dict:
    """A bearer token per user of the world."""
    from registry.services import tokens

    return {name: tokens.create_token(world.operator, user.id, "tests")[1] for name, user in world.users.items()}
