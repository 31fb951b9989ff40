"""Passwords: the rules every path applies, argon2id storage, one's own change, and an
administrator's reset (which forces a change and ends the user's sessions and API tokens)."""

import unicodedata

import pytest
from argon2 import PasswordHasher
from werkzeug.security import generate_password_hash

from config import Config
from registry import create_app, passwords
from registry import password_hash as hashing
from registry.cli import create_user, set_password
from registry.models import ApiToken, AuditEntry, User
from registry.services import users
from registry.services.errors import Forbidden, ValidationFailed
from tests.conftest import PASSWORD

#: The issue's findings: each was accepted for an administrator, from the web and from the CLI.
WEAK = ["password123", "aaaaaaaaaa", "1234567890"]
NEW = "otters juggle quietly at dawn"


@pytest.mark.parametrize(
    "password",
    [
        *WEAK,
        "aaaaaaaaaaaa",  # long enough, one character repeated
        "abcabcabcabc",
        "123456789012",  # counting
        "qwertyuiopas",  # the keyboard's row
        "PassWord1234",  # a common password and a few digits, whatever the case
        "iloveyou2026!",
        "qwerty123456",  # on the list as it is
        "wildlife2026",  # this service's name
        "x" * 129,
        "한국어비밀번호입니다아",  # 11 characters in Korean
    ],
)
def test_weak_passwords_are_refused(password):
    assert passwords.refusal(password) is not None


@pytest.mark.parametrize(
    "password",
    [
        PASSWORD,  # the tests' own
        "otters juggle quietly",
        "한국어비밀번호입니다아주",  # 12 characters in Korean
        "ÉtéÀParisCeSoir",
        "          x y z  w",  # spaces are characters like any other
        "8461029371dragon",  # a common word with plenty around it
        "z" * 11 + "é" + "q" * 52,  # 64 characters
        "thirty-two-char passphrase here!" * 4,  # 128 characters
    ],
)
def test_good_passwords_pass(password):
    assert passwords.refusal(password) is None


def test_characters_are_counted_not_code_points():
    eleven = "한국어비밀번호입니다아"  # 11 syllables; decomposed, 27 code points
    assert len(unicodedata.normalize("NFD", eleven)) > passwords.MIN_LENGTH
    assert "at least 12" in passwords.refusal(unicodedata.normalize("NFD", eleven))


@pytest.mark.parametrize(
    "password", ["kimminji rocks 77", "ijnimmik rocks 77", "i am kim.minji ok", "breeder of parrots"]
)
def test_the_accounts_own_names_are_refused(password):
    context = ("breeder", "Kim Minji", "kim.minji@example.org")
    assert "user name" in passwords.refusal(password, context)


def test_an_e_mail_domain_is_not_a_personal_word():
    assert passwords.refusal("sample example text", ("kim", "Kim", "kim@example.org")) is None


@pytest.mark.parametrize("password", WEAK)
def test_web_admin_cannot_create_an_administrator_with_a_weak_password(client, login, world, session, password):
    login(world.users["admin"])
    page = client.post(
        "/admin/users", data={"username": "newadmin", "display_name": "", "role": "admin", "password": password}
    )
    assert page.status_code == 200 and "at least 12 characters" in page.get_data(as_text=True)
    assert session.query(User).filter_by(username="newadmin").count() == 0


@pytest.mark.parametrize("password", WEAK + ["correct horse battery newadmin"])
def test_cli_cannot_create_an_administrator_with_a_weak_password(app, session, world, password):
    result = app.test_cli_runner().invoke(
        create_user, ["newadmin", "--role", "admin", "--password-stdin"], input=password + "\n"
    )
    assert result.exit_code == 2 and "password:" in result.output
    assert session.query(User).filter_by(username="newadmin").count() == 0


