"""The registry's Ed25519 key: it signs audit checkpoints and exports; anyone can check with the public key.

The private key lives in a file outside the database (``AUDIT_SIGNING_KEY``), so someone who can
rewrite the database still cannot produce signatures that verify.
"""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class KeyMissing(RuntimeError):
    pass


def generate(path: Path) -> Path:
    """Write a new private key to *path* (owner-only permissions); refuses to overwrite one."""
    if path.exists():
        raise FileExistsError(f"{path} exists; refusing to replace the registry's signing key")
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # O_EXCL: of two processes creating the key at once (development creates it on first use),
    # one wins and the other gets FileExistsError instead of replacing a key already in use.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return path


@lru_cache(maxsize=4)
def _load(path: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except FileNotFoundError:
        raise KeyMissing(f"no signing key at {path}: run `registry audit keygen`") from None
    except OSError as exc:  # unreadable (permissions), a directory...
        raise KeyMissing(f"cannot read the signing key at {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError):  # not PEM, damaged, or protected by a password
        raise KeyMissing(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyMissing(f"{path} is not an Ed25519 key")
    return key


class Signer:
    def __init__(self, path: str | Path):
        self._key = _load(str(path))
        self.public_pem = (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        self.fingerprint = fingerprint(self.public_pem)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._key.sign(message)).decode()


@lru_cache(maxsize=4)
def signer_at(path: str) -> Signer:
    """The Signer for the key file at *path*, loaded once per process (every audit entry is signed).

    A failure is not cached: a key created later (``registry audit keygen``) is picked up.
    """
    return Signer(path)


def public_key(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def fingerprint(public_pem: str) -> str:
    raw = public_key(public_pem).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def valid(key: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), message)
        return True
    except (InvalidSignature, ValueError):
        return False


def checkpoint_message(origin: str, seq: int, entry_hash: str, signed_from: int | None = None) -> bytes:
    """What a checkpoint signs: the chain's origin, its length and its head (C2SP checkpoint-like),
    and the first entry that must carry a signature, so that boundary cannot be moved unseen
    (checkpoints signed before entries were signed have none)."""
    boundary = "" if signed_from is None else f"signed-from {signed_from}\n"
    return f"{origin}\n{seq}\n{entry_hash}\n{boundary}".encode()


def entry_message(origin: str, seq: int, entry_hash: str) -> bytes:
    return f"{origin}\nentry\n{seq}\n{entry_hash}\n".encode()
