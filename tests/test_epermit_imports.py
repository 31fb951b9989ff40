"""A partner authority's e-permit XML: checked against our application, refused with reasons,
recorded as the application's foreign document when it fits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from lxml import etree
from sqlalchemy import select

from registry import clock, document_keys
from registry.document_keys import DocumentKeys
from registry.epermit import export, imports, names, signature
from registry.extensions import db
from registry.models import AuditEntry, Party, Permit, PermitLine, Species
from registry.services.errors import Conflict, ValidationFailed
from tests import uses
from tests.conftest import import_application

PARTNER_AUTHORITY = {"name_en": "Department of Forestry, South Africa", "place": "Pretoria"}


@pytest.fixture(scope="module")
def partner_ca(tmp_path_factory):
    """The partner authority's development root and signing key."""
    folder = tmp_path_factory.mktemp("partner")
    key, chain = folder / "key.pem", folder / "chain.pem"
    document_keys.create_dev_ca(key, chain, country="ZA", organisation="ZA Authority")
    chain_pems = document_keys._split_pem(chain.read_bytes())
    return DocumentKeys(key.read_bytes(), chain_pems)


def partner_document(application: Permit, *, doc_type: str = "export", signed_by=None, **changes) -> bytes:
    """The partner's own document for the same consignment, as its system would send it."""
    today = clock.today()
    line_changes = changes.pop("lines", {})
    copy = Permit(
        id=1,
        doc_type=doc_type,
        number=application.foreign_permit_no,
        issuing_country="ZA",
        importer=Party(kind="organisation", name=application.importer.name, country="KR"),
        exporter=Party(kind="organisation", name=application.exporter.name, country="ZA"),
        applicant=Party(kind="organisation", name="x", country="ZA"),
        import_country=application.import_country,
        export_country=application.export_country,
        purpose_code=application.purpose_code,
        source_code=application.source_code,
        valid_from=today - timedelta(days=3),
        valid_until=today + timedelta(days=150),
        issued_at=datetime.now(UTC) - timedelta(days=3),
        security_token="partner",
    )
    for name, value in changes.items():
        setattr(copy, name, value)
    for line in application.lines:
        copy.lines.append(
            PermitLine(
                **{
                    "id": line.line_no,
                    "line_no": line.line_no,
                    "species": Species(scientific_name=line.species.scientific_name, appendix=line.appendix),
                    "appendix": line.appendix,
                    "term_code": line.term_code,
                    "quantity": line.quantity,
                    "unit_code": line.unit_code,
                }
                | line_changes
            )
        )
    root = export.build(copy, authority=PARTNER_AUTHORITY, issuing_country="ZA")
    if signed_by is not None:
        root = signature.sign(root, signed_by)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _application(world) -> Permit:
    return uses.create_application(world.actor("zoo"), import_application(world))


def test_a_matching_document_is_recorded_with_an_audit_entry(world):
    application = _application(world)
    data = partner_document(application)
    permit = imports.record(world.actor("officer"), application.id, data)
    assert permit.foreign_permit_no == application.foreign_permit_no
    assert permit.foreign_permit_date == clock.today() - timedelta(days=3)
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "permit.foreign_document", AuditEntry.object_id == str(permit.id))
    )
    assert entry is not None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"number": "ZA-OTHER"}, "number"),
        ({"importer": Party(kind="organisation", name="Another Zoo", country="KR")}, "consignee.name"),
        ({"import_country": "JP"}, "consignee.country"),
        ({"valid_until": clock.today() - timedelta(days=1)}, "valid_until"),
        ({"issued_at": datetime.now(UTC) + timedelta(days=5)}, "issued_on"),
        ({"lines": {"quantity": Decimal(2)}}, "lines.1.quantity"),
        ({"lines": {"term_code": "SKI"}}, "lines.1.species"),
        ({"doc_type": "import"}, "type"),
    ],
)
def test_a_mismatching_document_is_refused_with_its_reason(world, changes, reason):
    application = _application(world)
    before = (application.foreign_permit_no, application.foreign_permit_date, application.version)
    with pytest.raises(ValidationFailed) as caught:
        imports.record(world.actor("officer"), application.id, partner_document(application, **changes))
    assert reason in caught.value.fields
    db.session.expire_all()
    after = db.session.get(Permit, application.id)
    assert (after.foreign_permit_no, after.foreign_permit_date, after.version) == before


