"""The permit PDF's signature: PAdES baseline B-B (ETSI EN 319 142-1) by the authority's document key,
and its offline check (``registry permits verify``).

The signature is an invisible field: a reader shows it in its signature panel, and the printed page
is unchanged. Signing is deterministic on purpose: the signing time is the permit's issue time, the
RSA PKCS#1 v1.5 signature depends on nothing else, and the second half of the file identifier
(which pyHanko draws at random for each incremental update) is derived from the unsigned document.
The same permit therefore signs to the same bytes, and the fingerprint recorded at issue is the
fingerprint of every copy served later.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TypeVar

from asn1crypto import parser as asn1_parser
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pyhanko.keys import load_private_key_from_pemder_data
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.ades.report import AdESIndeterminate, AdESSubIndic
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from registry.document_keys import DocumentKeys

FIELD_NAME = "Signature1"
#: What the signed byte range leaves out: the signature's container, as one hex string.
_HEX_STRING = re.compile(rb"<[0-9A-Fa-f]*>")
#: The Info title the permit renderer writes ("CITES <number>"), read back by the verifier.
TITLE_PREFIX = "CITES "


class Unreadable(ValueError):
    """The bytes are not a PDF that can be read at all (truncated, damaged, another format)."""


def _asn1_cert(pem: bytes) -> asn1_x509.Certificate:
    _, _, der = asn1_pem.unarmor(pem)
    return asn1_x509.Certificate.load(der)


class _Writer(IncrementalPdfFileWriter):
    """An incremental update that depends on nothing but its input and *modified_at*.

    pyHanko has no option for either: it draws the file identifier's second half at random
    (``_handle_id``) and dates /ModDate with the clock (``_update_meta``), so both are overridden.
    """

    def __init__(self, data: bytes, modified_at: datetime):
        self._modified_at = modified_at
        super().__init__(io.BytesIO(data))

    @classmethod
    def _handle_id(cls, prev):
        ids = super()._handle_id(prev)
        prev.stream.seek(0)
        digest = hashlib.sha256(prev.stream.read()).digest()[:16]
        return generic.ArrayObject([ids[0], generic.ByteStringObject(digest)])

    def _update_meta(self):
        super()._update_meta()
        if self._info is not None:
            self._info.get_object()["/ModDate"] = generic.pdf_date(self._modified_at)


class _Signer(signers.SimpleSigner):
    """SimpleSigner parses its key again for every signature (two per document, ~0.1 s each for
    RSA-3072 with the key check): this one parses it once."""

    def __init__(self, keys: DocumentKeys):
        chain = [_asn1_cert(pem) for pem in keys.chain_pems]
        self._key = serialization.load_pem_private_key(keys.key_pem, password=None)
        super().__init__(
            signing_cert=chain[0],
            signing_key=load_private_key_from_pemder_data(keys.key_pem, passphrase=None),
            # The issuers only: pyHanko adds the signing certificate itself, and a second copy
            # would be an unsigned blob in the container that could be changed unnoticed.
            cert_registry=SimpleCertificateStore.from_certs(chain[1:]),
            # Without the root, the signature's container holds no certificate a verifier takes
            # on trust: the root comes from the verifier's own copy, as it must.
            embed_roots=False,
        )

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        if mechanism != "rsassa_pkcs1v15" or not isinstance(self._key, rsa.RSAPrivateKey):
            return super().sign_raw(data, digest_algorithm)
        return self._key.sign(data, padding.PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))


@lru_cache(maxsize=4)
def _signer(keys: DocumentKeys) -> _Signer:
    return _Signer(keys)


class _FixedTimeSigner(signers.PdfSigner):
    """A PdfSigner whose claimed signing time is given, not the clock's (PdfSigner has no option)."""

    def __init__(self, *args, signing_time: datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self._signing_time = signing_time

    def init_signing_session(self, pdf_out, existing_fields_only=False):
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        session.system_time = self._signing_time
        return session


T = TypeVar("T")


def _run(make: Callable[[], Awaitable[T]]) -> T:
    """Run pyHanko's async work to its end. Its sync wrappers call asyncio.run, which refuses to
    run inside a thread whose event loop is running (a caller that is itself async; Playwright's
    sync API in the browser tests): there, the work runs to its end in a thread of its own."""

    async def work() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work()).result()


