"""Settings, read from environment variables.

``REGISTRY_ENV`` picks the class (``development`` by default, ``production``,
``testing``). Production has no defaults for its secrets and addresses: what a
production start refuses, and why, is ``registry.startup`` (see docs/deploy.md).
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
INSTANCE = Path(os.environ.get("REGISTRY_INSTANCE_PATH", ROOT / "instance"))


def database_url(raw: str | None) -> str | None:
    """Normalise a DATABASE_URL so PostgreSQL always goes through psycopg 3."""
    if not raw:
        return raw
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix) :]
    return raw


#: The development key: known to everyone who has read this file, so production refuses it.
DEV_SECRET_KEY = "dev-only-insecure-key"


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL")) or (
        f"sqlite:///{INSTANCE / 'registry.sqlite'}"
    )
    #: pool_pre_ping: a connection the database dropped (restart, failover, network) is replaced
    #: before use, so the app recovers by itself once the database is back.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    #: Each worker process keeps its own pool of PostgreSQL connections (not used for SQLite). A
    #: request holds at most one, so one per gunicorn thread (REGISTRY_THREADS) is enough; the
    #: overflow covers the CLI and the odd extra. Every server then opens at most
    #: workers x (pool size + overflow): keep the sum over all servers under max_connections.
    DB_POOL_SIZE = int(os.environ.get("REGISTRY_DB_POOL_SIZE") or os.environ.get("REGISTRY_THREADS") or "4")
    DB_MAX_OVERFLOW = int(os.environ.get("REGISTRY_DB_MAX_OVERFLOW", "2"))
    #: Seconds a request waits for a free connection before it fails (well under gunicorn's timeout).
    DB_POOL_TIMEOUT = int(os.environ.get("REGISTRY_DB_POOL_TIMEOUT", "10"))
    #: Connections older than this are replaced (a firewall or pgbouncer may drop idle ones silently).
    DB_POOL_RECYCLE = int(os.environ.get("REGISTRY_DB_POOL_RECYCLE", "1800"))
    #: A streaming replica of the database (PostgreSQL hot standby) for the long reads: audit exports
    #: and the annual report. They then lag the primary by the replica's delay; everything else, and
    #: every write (an export's own audit entry too), stays on DATABASE_URL. Unset: all on the primary.
    REPLICA_DATABASE_URL = database_url(os.environ.get("REGISTRY_REPLICA_DATABASE_URL")) or None
    #: How long a SQLite writer waits for another's write lock before it is answered 503 with
    #: Retry-After. Well under a web worker's timeout (gunicorn: 30 s), and longer than any write
    #: transaction should last (they are kept short; reports and exports only read).
    SQLITE_BUSY_TIMEOUT_MS = int(os.environ.get("REGISTRY_SQLITE_BUSY_TIMEOUT_MS", "5000"))
    #: How long an Idempotency-Key's answer is replayed; a retry after that runs afresh, and
    #: `registry idempotency purge` (daily) deletes older keys.
    IDEMPOTENCY_KEY_HOURS = int(os.environ.get("REGISTRY_IDEMPOTENCY_KEY_HOURS", "24"))
    #: ISO country code of the registry's own Management Authority.
    ISSUING_COUNTRY = os.environ.get("REGISTRY_ISSUING_COUNTRY", "KR")
    #: argon2id parameters for new password hashes (OWASP: 19 MiB, 2 passes, 1 lane). A hash made
    #: with other parameters, or by an earlier release (Werkzeug scrypt/pbkdf2), is replaced at login.
    PASSWORD_HASH = {"memory_cost": 19456, "time_cost": 2, "parallelism": 1}
    #: Redis (``redis://host:6379/0``) where the login throttle counts failed attempts, shared by every
    #: worker and server; without it each worker process counts on its own, in memory.
    REDIS_URL = os.environ.get("REGISTRY_REDIS_URL") or None
    #: Login throttling, per account (the user name tried) and per client address. After ``free``
    #: failures each further one doubles the wait before the next attempt (2 s, 4 s... up to
    #: ``max_delay``); at ``lock_after`` failures the account or address is refused for ``lock_seconds``,
    #: even with the right password. A failure older than ``lock_seconds`` is forgotten.
    LOGIN_THROTTLE = {
        "account": {"free": 3, "lock_after": 10},
        "address": {"free": 20, "lock_after": 50},
        "max_delay": 60,
        "lock_seconds": 900,
    }
    #: Where the public verification page is reached; printed in every permit's QR code.
    PUBLIC_BASE_URL = os.environ.get("REGISTRY_PUBLIC_URL", "http://127.0.0.1:5000")
    #: The Management Authority as printed in box 6 and box 13.
    AUTHORITY = {
        "name_en": "Ministry of Climate, Energy and Environment, Republic of Korea",
        "name_ko": "기후에너지환경부 (대한민국 관리당국)",
        "address": "Government Complex Sejong, 11 Doum 6-ro, Sejong 30103, Republic of Korea",
        "place": "Sejong, Republic of Korea",
        "customs": "Korea Customs Service · 관세청",
    }
    #: The authority's document-signing key and certificates (the signing one first, then its
    #: issuers): they sign the permit PDF (PAdES) and the e-permit XML. ``registry permits dev-ca``
    #: makes a development pair; production configures the authority's own.
    DOCUMENT_SIGNING_KEY = os.environ.get("REGISTRY_DOCUMENT_KEY", str(INSTANCE / "document-signing" / "key.pem"))
    DOCUMENT_SIGNING_CERT = os.environ.get("REGISTRY_DOCUMENT_CERT", str(INSTANCE / "document-signing" / "chain.pem"))
    #: Partner authorities' trusted roots for their e-permit XML signatures, one file per country
    #: (``<ISO code>.pem``). A partner's document is checked against its country's root when one is
    #: here; without one its signature is not checked, and the audit entry says so.
    EPERMIT_PARTNER_ROOTS = os.environ.get("REGISTRY_EPERMIT_PARTNER_ROOTS", str(INSTANCE / "partner-roots"))
    #: Uploaded files, by SHA-256; outside the web root, served only through the registry's checks.
    UPLOAD_DIR = os.environ.get("REGISTRY_UPLOAD_DIR", str(INSTANCE / "uploads"))
    MAX_UPLOAD_BYTES = 10 * 1024 * 1024
    #: Flask refuses larger request bodies outright (413), before reading them.
    MAX_CONTENT_LENGTH = 12 * 1024 * 1024
    #: The Ed25519 key that signs audit checkpoints and exports; keep it off the database server.
    AUDIT_SIGNING_KEY = os.environ.get("REGISTRY_AUDIT_KEY", str(INSTANCE / "audit-signing-key.pem"))
    #: Written into checkpoints and exports, so a signature cannot be replayed for another registry.
    AUDIT_ORIGIN = os.environ.get("REGISTRY_AUDIT_ORIGIN", "wildlife-registry.kr")
    #: The write path signs a checkpoint when the log has grown this many entries past the last one...
    AUDIT_CHECKPOINT_EVERY = int(os.environ.get("REGISTRY_AUDIT_CHECKPOINT_EVERY", "100"))
    #: ...or when the last one is this many seconds old.
    AUDIT_CHECKPOINT_SECONDS = int(os.environ.get("REGISTRY_AUDIT_CHECKPOINT_SECONDS", "3600"))
    #: Append-only files each signed checkpoint is appended to after its commit, separated by the
    #: platform's path separator (":"); put them where the database administrator cannot write.
    AUDIT_WITNESSES = [p for p in os.environ.get("REGISTRY_AUDIT_WITNESSES", "").split(os.pathsep) if p]
    #: How many reverse proxies (load balancer, nginx) stand in front of the app and set
    #: X-Forwarded-For/-Proto/-Host and X-Request-Id. 0 (the default) trusts none of those headers:
    #: a client could otherwise choose the address and the request id the audit log records.
    TRUSTED_PROXIES = int(os.environ.get("REGISTRY_TRUSTED_PROXIES", "0"))
    #: Where the public verification page's rate limits are counted: the login throttle's Redis when
    #: there is one (every worker and server then shares one count), else this process's memory.
    RATELIMIT_STORAGE_URI = os.environ.get("REGISTRY_RATELIMIT_STORAGE") or REDIS_URL or "memory://"
    #: How often each partner authority may call the exchange (/api/v1/exchange), counted per partner.
    EXCHANGE_RATE_LIMIT = os.environ.get("REGISTRY_EXCHANGE_RATE_LIMIT", "60 per minute; 1000 per hour")
    #: The header in which the trusted proxy names the partner's verified TLS client certificate
    #: (nginx: its $ssl_client_fingerprint); read only when TRUSTED_PROXIES > 0. Empty: not used.
    EXCHANGE_CERT_HEADER = os.environ.get("REGISTRY_EXCHANGE_CERT_HEADER", "X-Client-Cert-Fingerprint")
    #: A signed-in session ends after this long without a request (staff roles)...
    SESSION_IDLE_MINUTES = int(os.environ.get("REGISTRY_SESSION_IDLE_MINUTES", "30"))
    #: ...or this long for keepers, who fill in longer forms between requests...
    SESSION_IDLE_MINUTES_KEEPER = int(os.environ.get("REGISTRY_SESSION_IDLE_MINUTES_KEEPER", "120"))
    #: ...and in any case this long after the login.
    SESSION_MAX_HOURS = int(os.environ.get("REGISTRY_SESSION_MAX_HOURS", "12"))
    PERMANENT_SESSION_LIFETIME = SESSION_MAX_HOURS * 3600
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    #: Sent as Strict-Transport-Security when set (production only: a development server has no TLS).
    STRICT_TRANSPORT_SECURITY: str | None = None
    #: Whether a missing audit signing key is created on first use (development only; see anchor.signer).
    AUDIT_KEY_CREATE_IF_MISSING = False
    #: Whether a missing document-signing key and certificate are created on first use, as a
    #: development CA (development only; see services/document_signing.keys).
    DOCUMENT_KEY_CREATE_IF_MISSING = False
    BABEL_DEFAULT_LOCALE = "en"
    LANGUAGES = ("en", "ko")
    PAGE_SIZE = 50
    WTF_CSRF_TIME_LIMIT = None


class DevelopmentConfig(Config):
    REGISTRY_ENV = "development"
    DEBUG = False
    AUDIT_KEY_CREATE_IF_MISSING = True
    DOCUMENT_KEY_CREATE_IF_MISSING = True


class TestingConfig(Config):
    REGISTRY_ENV = "testing"
    TESTING = True
    SECRET_KEY = "testing"
    WTF_CSRF_ENABLED = False
    # Hashing cost is irrelevant to what the tests check and would dominate their run time.
    PASSWORD_HASH = {"memory_cost": 8, "time_cost": 1, "parallelism": 1}
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("REGISTRY_TEST_DATABASE_URL")) or "sqlite://"
    # The concurrency tests run more threads against one app than a gunicorn worker does.
    DB_POOL_SIZE = 5
    DB_MAX_OVERFLOW = 10


class ProductionConfig(Config):
    """No defaults for what must be the operator's own: an empty value is refused at start."""

    REGISTRY_ENV = "production"
    SECRET_KEY = os.environ.get("SECRET_KEY", "")
    PUBLIC_BASE_URL = os.environ.get("REGISTRY_PUBLIC_URL", "")
    # In memory, so a command run without DATABASE_URL leaves no stray file; serving refuses it.
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL")) or "sqlite://"
    STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"
    # __Host-: the browser accepts the cookie only if Secure, Path=/ and without Domain, so a
    # sibling subdomain cannot set or shadow it.
    SESSION_COOKIE_NAME = "__Host-session"
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_PATH = "/"
    SESSION_COOKIE_DOMAIN = None
    REMEMBER_COOKIE_NAME = "__Host-remember_token"
    REMEMBER_COOKIE_SECURE = True
    REMEMBER_COOKIE_PATH = "/"
    REMEMBER_COOKIE_DOMAIN = None
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def from_environment() -> type[Config]:
    name = os.environ.get("REGISTRY_ENV", "development")
    try:
        cls = CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"REGISTRY_ENV={name!r}: expected one of {', '.join(CONFIGS)}") from None
    return cls
