"""The XML signature of an e-permit (UN/CEFACT Recommendation 14, W3C XML Signature).

Enveloped, RSA-SHA256 over SHA-256 digests, exclusive canonicalisation, the signing certificate
and its issuers in KeyInfo. Verification trusts only a root it is given (the partner
authority's, or ours): the chain in KeyInfo must lead to it, and only then is the signature
checked with the signing certificate's key.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
    methods,
)
from signxml.exceptions import InvalidInput, SignXMLException

from registry.document_keys import DocumentKeys
from registry.epermit import schema
from registry.epermit.names import DS


class SignatureInvalid(ValueError):
    """The document carries no valid signature by a certificate the trusted root issued."""


def sign(root: etree._Element, keys: DocumentKeys) -> etree._Element:
    """*root* with an enveloped ds:Signature as its last child."""
    signer = XMLSigner(
        method=methods.enveloped,
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    return signer.sign(root, key=keys.key_pem, cert=[pem.decode() for pem in keys.chain_pems])


def _chain(signature: etree._Element) -> list[x509.Certificate]:
    texts = signature.findall(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if not texts:
        raise SignatureInvalid("the signature carries no X.509 certificate")
    try:
        return [
            x509.load_pem_x509_certificate(
                b"-----BEGIN CERTIFICATE-----\n" + "".join(t.text.split()).encode() + b"\n-----END CERTIFICATE-----\n"
            )
            for t in texts
        ]
    except (ValueError, AttributeError):
        raise SignatureInvalid("a certificate in the signature cannot be read") from None


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, CryptoInvalidSignature):
        return False
    return True


def _extension(certificate: x509.Certificate, kind):
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _may_issue(issuer: x509.Certificate, below: int) -> bool:
    """Whether *issuer* may have issued a certificate with *below* CA certificates under it: a CA
    (basic constraints), within its path length, allowed to sign certificates (key usage)."""
    constraints = _extension(issuer, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        return False
    if constraints.path_length is not None and below > constraints.path_length:
        return False
    usage = _extension(issuer, x509.KeyUsage)
    return usage is None or usage.key_cert_sign


def _may_sign(leaf: x509.Certificate) -> bool:
    """Whether *leaf* may sign documents: not a CA, and, when it says, for signatures."""
    constraints = _extension(leaf, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        return False
    usage = _extension(leaf, x509.KeyUsage)
    return usage is None or usage.digital_signature or usage.content_commitment


def trusted_signer(
    chain: list[x509.Certificate], root: x509.Certificate, now: datetime | None = None
) -> x509.Certificate:
    """The signing certificate (the chain's first), once the chain is shown to lead to *root*:
    every certificate on the way in its validity period, each issuer a CA allowed to issue it
    (basic constraints, path length, key usage), the signer allowed to sign documents. Without the
    CA checks, the holder of any ordinary certificate under the root could issue one of their own."""
    now = now or datetime.now(UTC)
    leaf = chain[0]
    if not _may_sign(leaf):
        raise SignatureInvalid(f"certificate {leaf.subject.rfc4514_string()} may not sign documents")
    current, pool = leaf, [c for c in chain[1:] if c != root]
    for below in range(len(chain) + 1):
        if not current.not_valid_before_utc <= now <= current.not_valid_after_utc:
            raise SignatureInvalid(f"certificate {current.subject.rfc4514_string()} is not valid now")
        if _issued_by(current, root):
            if not _may_issue(root, below):
                break
            return leaf
        issuer = next((c for c in pool if c.subject == current.issuer and _issued_by(current, c)), None)
        if issuer is None or not _may_issue(issuer, below):
            break
        pool.remove(issuer)
        current = issuer
    raise SignatureInvalid(
        f"the signing certificate {leaf.subject.rfc4514_string()} was not issued by the trusted root "
        f"{root.subject.rfc4514_string()}"
    )


def verify(tree: etree._ElementTree, root_pem: bytes) -> tuple[etree._Element, x509.Certificate]:
    """Check *tree*'s enveloped signature against the trusted root; returns what was signed
    (read only that: "see what is signed") and the signing certificate."""
    try:
        root = x509.load_pem_x509_certificate(root_pem)
    except ValueError:
        raise SignatureInvalid("the trusted certificate is not a PEM X.509 certificate") from None
    signatures = tree.getroot().findall(f"{{{DS}}}Signature")
    if len(signatures) != 1:
        raise SignatureInvalid("the document must carry exactly one enveloped signature")
    signer_cert = trusted_signer(_chain(signatures[0]), root)
    config = SignatureConfiguration(
        location="./",
        signature_methods=frozenset({SignatureMethod.RSA_SHA256}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
    )
    try:
        result = XMLVerifier().verify(
            etree.tostring(tree), x509_cert=signer_cert, parser=schema.parser(), expect_config=config
        )
    except (InvalidInput, SignXMLException) as exc:
        raise SignatureInvalid(f"the signature does not match the document: {exc}") from None
    signed = result.signed_xml  # type: ignore[union-attr]
    return signed, signer_cert
