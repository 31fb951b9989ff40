"""The authority's document-signing key and certificate: they sign the permit PDF (PAdES) and the
e-permit XML (XML signature), so a partner authority or a border officer can check a document with
standard tools and the authority's published certificate.

In production both files are the authority's real ones (``DOCUMENT_SIGNING_KEY``: a PEM private key;
``DOCUMENT_SIGNING_CERT``: PEM certificates, the signing certificate first, then its issuers). For
development and tests ``create_dev_ca`` makes a self-signed root and a signing certificate it
issued. The key is RSA: a PKCS#1 v1.5 signature is deterministic, so a signed permit signed again
with the same signing time gives the same bytes, and the fingerprint recorded at issue stays true.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class KeysMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class DocumentKeys:
    key_pem: bytes
    #: The signing certificate first, then the certificates that issued it, up to the root.
    chain_pems: tuple[bytes, ...]

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.chain_pems[0])

    @property
    def root(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.chain_pems[-1])


def _split_pem(data: bytes) -> tuple[bytes, ...]:
    marker = b"-----END CERTIFICATE-----"
    return tuple(part.strip() + b"\n" + marker + b"\n" for part in data.split(marker) if part.strip())


@lru_cache(maxsize=4)
def _load(key_path: str, cert_path: str) -> DocumentKeys:
    try:
        key_pem, chain = Path(key_path).read_bytes(), Path(cert_path).read_bytes()
    except OSError as exc:
        raise KeysMissing(
            f"no document-signing key or certificate at {key_path} / {cert_path} ({exc.strerror or exc}): "
            "run `registry permits dev-ca` for development, or configure the authority's own"
        ) from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
        chain_pems = _split_pem(chain)
        leaf = x509.load_pem_x509_certificate(chain_pems[0])
    except (ValueError, TypeError, IndexError):
        raise KeysMissing(f"{key_path} / {cert_path}: not an unencrypted PEM key and PEM certificates") from None
    if leaf.public_key().public_numbers() != key.public_key().public_numbers():  # type: ignore[union-attr]
        raise KeysMissing(f"the certificate in {cert_path} is not the key's in {key_path}")
    return DocumentKeys(key_pem, chain_pems)


def load(config) -> DocumentKeys:
    """The configured key and chain (loaded once per process; a failure is not cached)."""
    return _load(str(config["DOCUMENT_SIGNING_KEY"]), str(config["DOCUMENT_SIGNING_CERT"]))


def _name(common: str, country: str, organisation: str) -> x509.Name:
    # X.520 caps a name attribute at 64 characters: the authority's full name may be longer.
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def create_dev_ca(key_path: Path, cert_path: Path, *, country: str = "KR", organisation: str) -> None:
    """A development root and a document-signing certificate it issued (never for production).

    Refuses to overwrite existing files; the key file is owner-only.
    """
    for path in (key_path, cert_path):
        if path.exists():
            raise FileExistsError(f"{path} exists; refusing to replace it")
    now = datetime.now(UTC).replace(microsecond=0)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    root_name = _name("Development root (not for production)", country, organisation)
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("Document signing (development)", country, organisation))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + root.public_bytes(serialization.Encoding.PEM))
