"""Issue #14's "done when", for every document type the registry issues, through the workflow:
the document is issued; its e-permit XML validates against the schema, verifies offline and reads
back to the permit's own content, and one changed byte is refused; its PDF is signed so that the
registry's offline check accepts it and refuses one changed byte, and poppler's pdfsig (an
independent implementation) reports the signature valid and the certificate trusted by an NSS
database holding the authority's root."""

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from flask import current_app

from registry import document_verify, epermit
from registry.epermit import schema
from registry.models import DOCUMENT_TYPES
from registry.services import documents
from registry.services.context import write_transaction
from tests import uses
from tests.conftest import import_application, species

OTHER_DATE = "2026-09-14"


def _application(world, doc_type: str) -> dict:
    """A lawful application of *doc_type*, with two lines."""
    if doc_type == "import":
        return import_application(
            world,
            applicant_party_id=world.zoo,
            lines=[
                {"species_id": world.python, "quantity": "2"},
                {"species_id": world.python, "term_code": "SKI", "quantity": "1.5", "unit_code": "KGM"},
            ],
        )
    outgoing = {
        "doc_type": doc_type,
        "applicant_party_id": world.zoo,
        "importer_party_id": world.exporter,
        "exporter_party_id": world.zoo,
        "import_country": "ZA",
        "export_country": "KR",
        "purpose_code": "Z",
        "source_code": "C",
        "lines": [
            {"species_id": world.python, "quantity": "1"},
            {"species_id": world.python, "term_code": "SKI", "quantity": "3"},
        ],
    }
    if doc_type == "reexport":
        outgoing |= {"origin_country": "GH", "origin_permit_no": "GH-EXP-31", "origin_permit_date": OTHER_DATE}
    elif doc_type == "origin":
        with write_transaction():
            listed_elsewhere = species("Tupinambis merianae", "III", listing_countries="AR")
        outgoing["lines"] = [{"species_id": listed_elsewhere, "quantity": "4"}]
    elif doc_type == "pre_convention":
        with write_transaction():
            old = species("Crocodylus siamensis", "II", listed_on=date(1975, 7, 1))
        outgoing |= {
            "source_code": "O",
            "lines": [{"species_id": old, "term_code": "SKI", "quantity": "1", "acquired_on": "1970-03-01"}],
        }
    return outgoing


def _issued(world, doc_type: str):
    permit = uses.create_application(world.actor("officer"), _application(world, doc_type))
    uses.permit_event(world.actor("officer"), permit.id, "submit")
    uses.permit_event(world.actor("officer2"), permit.id, "approve")
    return uses.permit_event(world.actor("officer3"), permit.id, "issue")


def _roots() -> list[bytes]:
    chain = Path(current_app.config["DOCUMENT_SIGNING_CERT"]).read_bytes()
    return document_verify.trust_roots(chain)[-1:]


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize("doc_type", sorted(DOCUMENT_TYPES))
def test_every_document_type_is_issued_as_xml_that_validates_verifies_and_reads_back(world, doc_type):
    permit = _issued(world, doc_type)
    assert permit.state == "issued" and permit.issuing_office and permit.signatory_name
    data = epermit.document(permit)
    schema.validate(schema.parse(data))
    assert document_verify.verify_file(data, _roots()).status == document_verify.Status.VALID
    read = epermit.read(data)
    assert (read.number, read.doc_type, read.valid_from, read.valid_until) == (
        permit.number,
        doc_type,
        permit.valid_from,
        permit.valid_until,
    )
    assert (read.consignee.country, read.consignor.country) == (permit.import_country, permit.export_country)
    assert read.signatory_name == permit.signatory_name
    assert [(x.scientific_name, x.term_code, x.quantity, x.unit_code, x.appendix, x.source) for x in read.lines] == [
        (x.species.scientific_name, x.term_code, x.quantity, x.unit_code, x.appendix, x.source) for x in permit.lines
    ]
    assert [(x.origin_country, x.acquired_on) for x in read.lines] == [(x.origin, x.acquired_on) for x in permit.lines]
    # One changed byte of the signed content (a quantity): refused.
    quantity = f">{permit.lines[0].quantity.normalize():f}<".encode()
    changed = data.replace(quantity, b">9" + quantity[1:], 1)
    assert changed != data
    assert document_verify.verify_file(changed, _roots()).status == document_verify.Status.INVALID


@pytest.mark.parametrize("doc_type", sorted(DOCUMENT_TYPES))
def test_every_document_type_is_a_signed_pdf_the_offline_check_accepts(world, doc_type):
    permit = _issued(world, doc_type)
    data = documents.permit_pdf(permit)
    verdict = document_verify.verify_file(data, _roots())
    assert verdict.status == document_verify.Status.VALID, verdict.reason
    assert f"permit: {permit.number}" in verdict.facts
    # A byte in the middle of the signed page content.
    assert document_verify.verify_file(_flip(data, len(data) // 3), _roots()).status != document_verify.Status.VALID


@pytest.mark.slow
@pytest.mark.parametrize("doc_type", sorted(DOCUMENT_TYPES))
def test_pdfsig_reports_every_document_types_signature_valid(world, doc_type, tmp_path):
    pdfsig = shutil.which("pdfsig")
    if pdfsig is None:
        pytest.fail("poppler's pdfsig is not installed: ./scripts/test installs poppler-utils")
    from tests.test_signed_documents import _nss_trusting

    path = tmp_path / "permit.pdf"
    path.write_bytes(documents.permit_pdf(_issued(world, doc_type)))
    nss = _nss_trusting(_roots()[-1], tmp_path / "nss")
    out = subprocess.run([pdfsig, "-nssdir", f"sql:{nss}", str(path)], capture_output=True, text=True, timeout=60)
    lines = [line.strip() for line in out.stdout.splitlines()]
    assert "- Signature Validation: Signature is Valid." in lines, out.stdout
    assert "- Certificate Validation: Certificate is Trusted." in lines, out.stdout
