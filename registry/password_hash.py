"""Storing passwords: argon2id (ASVS 5.0 11.4.2), with the hashes of earlier releases still verified.

New hashes are argon2id with the parameters of ``PASSWORD_HASH`` (OWASP's m=19456 KiB, t=2, p=1 in
production). Hashes written before (Werkzeug's ``scrypt:...`` and ``pbkdf2:...``) and argon2 hashes
with other parameters still verify, and ``needs_rehash`` tells the login to store a new hash
while it holds the password.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from werkzeug.security import check_password_hash

from registry.passwords import normalised

_ARGON2 = "$argon2"


@cache
def _hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID)


def hasher() -> PasswordHasher:
    """The hasher of the configured parameters."""
    params = current_app.config["PASSWORD_HASH"]
    return _hasher(params["time_cost"], params["memory_cost"], params["parallelism"])


def hash_password(password: str) -> str:
    return hasher().hash(normalised(password))


def verify(stored: str, password: str) -> bool:
    """Whether *password* matches *stored*, whichever scheme wrote it."""
    if stored.startswith(_ARGON2):
        try:
            return hasher().verify(stored, normalised(password))
        except (VerificationError, InvalidHashError):
            return False
    # Werkzeug hashed the text as typed: no normalisation for these.
    try:
        return check_password_hash(stored, password)
    except ValueError:  # not a hash Werkzeug knows: nothing matches it
        return False


def needs_rehash(stored: str) -> bool:
    """A hash of an earlier scheme or of other argon2 parameters than the configured ones."""
    return not stored.startswith(_ARGON2) or hasher().check_needs_rehash(stored)


_dummies: dict[tuple, str] = {}


def dummy_hash() -> str:
    """A hash of the configured cost to check against when the user does not exist, so the time a
    failed login takes does not reveal whether the user name exists."""
    key = tuple(sorted(current_app.config["PASSWORD_HASH"].items()))
    if key not in _dummies:
        _dummies[key] = hash_password("not-a-real-password")
    return _dummies[key]
