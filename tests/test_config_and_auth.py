"""Start-up configuration, the login form, sessions and their revocation."""

import pytest

import config
from registry.models import AuditEntry
from registry.services import users
from tests.conftest import PASSWORD


def test_unknown_environment_is_an_error(monkeypatch):
    monkeypatch.setenv("REGISTRY_ENV", "staging")
    with pytest.raises(RuntimeError, match="REGISTRY_ENV"):
        config.from_environment()


def test_postgres_urls_use_psycopg3():
    assert config.database_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert config.database_url("sqlite:///x") == "sqlite:///x"


def test_login_form_good_and_bad_password_are_audited(client, world, session):
    page = client.post("/login", data={"username": "zoo", "password": "wrong password!"})
    assert page.status_code == 200 and b"wrong password" in page.data.lower()
    failed = session.query(AuditEntry).filter_by(action="auth.login_failed").one()
    assert failed.after == {"reason": "wrong password"} and failed.actor_name == "zoo"
    ok = client.post("/login?next=/animals/", data={"username": "zoo", "password": PASSWORD})
    assert ok.status_code == 302 and ok.headers["Location"] == "/animals/"
    assert session.query(AuditEntry).filter_by(action="auth.login").count() == 1
    assert client.get("/").status_code == 200


def test_open_redirect_after_login_is_refused(client, world):
    ok = client.post("/login?next=https://evil.example/", data={"username": "zoo", "password": PASSWORD})
    assert ok.headers["Location"] == "/"


def test_password_reset_ends_existing_sessions(client, login, world):
    login(world.users["zoo"])
    assert client.get("/animals/").status_code == 200
    users.set_password(world.operator, world.users["zoo"].id, "a brand new password")
    assert client.get("/animals/").status_code == 302  # back to the login page


def test_disabled_user_cannot_log_in(client, world, session):
    users.set_enabled(world.operator, world.users["breeder"].id, False)
    page = client.post("/login", data={"username": "breeder", "password": PASSWORD})
    assert page.status_code == 200
    assert session.query(AuditEntry).filter_by(action="auth.login_failed").one().after == {"reason": "disabled"}


def test_user_creation_rules(world):
    from registry.services.errors import Conflict, Forbidden, ValidationFailed

    with pytest.raises(ValidationFailed) as exc:
        users.create_user(world.operator, "Bad Name!", "short", "wizard")
    assert set(exc.value.fields) == {"username", "role", "password"}
    with pytest.raises(ValidationFailed, match="cannot be created") as exc:
        users.create_user(world.operator, "keeper3", "long enough pw", "keeper")
    assert "party" in exc.value.fields["party_id"]
    with pytest.raises(Forbidden):
        users.create_user(world.actor("officer"), "x2", "long enough pw", "auditor")
    with pytest.raises(Conflict, match="taken"):
        users.create_user(world.operator, "zoo", "long enough pw", "auditor")
