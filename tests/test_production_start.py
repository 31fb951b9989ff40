"""A production start refuses each unsafe setting with one line; with safe settings it serves.

The refusals run the real entry point (``import wsgi``, as gunicorn does) in a subprocess; the
serving test starts gunicorn in production mode on a free port against a migrated database.
"""

from __future__ import annotations

import http.client
import os
import secrets
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import config
from registry import document_keys, signing, startup
from tests.conftest import document_keys_paths, make_database

ROOT = Path(__file__).resolve().parent.parent
#: Settings a production start reads; each test starts from none of them.
SETTINGS = (
    "SECRET_KEY",
    "REGISTRY_PUBLIC_URL",
    "REGISTRY_AUDIT_KEY",
    "REGISTRY_DOCUMENT_KEY",
    "REGISTRY_DOCUMENT_CERT",
    "DATABASE_URL",
    "FLASK_DEBUG",
    "DEBUG",
)
REGISTRY = "from registry.cli import main; main()"


@pytest.fixture
def key_file(tmp_path) -> Path:
    return signing.generate(tmp_path / "audit-signing-key.pem")


def _environment(tmp_path, **given: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS and not k.startswith("REGISTRY_")}
    env.update(
        REGISTRY_ENV="production",
        REGISTRY_INSTANCE_PATH=str(tmp_path / "instance"),
        PYTHONPATH=str(ROOT),
    )
    env.update({k: v for k, v in given.items() if v is not None})
    return env


def _safe(tmp_path, key_file: Path, **changed: str | None) -> dict[str, str]:
    """Safe production settings, with *changed* ones replaced (None: not set at all)."""
    settings = {
        "SECRET_KEY": secrets.token_hex(32),
        "REGISTRY_PUBLIC_URL": "https://registry.example.kr",
        "REGISTRY_AUDIT_KEY": str(key_file),
        "DATABASE_URL": "postgresql://registry@db.example.kr/registry",  # not connected to at start
    }
    settings["REGISTRY_DOCUMENT_KEY"], settings["REGISTRY_DOCUMENT_CERT"] = document_keys_paths()
    settings.update(changed)
    return _environment(tmp_path, **settings)


def _run(env: dict[str, str], *command: str) -> subprocess.CompletedProcess:
    # A start that is wrongly not refused serves until the timeout ends it (and fails the test).
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def _start(env: dict[str, str]) -> subprocess.CompletedProcess:
    """What gunicorn 'wsgi:app' does first: import the module that builds the app."""
    return _run(env, sys.executable, "-c", "import wsgi")


def _refusals(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("unsafe production setting: ")]


# ---------------------------------------------------------------- each finding, alone


UNSAFE = {
    "secret x": ({"SECRET_KEY": "x"}, "SECRET_KEY is a well-known value"),
    "the development key": ({"SECRET_KEY": config.DEV_SECRET_KEY}, "SECRET_KEY is a well-known value"),
    "no secret": ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
    "a short secret": ({"SECRET_KEY": secrets.token_hex(15)}, "SECRET_KEY is 30 bytes, shorter than 32"),
    "no public URL": ({"REGISTRY_PUBLIC_URL": None}, "REGISTRY_PUBLIC_URL is not set"),
    "an http public URL": (
        {"REGISTRY_PUBLIC_URL": "http://registry.example.kr"},
        "REGISTRY_PUBLIC_URL=http://registry.example.kr is not an https:// address",
    ),
    "no database": ({"DATABASE_URL": None}, "DATABASE_URL is not set"),
    "SQLite": ({"DATABASE_URL": "sqlite:////srv/registry.sqlite"}, "DATABASE_URL is SQLite"),
    "FLASK_DEBUG": ({"FLASK_DEBUG": "1"}, "FLASK_DEBUG=1 turns on the Werkzeug debugger"),
}


