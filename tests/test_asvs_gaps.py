"""ASVS 5.0 level 2 items that docs/security.md claims and no other test proved (issue #12, part 6)."""

from __future__ import annotations

import pyotp
import pytest
from werkzeug.http import parse_options_header

from registry import totp
from registry.services import attachments
from tests.conftest import TOTP_SECRET
from tests.helpers import animal_in
from tests.test_attachments import PNG

NEW = "a fresh and long passphrase"


def test_an_administrators_password_reset_does_not_bypass_the_second_factor(app, client, login, world):
    """6.4.3: the reset password alone still does not sign an officer in; the code is still asked."""
    officer = world.users["officer"]
    login(world.users["admin"])
    assert client.post(f"/admin/users/{officer.id}/password", data={"password": NEW}).status_code == 302
    other = app.test_client()
    answer = other.post("/login", data={"username": "officer", "password": NEW})
    assert answer.status_code == 302 and answer.location.endswith("/login/code")
    assert other.get("/profile/").status_code == 302  # not signed in on the password alone
    code = pyotp.TOTP(TOTP_SECRET).at(totp.current_step() * totp.STEP)
    assert other.post("/login/code", data={"code": code}).status_code == 302
    assert other.get("/profile/password").status_code == 200  # in, and sent to choose a new password


def test_every_signed_in_page_offers_the_logout(client, login, world):
    """7.4.4: the logout button is on every page a signed-in user sees (it is in the base template)."""
    login(world.users["officer"])
    for path in ("/", "/animals/", "/permits/", "/profile/"):
        answer = client.get(path)
        assert answer.status_code == 200 and 'action="/logout"' in answer.get_data(as_text=True), path
    login(world.users["zoo"])
    assert 'action="/logout"' in client.get("/animals/").get_data(as_text=True)


def test_the_api_grants_no_cross_origin_access(api):
    """3.4.2 / 4.x: no CORS header, whatever Origin a page of another site sends."""
    answer = api("zoo", "GET", "/me", headers={"Origin": "https://evil.example"})
    assert answer.status_code == 200
    assert not [name for name, _value in answer.headers.items() if name.lower().startswith("access-control-")]


def test_an_unexpected_error_is_a_generic_answer(app, client, login, world, monkeypatch):
    """16.5.1: a 500 says nothing of the code, the query or the stack; the API answers problem+json."""

    def boom(*args, **kwargs):
        raise RuntimeError("SELECT secret_column FROM internal_table")

    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    from registry.views import profile

    monkeypatch.setattr(profile, "render_template", boom)
    login(world.users["zoo"])
    answer = client.get("/profile/")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 500 and "Nothing was saved" in text
    assert "secret_column" not in text and "Traceback" not in text and "RuntimeError" not in text


def test_every_form_needs_its_csrf_token(app, client, login, world, session, monkeypatch):
    """3.5.1: the protection is global, not the export's alone: a post without the token changes nothing."""
    from registry.models import ApiToken, UserSession

    login(world.users["zoo"])
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    tokens_before = session.query(ApiToken).count()
    assert client.post("/profile/", data={"name": "forged", "days": "30"}).status_code == 400
    assert client.post("/profile/end-all").status_code == 400
    assert client.post("/logout").status_code == 400
    session.expire_all()
    assert session.query(ApiToken).count() == tokens_before
    assert session.query(UserSession).filter_by(user_id=world.users["zoo"].id, ended_at=None).count() == 1


def test_the_api_does_not_accept_the_session_cookie(client, login, world, session):
    """3.5.1 / 4.x: the API is exempt from CSRF tokens because it reads only a bearer token: a signed-in
    browser's cookie alone is 401, so another site cannot act through it."""
    from registry.models import Party

    login(world.users["admin"])
    assert client.get("/profile/").status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    assert client.post("/api/v1/parties", json={"kind": "organisation", "name": "Forged"}).status_code == 401
    assert session.query(Party).filter_by(name="Forged").count() == 0


def test_an_unknown_capability_fails_closed(world):
    """(4.0.3 4.1.5, 16.5.3): a misspelt capability in a check is an error, never a silent yes or no."""
    from registry.permissions import has_capability, require

    for actor in (world.actor("admin"), world.actor("zoo"), world.operator):
        with pytest.raises(ValueError):
            has_capability(actor, "permit.forge")
        with pytest.raises(ValueError):
            require(actor, "permit.forge")


def test_an_uploaded_files_name_is_served_encoded(client, login, world):
    """5.4.2: the download names the file in an RFC 6266 header, whatever letters the name has."""
    bird = animal_in(world, "in_captivity")
    row = attachments.attach(world.actor("zoo"), "animal", bird.id, "photo", '사진 "x";.png', PNG)
    login(world.users["zoo"])
    answer = client.get(f"/files/{row.id}")
    assert answer.status_code == 200 and answer.data == PNG
    disposition = answer.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert disposition.count('"') in (0, 2)  # a quote in the name cannot end the parameter early
    disposition.encode("latin-1")  # PEP 3333: a WSGI server sends headers as Latin-1 or fails with 500
    assert parse_options_header(disposition)[1]["filename"] == row.filename  # the browser gets the name back


def test_the_demo_accounts_are_never_created_in_production(app, session, monkeypatch):
    """6.3.2: `registry demo` creates an administrator with a published password and TOTP secret."""
    from registry.cli import demo
    from registry.models import User

    monkeypatch.setitem(app.config, "REGISTRY_ENV", "production")
    result = app.test_cli_runner().invoke(demo, [])
    assert result.exit_code != 0
    assert session.query(User).filter_by(username="admin").count() == 0
