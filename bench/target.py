"""A database to benchmark against: a fresh SQLite file or PostgreSQL database, migrated and filled."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = str(Path(sys.executable).with_name("registry"))
SECRET_KEY = "bench-secret-key-not-for-production-000000"


@dataclass
class Target:
    backend: str  # "sqlite" or "postgresql"
    url: str  # SQLAlchemy URL
    work: Path  # instance folder: signing key, uploads, exports
    #: Each reset writes a new signing key, at a path of its own: this process keeps the keys it has
    #: loaded (one per path), and must not sign the next registry's entries with the last one's.
    resets: int = 0

    @classmethod
    def sqlite(cls, work: Path) -> Target:
        return cls("sqlite", f"sqlite:///{work / 'registry.sqlite'}", work)

    @classmethod
    def postgresql(cls, server_url: str, work: Path, name: str = "registry_bench") -> Target:
        base = server_url.rsplit("/", 1)[0]
        return cls("postgresql", f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1), work)

    @property
    def key(self) -> Path:
        return self.work / f"audit-signing-key-{self.resets}.pem"

    @property
    def libpq_url(self) -> str:
        return self.url.replace("postgresql+psycopg://", "postgresql://", 1)

    def env(self) -> dict[str, str]:
        return os.environ | {
            "DATABASE_URL": self.url,
            "REGISTRY_ENV": "development",
            "REGISTRY_INSTANCE_PATH": str(self.work),
            "REGISTRY_AUDIT_KEY": str(self.key),
            "REGISTRY_UPLOAD_DIR": str(self.work / "uploads"),
            "SECRET_KEY": SECRET_KEY,
        }

    def config(self) -> dict:
        """The in-process app's settings: the same database and key as the CLI's."""
        return {
            "SQLALCHEMY_DATABASE_URI": self.url,
            "AUDIT_SIGNING_KEY": str(self.key),
            # The development CA the CLI made on first use under the instance path (REGISTRY_INSTANCE_PATH).
            "DOCUMENT_SIGNING_KEY": str(self.work / "document-signing" / "key.pem"),
            "DOCUMENT_SIGNING_CERT": str(self.work / "document-signing" / "chain.pem"),
            "DOCUMENT_KEY_CREATE_IF_MISSING": True,
            "UPLOAD_DIR": str(self.work / "uploads"),
            "SECRET_KEY": SECRET_KEY,
            # One load generator on one address would be answered 429 by the limits a real client meets.
            "RATELIMIT_ENABLED": False,
        }

    def cli(self, *args: str, quiet: bool = True) -> str:
        done = subprocess.run([REGISTRY, *args], env=self.env(), cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"registry {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
        if not quiet:
            sys.stderr.write(done.stderr)
        return done.stdout

    def reset(self) -> None:
        """An empty database, migrated, with a signing key."""
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        if self.backend == "postgresql":
            parts = urlsplit(self.libpq_url)
            name = parts.path.lstrip("/")
            admin = self.libpq_url.rsplit("/", 1)[0] + "/postgres"
            for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
                subprocess.run(["psql", admin, "-qc", sql], check=True, capture_output=True)
        self.cli("db", "upgrade")
        self.resets += 1
        self.cli("audit", "keygen", "--if-missing")

    def populate(self, animals: int) -> float:
        """Fill the registry with the generator; returns the seconds it took."""
        start = time.perf_counter()
        self.cli("demo", "--scale", str(animals), quiet=False)
        return time.perf_counter() - start