def test_admin_reset_applies_the_rules(client, login, world, session):
    target = world.users["breeder"]
    before = session.get(User, target.id).password_hash
    login(world.users["admin"])
    client.post(f"/admin/users/{target.id}/password", data={"password": "aaaaaaaaaaaa"})
    session.expire_all()
    assert session.get(User, target.id).password_hash == before
    with pytest.raises(ValidationFailed):
        users.set_password(world.operator, target.id, "breeder breeder!")


def test_web_created_accounts_must_choose_their_own_password(client, login, world, session):
    login(world.users["admin"])
    client.post("/admin/users", data={"username": "newadmin", "display_name": "", "role": "admin", "password": NEW})
    assert session.query(User).filter_by(username="newadmin").one().must_change_password


def test_argon2id_with_owasp_parameters_in_production():
    assert Config.PASSWORD_HASH == {"memory_cost": 19456, "time_cost": 2, "parallelism": 1}
    app = create_app({"PASSWORD_HASH": Config.PASSWORD_HASH, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        stored = hashing.hash_password(NEW)
        assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert hashing.verify(stored, NEW) and not hashing.verify(stored, NEW + "!")
        assert not hashing.needs_rehash(stored)


@pytest.mark.parametrize(
    "old",
    [
        lambda: generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),
        lambda: generate_password_hash(PASSWORD, method="scrypt:1024:8:1"),
        lambda: PasswordHasher(time_cost=2, memory_cost=16, parallelism=1).hash(PASSWORD),
    ],
    ids=["pbkdf2", "scrypt", "argon2-other-cost"],
)
def test_older_hashes_verify_and_are_replaced_at_login(client, world, session, old):
    zoo = session.get(User, world.users["zoo"].id)
    zoo.password_hash = old()
    session.flush()
    assert client.post("/login", data={"username": "zoo", "password": "wrong password!!"}).status_code == 200
    session.expire_all()
    assert not session.get(User, zoo.id).password_hash.startswith("$argon2id$v=19$m=8,t=1")  # not on a failure
    assert client.post("/login", data={"username": "zoo", "password": PASSWORD}).status_code == 302
    session.expire_all()
    stored = session.get(User, zoo.id).password_hash
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    login = session.query(AuditEntry).filter_by(action="auth.login").one()
    assert login.after == {"rehashed": True}


def test_users_change_their_own_password(app, client, login, world, session, api):
    zoo = world.users["zoo"]
    other = app.test_client()
    with other.session_transaction() as s:
        s["_user_id"] = zoo.get_id()
    login(zoo)
    assert client.get("/profile/password").status_code == 200
    page = client.post("/profile/password", data={"current": PASSWORD, "new": NEW, "repeat": NEW})
    assert page.status_code == 302 and page.headers["Location"] == "/profile/"
    assert client.get("/animals/").status_code == 200  # this browser stays signed in
    assert other.get("/animals/").status_code == 302  # every other session has ended
    assert api("zoo", "GET", "/me").status_code == 200  # one's own change keeps one's tokens
    entry = session.query(AuditEntry).filter_by(action="user.change_password").one()
    assert entry.actor_name == "zoo" and entry.object_id == str(zoo.id)
    client.post("/logout")
    assert client.post("/login", data={"username": "zoo", "password": NEW}).status_code == 302


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"current": "not my password", "new": NEW, "repeat": NEW}, "not your current password"),
        ({"current": PASSWORD, "new": "aaaaaaaaaaaa", "repeat": "aaaaaaaaaaaa"}, "too easy to guess"),
        ({"current": PASSWORD, "new": PASSWORD, "repeat": PASSWORD}, "must differ"),
        ({"current": PASSWORD, "new": NEW, "repeat": NEW + "x"}, "differ"),
        ({"current": PASSWORD, "new": "zoo keeper notes", "repeat": "zoo keeper notes"}, "user name"),
    ],
)
def test_a_refused_change_changes_nothing(client, login, world, session, data, message):
    zoo = world.users["zoo"]
    before = session.get(User, zoo.id).password_hash
    login(zoo)
    page = client.post("/profile/password", data=data)
    assert page.status_code in (200, 422) and message in page.get_data(as_text=True)
    session.expire_all()
    assert session.get(User, zoo.id).password_hash == before
    assert session.query(AuditEntry).filter_by(action="user.change_password").count() == 0
    assert client.get("/animals/").status_code == 200


