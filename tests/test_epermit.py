"""The UN/CEFACT CITES e-permit XML: every document type exported valid against the schema kept
in the repository, signed per Rec. 14, and read back to the same content."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from lxml import etree

from registry import document_keys, epermit
from registry.epermit import export, schema, signature
from registry.epermit.names import RAM, RSM, TITLES, TYPE_CODES
from registry.models import Party, Permit, PermitLine, Species
from registry.models.permit import DOCUMENT_TYPES

NS = {"rsm": RSM, "ram": RAM}
AUTHORITY = {"name_en": "Ministry", "name_ko": "부", "address": "Sejong", "place": "Sejong, Republic of Korea"}


@pytest.fixture
def signing(app) -> bytes:
    """The trusted root of the document-signing chain the test app is configured with."""
    return document_keys.load(app.config).chain_pems[-1]


def _species(name: str, appendix: str, **more) -> Species:
    return Species(
        scientific_name=name,
        taxon_class="Aves",
        taxon_order="Psittaciformes",
        family="Psittacidae",
        appendix=appendix,
        name_en=f"{name} (common)",
        name_ko="앵무",
        **more,
    )


def paper_permit(doc_type: str, lines: int = 3, **overrides) -> Permit:
    """An issued permit of *doc_type* built in memory (the export is a function of the permit)."""
    exporter = Party(kind="organisation", name="Foreign Exporter Ltd", country="ZA", address="1 Long St\nCape Town")
    importer = Party(kind="organisation", name="City Zoo", country="KR", address="Seoul")
    fields = {
        "id": 4242,
        "doc_type": doc_type,
        "state": "issued",
        "number": f"KR/2026/{len(doc_type):06d}",
        "issuing_country": "KR",
        "applicant": importer if doc_type == "import" else exporter,
        "importer": importer if doc_type == "import" else exporter,
        "exporter": exporter if doc_type == "import" else importer,
        "import_country": "KR" if doc_type == "import" else "ZA",
        "export_country": "ZA" if doc_type == "import" else "KR",
        "origin_country": "TZ",
        "purpose_code": "Z",
        "source_code": "C",
        "foreign_permit_no": "ZA-2026-77",
        "foreign_permit_date": date(2026, 3, 1),
        "origin_permit_no": "TZ-0042" if doc_type == "reexport" else None,
        "origin_permit_date": date(2025, 1, 2) if doc_type == "reexport" else None,
        "reexport_country": "NL" if doc_type == "reexport" else None,
        "reexport_permit_no": "NL-R-9" if doc_type == "reexport" else None,
        "reexport_permit_date": date(2025, 6, 7) if doc_type == "reexport" else None,
        "issuing_office": "han-river",
        "signatory_name": "Lee Officer",
        "signatory_title": "Director, CITES section",
        "special_conditions": "Live animals per the IATA Live Animals Regulations.\nSecond condition.",
        "valid_from": date(2026, 3, 10),
        "valid_until": date(2026, 9, 9),
        "security_token": "s3cret-token",
        "issued_at": datetime(2026, 3, 10, 9, 30, tzinfo=UTC),
    }
    fields.update(overrides)
    permit = Permit(**fields)
    species = [_species("Psittacus erithacus", "I"), _species("Python regius", "II"), _species("Testudo graeca", "II")]
    for n in range(1, lines + 1):
        permit.lines.append(
            PermitLine(
                id=n,
                line_no=n,
                species=species[(n - 1) % 3],
                appendix=species[(n - 1) % 3].appendix,
                term_code="LIV" if n % 2 else "SKI",
                quantity=Decimal(n) + Decimal("0.5") * (n % 2 == 0),
                unit_code=None if n % 2 else "KGM",
                description=f"line {n}",
                source_code="D" if n == 2 else None,
                purpose_code="S" if n == 3 else None,
                origin_country="VN" if n == 3 else None,
                operation_no="A-KR-501" if n == 2 else None,
                acquired_on=date(1970, 1, 1) if doc_type == "pre_convention" else None,
            )
        )
    return permit


def _xml(permit, **kwargs) -> bytes:
    root = export.build(permit, authority=AUTHORITY, issuing_country="KR", **kwargs)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.mark.parametrize("doc_type", sorted(DOCUMENT_TYPES))
def test_every_document_type_validates_against_the_schema(doc_type):
    data = _xml(paper_permit(doc_type, lines=5))
    tree = schema.parse(data)
    schema.validate(tree)
    root = tree.getroot()
    assert root.findtext("rsm:HeaderExchangedDocument/ram:TypeCode", namespaces=NS) == TYPE_CODES[doc_type]
    assert root.findtext("rsm:HeaderExchangedDocument/ram:Name", namespaces=NS) == TITLES[doc_type]
    items = root.findall("rsm:SpecifiedSupplyChainConsignment/ram:IncludedSupplyChainConsignmentItem", NS)
    assert [i.findtext("ram:ID", namespaces=NS) for i in items] == ["A", "B", "C", "D", "E"]


@pytest.mark.parametrize("doc_type", sorted(DOCUMENT_TYPES))
def test_read_back_gives_the_permits_own_fields(doc_type):
    permit = paper_permit(doc_type, lines=4)
    got = epermit.read(_xml(permit))
    assert got.number == permit.number and not got.is_application
    assert got.doc_type == doc_type
    assert got.issued_on == permit.issued_at.date()
    assert (got.valid_from, got.valid_until) == (permit.valid_from, permit.valid_until)
    assert got.purpose_codes[0] == permit.purpose_code
    assert got.special_conditions == permit.special_conditions
    importer = permit.importer
    exporter = permit.exporter
    assert (got.consignee.name, got.consignee.address, got.consignee.country) == (
        importer.name,
        importer.address,
        permit.import_country,
    )
    assert (got.consignor.name, got.consignor.address, got.consignor.country) == (
        exporter.name,
        exporter.address,
        permit.export_country,
    )
    assert [(r.number, r.issued_on) for r in got.references] == [(permit.foreign_permit_no, permit.foreign_permit_date)]
    assert got.signatory_name == permit.signatory_name and got.signatory_title == permit.signatory_title
    assert got.security_stamp == export.security_stamp(permit)
    assert len(got.lines) == len(permit.lines)
    for line, read in zip(permit.lines, got.lines, strict=True):
        assert (read.scientific_name, read.term_code, read.quantity, read.unit_code) == (
            line.species.scientific_name,
            line.term_code,
            line.quantity,
            line.unit_code,
        )
        assert (read.appendix, read.source, read.origin_country) == (line.appendix, line.source, line.origin)
        assert (read.origin_permit_no, read.origin_permit_date) == (permit.origin_permit_no, permit.origin_permit_date)
        assert (read.reexport_country, read.reexport_permit_no, read.reexport_permit_date) == (
            permit.reexport_country,
            permit.reexport_permit_no,
            permit.reexport_permit_date,
        )
        assert (read.operation_no, read.acquired_on) == (line.operation_no, line.acquired_on)


def test_foreign_document_kind_follows_the_direction():
    assert export.foreign_document_code(paper_permit("import")) == "811"
    assert export.foreign_document_code(paper_permit("export")) == "911"
    permit = paper_permit("import", lines=1)
    permit.lines[0].appendix = "III"  # an Appendix III species ZA did not list: a certificate of origin
    assert export.foreign_document_code(permit) == "861"


def test_schema_refuses_an_unknown_code_with_its_line():
    data = _xml(paper_permit("export")).replace(b">II</ram:TypeCode>", b">IV</ram:TypeCode>", 1)
    with pytest.raises(schema.InvalidDocument) as caught:
        epermit.read(data)
    assert any("line" in reason and "IV" in reason for reason in caught.value.reasons)


def test_parser_refuses_entities_and_dtds(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        f'<rsm:CITESEPermit xmlns:rsm="{RSM}">&x;</rsm:CITESEPermit>'
    ).encode()
    with pytest.raises(schema.InvalidDocument) as caught:
        epermit.read(xxe)
    assert "TOP SECRET" not in str(caught.value)
    laughs = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><r>&b;</r>'
    with pytest.raises(schema.InvalidDocument):
        epermit.read(laughs)


def test_malformed_xml_is_refused_with_the_line():
    with pytest.raises(schema.InvalidDocument) as caught:
        epermit.read(b"<?xml version='1.0'?>\n<a>\n<b></a>")
    assert caught.value.reasons[0].startswith("XML syntax, line")


def test_issued_permit_signed_and_verified(app, world, signing):
    from tests.helpers import issued_permit

    permit = issued_permit(world)
    data = epermit.document(permit)
    result = epermit.verify_xml(data, signing)
    assert result["number"] == permit.number
    assert result["lines"][0]["scientific_name"] == "Psittacus erithacus"
    assert result["signed_by"] == document_keys.load(app.config).certificate.subject.rfc4514_string()
    assert b"xmldsig-more#rsa-sha256" in data
    assert b"http://www.w3.org/2001/10/xml-exc-c14n#" in data
    assert b"X509Certificate" in data


def test_a_changed_byte_is_rejected(world, signing):
    from tests.helpers import issued_permit

    permit = issued_permit(world)
    data = epermit.document(permit)
    changed = data.replace(b">3</ram:ItemQuantity>", b">4</ram:ItemQuantity>")
    assert changed != data
    with pytest.raises(epermit.SignatureInvalid):
        epermit.verify_xml(changed, signing)


def test_a_certificate_from_another_root_is_rejected(world, signing, tmp_path):
    from tests.helpers import issued_permit

    other_key, other_chain = tmp_path / "k.pem", tmp_path / "c.pem"
    document_keys.create_dev_ca(other_key, other_chain, organisation="Someone Else")
    other_root = document_keys._split_pem(other_chain.read_bytes())[-1]
    data = epermit.document(issued_permit(world))
    with pytest.raises(epermit.SignatureInvalid, match="not issued by the trusted root"):
        epermit.verify_xml(data, other_root)


def test_unsigned_document_is_not_verified(world, signing):
    from tests.helpers import issued_permit

    data = epermit.document(issued_permit(world), signed=False)
    with pytest.raises(epermit.SignatureInvalid):
        epermit.verify_xml(data, signing)


def test_non_final_application_is_unsigned_and_names_the_application(world, signing):
    from tests import uses
    from tests.conftest import import_application

    application = uses.create_application(world.actor("zoo"), import_application(world))
    with pytest.raises(Exception, match="only an issued permit"):
        epermit.document(application)
    data = epermit.document(application, final=False)
    assert b"Signature" not in data
    got = epermit.read(data)
    assert got.is_application and got.number == str(application.id)
    assert got.security_stamp is None


def test_round_trip_of_an_issued_multi_line_permit_with_its_border_record(world, signing):
    from tests import uses
    from tests.conftest import import_application
    from tests.helpers import endorse_entry

    lines = [
        {"species_id": world.parrot, "term_code": "LIV", "quantity": "3"},
        {"species_id": world.python, "term_code": "LIV", "quantity": "2"},
    ]
    application = uses.create_application(world.actor("zoo"), import_application(world, lines=lines))
    uses.permit_event(world.actor("zoo"), application.id, "submit")
    uses.permit_event(world.actor("officer"), application.id, "approve")
    permit = uses.permit_event(world.actor("officer2"), application.id, "issue")
    permit = endorse_entry(world, permit, 2)
    got = epermit.verify_xml(epermit.document(permit), signing)
    assert (got["number"], got["doc_type"], got["type_code"]) == (permit.number, "import", "I")
    assert (got["valid_from"], got["valid_until"]) == (permit.valid_from.isoformat(), permit.valid_until.isoformat())
    assert got["consignee"]["name"] == permit.importer.name
    assert (got["consignee"]["country"], got["consignor"]["country"]) == (permit.import_country, permit.export_country)
    assert got["references"][0]["number"] == permit.foreign_permit_no
    read = [(x["scientific_name"], x["term_code"], x["quantity"], x["appendix"], x["source"]) for x in got["lines"]]
    assert read == [
        (line.species.scientific_name, line.term_code, f"{line.quantity.normalize():f}", line.appendix, line.source)
        for line in permit.lines
    ]
    assert got["lines"][0]["crossings"] == [{"on": clock_today(), "quantity": "2", "port": "ICN"}]
    assert got["lines"][1]["crossings"] == []
    assert got["transport_document"] == "AWB 1"
    # The non-final document leaves the border record out.
    assert epermit.read(epermit.document(permit, final=False)).lines[0].crossings == ()


def clock_today() -> str:
    from registry import clock

    return clock.today().isoformat()


def test_block_letters_go_on_past_z():
    from registry.epermit.names import item_id

    assert [item_id(n) for n in (1, 2, 26, 27, 52, 53)] == ["A", "B", "Z", "AA", "AZ", "BA"]


def test_verify_refuses_a_document_that_fails_the_schema(world, signing):
    from tests.helpers import issued_permit

    data = epermit.document(issued_permit(world)).replace(b">LIV<", b">LIVE<")
    with pytest.raises(epermit.InvalidDocument) as caught:
        epermit.verify_xml(data, signing)
    assert caught.value.reasons[0].startswith("schema, line ")


def test_a_twelve_line_permit_has_twelve_items():
    got = epermit.read(_xml(paper_permit("export", lines=12)))
    assert [line.item_id for line in got.lines] == list("ABCDEFGHIJKL")


def test_box_9_carries_the_marks_of_the_animals_declared_on_a_line(world, signing):
    from tests.helpers import declared_animal, issued_permit

    permit = issued_permit(world)
    declared_animal(world, chip="900000000000077", permit=permit)
    got = epermit.verify_xml(epermit.document(permit), signing)
    assert got["lines"][0]["marks"] == ["microchip 900000000000077"]


def test_text_that_xml_cannot_carry_is_replaced_not_fatal():
    permit = paper_permit("export", lines=1, special_conditions="keep <dry> & cool\x0bno \x01 chars")
    permit.importer.name = "O'Brien & Sons <Ltd>"
    got = epermit.read(_xml(permit))
    assert got.special_conditions == "keep <dry> & cool\ufffdno \ufffd chars"
    assert got.consignee.name == "O'Brien & Sons <Ltd>"


def _rogue_chain(tmp_path):
    """The development CA, and a certificate its document-signing (not CA) key issued itself."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    from registry import document_keys

    document_keys.create_dev_ca(tmp_path / "k.pem", tmp_path / "c.pem", organisation="Authority")
    keys = document_keys._load(str(tmp_path / "k.pem"), str(tmp_path / "c.pem"))
    leaf_key = serialization.load_pem_private_key(keys.key_pem, None)
    rogue_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    rogue = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Anyone")]))
        .issuer_name(keys.certificate.subject)
        .public_key(rogue_key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=10))
        .sign(leaf_key, hashes.SHA256())
    )
    rogue_pem = rogue_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    chain = (rogue.public_bytes(serialization.Encoding.PEM), *keys.chain_pems)
    return document_keys.DocumentKeys(rogue_pem, chain), keys


def test_a_certificate_issued_by_a_non_ca_under_the_root_is_refused(tmp_path):
    """The holder of an ordinary certificate under a trusted root cannot issue a signer of their own."""
    rogue, keys = _rogue_chain(tmp_path)
    root = etree.Element(f"{{{NS['rsm']}}}CITESEPermit")
    etree.SubElement(root, "x").text = "forged"
    signed = signature.sign(root, rogue)
    tree = etree.ElementTree(etree.fromstring(etree.tostring(signed)))
    with pytest.raises(signature.SignatureInvalid, match="not issued by the trusted root"):
        signature.verify(tree, keys.chain_pems[-1])
    # The genuine signer under the same root still passes.
    genuine = etree.ElementTree(etree.fromstring(etree.tostring(signature.sign(root, keys))))
    assert signature.verify(genuine, keys.chain_pems[-1])[1] == keys.certificate