@pytest.mark.parametrize("changed, line", UNSAFE.values(), ids=UNSAFE.keys())
def test_each_unsafe_setting_alone_refuses_the_start(tmp_path, key_file, changed, line):
    result = _start(_safe(tmp_path, key_file, **changed))
    assert result.returncode == startup.REFUSED, result.stderr
    refused = _refusals(result)
    assert len(refused) == 1 and line in refused[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_misspelt_environment_is_one_line_not_a_traceback(tmp_path, key_file):
    result = _start(_safe(tmp_path, key_file, REGISTRY_ENV="prodution"))
    assert result.returncode == startup.REFUSED and "Traceback" not in result.stderr
    assert _refusals(result) == [
        "unsafe production setting: REGISTRY_ENV='prodution': expected one of development, testing, production"
    ]


def test_a_missing_signing_key_refuses_the_start(tmp_path, key_file):
    missing = tmp_path / "nowhere.pem"
    result = _start(_safe(tmp_path, key_file, REGISTRY_AUDIT_KEY=str(missing)))
    assert result.returncode == startup.REFUSED
    assert _refusals(result) == [
        f"unsafe production setting: REGISTRY_AUDIT_KEY: no signing key at {missing}: run `registry audit keygen`"
    ]
    assert not missing.exists()  # production never makes one by itself


def test_a_missing_document_key_refuses_the_start(tmp_path, key_file):
    missing = tmp_path / "nowhere"
    result = _start(
        _safe(tmp_path, key_file, REGISTRY_DOCUMENT_KEY=str(missing / "key.pem"), REGISTRY_DOCUMENT_CERT=None)
    )
    assert result.returncode == startup.REFUSED, result.stderr
    refused = _refusals(result)
    assert len(refused) == 1 and "REGISTRY_DOCUMENT_KEY/REGISTRY_DOCUMENT_CERT: no document-signing key" in refused[0]
    assert "registry permits dev-ca" in refused[0]
    assert not missing.exists()  # production never makes one by itself


def test_every_problem_is_listed_at_once(tmp_path):
    result = _start(
        _environment(
            tmp_path,
            SECRET_KEY=config.DEV_SECRET_KEY,
            REGISTRY_PUBLIC_URL="http://127.0.0.1:5000",
            DATABASE_URL="sqlite:///registry.sqlite",
            FLASK_DEBUG="1",
        )
    )
    assert result.returncode == startup.REFUSED and "Traceback" not in result.stderr
    refused = _refusals(result)
    assert [line.split(":")[1].split()[0].split("=")[0] for line in refused] == [
        "SECRET_KEY",
        "REGISTRY_PUBLIC_URL",
        "REGISTRY_AUDIT_KEY",
        "REGISTRY_DOCUMENT_KEY/REGISTRY_DOCUMENT_CERT",
        "DATABASE_URL",
        "FLASK_DEBUG",
    ]
    assert result.stderr.strip().splitlines()[-1] == "not started: fix the 6 settings above"


def test_safe_settings_start(tmp_path, key_file):
    result = _start(_safe(tmp_path, key_file))
    assert result.returncode == 0 and result.stderr == ""


@pytest.mark.slow
def test_gunicorn_check_config_refuses_too(tmp_path, key_file):
    env = _safe(tmp_path, key_file, REGISTRY_PUBLIC_URL="http://registry.example.kr")
    result = _run(env, sys.executable, "-m", "gunicorn", "--check-config", "wsgi:app")
    assert result.returncode == startup.REFUSED and len(_refusals(result)) == 1
    assert (
        _run(_safe(tmp_path, key_file), sys.executable, "-m", "gunicorn", "--check-config", "wsgi:app").returncode == 0
    )


def test_flask_run_is_guarded_too(tmp_path, key_file):
    """`flask --app registry run` builds the app through the factory: the same refusal, before serving."""
    env = _safe(tmp_path, key_file, FLASK_DEBUG="1")
    result = _run(env, sys.executable, "-m", "flask", "--app", "registry", "run", "--port", str(_free_port()))
    assert result.returncode == startup.REFUSED and "FLASK_DEBUG=1" in result.stderr


# ---------------------------------------------------------------- the operator's commands


def test_registry_run_gets_every_check(tmp_path, key_file):
    result = _run(
        _safe(tmp_path, key_file, SECRET_KEY="x"), sys.executable, "-c", REGISTRY, "run", "--port", str(_free_port())
    )
    assert result.returncode == 2 and "SECRET_KEY is a well-known value" in result.stderr


def test_keygen_works_in_production_with_nothing_else_set(tmp_path):
    """The operator can make the missing key before anything else is right."""
    key = tmp_path / "keys" / "audit.pem"
    result = _run(
        _environment(tmp_path, REGISTRY_AUDIT_KEY=str(key)), sys.executable, "-c", REGISTRY, "audit", "keygen"
    )
    assert result.returncode == 0 and f"wrote {key}" in result.stdout
    assert signing.Signer(key).fingerprint in result.stdout


def test_database_commands_refuse_sqlite_in_production(tmp_path):
    """A production `registry db upgrade` never migrates a stray SQLite file instead of the database."""
    url = f"sqlite:///{tmp_path / 'stray.sqlite'}"
    result = _run(_environment(tmp_path, DATABASE_URL=url), sys.executable, "-c", REGISTRY, "db", "upgrade")
    assert result.returncode == 2 and _refusals(result) == [
        "unsafe production setting: DATABASE_URL is SQLite: production needs PostgreSQL (postgresql://user@host/database)"
    ]  # and nothing about SECRET_KEY or the key: migrating needs the database alone
    assert not (tmp_path / "stray.sqlite").exists()


# ---------------------------------------------------------------- the checks themselves


def _problems(**config) -> list[str]:
    return startup.problems(config, environ={}, checks=[startup.SECRET, startup.PUBLIC_URL])


@pytest.mark.parametrize("value", ["testing", "secret", "changeme", " ChangeMe ", "dev-only-insecure-key"])
def test_known_secrets_are_refused(value):
    assert startup._secret(value).startswith("SECRET_KEY is a well-known value")


def test_a_long_secret_of_few_characters_is_refused():
    assert "not random" in startup._secret("a" * 64)
    assert startup._secret(secrets.token_urlsafe(32)) is None


@pytest.mark.parametrize("url", ["https://127.0.0.1:5000", "https://localhost", "https://[::1]/"])
def test_a_public_url_on_this_machine_is_refused(url):
    assert "names this machine" in startup._public_url(url)


def test_an_unreadable_or_invalid_key_is_refused(tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    assert startup._signing_key(str(garbage)) == f"REGISTRY_AUDIT_KEY: {garbage} is not an unencrypted PEM private key"
    assert "cannot read the signing key" in startup._signing_key(str(tmp_path))  # a directory
    other = tmp_path / "ec.pem"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    assert startup._signing_key(str(other)) == f"REGISTRY_AUDIT_KEY: {other} is not an Ed25519 key"


def test_an_invalid_document_key_is_refused(tmp_path):
    key, chain = document_keys_paths()
    assert startup._document_key({"DOCUMENT_SIGNING_KEY": key, "DOCUMENT_SIGNING_CERT": chain}) is None
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    found = startup._document_key({"DOCUMENT_SIGNING_KEY": str(garbage), "DOCUMENT_SIGNING_CERT": chain})
    assert "not an unencrypted PEM key and PEM certificates" in found
    other = tmp_path / "other"
    document_keys.create_dev_ca(other / "key.pem", other / "chain.pem", organisation="Another")
    found = startup._document_key({"DOCUMENT_SIGNING_KEY": str(other / "key.pem"), "DOCUMENT_SIGNING_CERT": chain})
    assert "is not the key's" in found
    assert "is not set" in startup._document_key({"DOCUMENT_SIGNING_KEY": key})


def test_a_document_key_that_signs_differently_each_time_is_refused(tmp_path):
    """An ECDSA signature is random: a permit would not sign to the bytes whose fingerprint is on record."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EC signer")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (tmp_path / "chain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    found = startup._document_key(
        {"DOCUMENT_SIGNING_KEY": str(tmp_path / "key.pem"), "DOCUMENT_SIGNING_CERT": str(tmp_path / "chain.pem")}
    )
    assert "must be RSA" in found


def test_debug_in_the_configuration_or_environment_is_refused():
    assert "DEBUG is on" in startup._debug({"DEBUG": True}, {})
    assert "DEBUG=true" in startup._debug({}, {"DEBUG": "true"})
    assert startup._debug({"DEBUG": False}, {"FLASK_DEBUG": "0"}) is None


def test_a_database_given_in_the_configuration_is_enough():
    assert startup._database("postgresql+psycopg://registry@db/registry", {}) is None
    assert startup._database("sqlite://", {}).startswith("DATABASE_URL is not set")


def test_the_refusal_is_one_line_each_then_an_exit(capsys):
    with pytest.raises(SystemExit) as stopped:
        startup.guard({"REGISTRY_ENV": "production", "SECRET_KEY": "x", "PUBLIC_BASE_URL": "http://a.kr"}, environ={})
    assert stopped.value.code == startup.REFUSED
    lines = capsys.readouterr().err.splitlines()
    # The keys and the database too.
    assert len(lines) == 6 and lines[-1] == "not started: fix the 5 settings above"


def test_the_factory_refuses_an_unsafe_production_app(capsys):
    from registry import create_app

    with pytest.raises(SystemExit):
        create_app(type("Production", (config.ProductionConfig,), {"SECRET_KEY": "x"}))
    assert "SECRET_KEY is a well-known value" in capsys.readouterr().err


def test_each_command_is_checked_for_what_it_needs():
    from registry.cli import _production_needs

    assert _production_needs(["run", "--port", "8000"]) == startup.ALL
    assert _production_needs(["audit", "keygen", "--if-missing"]) == ()
    assert _production_needs(["docs", "diagrams"]) == ()
    assert _production_needs(["permits", "verify", "permit.pdf"]) == _production_needs(["permits", "dev-ca"]) == ()
    assert _production_needs(["audit", "verify"]) == _production_needs(["db", "upgrade"]) == (startup.DATABASE,)


def test_other_environments_are_not_checked():
    startup.guard({"REGISTRY_ENV": "development", "SECRET_KEY": "x"}, environ={})


# ---------------------------------------------------------------- development's signing key


def test_development_creates_the_signing_key_on_first_use(app, client, login, world, monkeypatch, tmp_path, caplog):
    key = tmp_path / "dev" / "audit-signing-key.pem"
    monkeypatch.setitem(app.config, "AUDIT_SIGNING_KEY", str(key))
    monkeypatch.setitem(app.config, "AUDIT_KEY_CREATE_IF_MISSING", config.DevelopmentConfig.AUDIT_KEY_CREATE_IF_MISSING)
    # Alembic's fileConfig (the fixtures migrate in this process) disables loggers that existed then.
    monkeypatch.setattr(app.logger, "disabled", False)
    login(world.users["auditor"])
    answer = client.post("/audit/export.jsonl")
    assert answer.status_code == 200 and '"type":"manifest"' in answer.get_data(as_text=True)
    assert key.exists() and f"created the audit signing key at {key}" in caplog.text


def test_production_and_tests_never_create_the_key(app, client, login, world, monkeypatch, tmp_path):
    assert not config.ProductionConfig.AUDIT_KEY_CREATE_IF_MISSING
    key = tmp_path / "absent.pem"
    monkeypatch.setitem(app.config, "AUDIT_SIGNING_KEY", str(key))
    login(world.users["auditor"])
    assert client.post("/audit/export.jsonl").status_code == 503 and not key.exists()


# ---------------------------------------------------------------- serving


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(port: int, path: str, headers: dict | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def _serve(env: dict[str, str], port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "wsgi:app"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_until_up(server: subprocess.Popen, port: int) -> None:
    for _ in range(300):  # a bounded wait for the worker to boot, not a timing
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}: {server.stderr.read() if server.stderr else ''}")
        try:
            _get(port, "/static/app.css")
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("gunicorn did not answer")


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.communicate()


@pytest.mark.slow
def test_production_serves_with_safe_settings(backend, tmp_path, key_file):
    url, cleanup = make_database(backend, tmp_path)
    env = _safe(tmp_path, key_file, DATABASE_URL=url)
    try:
        if backend == "sqlite":
            # Gunicorn stops at once (its worker exits 4) instead of restarting the worker forever.
            result = _run(env, sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{_free_port()}", "wsgi:app")
            assert result.returncode != 0 and "DATABASE_URL is SQLite" in result.stderr
            return
        migrated = _run(env, sys.executable, "-c", REGISTRY, "db", "upgrade")
        assert migrated.returncode == 0, migrated.stderr
        port = _free_port()
        server = _serve(env, port)
        try:
            _wait_until_up(server, port)
            login = _get(port, "/login")
            static = _get(port, "/static/app.css")
            verify = _get(port, "/verify/KR-2026-000001?t=nothing", {"Accept": "application/json"})
        finally:
            _stop(server)
    finally:
        cleanup()
    assert (login.status, static.status, verify.status) == (200, 200, 404)
    for response in (login, static, verify):
        assert response.getheader("Strict-Transport-Security") == "max-age=31536000; includeSubDomains"
        assert "frame-ancestors 'none'" in response.getheader("Content-Security-Policy")
        assert response.getheader("X-Content-Type-Options") == "nosniff"
        assert response.getheader("Cross-Origin-Opener-Policy") == "same-origin"
    assert login.getheader("Cache-Control") == verify.getheader("Cache-Control") == "no-store"
    assert "no-store" not in (static.getheader("Cache-Control") or "")
    cookie = login.getheader("Set-Cookie")
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert cookie.startswith("__Host-session=")
    assert {"secure", "httponly", "path=/", "samesite=lax"} <= set(attributes)
    assert not any(a.startswith("domain=") for a in attributes)
