"""What a production start checks: each unsafe setting is one line, all of them at once, then an exit.

Serving is guarded: ``create_app()`` refuses to build a production app with an unsafe setting, so
``gunicorn 'wsgi:app'``, ``flask run`` and ``registry run`` never serve one. The ``registry``
command checks what each command needs instead (``registry.cli``), so that an operator can still
run ``registry audit keygen`` and ``registry db upgrade`` to fix a missing key or an empty
database. The list of checks and their messages is in docs/deploy.md.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import NoReturn
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

import config as settings
from registry import document_keys, signing

#: Flask signs the session with it: shorter, or a value others know, and sessions can be forged.
MIN_SECRET_BYTES = 32
#: Values found in tutorials, templates and this code base; compared without case or spaces.
KNOWN_SECRETS = frozenset(
    {
        settings.DEV_SECRET_KEY,
        "testing",
        "test",
        "x",
        "dev",
        "development",
        "secret",
        "secret-key",
        "secret_key",
        "secretkey",
        "changeme",
        "change-me",
        "change_me",
        "changethis",
        "password",
        "default",
        "your-secret-key",
        "super-secret-key",
        "supersecretkey",
        "please-change-me",
    }
)

#: Every check, by name. The CLI asks for the ones a command needs (registry.cli).
SECRET, PUBLIC_URL, SIGNING_KEY, DATABASE, DEBUG = "secret", "public_url", "signing_key", "database", "debug"
DOCUMENT_KEY = "document_key"
ALL = (SECRET, PUBLIC_URL, SIGNING_KEY, DOCUMENT_KEY, DATABASE, DEBUG)

#: The exit status of a refused start. Gunicorn stops (instead of starting the worker again and
#: again) when a worker exits with 4, its "App failed to load".
REFUSED = 4


def is_production(config: Mapping) -> bool:
    return config.get("REGISTRY_ENV") == "production"


def problems(config: Mapping, environ: Mapping[str, str] = os.environ, checks: Iterable[str] = ALL) -> list[str]:
    """One line per unsafe setting among *checks*, in the order of ALL; empty when all is well."""
    wanted = set(checks)
    found = [
        _secret(config.get("SECRET_KEY")) if SECRET in wanted else None,
        _public_url(config.get("PUBLIC_BASE_URL")) if PUBLIC_URL in wanted else None,
        _signing_key(config.get("AUDIT_SIGNING_KEY")) if SIGNING_KEY in wanted else None,
        _document_key(config) if DOCUMENT_KEY in wanted else None,
        _database(config.get("SQLALCHEMY_DATABASE_URI"), environ) if DATABASE in wanted else None,
        _debug(config, environ) if DEBUG in wanted else None,
    ]
    return [line for line in found if line]


def refuse(lines: list[str], status: int = REFUSED) -> NoReturn:
    """Print each problem on its own line, then exit with *status* (no traceback: it is not a bug)."""
    for line in lines:
        print(f"unsafe production setting: {line}", file=sys.stderr)
    print(f"not started: fix the {len(lines)} setting{'' if len(lines) == 1 else 's'} above", file=sys.stderr)
    sys.stderr.flush()
    raise SystemExit(status)


def guard(config: Mapping, environ: Mapping[str, str] = os.environ) -> None:
    """Refuse to serve a production app with any unsafe setting; nothing to do in other environments."""
    if is_production(config):
        found = problems(config, environ)
        if found:
            refuse(found)


def _secret(key) -> str | None:
    fix = "set it to a random value, e.g. python -c 'import secrets; print(secrets.token_hex(32))'"
    if not key:
        return f"SECRET_KEY is not set: {fix}"
    raw = key.encode() if isinstance(key, str) else bytes(key)
    if raw.decode(errors="replace").strip().lower().replace(" ", "") in KNOWN_SECRETS:
        return f"SECRET_KEY is a well-known value (anyone could forge sessions): {fix}"
    if len(raw) < MIN_SECRET_BYTES:
        return f"SECRET_KEY is {len(raw)} bytes, shorter than {MIN_SECRET_BYTES}: {fix}"
    if len(set(raw)) < 8:
        return f"SECRET_KEY repeats a few characters, so it is not random: {fix}"
    return None


def _public_url(url) -> str | None:
    why = "it is printed in every permit's QR code"
    if not url:
        return f"REGISTRY_PUBLIC_URL is not set: set the https:// address of this registry ({why})"
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return f"REGISTRY_PUBLIC_URL={url} is not an https:// address ({why})"
    if parts.hostname == "localhost" or _loopback(parts.hostname):
        return f"REGISTRY_PUBLIC_URL={url} names this machine, which no one else can reach ({why})"
    return None


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _signing_key(path) -> str | None:
    if not path:
        return "REGISTRY_AUDIT_KEY is not set: run `registry audit keygen` and point it at the file"
    try:
        signing.Signer(path)
    except signing.KeyMissing as exc:
        # Every audit entry is signed as it is written: without the key, no write can succeed.
        return f"REGISTRY_AUDIT_KEY: {exc}"
    return None


def _document_key(config: Mapping) -> str | None:
    name = "REGISTRY_DOCUMENT_KEY/REGISTRY_DOCUMENT_CERT"
    if not config.get("DOCUMENT_SIGNING_KEY") or not config.get("DOCUMENT_SIGNING_CERT"):
        return f"{name} is not set: point them at the authority's document-signing key and certificates"
    try:
        keys = document_keys.load(config)
    except document_keys.KeysMissing as exc:
        # Every permit is signed as it is issued: without the key, no permit can be issued or printed.
        return f"{name}: {exc}"
    if not isinstance(keys.certificate.public_key(), rsa.RSAPublicKey):
        # An ECDSA signature differs each time: the PDF fingerprint recorded at issue would not hold.
        return f"{name}: the document-signing key must be RSA (a signed permit must sign to the same bytes)"
    expiry = keys.certificate.not_valid_after_utc
    if expiry <= datetime.now(UTC):
        return f"{name}: the document-signing certificate expired on {expiry:%Y-%m-%d}: configure its renewal"
    return None


def _database(uri, environ: Mapping[str, str]) -> str | None:
    if uri and not str(uri).startswith("sqlite"):
        return None
    # Without DATABASE_URL, ProductionConfig falls back to an in-memory SQLite: say what is missing.
    state = "is SQLite" if uri and environ.get("DATABASE_URL") else "is not set"
    return f"DATABASE_URL {state}: production needs PostgreSQL (postgresql://user@host/database)"


def _debug(config: Mapping, environ: Mapping[str, str]) -> str | None:
    # FLASK_DEBUG turns on `flask run`'s debugger whatever the configuration says: check both.
    for name in ("FLASK_DEBUG", "DEBUG"):
        if _on(environ.get(name, "")):
            return f"{name}={environ[name]} turns on the Werkzeug debugger (code execution): unset it"
    if config.get("DEBUG"):
        return "DEBUG is on, which serves the Werkzeug debugger (code execution): turn it off"
    return None


def _on(flag: str) -> bool:
    return flag.strip().lower() not in ("", "0", "false", "no", "off")