def test_a_document_for_another_species_is_refused(world):
    application = _application(world)
    data = partner_document(application).replace(b"Psittacus erithacus", b"Python regius")
    with pytest.raises(ValidationFailed) as caught:
        imports.record(world.actor("officer"), application.id, data)
    assert "lines.1.species" in caught.value.fields
    assert any(key.startswith("document.A") for key in caught.value.fields)


def test_malformed_and_invalid_documents_are_refused_with_line_numbers(world):
    application = _application(world)
    with pytest.raises(ValidationFailed) as caught:
        imports.record(world.actor("officer"), application.id, b"<?xml version='1.0'?>\n<a><b></a>")
    assert "XML syntax, line 2" in caught.value.fields["document.1"]
    invalid = partner_document(application).replace(b">LIV<", b">LIVE<")
    with pytest.raises(ValidationFailed) as caught:
        imports.record(world.actor("officer"), application.id, invalid)
    assert caught.value.fields["document.1"].startswith("schema, line ")


def test_a_signed_document_is_checked_against_the_partner_root(world, partner_ca):
    application = _application(world)
    data = partner_document(application, signed_by=partner_ca)
    root = partner_ca.chain_pems[-1]
    tampered = data.replace(b">3</ram:ItemQuantity>", b">30</ram:ItemQuantity>")
    assert tampered != data
    with pytest.raises(ValidationFailed) as caught:
        imports.record(world.actor("officer"), application.id, tampered, trust_pem=root)
    assert "signature" in caught.value.fields
    permit = imports.record(world.actor("officer"), application.id, data, trust_pem=root)
    assert permit.foreign_permit_date is not None


def test_the_configured_partner_root_is_used(world, partner_ca, app, tmp_path, monkeypatch):
    (tmp_path / "ZA.pem").write_bytes(partner_ca.chain_pems[-1])
    monkeypatch.setitem(app.config, "EPERMIT_PARTNER_ROOTS", str(tmp_path))
    application = _application(world)
    with pytest.raises(ValidationFailed) as caught:  # unsigned, while ZA's root is known
        imports.record(world.actor("officer"), application.id, partner_document(application))
    assert "signature" in caught.value.fields
    imports.record(world.actor("officer"), application.id, partner_document(application, signed_by=partner_ca))


def test_an_appendix_i_export_takes_the_partners_import_permit(world):
    from tests.helpers import export_permit

    issued = export_permit(world)
    draft = uses.copy_application(world.actor("officer"), issued.id)
    data = partner_document(draft, doc_type="import")
    assert imports.record(world.actor("officer"), draft.id, data).foreign_permit_date is not None
    with pytest.raises(ValidationFailed) as caught:
        imports.record(world.actor("officer"), draft.id, partner_document(draft, doc_type="export"))
    assert "type" in caught.value.fields


def test_an_issued_export_takes_no_foreign_document(world):
    from tests.helpers import export_permit

    issued = export_permit(world)
    with pytest.raises(Conflict):
        imports.record(world.actor("officer"), issued.id, partner_document(issued, doc_type="import"))


def test_a_keeper_may_not_record_a_foreign_document(world):
    from registry.services.errors import Forbidden

    application = _application(world)
    with pytest.raises(Forbidden):
        imports.record(world.actor("zoo"), application.id, partner_document(application))


def _post_xml(client, api, user: str, permit_id: int, data: bytes, content_type: str = "application/xml"):
    return client.post(
        f"/api/v1/permits/{permit_id}/foreign-document",
        data=data,
        content_type=content_type,
        headers={"Authorization": f"Bearer {api.secrets[user]}"},
    )


def test_api_records_a_partners_document(client, api, world):
    application = _application(world)
    answer = _post_xml(client, api, "officer", application.id, partner_document(application))
    assert answer.status_code == 200, answer.json
    assert answer.json["foreign_permit_no"] == application.foreign_permit_no


def test_api_refuses_a_mismatch_with_reasons(client, api, world):
    application = _application(world)
    data = partner_document(application, import_country="JP", lines={"quantity": Decimal(1)})
    answer = _post_xml(client, api, "officer", application.id, data)
    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    assert {"consignee.country", "lines.1.quantity"} <= set(answer.json["errors"])


def test_api_refuses_json_and_keepers(client, api, world):
    application = _application(world)
    data = partner_document(application)
    assert _post_xml(client, api, "officer", application.id, b"{}", "application/json").status_code == 415
    assert _post_xml(client, api, "zoo", application.id, data).status_code == 403


