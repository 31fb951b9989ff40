"""The security headers (registry/headers.py), in process; test_production_start.py checks them served by gunicorn."""

from __future__ import annotations

import pytest

import config
from registry import create_app
from registry.extensions import db
from registry.headers import CONTENT_SECURITY_POLICY
from tests.conftest import _signing_key
from tests.helpers import issued_permit

DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)


def _directives(response) -> set[str]:
    return {d.strip() for d in response.headers["Content-Security-Policy"].split(";")}


def test_every_page_carries_the_full_policy(client):
    page = client.get("/login")
    assert set(DIRECTIVES) <= _directives(page)
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in page.headers["Permissions-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    # No TLS in development or tests: HSTS only in production.
    assert "Strict-Transport-Security" not in page.headers


def test_the_templates_need_nothing_inline():
    """script-src/style-src 'self' hold only while no template has inline script, style or handler."""
    import re
    from pathlib import Path

    templates = Path(__file__).resolve().parent.parent / "templates"
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE)
    found = [
        f"{path.name}: {m.group(0)}" for path in templates.rglob("*.html") for m in inline.finditer(path.read_text())
    ]
    assert found == []


def test_authenticated_pages_are_not_stored(client, login, world):
    login(world.users["zoo"])
    for path in ("/", "/animals/", "/permits/"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path


def test_pdfs_are_not_stored(client, login, world):
    permit = issued_permit(world)
    login(world.users["zoo"])
    pdf = client.get(f"/permits/{permit.id}/pdf")
    assert pdf.mimetype == "application/pdf" and pdf.headers["Cache-Control"] == "no-store"


def test_api_answers_are_not_stored(api):
    assert api("zoo", "GET", "/animals").headers["Cache-Control"] == "no-store"
    refused = api(None, "GET", "/animals")
    assert refused.status_code == 401 and refused.headers["Cache-Control"] == "no-store"


def test_static_files_stay_cacheable(client, login, world):
    login(world.users["zoo"])
    css = client.get("/static/app.css")
    assert css.status_code == 200 and "no-store" not in css.headers.get("Cache-Control", "")
    assert set(DIRECTIVES) <= _directives(css)


def test_a_view_keeps_its_stricter_policy(client, login, world):
    """Uploaded files are served with default-src 'none' and private, no-store (views/files.py)."""
    from registry.services import attachments
    from tests.helpers import declared_animal

    bird = declared_animal(world)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    row = attachments.attach(world.actor("zoo"), "animal", bird.id, "photo", "bird.png", png)
    login(world.users["zoo"])
    served = client.get(f"/files/{row.id}")
    assert served.status_code == 200, served.status_code
    assert served.headers["Content-Security-Policy"] == "default-src 'none'"
    assert served.headers.get_all("Cache-Control") == ["private, no-store"]


def _app_as(app, base: type, **settings):
    """An app on the test database with another environment's configuration (its start check is tested elsewhere)."""
    values = {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "AUDIT_SIGNING_KEY": _signing_key()}
    return create_app(type(base.__name__, (base,), values | settings), check_start=False)


@pytest.fixture
def development_client(app):
    development = _app_as(app, config.DevelopmentConfig)
    yield development.test_client()
    with development.app_context():
        db.engine.dispose()


def test_development_sends_the_same_headers_but_no_hsts(development_client):
    page = development_client.get("/login")
    assert page.status_code == 200 and set(DIRECTIVES) <= _directives(page)
    assert page.headers["Cache-Control"] == "no-store" and "Strict-Transport-Security" not in page.headers
    # Plain http://127.0.0.1 in development: a Secure or __Host- cookie would never come back.
    assert page.headers["Set-Cookie"].startswith("session=") and "Secure" not in page.headers["Set-Cookie"]


@pytest.fixture
def production_client(app):
    """The test database served with the production configuration (its start check has its own tests)."""
    production = _app_as(
        app, config.ProductionConfig, SECRET_KEY="a" * 16 + "b" * 16 + "0123456789", PUBLIC_BASE_URL="https://x.kr"
    )
    yield production.test_client()
    with production.app_context():
        db.engine.dispose()


def test_production_sends_hsts_and_a_host_only_session_cookie(production_client):
    page = production_client.get("/login")
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    cookie = page.headers["Set-Cookie"]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert cookie.startswith("__Host-session=")
    assert {"secure", "httponly", "path=/", "samesite=lax"} <= attributes
    assert not any(a.startswith("domain=") for a in attributes)


def test_production_remember_cookie_is_host_only_too():
    """Flask-Login's remember cookie, should it ever be used, follows the same __Host- rules."""
    prod = config.ProductionConfig
    assert prod.REMEMBER_COOKIE_NAME.startswith("__Host-")
    assert (prod.REMEMBER_COOKIE_SECURE, prod.REMEMBER_COOKIE_PATH, prod.REMEMBER_COOKIE_DOMAIN) == (True, "/", None)