def signing_time(moment: datetime) -> datetime:
    """*moment* as the signature carries it: UTC, whole seconds (what every backend stores alike)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def sign(data: bytes, keys: DocumentKeys, *, signed_at: datetime, reason: str, location: str) -> bytes:
    """*data* (an unsigned PDF) with a PAdES B-B signature by *keys*, dated *signed_at*."""
    moment = signing_time(signed_at)
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
    )
    pdf_signer = _FixedTimeSigner(
        meta,
        _signer(keys),
        signing_time=moment,
        new_field_spec=fields.SigFieldSpec(sig_field_name=FIELD_NAME),  # no box: an invisible field
    )
    out = _run(lambda: pdf_signer.async_sign_pdf(_Writer(data, moment)))
    return out.getvalue()


@dataclass(frozen=True)
class Verdict:
    valid: bool
    #: Why not, in one sentence (empty when valid).
    reason: str = ""
    signer: str = ""
    signed_at: datetime | None = None
    permit_number: str | None = None


def verify(data: bytes, trust_roots: list[bytes], at: datetime | None = None) -> Verdict:
    """Check the one signature of a permit PDF against *trust_roots* (PEM certificates), offline.

    Valid means: the signature verifies, its certificate chains to a trusted root and is valid *at*
    (default: now; a B-B signature carries no timestamp that proves an earlier time), and it covers
    the whole file (nothing was appended after signing). Raises Unreadable for bytes that are no PDF.
    """
    try:
        reader = PdfFileReader(io.BytesIO(data))
        embedded = reader.embedded_signatures
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise Unreadable(f"not a readable PDF ({exc})") from None
    if not embedded:
        return Verdict(False, "the PDF carries no signature")
    if len(embedded) > 1:
        return Verdict(False, f"the PDF carries {len(embedded)} signatures; a permit has one")
    if not _container_exact(data, embedded[0]):
        return Verdict(False, "the signature field holds more than the signature: it was changed")
    context = ValidationContext(
        trust_roots=[_asn1_cert(pem) for pem in trust_roots],
        allow_fetching=False,  # offline: no OCSP or CRL is fetched
        revocation_mode="soft-fail",
        moment=at,
    )
    try:
        status = _run(lambda: async_validate_pdf_signature(embedded[0], signer_validation_context=context))
        who = status.signing_cert.subject.human_friendly
        when = status.signer_reported_dt
        number = _permit_number(reader)
    except PdfError as exc:
        raise Unreadable(f"not a readable PDF ({exc})") from None
    # A damaged signature container fails in the parser in many ways; each means the same here.
    except (SignatureValidationError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        return Verdict(False, f"the signature cannot be checked: {exc}")
    problem = ""
    if not status.intact:
        problem = "the document was changed after it was signed (its digest does not match)"
    elif not status.valid:
        problem = "the signature does not verify with the signer's certificate"
    elif not status.trusted:
        problem = _untrusted(who, status.trust_problem_indic)
    elif status.coverage != SignatureCoverageLevel.ENTIRE_FILE or status.modification_level != ModificationLevel.NONE:
        problem = "the file was updated after it was signed: the signature does not cover all of it"
    return Verdict(not problem, problem, who, when, number)


def _untrusted(who: str, why: AdESSubIndic | None) -> str:
    if why in _OUT_OF_DATE:
        return (
            f"the signer's certificate ({who}) is not valid now (expired, or not yet valid): "
            "this signature carries no timestamp proving it was made while it was"
        )
    if why in (AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE):
        return f"the signer's certificate ({who}) was revoked"
    return f"the signer ({who}) is not certified by the trusted authority certificate"


_OUT_OF_DATE = frozenset(
    {
        AdESIndeterminate.EXPIRED,
        AdESIndeterminate.NOT_YET_VALID,
        AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
        AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED,
    }
)


def _container_exact(data: bytes, embedded) -> bool:
    """Whether the gap the signature leaves unsigned holds one hex string: the CMS container, then
    zeros, nothing else.

    The gap is outside the signed byte range, a PDF hex string may hold whitespace, and the
    container's parser stops at its end: without this a byte changed there (a space in the hex, a
    digit of the padding) would go unnoticed, and the file would no longer be the one issued.
    """
    try:
        _, signed_end, resumed, _ = (int(n) for n in embedded.byte_range)
    except (TypeError, ValueError):
        return True  # no usable byte range: the signature check names that
    if not _HEX_STRING.fullmatch(data[signed_end:resumed]):
        return False
    contents = embedded.pkcs7_content
    try:
        parsed = asn1_parser.parse(contents)
    except ValueError:
        return True  # not DER at all: the signature check names that
    end = len(parsed[3]) + len(parsed[4]) + len(parsed[5])
    return not contents[end:].strip(b"\x00")


def _permit_number(reader: PdfFileReader) -> str | None:
    try:
        title = str(reader.trailer["/Info"]["/Title"])
    except (KeyError, TypeError):
        return None
    return title[len(TITLE_PREFIX) :] if title.startswith(TITLE_PREFIX) else None
