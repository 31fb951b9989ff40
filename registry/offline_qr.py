"""The permit's QR code, readable without network: a compact payload signed with the registry's
published Ed25519 key (the key that signs the audit log), checked by anyone who holds its public key.

The code's text is the online verification address, with the signed payload in the fragment
(``.../verify/<number>?t=<token>#WRQ1.<content>.<signature>``): a phone opens the page and learns
what changed since issue (cancelled, used), and the fragment never reaches the server; an officer
offline reads the fragment and checks the signature. The content is the document's face: number,
type, holder, countries, validity and every line. It cannot say whether the permit was cancelled or
used after it was printed: only the online page can.

A short verification code (three groups of four characters) is printed too, for those without a scanner: it is
derived from the permit's secret token, and the online page accepts it in place of the token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from datetime import date

from registry import signing

PREFIX = "WRQ1"
#: Signed with this in front, so a signature over a QR payload can never pass for an audit one.
DOMAIN = b"wildlife-registry permit-qr v1\n"
#: Crockford's base32: no I, L, O or U to misread.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class Invalid(ValueError):
    """The text is not a payload of this registry, or its signature does not verify."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def content(permit) -> dict:
    """What the QR code says about *permit*, in short keys (a QR code's room is small)."""
    holder = permit.importer if permit.direction == "import" else permit.exporter
    holder = holder or permit.applicant
    return {
        "c": permit.issuing_country,
        "n": permit.number,
        "t": permit.doc_type,
        "h": holder.name,
        "i": permit.import_country,
        "e": permit.export_country,
        "f": permit.valid_from.isoformat(),
        "u": permit.valid_until.isoformat(),
        "l": [
            [
                line.species.scientific_name,
                line.term_code,
                f"{line.quantity.normalize():f}",
                line.unit_code or "",
                line.appendix,
                line.source,
            ]
            for line in permit.lines
        ],
    }


def payload(permit, signer: signing.Signer) -> str:
    """The signed payload of *permit*: ``WRQ1.<deflated JSON>.<Ed25519 signature>``, URL-safe base64."""
    body = zlib.compress(json.dumps(content(permit), separators=(",", ":"), ensure_ascii=False).encode(), 9)
    signature = base64.b64decode(signer.sign(DOMAIN + body))
    return f"{PREFIX}.{_b64(body)}.{_b64(signature)}"


def read(text: str, public_pem: str) -> dict:
    """The content of a payload (or of a whole QR text carrying one after ``#``), once its
    signature verifies with *public_pem*; raises Invalid otherwise."""
    text = text.strip().rsplit("#", 1)[-1]
    parts = text.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise Invalid("not a permit QR payload of this registry")
    try:
        body, signature = _unb64(parts[1]), _unb64(parts[2])
    except ValueError:
        raise Invalid("the payload is damaged") from None
    key = signing.public_key(public_pem)
    if not signing.valid(key, DOMAIN + body, base64.b64encode(signature).decode()):
        raise Invalid("the signature does not verify: the payload was changed or not signed by this registry")
    try:
        found = json.loads(zlib.decompress(body))
    except (zlib.error, ValueError):
        raise Invalid("the payload is damaged") from None
    if not isinstance(found, dict):
        raise Invalid("the payload is damaged")
    return found


def expired(found: dict, today: date) -> bool:
    return date.fromisoformat(found["u"]) < today


def verification_code(token: str) -> str:
    """The printed short code for a permit's secret token: 12 characters of Crockford base32."""
    digest = int.from_bytes(hashlib.sha256(b"verification-code\n" + token.encode()).digest()[:8], "big")
    chars = "".join(_ALPHABET[(digest >> (5 * i)) & 31] for i in range(12))
    return "-".join(chars[i : i + 4] for i in (0, 4, 8))


def normalise_code(text: str) -> str:
    """A typed code in the printed form: upper case, separators anywhere, O/I/L read as 0/1/1."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum()).translate(str.maketrans("OIL", "011"))
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))
