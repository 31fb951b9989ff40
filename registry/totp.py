"""Time-based one-time codes (RFC 6238) and recovery codes: the arithmetic, without the database.

The shared secret is stored encrypted with a key derived from SECRET_KEY, so a copy of the
database alone does not let anyone compute an officer's codes. Rotating SECRET_KEY therefore
means every user re-enrols (``registry users reset-second-factor``): docs/security.md says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ISSUER = "Wildlife Registry"
STEP = 30
#: Codes of the step before and after now are accepted too: a phone's clock drifts.
DRIFT_STEPS = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def new_secret() -> str:
    return pyotp.random_base32()


def _key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"registry totp secret").derive(
        secret_key.encode("utf-8")
    )


def seal(secret: str, secret_key: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_key(secret_key)).encrypt(nonce, secret.encode("ascii"), b"totp")
    return "v1:" + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(stored: str, secret_key: str) -> str | None:
    """The secret, or None when it was sealed under another SECRET_KEY (or altered)."""
    try:
        raw = base64.urlsafe_b64decode(stored.removeprefix("v1:"))
        return AESGCM(_key(secret_key)).decrypt(raw[:12], raw[12:], b"totp").decode("ascii")
    except (InvalidTag, ValueError):
        return None


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP)


def matching_step(secret: str, code: str, after: int | None, now: float | None = None) -> int | None:
    """The step *code* is right for, within the drift window and later than *after*; None otherwise."""
    code = "".join(code.split())
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    step = current_step(now)
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        if after is not None and candidate <= after:
            continue
        if hmac.compare_digest(totp.at(candidate * STEP), code):
            return candidate
    return None


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG (no script, no external image: the CSP stays strict)."""
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff")


def new_recovery_codes() -> list[str]:
    def one() -> str:
        text = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        return f"{text[:5]}-{text[5:]}"

    return [one() for _ in range(RECOVERY_CODES)]


def recovery_digest(code: str) -> str:
    """Codes are random (50 bits), so a fast hash suffices; typing is forgiving of case and dashes."""
    normal = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()