def test_a_wrong_current_password_is_audited_and_throttled(client, login, world, session):
    login(world.users["zoo"])
    for _ in range(4):
        client.post("/profile/password", data={"current": "not my password", "new": NEW, "repeat": NEW})
    assert session.query(AuditEntry).filter_by(action="auth.login_failed").count() == 4
    refused = client.post("/profile/password", data={"current": PASSWORD, "new": NEW, "repeat": NEW})
    assert refused.status_code == 429 and "Try again in" in refused.get_data(as_text=True)
    assert session.query(AuditEntry).filter_by(action="auth.throttled").count() == 1


def test_admin_reset_forces_a_change_and_revokes_every_token(client, login, world, session, api):
    zoo = world.users["zoo"]
    assert api("zoo", "GET", "/me").status_code == 200
    login(world.users["admin"])
    client.post(f"/admin/users/{zoo.id}/password", data={"password": NEW})
    assert api("zoo", "GET", "/me").status_code == 401  # the finding: tokens survived the reset
    session.expire_all()
    assert all(t.revoked_at is not None for t in session.query(ApiToken).filter_by(user_id=zoo.id))
    reset = session.query(AuditEntry).filter_by(action="user.set_password").one()
    assert reset.after["tokens_revoked"] == 1 and reset.after["must_change_password"] is True
    assert session.query(AuditEntry).filter_by(action="token.revoke", actor_name="admin").count() == 1

    client.post("/logout")
    page = client.post("/login", data={"username": "zoo", "password": NEW})
    assert page.headers["Location"] == "/profile/password"
    for path in ("/animals/", "/", "/profile/"):
        assert client.get(path).headers.get("Location") == "/profile/password"  # nothing else works
    assert client.post("/profile/", data={"name": "x", "days": "3"}).status_code == 302
    assert session.query(ApiToken).filter_by(user_id=zoo.id, revoked_at=None).count() == 0
    refused = client.post("/profile/password", data={"current": NEW, "new": NEW, "repeat": NEW})
    assert "must differ" in refused.get_data(as_text=True)  # the administrator's password will not do
    client.post("/profile/password", data={"current": NEW, "new": PASSWORD + " 2", "repeat": PASSWORD + " 2"})
    assert client.get("/animals/").status_code == 200
    session.expire_all()
    assert not session.get(User, zoo.id).must_change_password


def test_cli_resets_a_password_and_creates_temporary_accounts(app, session, world, api):
    runner = app.test_cli_runner()
    result = runner.invoke(set_password, ["ZOO", "--password-stdin"], input=NEW + "\n")
    assert result.exit_code == 0, result.output
    assert api("zoo", "GET", "/me").status_code == 401
    assert session.get(User, world.users["zoo"].id).must_change_password
    assert runner.invoke(set_password, ["zoo", "--password-stdin"], input="1234567890\n").exit_code == 2
    assert runner.invoke(set_password, ["nobody", "--password-stdin"], input=NEW + "\n").exit_code == 2
    result = runner.invoke(create_user, ["temp", "--role", "auditor", "--temporary", "--password-stdin"], input=NEW)
    assert result.exit_code == 0 and session.query(User).filter_by(username="temp").one().must_change_password


def test_only_administrators_reset_passwords(world):
    with pytest.raises(Forbidden):
        users.set_password(world.actor("zoo"), world.users["zoo"].id, NEW)


@pytest.mark.parametrize("stored", ["", "garbage", "md5$a$b", "pbkdf2:nosuchdigest$a$b", "$argon2id$broken"])
def test_an_unreadable_stored_hash_matches_nothing(app, stored):
    with app.app_context():
        assert not hashing.verify(stored, PASSWORD)