def test_api_and_web_serve_the_signed_xml_of_an_issued_permit(client, api, world, login, app):
    from registry import document_keys, epermit
    from tests.helpers import issued_permit

    permit = issued_permit(world)
    answer = api("zoo", "GET", f"/permits/{permit.id}/epermit.xml")
    assert answer.status_code == 200 and answer.mimetype == "application/xml"
    root = document_keys.load(app.config).chain_pems[-1]
    assert epermit.verify_xml(answer.data, root)["number"] == permit.number
    assert api("breeder", "GET", f"/permits/{permit.id}/epermit.xml").status_code == 404
    draft = _application(world)
    assert api("zoo", "GET", f"/permits/{draft.id}/epermit.xml").status_code == 409
    login(world.users["zoo"])
    page = client.get(f"/permits/{permit.id}")
    assert f"/permits/{permit.id}/epermit.xml".encode() in page.data
    web = client.get(f"/permits/{permit.id}/epermit.xml")
    assert web.status_code == 200 and epermit.verify_xml(web.data, root)["number"] == permit.number


def test_cli_exports_and_imports_xml(app, world, tmp_path):
    from registry import epermit
    from registry.cli import export_permit_xml, import_permit_xml
    from tests.helpers import issued_permit

    runner = app.test_cli_runner()
    permit = issued_permit(world)
    out = tmp_path / "permit.xml"
    done = runner.invoke(export_permit_xml, [permit.number, "--out", str(out)])
    assert done.exit_code == 0, done.output
    root = document_keys.load(app.config).chain_pems[-1]
    assert epermit.verify_xml(out.read_bytes(), root)["number"] == permit.number
    assert runner.invoke(export_permit_xml, ["KR/1900/000000"]).exit_code != 0
    printed = runner.invoke(export_permit_xml, [permit.number, "--non-final", "--unsigned"])
    assert printed.exit_code == 0 and epermit.read(printed.stdout_bytes).number == permit.number

    application = _application(world)
    theirs = tmp_path / "theirs.xml"
    theirs.write_bytes(partner_document(application, import_country="JP"))
    refused = runner.invoke(import_permit_xml, [str(application.id), str(theirs)])
    assert refused.exit_code == 2 and "consignee.country" in refused.output
    theirs.write_bytes(partner_document(application))
    done = runner.invoke(import_permit_xml, [str(application.id), str(theirs)])
    assert done.exit_code == 0, done.output
    assert application.foreign_permit_no in done.output


def test_an_issued_import_learns_its_export_permit_at_the_border(world):
    from tests.helpers import issued_permit

    # Appendix I: the import permit is issued first, before the exporting country's permit exists.
    permit = issued_permit(world, foreign_permit_no=None, foreign_permit_date=None)
    assert permit.lines[0].appendix == "I" and permit.foreign_permit_no is None
    # The export permit is granted once the import permit exists (Art. III.2(d)): dated today.
    document = partner_document(permit, number="ZA-EXP-777", issued_at=datetime.now(UTC))
    recorded = imports.record(world.actor("officer"), permit.id, document)
    assert recorded.foreign_permit_no == "ZA-EXP-777"
    assert (recorded.foreign_permit_date, recorded.foreign_permit_learned_on) == (clock.today(), clock.today())
    # Learned once: a second document cannot replace the first.
    with pytest.raises(Conflict):
        imports.record(world.actor("officer"), permit.id, document)
    assert recorded.foreign_document is not None and recorded.foreign_document.document_no == "ZA-EXP-777"


def test_the_recorded_document_reconciles_with_the_audit_log(world):
    from registry.services import audit as audit_service
    from registry.services.reconcile import reconcile

    application = _application(world)
    imports.record(world.actor("officer"), application.id, partner_document(application))
    assert audit_service.verify_database().ok
    assert [str(d) for d in reconcile() if f"#{application.id}" in str(d)] == []


def test_a_document_over_the_size_limit_is_refused_unread(world):
    from registry.epermit import schema

    application = _application(world)
    with pytest.raises(ValidationFailed) as caught:
        imports.record(world.actor("officer"), application.id, b" " * (schema.MAX_BYTES + 1))
    assert "larger than" in caught.value.fields["document.1"]


def test_a_document_that_does_not_name_its_issuing_country_is_refused(world):
    """Box 6 names the issuing authority's country: without it nothing shows the partner issued it."""
    application = _application(world)
    root = etree.fromstring(partner_document(application))
    first = root.find(".//ram:FirstSignatoryDocumentAuthentication", {"ram": names.RAM})
    for country in first.findall(".//ram:CountryID", {"ram": names.RAM}):
        country.getparent().remove(country)
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    with pytest.raises(ValidationFailed) as caught:
        imports.record(world.actor("officer"), application.id, data)
    assert "issuer" in caught.value.fields
